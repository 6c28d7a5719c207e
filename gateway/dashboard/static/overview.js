/* Akker dashboard: the field overview, from /api/nodes; refreshed every minute.

Per field, then per node: soil moisture coloured against the field's thresholds, catches today against its
limit, battery by weeks left, signal in words; a silent node's row is greyed and its readings say how old
they are, so an old value never looks current. Under 700 px wide each row becomes a card (dashboard.css). */
"use strict";

(function () {
  var A = Akker, t = A.t;
  var REFRESH_MS = 60000;
  var COLUMNS = ["col_node", "col_seen", "col_moisture", "col_soil_temp", "col_air", "col_catches", "col_battery",
    "col_signal", "col_alerts"];

  function cell(column, attrs) {
    var td = A.el("td", attrs || {});
    td.setAttribute("data-label", t(column));
    for (var i = 2; i < arguments.length; i++) if (arguments[i]) td.appendChild(arguments[i]);
    return td;
  }

  /* Each probe's value coloured dry, good or wet, with the word for readers who do not see the colour. */
  function moisture(values, th) {
    var box = A.el("span", {});
    if (!values || !values.length) {
      box.textContent = A.DASH;
      return box;
    }
    values.forEach(function (v, i) {
      var level = A.moistureLevel(v, th);
      if (i) box.appendChild(document.createTextNode(" / "));
      box.appendChild(A.el("span", { class: "level level-" + (level || "none"), "data-level": level,
        title: level ? t(level) : null, text: A.num(v, 1, "%") + (level && level !== "good" ? " " + t(level) : "") }));
    });
    return box;
  }

  function catches(n, th) {
    if (!n.catches_today) return A.el("span", { text: A.DASH });
    var total = n.catches_today.reduce(function (a, b) { return a + b; }, 0);
    var high = total > th.catches_per_day_max;
    return A.el("span", { class: high ? "level level-high" : "level level-good", "data-level": high ? "high" : "good",
      title: t("high", th.catches_per_day_max), text: String(total) + (high ? " · " + t("high", th.catches_per_day_max) : "") });
  }

  function battery(b) {
    var level = A.batteryLevel(b.days_left);
    return A.el("span", { class: "level battery-" + level, "data-level": level,
      text: A.num(b.v, 2, "V") + " · " + A.daysLeft(b.days_left) });
  }

  function signal(s) {
    if (!s) return A.el("span", { text: A.DASH });
    return A.el("span", { class: "level signal-" + s.quality, "data-level": s.quality, title: A.signalDetail(s),
      text: A.signalWord(s) });
  }

  function row(n, th, tz) {
    var r = n.readings || {};
    var air = [A.num(r.air_temp_c, 1, "\u00b0C"), A.num(r.air_rh_pct, 0, "%")].join(" · ");
    var link = A.el("a", { href: "/node/" + encodeURIComponent(n.name), text: n.name });
    var badges = A.el("span", {});
    n.alerts.forEach(function (a, i) {
      if (i) badges.appendChild(document.createTextNode(" "));
      badges.appendChild(A.el("span", { class: "badge", title: A.alertText(a), text: t("kind_" + a.kind) }));
    });
    var seen = A.el("span", { title: n.last_seen ? A.time(n.last_seen, tz) : t("never"), text: A.ago(n.last_seen_ago_s) });
    var stale = n.silent && n.readings_age_s !== null
      ? A.el("div", { class: "age", text: t("stale", A.duration(n.readings_age_s)) }) : null;
    var classes = ["node"];
    if (n.alerts.length) classes.push("has-alert");
    if (n.silent) classes.push("stale");
    return A.el("tr", { class: classes.join(" "), "data-node": n.name },
      cell("col_node", {}, link, n.registered ? null : A.el("span", { class: "muted", text: " " + t("not_registered") })),
      cell("col_seen", {}, seen, stale),
      cell("col_moisture", { class: "num readings" }, moisture(r.soil_moisture_pct, th)),
      cell("col_soil_temp", { class: "num readings", text: (r.soil_temp_c || []).length
        ? r.soil_temp_c.map(function (v) { return A.num(v, 1); }).join(" / ") + "\u00a0\u00b0C" : A.DASH }),
      cell("col_air", { class: "num readings", text: air }),
      cell("col_catches", { class: "num readings" }, catches(n, th)),
      cell("col_battery", { class: "num" }, battery(n.battery)),
      cell("col_signal", {}, signal(n.signal)),
      cell("col_alerts", {}, badges));
  }

  function table(f, tz) {
    var head = A.el("tr", {});
    COLUMNS.forEach(function (c) { head.appendChild(A.el("th", { text: t(c) })); });
    var body = A.el("tbody", {});
    f.nodes.forEach(function (n) { body.appendChild(row(n, f.thresholds, tz)); });
    return A.el("table", { class: "nodes stack" }, A.el("thead", {}, head), body);
  }

  function render(data) {
    A.clock(data.now, data.timezone);
    A.showHint(data.hint);
    document.getElementById("alerts").replaceChildren(A.alertList(data.alerts, data.timezone, true));
    var fields = document.getElementById("fields");
    fields.replaceChildren();
    data.fields.forEach(function (f) {
      var title = data.grouped ? (f.name === null ? t("nodes_no_field") : t("field", f.name)) : t("nodes");
      var th = f.thresholds;
      var rules = t("field_rules", A.plain(th.soil_moisture_min_pct) + "\u00a0%", A.plain(th.soil_moisture_max_pct) + "\u00a0%",
        th.catches_per_day_max);
      fields.appendChild(A.el("section", { class: "field", "data-field": f.name === null ? "" : f.name },
        A.el("h2", { text: title + " (" + f.nodes.length + ")" }), A.el("p", { class: "rules", text: rules }),
        table(f, data.timezone)));
    });
    document.body.setAttribute("data-loaded", "overview");
  }

  async function load() {
    try {
      render(await A.getJSON(A.api("/api/nodes")));
    } catch (err) {
      A.showHint(t("cannot_load", err.message));
    }
  }

  load();
  setInterval(load, REFRESH_MS);
})();
