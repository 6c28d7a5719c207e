/* Akker dashboard: one node's page, from /api/nodes/<name>, drawn with uPlot (static/vendor/). */
"use strict";

(function () {
  var A = Akker;
  var PALETTE = ["#3d6b21", "#1f6fb4", "#c0392b", "#8e44ad", "#b9770e", "#16a085", "#7f8c8d", "#d35400"];
  var RANGES = [1, 3, 7, 30];
  var HEIGHT = 220;
  var plots = [];

  var name = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
  var days = Number(new URLSearchParams(location.search).get("days")) || 7;

  function lines(label, probes, color0) {
    return probes.map(function (values, i) {
      return { label: probes.length > 1 ? label + " " + (i + 1) : label, values: values, color: PALETTE[(color0 + i) % 8] };
    });
  }

  /* A y range that always includes [lo, hi]: a flat line then sits where it belongs, not in an empty chart. */
  function atLeast(lo, hi) {
    return function (u, min, max) { return [Math.min(min, lo), Math.max(max, hi)]; };
  }

  /* Draws one chart: the series with at least one value; data-series and data-points say what was drawn. */
  function chart(key, xs, series, tz, bars, yRange) {
    var section = document.querySelector('section.chart[data-chart="' + key + '"]');
    var box = section.querySelector(".plot");
    var shown = series.filter(function (s) { return s.values.some(function (v) { return v !== null; }); });
    section.setAttribute("data-series", String(shown.length));
    section.setAttribute("data-points", String(shown.length ? xs.length : 0));
    box.replaceChildren();
    if (!xs.length || !shown.length) {
      box.appendChild(A.el("p", { class: "empty", text: "No data in this period." }));
      return;
    }
    var opts = {
      width: box.clientWidth || 500,
      height: HEIGHT,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), tz); },
      scales: { x: { time: true } },
      series: [{ label: "time" }].concat(shown.map(function (s, i) {
        var out = { label: s.label, stroke: s.color, width: 1.5, spanGaps: false };
        if (bars) {
          var align = shown.length === 1 ? 0 : (i === 0 ? -1 : 1);
          out.paths = uPlot.paths.bars({ size: [shown.length === 1 ? 0.6 : 0.35, 60], align: align });
          out.fill = s.color + "aa";
          out.points = { show: false };
        }
        return out;
      })),
    };
    if (yRange) opts.scales.y = { range: yRange };
    if (bars) {  /* one bar group per day, centred on the day's label */
      opts.scales.x.range = function (u, min, max) { return [min - 43200, max + 43200]; };
      opts.scales.y = { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } };
      opts.axes = [{
        incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400],
        values: function (u, splits) { return splits.map(function (ts) { return A.day(ts, tz); }); },
      }, {}];
    }
    var data = [xs].concat(shown.map(function (s) { return s.values; }));
    plots.push({ plot: new uPlot(opts, data, box), box: box });
  }

  // The node's answer to the network's daily DevStatusReq: battery 1..254 (0 external power, 255 unknown)
  // and the SNR at which it heard the request.
  function devStatus(s) {
    if (!s) return A.DASH;
    var battery = s.battery === 0 ? "external power" : s.battery === 255 ? "battery unknown"
      : "battery " + Math.round((s.battery - 1) / 253 * 100) + " %";
    return battery + " · heard the network at " + s.snr_db + " dB";
  }

  function facts(d) {
    var status = d.status;
    var items = [
      ["last seen", A.ago(d.last_seen_ago_s) + (d.last_seen ? " (" + A.time(d.last_seen, d.timezone) + ")" : "")],
      ["battery", A.num(d.battery.v, 2, "V") + " · " + A.daysLeft(d.battery.days_left) + " left"],
      ["signal", A.signal(d.signal)],
      ["interval", d.interval_s ? A.duration(d.interval_s) : A.DASH],
      ["field", d.field === null ? A.DASH : d.field],
      ["DevAddr", d.dev_addr || A.DASH],
      ["board", d.board || A.DASH],
      ["firmware", status && status.firmware ? status.firmware.join(".") : A.DASH],
      ["device status", devStatus(d.dev_status)],
    ];
    var dl = document.getElementById("facts");
    dl.replaceChildren();
    items.forEach(function (kv) {
      dl.appendChild(A.el("div", {}, A.el("dt", { text: kv[0] }), A.el("dd", { text: kv[1] })));
    });
  }

  function ranges() {
    var nav = document.getElementById("range");
    nav.replaceChildren(document.createTextNode("Show: "));
    RANGES.forEach(function (n) {
      nav.appendChild(A.el("a", { href: "?days=" + n, class: n === days ? "current" : null,
        text: n === 1 ? "1 day" : n + " days" }));
    });
  }

  function receptions(rows, tz) {
    var body = document.querySelector("#receptions tbody");
    body.replaceChildren();
    rows.forEach(function (r) {
      body.appendChild(A.el("tr", {},
        A.el("td", { text: A.time(r.received_at, tz) }),
        A.el("td", { class: "num", text: String(r.fcnt) }),
        A.el("td", { text: r.type }),
        A.el("td", { title: r.gateways.join(", "), text: r.gateways.length + " (" + r.gateways.join(", ") + ")" }),
        A.el("td", { class: "num", text: A.num(r.rssi, 0) }),
        A.el("td", { class: "num", text: A.num(r.snr, 1) }),
        A.el("td", { class: "num", text: r.sf === null ? A.DASH : String(r.sf) })));
    });
    if (!rows.length) body.appendChild(A.el("tr", {}, A.el("td", { colspan: "7", class: "none", text: "Never heard." })));
  }

  function render(d) {
    document.title = "Akker · " + d.name;
    document.getElementById("title").textContent = "Node " + d.name;
    A.clock(d.now, d.timezone);
    facts(d);
    document.getElementById("alerts").replaceChildren(A.alertList(d.alerts, d.timezone, false));
    ranges();
    var s = d.series, tz = d.timezone;
    plots = [];
    chart("soil_moisture", s.t, lines("probe", s.soil_moisture_pct, 0), tz, false);
    chart("temperature", s.t,
      lines("soil", s.soil_temp_c, 1).concat([{ label: "air", values: s.air_temp_c, color: PALETTE[6] }]), tz, false);
    chart("air_humidity", s.t, [{ label: "humidity", values: s.air_rh_pct, color: PALETTE[1] }], tz, false,
      atLeast(0, 100));
    chart("catches", d.catches_per_day.t, lines("trap", d.catches_per_day.traps, 4), tz, true);
    chart("battery", s.t, [{ label: "battery", values: s.battery_v, color: PALETTE[0] }], tz, false,
      atLeast(3.2, 4.2));  /* from below the 3.3 V cut-off to a full cell */
    receptions(d.receptions, tz);
    document.body.setAttribute("data-loaded", "node");
  }

  window.addEventListener("resize", function () {
    plots.forEach(function (p) { p.plot.setSize({ width: p.box.clientWidth, height: HEIGHT }); });
  });

  A.getJSON("/api/nodes/" + encodeURIComponent(name) + "?days=" + days).then(render, function (err) {
    A.showHint("Cannot load node " + name + ": " + err.message);
  });
})();
