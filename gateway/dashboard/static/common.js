/* Akker dashboard: helpers shared by the pages. Plain browser JavaScript, no build step.

Words come from i18n.js in the page's language: the one chosen with the switch (kept in localStorage),
else the browser's. Dates and numbers are formatted for the browser's locale (24-hour, day-month in Dutch
and other European locales) in the browser's time zone, unless the alert config names one: every API
call sends the browser's zone (?tz=) and the API answers with the zone it counted days in. */
"use strict";

var Akker = (function () {
  var DASH = "\u2014";
  var STORE_KEY = "akker.lang";
  var LANGS = ["nl", "en"];
  var BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  function chosenLang() {
    var kept = null;
    try { kept = window.localStorage.getItem(STORE_KEY); } catch (e) { /* storage off: the browser's language */ }
    if (LANGS.indexOf(kept) >= 0) return kept;
    return (navigator.language || "en").toLowerCase().slice(0, 2) === "nl" ? "nl" : "en";
  }

  var LANG = chosenLang();
  var WORDS = AKKER_WORDS[LANG];
  /* Formats are the browser's locale; a reader who switched language keeps the browser's region, so English
     in the Netherlands (en-NL) still has 24-hour times, day-month dates and decimal commas. */
  var browserLocale = navigator.language || "en-GB";
  var region = browserLocale.split("-")[1];
  var LOCALE = browserLocale.toLowerCase().slice(0, 2) === LANG ? browserLocale
    : (region ? LANG + "-" + region : (LANG === "nl" ? "nl-NL" : "en-GB"));

  function t(key) {
    var text = WORDS[key] !== undefined ? WORDS[key] : AKKER_WORDS.en[key];
    if (text === undefined) return key;
    var args = arguments;
    return text.replace(/\{(\d)\}/g, function (_, i) { return String(args[Number(i) + 1]); });
  }

  /* An element with attributes and children (strings become text: nothing from the API is parsed as HTML). */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] === null || attrs[k] === undefined) return;
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  /* An API URL with the browser's time zone, so "today" is the reader's day unless the config names a zone. */
  function api(path, params) {
    var q = new URLSearchParams(params || {});
    q.set("tz", BROWSER_ZONE);
    return path + "?" + q.toString();
  }

  async function getJSON(url) {
    var response = await fetch(url, { cache: "no-store" });
    var body = await response.json();
    if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
    return body;
  }

  /* "just now", "12 min ago", "3 h ago", "2 days ago" from an age in seconds. */
  function ago(seconds) {
    if (seconds === null || seconds === undefined) return t("never");
    if (seconds < 60) return t("just_now");
    if (seconds < 3600) return t("ago_min", Math.floor(seconds / 60));
    if (seconds < 172800) return t("ago_h", Math.floor(seconds / 3600));
    return t("ago_d", Math.floor(seconds / 86400));
  }

  /* A moment in the locale's own format: "3 jun 2026 20:00" in Dutch, "3 Jun 2026, 20:00" in British English. */
  function time(iso, tz) {
    if (!iso) return DASH;
    return new Date(iso).toLocaleString(LOCALE, {
      timeZone: tz, year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    });
  }

  /* A calendar day "3 jun" from Unix seconds, in tz. */
  function day(ts, tz) {
    return new Date(ts * 1000).toLocaleDateString(LOCALE, { timeZone: tz, month: "short", day: "numeric" });
  }

  /* An hour "20:00" (or the day at midnight) for a chart's time axis. */
  function tick(ts, tz) {
    var d = new Date(ts * 1000);
    var hm = d.toLocaleTimeString(LOCALE, { timeZone: tz, hour: "2-digit", minute: "2-digit" });
    return /^0?0[:.]00/.test(hm) ? day(ts, tz) : hm;
  }

  /* "45 s", "12 min", "3 h 5 min", "2 d 4 h": as the alerts' messages say it (gateway/farm/alerts.py duration). */
  function duration(seconds) {
    var s = Math.floor(seconds), h = LANG === "nl" ? " u" : " h";
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) {
      var m = Math.floor(s / 60) % 60;
      return Math.floor(s / 3600) + h + (m ? " " + m + " min" : "");
    }
    var hours = Math.floor(s / 3600) % 24;
    return Math.floor(s / 86400) + " d" + (hours ? " " + hours + h : "");
  }

  function fmt(v, minDigits, maxDigits) {
    return v.toLocaleString(LOCALE, { minimumFractionDigits: minDigits, maximumFractionDigits: maxDigits });
  }

  function num(v, digits, unit) {
    if (v === null || v === undefined) return DASH;
    return fmt(v, digits, digits) + (unit ? "\u00a0" + unit : "");
  }

  /* A threshold as written in the alert config: 15 stays "15", 3.4 stays "3,4" in Dutch. */
  function plain(v) {
    return v === null || v === undefined ? DASH : fmt(v, 0, 6);
  }

  /* Soil moisture against the field's thresholds. */
  function moistureLevel(v, th) {
    if (v === null || v === undefined) return null;
    if (v < th.soil_moisture_min_pct) return "dry";
    if (v > th.soil_moisture_max_pct) return "wet";
    return "good";
  }

  /* Battery by weeks left: under two weeks is urgent, under six weeks is time to plan a visit. */
  function batteryLevel(days) {
    if (days === null || days === undefined) return "unknown";
    if (days < 14) return "low";
    if (days < 42) return "soon";
    return "ok";
  }

  function daysLeft(days) {
    if (days === null || days === undefined) return t("unknown");
    if (days <= 0) return t("empty");
    if (days === 1) return t("left", t("day"));
    if (days < 28) return t("left", t("days", days));
    if (days < 730) return t("left", t("weeks", Math.floor(days / 7)));
    return t("left", t("years"));
  }

  function gateways(n) {
    return n === 1 ? t("gateways_1") : t("gateways_n", n);
  }

  /* "good", "weak", "lost"; the figures behind it for a tooltip or the node page. */
  function signalWord(s) {
    return s ? t(s.quality) : DASH;
  }

  function signalDetail(s) {
    return s ? t("signal_detail", num(s.rssi, 0), num(s.snr, 1), gateways(s.gateways)) : "";
  }

  /* An alert in the page's language: the API's English message, or the same facts in Dutch. */
  function alertText(a) {
    if (LANG === "en") return a.message;
    if (a.kind === "soil_moisture_low") return t("msg_soil_moisture_low", num(a.value, 1), plain(a.threshold));
    if (a.kind === "catches_high") return t("msg_catches_high", a.value, plain(a.threshold));
    if (a.kind === "silent") {
      return t("msg_silent", duration(a.value), Math.round(a.threshold / a.interval_s), duration(a.interval_s));
    }
    if (a.kind === "battery_low") return t("msg_battery_low", num(a.value, 2), plain(a.threshold));
    return a.message;
  }

  /* The list of alerts, or a line saying there are none. */
  function alertList(alerts, tz, withNode) {
    if (!alerts.length) return el("p", { class: "no-alerts", text: t("no_alerts") });
    var ul = el("ul", { class: "alerts" });
    alerts.forEach(function (a) {
      var who = withNode ? a.node + (a.field ? " (" + a.field + ")" : "") + ": " : "";
      ul.appendChild(el("li", { class: "kind-" + a.kind, "data-kind": a.kind, "data-node": a.node },
        who + alertText(a) + " ", el("span", { class: "since", text: t("since", time(a.since, tz)) })));
    });
    return ul;
  }

  function showHint(text) {
    var hint = document.getElementById("hint");
    hint.hidden = !text;
    hint.textContent = text || "";
  }

  function clock(now, tz) {
    document.getElementById("clock").textContent = t("as_of", time(now, tz)) + " (" + tz + ")";
  }

  /* The page's fixed words, and the language switch in the header. */
  function translatePage() {
    document.documentElement.lang = LANG;
    document.querySelectorAll("[data-i18n]").forEach(function (node) { node.textContent = t(node.dataset.i18n); });
    var box = document.getElementById("lang");
    if (!box) return;
    box.replaceChildren();
    LANGS.forEach(function (lang) {
      var b = el("button", { type: "button", "data-lang": lang, "aria-pressed": String(lang === LANG),
        text: lang.toUpperCase() });
      b.addEventListener("click", function () {
        try { window.localStorage.setItem(STORE_KEY, lang); } catch (e) { /* storage off: this page only */ }
        location.reload();
      });
      box.appendChild(b);
    });
  }

  translatePage();

  return {
    DASH: DASH, LANG: LANG, LOCALE: LOCALE, t: t, el: el, api: api, getJSON: getJSON, ago: ago, time: time,
    day: day, tick: tick, duration: duration, num: num, plain: plain, moistureLevel: moistureLevel,
    batteryLevel: batteryLevel, daysLeft: daysLeft, signalWord: signalWord, signalDetail: signalDetail,
    alertText: alertText, alertList: alertList, showHint: showHint, clock: clock,
  };
})();
