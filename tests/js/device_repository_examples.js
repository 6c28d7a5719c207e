#!/usr/bin/env node
"use strict";
// Writes payload_codec/js/device-repository/vendor/akker/field-node-codec.yaml: picks a few examples from
// the project's test vectors (tests/vectors/*.json), runs the real formatter (vendor/akker/field-node.js,
// a link to payload_codec/js/decoder.js) on each input in a fresh context, and records exactly what it
// returned as the example's output; uplink examples that decode also get normalizeUplink's output.
// Every result is cross-checked against the vector's expectation first, so an example never records a
// formatter that disagrees with the vectors.
//
//   node tests/js/device_repository_examples.js    (after a change to the codec or the vectors; then
//   tests/js/device_repository.js, which the suite runs, checks the examples again)

const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");
const isEqual = require("lodash.isequal");
const { runFormatter } = require("./codec_runner");

const VECTORS = path.join(__dirname, "../vectors");
const VENDOR = path.join(__dirname, "../../payload_codec/js/device-repository/vendor/akker");
const CODEC_FILE = "field-node.js";
const CODEC_PATH = path.join(VENDOR, CODEC_FILE);
const OUT_PATH = path.join(VENDOR, "field-node-codec.yaml");

const codecSource = { name: CODEC_FILE, text: fs.readFileSync(CODEC_PATH, "utf8") };

// [vector file, vector description, example description, how to use the vector]
const UPLINKS = [
  ["report.json", "standard report (spec 3.6)",
    "Report, one sample: two soil-moisture probes, one soil-temperature probe, air temperature and humidity, one trap, battery"],
  ["report-batch.json", "batch of 4, 900 s apart, standard sensors",
    "Report, batch of four samples taken 900 s apart, oldest first"],
  ["report.json", "air temperature failed (None scalar, failure bitmap)",
    "Report, one sample whose air-temperature reading failed (null)"],
  ["report.json", "first trap failed, second counted",
    "Report, one sample with only the insect traps fitted (no normalized fields)"],
  ["status.json", "typical status after power-on",
    "Status after power-on"],
  ["status.json", "a node that applied three commands from the farm office, the last set_interval 600",
    "Status of a node that has applied three commands, the last one set_interval 600 s"],
  ["report-errors.json", "standard report without its last byte",
    "Report cut short by one byte"],
];
const DOWNLINK_ENCODES = [
  ["downlink.json", "set_interval 900 s", "Set the sampling interval to 900 s", "fromDecode"],
  ["downlink.json", "set_calibration probe 0, dry 3100, wet 1200",
    "Calibrate soil-moisture probe 0: raw reading 3100 in air, 1200 in water", "fromDecode"],
  ["downlink.json", "encode set_interval 59", "Sampling interval below 60 s", "asIs"],
];
const DOWNLINK_DECODES = [
  ["downlink.json", "set_interval 900 s", "Set the sampling interval to 900 s"],
  ["downlink.json", "set_calibration probe 0, dry 3100, wet 1200",
    "Calibrate soil-moisture probe 0: raw reading 3100 in air, 1200 in water"],
];

function vector(file, description) {
  const list = JSON.parse(fs.readFileSync(path.join(VECTORS, file), "utf8"));
  const found = list.filter((v) => v.description === description);
  if (found.length !== 1) throw new Error(`${file}: ${found.length} vectors named ${JSON.stringify(description)}`);
  return found[0];
}

function fromHex(hex) {
  const out = [];
  for (let i = 0; i < hex.length; i += 2) out.push(parseInt(hex.substr(i, 2), 16));
  return out;
}

// The vectors' own comparison: floats within 1e-6, everything else exact.
function close(a, b) {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) <= 1e-6;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => close(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return isEqual(ka, kb) && ka.every((k) => close(a[k], b[k]));
  }
  return a === b;
}

// JSON round trip: what the stack's engine hands back is JSON-shaped, and so is what YAML can hold.
function plain(x) {
  return JSON.parse(JSON.stringify(x));
}

function checkAgainstVector(v, result, label) {
  if (v.output.errors) {
    const msg = (result.errors || []).join(" ");
    const missing = v.output.errors.filter((p) => msg.indexOf(p) < 0);
    if (!result.errors || !result.errors.length || missing.length) {
      throw new Error(`${label}: expected errors ${JSON.stringify(v.output.errors)}, got ${JSON.stringify(result)}`);
    }
    return;
  }
  if (result.errors && result.errors.length) throw new Error(`${label}: unexpected errors ${JSON.stringify(result.errors)}`);
  if (v.output.data && !close(result.data, v.output.data)) {
    throw new Error(`${label}: data differs from the vector: ${JSON.stringify(result.data)}`);
  }
  if (v.output.bytes !== undefined) {
    if (!isEqual(result.bytes, fromHex(v.output.bytes)) || result.fPort !== v.output.fPort) {
      throw new Error(`${label}: encoding differs from the vector: ${JSON.stringify(result)}`);
    }
  }
}

function uplinkExample([file, vdesc, desc]) {
  const v = vector(file, vdesc);
  const input = { fPort: v.input.fPort, bytes: fromHex(v.input.bytes) };
  const output = plain(runFormatter([codecSource], "decodeUplink", input));
  checkAgainstVector(v, output, `${file}: ${vdesc}`);
  const example = { description: desc, input, output };
  if (!(output.errors && output.errors.length)) {
    let normalized = plain(runFormatter([codecSource], "normalizeUplink", output));
    if (normalized && !Array.isArray(normalized.data)) normalized = Object.assign({}, normalized, { data: [normalized.data] });
    example.normalizedOutput = normalized;
  }
  return example;
}

