/*
 * Akker payload formatter for The Things Stack and ChirpStack v4 (LoRa Alliance TS013:
 * decodeUplink, encodeDownlink, decodeDownlink).
 *
 * The source of truth is docs/payload-format.md; section numbers below refer to it, and
 * tests/vectors/ holds the examples this file, like the Python codec in payload_codec/, must pass.
 *
 * ECMAScript 5.1 only: the network servers run formatters in small embedded engines that
 * promise no more. Nothing here throws to the caller: bad input comes back as
 * {errors: [message], warnings: []}, and each message contains the spec's phrase for its failure
 * ("truncated", "trailing bytes", "reserved bits set", "out of range", "unknown fport"), because
 * that phrase is what the vectors check. A message containing "internal error" is a bug here.
 */

// ---------------------------------------------------------------- tables

var AGE_MAX = 86399; // 3.4: one day less a second
var MAX_SAMPLES = 8; // 3.2: sample count code 7 would mean 9
var LAYOUT_BITS = 11; // 3.3
var AGE_BITS = [0, 6, 12, 17]; // 3.4: value bits per age class
var U32_MAX = 4294967295; // 4: status counters

// 3.1 with the layout widths of 3.3, in wire order. items: 0 for a single value, else the most
// list entries; lbits: bits of the field's layout code (3.3); w: bits of one value (W);
// value = (code - offset) / scale (1), scale 1 marking an integer field that is not divided;
// top: the highest code, above which a decoder refuses (1). A copy of payload_codec/report_layout.py,
// which defines the table; tests/test_report_table.py fails when the two differ.
var FIELDS = [
  { key: "soil_moisture_pct", items: 4, lbits: 3, w: 10, scale: 10, offset: 0, top: 1000 },
  { key: "soil_temp_c", items: 4, lbits: 3, w: 11, scale: 10, offset: 400, top: 1250 },
  { key: "air_temp_c", items: 0, lbits: 1, w: 11, scale: 10, offset: 400, top: 1250 },
  { key: "air_rh_pct", items: 0, lbits: 1, w: 8, scale: 2, offset: 0, top: 200 },
  { key: "insect_count", items: 2, lbits: 2, w: 16, scale: 1, offset: 0, top: 65535 },
  { key: "battery_v", items: 0, lbits: 1, w: 8, scale: 100, offset: -200, top: 255 }
];

// 4: wire code = index (3 bits; 7 is out of range).
var RESET_CAUSES = ["power_on", "deep_sleep", "watchdog", "soft", "hard", "brownout", "unknown"];
var COUNTERS = ["uptime_s", "tx_frames", "sensor_errors", "radio_errors"];
var BOARD_MAX = 16;

// 5: one FPort per command; parameters [key, bytes, lowest, highest], big-endian in this order.
var COMMANDS = [
  { cmd: "set_interval", fPort: 20, params: [["seconds", 3, 60, 86400]] },
  { cmd: "set_batch", fPort: 21, params: [["samples", 1, 1, 8]] },
  {
    cmd: "set_calibration",
    fPort: 22,
    params: [["probe", 1, 0, 3], ["dry", 2, 0, 65535], ["wet", 2, 0, 65535]]
  },
  { cmd: "reset_trap", fPort: 23, params: [["trap", 1, 0, 1]] },
  { cmd: "request_status", fPort: 24, params: [] },
  { cmd: "reboot", fPort: 25, params: [] }
];

function bitLength(v) {
  var n = 0;
  while (v > 0) {
    v = Math.floor(v / 2);
    n += 1;
  }
  return n;
}

// Derived columns, computed once so the table above stays the spec's table.
var NSLOTS = (function () {
  var shift = LAYOUT_BITS;
  var slot = 0;
  for (var i = 0; i < FIELDS.length; i++) {
    var f = FIELDS[i];
    shift -= f.lbits;
    f.shift = shift; // 3.3: the first field sits in the highest bits
    f.slot = slot; // 3.1: slots are value positions in field order
    slot += f.items || 1;
    f.wbits = bitLength(f.w); // 3.2: a width 0..W needs 4 bits, 5 for insect_count (W = 16)
  }
  return slot;
})();

