/* Akker dashboard: helpers shared by the pages. Plain browser JavaScript, no build step. */
"use strict";

var Akker = (function () {
  var DASH = "\u2014";

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

  async function getJSON(url) {
    var response = await fetch(url, { cache: "no-store" });
    var body = await response.json();
    if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
    return body;
  }

  /* "just now", "12 min ago", "3 h ago", "2 d ago" from an age in seconds. */
  function ago(seconds) {
    if (seconds === null || seconds === undefined) return "never";
    if (seconds < 60) return "just now";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 172800) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }

  function time(iso, tz) {
    if (!iso) return DASH;
    return new Date(iso).toLocaleString(undefined, {
      timeZone: tz, year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    });
  }

  /* A calendar day "Jun 3" from Unix seconds, in the farm's time zone. */
  function day(ts, tz) {
    return new Date(ts * 1000).toLocaleDateString(undefined, { timeZone: tz, month: "short", day: "numeric" });
  }

  /* "45 s", "15 min", "4 h", "2 d" */
  function duration(seconds) {
    if (seconds < 60) return Math.round(seconds) + " s";
    if (seconds < 7200) return Math.round(seconds / 60) + " min";
    if (seconds < 172800) return Math.round(seconds / 360) / 10 + " h";
    return Math.round(seconds / 8640) / 10 + " d";
  }

  function num(v, digits, unit) {
    if (v === null || v === undefined) return DASH;
    return v.toFixed(digits) + (unit ? "\u00a0" + unit : "");
  }

  /* Probe values "23.4 / 31.2 %"; a failed probe shows as a dash. */
  function probes(values, digits, unit) {
    if (!values || !values.length) return DASH;
    return values.map(function (v) { return num(v, digits); }).join(" / ") + "\u00a0" + unit;
  }

  function daysLeft(days) {
    if (days === null || days === undefined) return DASH;
    if (days >= 365) return "> 1 year";
    return Math.round(days) + " d";
  }

  function signal(s) {
    if (!s) return DASH;
    var gw = s.gateways === 1 ? "1 gateway" : s.gateways + " gateways";
    return num(s.rssi, 0, "dBm") + " · " + num(s.snr, 1, "dB") + " · " + gw;
  }

  /* The list of alerts, or a line saying there are none. */
  function alertList(alerts, tz, withNode) {
    if (!alerts.length) return el("p", { class: "no-alerts", text: "No active alerts." });
    var ul = el("ul", { class: "alerts" });
    alerts.forEach(function (a) {
      var who = withNode ? a.node + (a.field ? " (" + a.field + ")" : "") + ": " : "";
      ul.appendChild(el("li", { class: "kind-" + a.kind, "data-kind": a.kind, "data-node": a.node },
        who + a.message + " ", el("span", { class: "since", text: "since " + time(a.since, tz) })));
    });
    return ul;
  }

  function showHint(text) {
    var hint = document.getElementById("hint");
    hint.hidden = !text;
    hint.textContent = text || "";
  }

  function clock(now, tz) {
    document.getElementById("clock").textContent = "as of " + time(now, tz) + " (" + tz + ")";
  }

  return {
    DASH: DASH, el: el, getJSON: getJSON, ago: ago, time: time, day: day, duration: duration, num: num, probes: probes,
    daysLeft: daysLeft, signal: signal, alertList: alertList, showHint: showHint, clock: clock,
  };
})();