function encodeExample([file, vdesc, desc, how]) {
  const v = vector(file, vdesc);
  let input;
  let check;
  if (how === "fromDecode") {
    // A decoding vector read backwards: encoding its data must give back its FPort and bytes.
    input = { data: v.output.data };
    check = { output: { fPort: v.input.fPort, bytes: v.input.bytes } };
  } else {
    input = { data: v.input.data };
    check = v;
  }
  const output = plain(runFormatter([codecSource], "encodeDownlink", input));
  checkAgainstVector(check, output, `${file}: ${vdesc} (encode)`);
  return { description: desc, input, output };
}

function decodeExample([file, vdesc, desc]) {
  const v = vector(file, vdesc);
  const input = { fPort: v.input.fPort, bytes: fromHex(v.input.bytes) };
  const output = plain(runFormatter([codecSource], "decodeDownlink", input));
  checkAgainstVector(v, output, `${file}: ${vdesc} (decode)`);
  return { description: desc, input, output };
}

// ---------------------------------------------------------------- a small YAML writer
// Block style for objects and lists of objects, flow style for lists of scalars (byte arrays stay on
// one line). Every scalar is checked to read back as itself; anything ambiguous is double-quoted
// (JSON string syntax is valid YAML).

function scalar(x) {
  if (x === null) return "null";
  if (typeof x === "boolean") return String(x);
  if (typeof x === "number") {
    if (!isFinite(x) || Object.is(x, -0)) throw new Error("number YAML cannot hold: " + x);
    return String(x);
  }
  if (typeof x === "string") {
    if (/^[A-Za-z0-9][A-Za-z0-9 ,()_.'/-]*$/.test(x)) {
      try {
        const back = yaml.load("k: " + x);
        if (back && back.k === x) return x;
      } catch (e) {
        // fall through to quoting
      }
    }
    return JSON.stringify(x);
  }
  throw new Error("not a scalar: " + typeof x);
}

function isScalar(x) {
  return x === null || ["string", "number", "boolean"].indexOf(typeof x) >= 0;
}

function emitObject(obj, indent, firstPrefix) {
  const pad = " ".repeat(indent);
  const lines = [];
  Object.keys(obj).forEach((key, i) => {
    const lead = i === 0 && firstPrefix !== undefined ? firstPrefix : pad;
    const k = scalar(key);
    const v = obj[key];
    if (isScalar(v)) {
      lines.push(`${lead}${k}: ${scalar(v)}`);
    } else if (Array.isArray(v) && v.every(isScalar)) {
      lines.push(`${lead}${k}: [${v.map(scalar).join(", ")}]`);
    } else if (Array.isArray(v)) {
      lines.push(`${lead}${k}:`);
      v.forEach((item) => lines.push(...emitListItem(item, indent + 2)));
    } else if (Object.keys(v).length === 0) {
      lines.push(`${lead}${k}: {}`);
    } else {
      lines.push(`${lead}${k}:`);
      lines.push(...emitObject(v, indent + 2));
    }
  });
  return lines;
}

function emitListItem(item, indent) {
  const pad = " ".repeat(indent);
  if (isScalar(item)) return [`${pad}- ${scalar(item)}`];
  if (Array.isArray(item)) {
    if (!item.every(isScalar)) throw new Error("lists of lists of objects are not needed here");
    return [`${pad}- [${item.map(scalar).join(", ")}]`];
  }
  if (Object.keys(item).length === 0) return [`${pad}- {}`];
  return emitObject(item, indent + 2, `${pad}- `);
}

// ---------------------------------------------------------------- the file

const codec = {
  uplinkDecoder: { fileName: CODEC_FILE, examples: UPLINKS.map(uplinkExample) },
  downlinkEncoder: { fileName: CODEC_FILE, examples: DOWNLINK_ENCODES.map(encodeExample) },
  downlinkDecoder: { fileName: CODEC_FILE, examples: DOWNLINK_DECODES.map(decodeExample) },
};

const header = [
  "# Payload codec of the Akker field node (docs/payload-format.md in the Akker project).",
  "# The examples are generated by the Akker project's tests/js/device_repository_examples.js: each output",
  "# is exactly what the formatter returned for the input, run on a vector of the project's tests/vectors/;",
  "# normalizedOutput is what normalizeUplink returned for that output. Regenerate rather than edit by hand.",
  "#",
  "# Uplinks: FPort 1 report (one sample or a batch of up to 8), FPort 2 status.",
  "# Downlinks: FPort 20 set_interval, 21 set_batch, 22 set_calibration, 23 reset_trap, 24 request_status,",
  "# 25 reboot. request_status and reboot have no bytes, which the schema's frmPayload (minItems 1) does not",
  "# allow in an example, so they have none here.",
  "",
];
const text = header.join("\n") + emitObject(codec, 0).join("\n") + "\n";

const back = yaml.load(text);
if (!isEqual(back, codec)) throw new Error("the YAML written does not read back as the examples");
fs.writeFileSync(OUT_PATH, text);
const count = codec.uplinkDecoder.examples.length + codec.downlinkEncoder.examples.length + codec.downlinkDecoder.examples.length;
console.log(`wrote ${path.relative(process.cwd(), OUT_PATH)}: ${count} examples, each checked against its vector in ${VECTORS}`);
