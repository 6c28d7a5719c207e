/* Akker dashboard: one node's page, from /api/nodes/<name>, drawn with uPlot (static/vendor/).

Every chart runs from the start of the period to now, so a node that went silent shows an empty stretch
up to now, and a pause inside the period is a gap (the API puts a null between samples around it). The
field's thresholds are dashed lines. Each chart's legend shows the newest value of every line, or the
values under the cursor, never uPlot's "--" placeholders (its own legend is off). */
"use strict";

(function () {
  var A = Akker, t = A.t;
  var PALETTE = ["#3d6b21", "#1f6fb4", "#c0392b", "#8e44ad", "#b9770e", "#16a085", "#7f8c8d", "#d35400"];
  var THRESHOLD_COLOR = "#8e1b10";
  var RANGES = [1, 3, 7, 30];
  var HEIGHT = 220;
  var DAY_S = 86400;
  var plots = [];

  var name = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
  /* The server refuses a bad ?days= with a page of its own; only an absent one falls back to 7. */
  var days = Number(new URLSearchParams(location.search).get("days") || 7);

  function lines(key, probes, color0) {
    return probes.map(function (values, i) {
      return { label: probes.length > 1 ? t(key, i + 1) : t(key, "").trim(), values: values,
        color: PALETTE[(color0 + i) % 8] };
    });
  }

  /* A dashed line at a threshold, labelled with its meaning and value. */
  function threshold(label, value, unit) {
    return { label: t(label), value: value, unit: unit, color: THRESHOLD_COLOR, threshold: true };
  }

  /* A y range that always includes [lo, hi] and the thresholds: a flat line sits where it belongs. */
  function atLeast(lo, hi) {
    return function (u, min, max) { return [Math.min(min, lo), Math.max(max, hi)]; };
  }

  function newest(values) {
    for (var i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
    return null;
  }

  /* A legend swatch in a line's colour (set through the DOM: the dashboard's CSP refuses inline styles). */
  function swatch(color, dashed) {
    var box = A.el("span", { class: dashed ? "swatch dashed" : "swatch" });
    if (dashed) box.style.borderColor = color;
    else box.style.background = color;
    return box;
  }

  function legend(section, shown, marks, digits, unit) {
    var ul = section.querySelector("ul.legend");
    ul.replaceChildren();
    var cells = shown.map(function (s) {
      var value = A.el("span", { class: "value" });
      ul.appendChild(A.el("li", { class: "item", "data-kind": "series" }, swatch(s.color, false), s.label + " ", value));
      return value;
    });
    marks.forEach(function (m) {
      ul.appendChild(A.el("li", { class: "item", "data-kind": "threshold" }, swatch(m.color, true),
        m.label + " ", A.el("span", { class: "value", text: A.plain(m.value) + (m.unit ? "\u00a0" + m.unit : "") })));
    });
    /* idx null: the newest value of each line; else the values at the cursor. */
    return function (idx) {
      shown.forEach(function (s, i) {
        var v = idx === null || idx === undefined ? newest(s.values) : s.values[idx];
        cells[i].textContent = v === null || v === undefined ? A.DASH : A.num(v, digits, unit);
      });
    };
  }

  /* The thresholds as dashed lines across the whole plot, from the start of the period to now. */
  function drawMarks(u, marks) {
    var ctx = u.ctx;
    ctx.save();
    ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
    ctx.lineWidth = devicePixelRatio;
    marks.forEach(function (m) {
      var y = Math.round(u.valToPos(m.value, "y", true)) + 0.5;
      ctx.strokeStyle = m.color;
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
    });
    ctx.restore();
  }

  /* Draws one chart: the series with at least one value, and the thresholds; data-series and data-points say
     what was drawn. opts: {bars, yRange, digits, unit, marks}. */
  function chart(key, xs, series, range, tz, opts) {
    var section = document.querySelector('section.chart[data-chart="' + key + '"]');
    var box = section.querySelector(".plot");
    var shown = series.filter(function (s) { return s.values.some(function (v) { return v !== null; }); });
    var marks = (opts.marks || []).filter(function (m) { return m.value !== null && m.value !== undefined; });
    section.setAttribute("data-series", String(shown.length));
    section.setAttribute("data-points", String(shown.length ? xs.length : 0));
    section.setAttribute("data-range", range.join(" "));  /* what the time axis spans: up to now */
    box.replaceChildren();
    var update = legend(section, shown, shown.length ? marks : [], opts.digits, opts.unit);
    if (!xs.length || !shown.length) {
      box.appendChild(A.el("p", { class: "empty", text: t("no_data") }));
      section.querySelector("ul.legend").replaceChildren();
      return;
    }
    var uSeries = [{ label: "time" }].concat(shown.map(function (s, i) {
      var out = { label: s.label, stroke: s.color, width: 1.5, spanGaps: false };
      if (opts.bars) {
        var align = shown.length === 1 ? 0 : (i === 0 ? -1 : 1);
        out.paths = uPlot.paths.bars({ size: [shown.length === 1 ? 0.6 : 0.35, 60], align: align });
        out.fill = s.color + "aa";
        out.points = { show: false };
      }
      return out;
    }));
    var uOpts = {
      width: box.clientWidth || 500,
      height: HEIGHT,
      legend: { show: false },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), tz); },
      scales: { x: { time: true, range: function () { return range; } } },
      axes: [{ values: function (u, splits) { return splits.map(function (ts) { return A.tick(ts, tz); }); } }, {}],
      series: uSeries,
      hooks: { setCursor: [function (u) { update(u.cursor.idx); }], draw: [function (u) { drawMarks(u, marks); }] },
    };
    var lo = Math.min.apply(null, marks.map(function (m) { return m.value; }).concat([Infinity]));
    var hi = Math.max.apply(null, marks.map(function (m) { return m.value; }).concat([-Infinity]));
    if (opts.yRange) uOpts.scales.y = { range: opts.yRange };
    else if (marks.length) uOpts.scales.y = { range: atLeast(lo, hi) };
    if (opts.bars) {  /* one bar group per day, centred on the day's label */
      uOpts.scales.y = { range: function (u, min, max) { return [0, Math.max(1, max * 1.1, hi * 1.1)]; } };
      uOpts.axes[0] = {
        incrs: [DAY_S, 2 * DAY_S, 7 * DAY_S, 14 * DAY_S, 28 * DAY_S],
        values: function (u, splits) { return splits.map(function (ts) { return A.day(ts, tz); }); },
      };
    }
    var data = [xs].concat(shown.map(function (s) { return s.values; }));
    plots.push({ plot: new uPlot(uOpts, data, box), box: box });
    update(null);
  }

  // The node's answer to the network's daily DevStatusReq: battery 1..254 (0 external power, 255 unknown)
  // and the SNR at which it heard the request.
  function devStatus(s) {
    if (!s) return A.DASH;
    var battery = s.battery === 0 ? t("external_power") : s.battery === 255 ? t("battery_unknown")
      : t("battery_pct", Math.round((s.battery - 1) / 253 * 100));
    return battery + " · " + t("heard_network", s.snr_db);
  }

  function facts(d) {
    var status = d.status;
    var signal = d.signal ? A.signalWord(d.signal) + " (" + A.signalDetail(d.signal) + ")" : A.DASH;
    var items = [
      ["f_last_seen", A.ago(d.last_seen_ago_s) + (d.last_seen ? " (" + A.time(d.last_seen, d.timezone) + ")" : ""),
        d.silent ? "stale" : null],
      ["f_battery", A.num(d.battery.v, 2, "V") + " · " + A.daysLeft(d.battery.days_left),
        "battery-" + A.batteryLevel(d.battery.days_left)],
      ["f_signal", signal, d.signal ? "signal-" + d.signal.quality : null],
      ["f_interval", d.interval_s ? A.duration(d.interval_s) : A.DASH],
      ["f_field", d.field === null ? A.DASH : d.field],
      ["f_devaddr", d.dev_addr || A.DASH],
      ["f_board", d.board || A.DASH],
      ["f_firmware", status && status.firmware ? status.firmware.join(".") : A.DASH],
      ["f_dev_status", devStatus(d.dev_status)],
    ];
    var dl = document.getElementById("facts");
    dl.replaceChildren();
    items.forEach(function (kv) {
      dl.appendChild(A.el("div", { "data-fact": kv[0].slice(2) }, A.el("dt", { text: t(kv[0]) }),
        A.el("dd", { class: kv[2] ? "level " + kv[2] : null, text: kv[1] })));
    });
  }

  function ranges() {
    var nav = document.getElementById("range");
    nav.replaceChildren(document.createTextNode(t("show") + " "));
    RANGES.forEach(function (n) {
      nav.appendChild(A.el("a", { href: "?days=" + n, class: n === days ? "current" : null,
        text: n === 1 ? t("day") : t("days", n) }));
    });
  }

  function receptions(rows, tz) {
    var body = document.querySelector("#receptions tbody");
    var labels = ["r_received", "r_fcnt", "r_type", "r_gateways", "r_rssi", "r_snr", "r_sf"];
    body.replaceChildren();
    rows.forEach(function (r) {
      var cells = [
        A.el("td", { text: A.time(r.received_at, tz) }),
        A.el("td", { class: "num", text: String(r.fcnt) }),
        A.el("td", { text: r.type }),
        A.el("td", { title: r.gateways.join(", "), text: r.gateways.length + " (" + r.gateways.join(", ") + ")" }),
        A.el("td", { class: "num", text: A.num(r.rssi, 0) }),
        A.el("td", { class: "num", text: A.num(r.snr, 1) }),
        A.el("td", { class: "num", text: r.sf === null ? A.DASH : String(r.sf) }),
      ];
      cells.forEach(function (c, i) { c.setAttribute("data-label", t(labels[i])); });
      body.appendChild(A.el.apply(null, ["tr", {}].concat(cells)));
    });
    if (!rows.length) body.appendChild(A.el("tr", {}, A.el("td", { colspan: "7", class: "none", text: t("never_heard") })));
  }

  function render(d) {
    document.title = "Akker · " + d.name;
    document.getElementById("title").textContent = t("node_title", d.name);
    A.clock(d.now, d.timezone);
    facts(d);
    document.getElementById("alerts").replaceChildren(A.alertList(d.alerts, d.timezone, false));
    ranges();
    var s = d.series, tz = d.timezone, th = d.thresholds;
    var range = [Date.parse(d.start) / 1000, Date.parse(d.now) / 1000];
    plots = [];
    chart("soil_moisture", s.t, lines("probe", s.soil_moisture_pct, 0), range, tz, { digits: 1, unit: "%",
      marks: [threshold("line_dry", th.soil_moisture_min_pct, "%"), threshold("line_wet", th.soil_moisture_max_pct, "%")] });
    chart("temperature", s.t, lines(s.soil_temp_c.length > 1 ? "soil_n" : "soil", s.soil_temp_c, 1)
      .concat([{ label: t("air"), values: s.air_temp_c, color: PALETTE[6] }]), range, tz, { digits: 1, unit: "\u00b0C" });
    chart("air_humidity", s.t, [{ label: t("humidity"), values: s.air_rh_pct, color: PALETTE[1] }], range, tz,
      { digits: 0, unit: "%", yRange: atLeast(0, 100) });
    var traps = d.catches_per_day.traps;
    var dayRange = [range[0] - DAY_S / 2, range[1] + DAY_S / 2];
    chart("catches", d.catches_per_day.t, lines(traps.length > 1 ? "trap" : "trap_1", traps, 4), dayRange, tz,
      { bars: true, digits: 0, marks: [threshold("line_catches", th.catches_per_day_max, "")] });
    chart("battery", s.t, [{ label: t("battery"), values: s.battery_v, color: PALETTE[0] }], range, tz,
      { digits: 2, unit: "V", yRange: atLeast(3.2, 4.2),  /* from below the 3.3 V cut-off to a full cell */
        marks: [threshold("line_battery", th.battery_min_v, "V")] });
    receptions(d.receptions, tz);
    document.body.setAttribute("data-loaded", "node");
  }

  window.addEventListener("resize", function () {
    plots.forEach(function (p) { p.plot.setSize({ width: p.box.clientWidth, height: HEIGHT }); });
  });

  A.getJSON(A.api("/api/nodes/" + encodeURIComponent(name), { days: days })).then(render, function (err) {
    A.showHint(t("cannot_load", err.message));
  });
})();
