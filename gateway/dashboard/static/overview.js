/* Akker dashboard: the field overview, from /api/nodes; refreshed every minute. */
"use strict";

(function () {
  var A = Akker;
  var REFRESH_MS = 60000;
  var COLUMNS = ["node", "last seen", "battery", "days left", "signal", "soil moisture", "soil temp.",
    "air", "catches today", "alerts"];

  function row(n, tz) {
    var r = n.readings || {};
    var air = [A.num(r.air_temp_c, 1, "\u00b0C"), A.num(r.air_rh_pct, 0, "%")].join(" · ");
    var catches = n.catches_today ? n.catches_today.reduce(function (a, b) { return a + b; }, 0) : null;
    var link = A.el("a", { href: "/node/" + encodeURIComponent(n.name), text: n.name });
    var badges = A.el("td", {});
    n.alerts.forEach(function (a) {
      badges.appendChild(A.el("span", { class: "badge", title: a.message, text: a.kind.replace(/_/g, " ") }));
    });
    var seen = A.el("td", { title: n.last_seen ? A.time(n.last_seen, tz) : "never heard",
      text: A.ago(n.last_seen_ago_s) });
    return A.el("tr", { class: n.alerts.length ? "node has-alert" : "node", "data-node": n.name },
      A.el("td", {}, link, n.registered ? null : A.el("span", { class: "muted", text: " (not registered)" })),
      seen,
      A.el("td", { class: "num", text: A.num(n.battery.v, 2, "V") }),
      A.el("td", { class: "num", text: A.daysLeft(n.battery.days_left) }),
      A.el("td", { text: A.signal(n.signal) }),
      A.el("td", { class: "num", text: A.probes(r.soil_moisture_pct, 1, "%") }),
      A.el("td", { class: "num", text: A.probes(r.soil_temp_c, 1, "\u00b0C") }),
      A.el("td", { class: "num", text: air }),
      A.el("td", { class: "num", text: catches === null ? A.DASH : String(catches) }),
      badges);
  }

  function table(nodes, tz) {
    var head = A.el("tr", {});
    COLUMNS.forEach(function (c) { head.appendChild(A.el("th", { text: c })); });
    var body = A.el("tbody", {});
    nodes.forEach(function (n) { body.appendChild(row(n, tz)); });
    return A.el("div", { class: "table-wrap" }, A.el("table", { class: "nodes" }, A.el("thead", {}, head), body));
  }

  function render(data) {
    A.clock(data.now, data.timezone);
    A.showHint(data.hint);
    var alerts = document.getElementById("alerts");
    alerts.replaceChildren(A.alertList(data.alerts, data.timezone, true));
    var fields = document.getElementById("fields");
    fields.replaceChildren();
    data.fields.forEach(function (f) {
      var title = data.grouped ? (f.name === null ? "Nodes in no field" : "Field " + f.name) : "Nodes";
      fields.appendChild(A.el("section", { class: "field", "data-field": f.name === null ? "" : f.name },
        A.el("h2", { text: title + " (" + f.nodes.length + ")" }), table(f.nodes, data.timezone)));
    });
    document.body.setAttribute("data-loaded", "overview");
  }

  async function load() {
    try {
      render(await A.getJSON("/api/nodes"));
    } catch (err) {
      A.showHint("Cannot load the overview: " + err.message);
    }
  }

  load();
  setInterval(load, REFRESH_MS);
})();