// ---------------------------------------------------------------- errors and input checks

// Thrown only inside this file; the public functions turn it into {errors: [...]}.
function CodecError(message) {
  this.message = message;
}

function fail(message) {
  throw new CodecError(message);
}

function run(body) {
  try {
    return body();
  } catch (e) {
    if (e instanceof CodecError) {
      return { errors: [e.message], warnings: [] };
    }
    return { errors: ["internal error: " + (e && e.message ? e.message : String(e))], warnings: [] };
  }
}

// A value for an error message that cannot itself throw (JSON.stringify can on cycles).
function show(x) {
  if (typeof x === "string") {
    return JSON.stringify(x);
  }
  if (x === null || typeof x === "number" || typeof x === "boolean") {
    return String(x);
  }
  return Array.isArray(x) ? "array" : typeof x;
}

function isInt(x) {
  return typeof x === "number" && isFinite(x) && Math.floor(x) === x;
}

function has(obj, key) {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

function isObject(x) {
  return x !== null && typeof x === "object" && !Array.isArray(x);
}

function checkInput(input) {
  if (!isObject(input)) {
    fail("input must be an object, not " + show(input));
  }
  var fPort = input.fPort;
  if (!isInt(fPort)) {
    fail("fport must be an integer, not " + show(fPort));
  }
  if (fPort < 0 || fPort > 255) {
    fail("fport " + fPort + " is out of range 0..255");
  }
  var bytes = input.bytes;
  // Servers pass a plain array; a Uint8Array is accepted too, as some test tools send one.
  if (!Array.isArray(bytes) && Object.prototype.toString.call(bytes) !== "[object Uint8Array]") {
    fail("bytes must be an array of integers 0..255, not " + show(bytes));
  }
  for (var i = 0; i < bytes.length; i++) {
    if (!isInt(bytes[i])) {
      fail("bytes[" + i + "] must be an integer 0..255, not " + show(bytes[i]));
    }
    if (bytes[i] < 0 || bytes[i] > 255) {
      fail("bytes[" + i + "] = " + bytes[i] + " is out of range 0..255");
    }
  }
  return fPort;
}

// ---------------------------------------------------------------- report (3)

// Bits are read one at a time: fields are at most 17 bits, so the value never nears 2^31.
function readBits(r, nbits, field) {
  if (r.pos + nbits > r.end) {
    fail(
      "report: truncated: " + field + " needs " + nbits + " bits at bit " + r.pos +
        " but the payload has only " + r.end / 8 + " bytes"
    );
  }
  var value = 0;
  for (var i = 0; i < nbits; i++) {
    var p = r.pos + i;
    value = value * 2 + ((r.bytes[p >> 3] >> (7 - (p & 7))) & 1);
  }
  r.pos += nbits;
  return value;
}

// 3.2: fewer than 8 bits may be left, and only zeros.
function finishBits(r) {
  var left = r.end - r.pos;
  if (left >= 8) {
    fail(
      "report: trailing bytes: " + Math.floor(left / 8) + " byte(s) after the last field (payload is " +
        r.end / 8 + " bytes)"
    );
  }
  if (left && readBits(r, left, "padding")) {
    fail("report: reserved bits set: the " + left + " padding bits at the end must be 0");
  }
}

function layoutCode(layout, f) {
  return (layout >> f.shift) & ((1 << f.lbits) - 1);
}

// 3.3: a list that failed as a whole (code items + 1) opens no slots.
function openSlots(layout, f) {
  var code = layoutCode(layout, f);
  return !f.items || code <= f.items ? code : 0;
}

function layoutSlots(layout) {
  var n = 0;
  for (var i = 0; i < FIELDS.length; i++) {
    n += openSlots(layout, FIELDS[i]);
  }
  return n;
}

// 3.4: the smallest class is canonical, but any class holding the value is accepted.
function readAge(r, what) {
  var c = readBits(r, 2, what);
  var age = c ? readBits(r, AGE_BITS[c], what) : 0;
  if (age > AGE_MAX) {
    fail("report: " + what + " = " + age + " is out of range 0.." + AGE_MAX);
  }
  return age;
}

function readLayout(r) {
  var layout = readBits(r, LAYOUT_BITS, "sample layout");
  for (var i = 0; i < FIELDS.length; i++) {
    var f = FIELDS[i];
    var code = layoutCode(layout, f);
    if (f.items && code > f.items + 1) {
      fail("report: reserved bits set: " + f.key + " layout code " + code + " is reserved");
    }
  }
  return layout;
}

// 3.5: a slot's first value is whole, later ones zigzag deltas modulo 2^W from the last one sent.
function readValue(r, f, slot, prev, width) {
  var code;
  if (prev[slot] < 0) {
    code = readBits(r, f.w, f.key);
  } else {
    var z = readBits(r, width[slot], f.key);
    var delta = z & 1 ? -((z + 1) / 2) : z / 2;
    code = (prev[slot] + delta) & ((1 << f.w) - 1);
  }
  if (code > f.top) {
    fail("report: " + f.key + " code " + code + " is out of range 0.." + f.top);
  }
  prev[slot] = code;
  // Division, not multiplication by 0.1, so 387 decodes as 3.87 exactly as Python does.
  return f.scale === 1 ? code : (code - f.offset) / f.scale;
}

function filled(n, v) {
  var a = [];
  for (var i = 0; i < n; i++) {
    a.push(v);
  }
  return a;
}

function decodeReport(bytes) {
  var r = { bytes: bytes, pos: 0, end: bytes.length * 8 };
  var i, j, k, f;
  // 3.2 header
  var batch = readBits(r, 1, "batch flag");
  var n = 1;
  var mixed = 0;
  if (batch) {
    n = readBits(r, 3, "sample count") + 2;
    if (n > MAX_SAMPLES) {
      fail("report: reserved bits set: sample count code 7 is reserved (at most 8 samples)");
    }
    mixed = readBits(r, 1, "mixed-layout flag");
  }
  var failed = readBits(r, 1, "failure flag");
  // 3.2 ages: the newest first, then either a spacing or the older ages, oldest first
  var ages = filled(n, 0);
  ages[n - 1] = readAge(r, "age_s");
  if (batch) {
    if (readBits(r, 1, "regular-spacing flag")) {
      var step = readAge(r, "age spacing");
      for (k = 0; k < n - 1; k++) {
        ages[k] = ages[n - 1] + (n - 1 - k) * step;
        if (ages[k] > AGE_MAX) {
          fail("report: age_s of sample " + k + " = " + ages[k] + " is out of range 0.." + AGE_MAX);
        }
      }
    } else {
      for (k = 0; k < n - 1; k++) {
        ages[k] = readAge(r, "age_s");
      }
    }
  }
  // 3.2 layouts: one shared, or one per sample when M = 1
  var layouts = [];
  for (k = 0; k < n; k++) {
    layouts.push(mixed || k === 0 ? readLayout(r) : layouts[0]);
  }
  // 3.2 failure bitmaps: one bit per open slot, the first slot in the highest bit
  var fails = filled(n, 0);
  if (failed) {
    for (k = 0; k < n; k++) {
      fails[k] = readBits(r, layoutSlots(layouts[k]), "failure bitmap");
    }
  }
  // 3.2 widths: for every slot any sample opens; lists open from their first slot, so per field
  // the most slots any sample opens is exactly the union
  var width = filled(NSLOTS, 0);
  if (batch) {
    for (i = 0; i < FIELDS.length; i++) {
      f = FIELDS[i];
      var most = 0;
      for (k = 0; k < n; k++) {
        most = Math.max(most, openSlots(layouts[k], f));
      }
      for (j = 0; j < most; j++) {
        var wd = readBits(r, f.wbits, "delta width");
        if (wd > f.w) {
          fail("report: delta width " + wd + " for " + f.key + " is out of range 0.." + f.w);
        }
        width[f.slot + j] = wd;
      }
    }
  }
  // 3.2 values
  var prev = filled(NSLOTS, -1);
  var samples = [];
  for (k = 0; k < n; k++) {
    var layout = layouts[k];
    var left = layoutSlots(layout);
    var sample = { age_s: ages[k] };
    for (i = 0; i < FIELDS.length; i++) {
      f = FIELDS[i];
      var code = layoutCode(layout, f);
      if (!code) {
        continue; // not fitted: the key is absent
      }
      if (f.items && code > f.items) {
        sample[f.key] = null; // the whole list failed
        continue;
      }
      var values = [];
      for (j = 0; j < code; j++) {
        left -= 1;
        values.push((fails[k] >> left) & 1 ? null : readValue(r, f, f.slot + j, prev, width));
      }
      sample[f.key] = f.items ? values : values[0];
    }
    samples.push(sample);
  }
  finishBits(r);
  return { type: "report", samples: samples };
}

// ---------------------------------------------------------------- status (4)

// Returns the index of the first of n bytes and moves past them.
function take(r, n, field) {
  if (r.pos + n > r.bytes.length) {
    fail(
      "status: truncated: " + field + " needs " + n + " byte(s) at byte " + r.pos +
        " but the payload has only " + r.bytes.length + " bytes"
    );
  }
  r.pos += n;
  return r.pos - n;
}

// LEB128, summed with multiplication: a counter reaches 2^32 - 1, past JS's 32-bit bitwise range.
function readVarint(r, field) {
  var v = 0;
  var scale = 1;
  for (var i = 0; i < 5; i++) {
    var b = r.bytes[take(r, 1, field)];
    v += (b & 0x7f) * scale;
    if (!(b & 0x80)) {
      if (v > U32_MAX) {
        fail("status: " + field + " = " + v + " is out of range 0..4294967295");
      }
      return v;
    }
    scale *= 128;
  }
  fail("status: " + field + ": a varint of more than 5 bytes is out of range");
}

function decodeStatus(bytes) {
  var r = { bytes: bytes, pos: 0 };
  var head = bytes[take(r, 1, "reset_cause")];
  if (head & 0xf8) {
    fail("status: reserved bits set: byte 0 is 0x" + (head < 16 ? "0" : "") + head.toString(16) +
      ", bits 7..3 must be 0");
  }
  if (head >= RESET_CAUSES.length) {
    fail("status: reset_cause code " + head + " is out of range 0.." + (RESET_CAUSES.length - 1));
  }
  var p = take(r, 3, "firmware");
  var firmware = [bytes[p], bytes[p + 1], bytes[p + 2]];
  p = take(r, 4, "config_crc");
  var crc = bytes[p] * 16777216 + bytes[p + 1] * 65536 + bytes[p + 2] * 256 + bytes[p + 3];
  var n = bytes[take(r, 1, "board length")];
  if (n < 1 || n > BOARD_MAX) {
    fail("status: board length " + n + " is out of range 1.." + BOARD_MAX);
  }
  p = take(r, n, "board");
  var board = "";
  for (var i = p; i < p + n; i++) {
    if (bytes[i] < 0x21 || bytes[i] > 0x7e) {
      fail("status: board byte 0x" + (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16) +
        " is out of range (printable ASCII only)");
    }
    board += String.fromCharCode(bytes[i]);
  }
  var message = {
    type: "status",
    reset_cause: RESET_CAUSES[head],
    firmware: firmware,
    config_crc: crc,
    board: board
  };
  for (i = 0; i < COUNTERS.length; i++) {
    message[COUNTERS[i]] = readVarint(r, COUNTERS[i]);
  }
  // Optional: commands applied, then the last one (FPort byte, then its bytes), to the end.
  if (r.pos < bytes.length) {
    message.commands_applied = readVarint(r, "commands_applied");
  }
  if (r.pos < bytes.length) {
    var fPort = bytes[r.pos];
    try {
      message.last_command = decodeCommand(fPort, bytes.slice(r.pos + 1));
    } catch (err) {
      fail("status: last_command: " + err.message);
    }
    r.pos = bytes.length;
  }
  if (r.pos !== bytes.length) {
    fail("status: trailing bytes: " + (bytes.length - r.pos) + " byte(s) after the last field (payload is " +
      bytes.length + " bytes)");
  }
  return message;
}

// ---------------------------------------------------------------- commands (5)

function commandNames() {
  var names = [];
  for (var i = 0; i < COMMANDS.length; i++) {
    names.push(COMMANDS[i].cmd);
  }
  return names.join(", ");
}

function encodeCommand(command) {
  if (!isObject(command)) {
    fail("downlink: command must be an object, not " + show(command));
  }
  if (!has(command, "cmd")) {
    fail("downlink: cmd is required");
  }
  var row = null;
  var i, j;
  for (i = 0; i < COMMANDS.length; i++) {
    if (COMMANDS[i].cmd === command.cmd) {
      row = COMMANDS[i];
    }
  }
  if (!row) {
    fail("downlink: unknown cmd " + show(command.cmd) + " (known: " + commandNames() + ")");
  }
  for (var key in command) {
    if (has(command, key) && key !== "cmd") {
      var known = false;
      for (i = 0; i < row.params.length; i++) {
        known = known || row.params[i][0] === key;
      }
      if (!known) {
        fail("downlink: " + row.cmd + ": unknown key " + show(key));
      }
    }
  }
  var out = [];
  for (i = 0; i < row.params.length; i++) {
    var p = row.params[i];
    if (!has(command, p[0])) {
      fail("downlink: " + row.cmd + ": " + p[0] + " is required");
    }
    var v = command[p[0]];
    if (!isInt(v)) {
      fail("downlink: " + row.cmd + ": " + p[0] + " must be an integer, not " + show(v));
    }
    if (v < p[2] || v > p[3]) {
      fail("downlink: " + row.cmd + ": " + p[0] + " = " + v + " is out of range " + p[2] + ".." + p[3]);
    }
    for (j = p[1] - 1; j >= 0; j--) {
      out.push(Math.floor(v / Math.pow(256, j)) % 256);
    }
  }
  return { bytes: out, fPort: row.fPort, warnings: [], errors: [] };
}

function decodeCommand(fPort, bytes) {
  var row = null;
  var i, j;
  for (i = 0; i < COMMANDS.length; i++) {
    if (COMMANDS[i].fPort === fPort) {
      row = COMMANDS[i];
    }
  }
  if (!row) {
    fail("downlink: unknown fport " + fPort + " (commands use 20..25)");
  }
  var size = 0;
  for (i = 0; i < row.params.length; i++) {
    size += row.params[i][1];
  }
  if (bytes.length < size) {
    fail("downlink: " + row.cmd + ": truncated: " + bytes.length + " byte(s), needs " + size);
  }
  if (bytes.length > size) {
    fail("downlink: " + row.cmd + ": trailing bytes: " + (bytes.length - size) + " byte(s) after the last field");
  }
  var command = { cmd: row.cmd };
  var pos = 0;
  for (i = 0; i < row.params.length; i++) {
    var p = row.params[i];
    var v = 0;
    for (j = 0; j < p[1]; j++) {
      v = v * 256 + bytes[pos + j];
    }
    if (v < p[2] || v > p[3]) {
      fail("downlink: " + row.cmd + ": " + p[0] + " = " + v + " is out of range " + p[2] + ".." + p[3]);
    }
    command[p[0]] = v;
    pos += p[1];
  }
  return command;
}

// ---------------------------------------------------------------- TS013 entry points

// A sample's time from the uplink's reception (TS013's recvTime, which The Things Stack and ChirpStack
// give as a Date) less its age; nothing without one. A Date from another realm fails instanceof.
function addTimes(data, recvTime) {
  var t = Object.prototype.toString.call(recvTime) === "[object Date]" ? recvTime.getTime()
    : typeof recvTime === "string" ? Date.parse(recvTime) : NaN;
  if (!isFinite(t)) {
    return data;
  }
  for (var i = 0; i < data.samples.length; i++) {
    data.samples[i].time = new Date(t - data.samples[i].age_s * 1000).toISOString();
  }
  return data;
}

function decodeUplink(input) {
  return run(function () {
    var fPort = checkInput(input);
    var data;
    if (fPort === 1) {
      data = addTimes(decodeReport(input.bytes), input.recvTime);
    } else if (fPort === 2) {
      data = decodeStatus(input.bytes);
    } else {
      fail("unknown fport " + fPort + ": uplinks use 1 (report) and 2 (status)");
    }
    return { data: data, warnings: [], errors: [] };
  });
}

function encodeDownlink(input) {
  return run(function () {
    if (!isObject(input)) {
      fail("input must be an object, not " + show(input));
    }
    return encodeCommand(input.data);
  });
}

function decodeDownlink(input) {
  return run(function () {
    var fPort = checkInput(input);
    return { data: decodeCommand(fPort, input.bytes), warnings: [], errors: [] };
  });
}

// ---------------------------------------------------------------- normalized payload

/*
 * normalizeUplink (The Things Stack's normalized payload, lorawan-devices lib/payload.json): one
 * measurement per report sample, oldest first, with its `time` when decodeUplink had recvTime.
 * soil.moisture and soil.temperature are probe 0's (a measurement has one soil; probe 0 is always the
 * same physical probe, so the series stays one probe's); air.temperature, air.relativeHumidity and
 * battery (V) as decoded. A reading that failed is left out, not sent as 0; insect catches have no
 * normalized field and stay in the decoded data; a sample with nothing left gives no measurement; a
 * status message gives none. Helpers are nested: this adds one global name.
 */
function normalizeUplink(input) {
  function isNumber(x) {
    return typeof x === "number" && isFinite(x);
  }
  function firstProbe(list) {
    return Object.prototype.toString.call(list) === "[object Array]" && isNumber(list[0]) ? list[0] : null;
  }
  function hasKeys(obj) {
    for (var key in obj) {
      if (Object.prototype.hasOwnProperty.call(obj, key)) {
        return true;
      }
    }
    return false;
  }
  var data = input && input.data;
  var out = [];
  if (!data || data.type !== "report" || Object.prototype.toString.call(data.samples) !== "[object Array]") {
    return { data: out };
  }
  for (var i = 0; i < data.samples.length; i++) {
    var sample = data.samples[i] || {};
    var m = {};
    var soil = {};
    var air = {};
    if (firstProbe(sample.soil_moisture_pct) !== null) {
      soil.moisture = firstProbe(sample.soil_moisture_pct);
    }
    if (firstProbe(sample.soil_temp_c) !== null) {
      soil.temperature = firstProbe(sample.soil_temp_c);
    }
    if (isNumber(sample.air_temp_c)) {
      air.temperature = sample.air_temp_c;
    }
    if (isNumber(sample.air_rh_pct)) {
      air.relativeHumidity = sample.air_rh_pct;
    }
    if (hasKeys(soil)) {
      m.soil = soil;
    }
    if (hasKeys(air)) {
      m.air = air;
    }
    if (isNumber(sample.battery_v)) {
      m.battery = sample.battery_v;
    }
    if (hasKeys(m)) {
      if (typeof sample.time === "string") {
        m.time = sample.time;
      }
      out.push(m);
    }
  }
  return { data: out };
}

if (typeof module !== "undefined" && module.exports) {
  module.exports = { decodeUplink: decodeUplink, encodeDownlink: encodeDownlink, decodeDownlink: decodeDownlink,
    normalizeUplink: normalizeUplink };
}
