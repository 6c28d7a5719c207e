// Runs payload_codec/js/decoder.js on JSON-line requests from stdin, one answer line each, in the
// protocol of tests/micropython/codec_harness.py, so tests/vectors_check.py can drive both:
//   {"op": "decode_uplink"|"decode_downlink", "fPort": N, "bytes": "hex"} -> {"data": ...}
//   {"op": "encode_downlink", "data": {...}}                               -> {"fPort": N, "bytes": "hex"}
// A refusal answers {"errors": [...]}. A throw, an "internal error" or an answer that breaks the
// TS013 shape answers {"crash": "..."}, which a test treats as a failure.
"use strict";
var codec = require("../../payload_codec/js/decoder.js");

function toHex(bytes) {
  return bytes.map(function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
}

function fromHex(hex) {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error("bad hex " + JSON.stringify(hex));
  var out = [];
  for (var i = 0; i < hex.length; i += 2) out.push(parseInt(hex.substr(i, 2), 16));
  return out;
}

function answer(req) {
  var result;
  if (req.op === "decode_uplink") result = codec.decodeUplink({ fPort: req.fPort, bytes: fromHex(req.bytes) });
  else if (req.op === "decode_downlink") result = codec.decodeDownlink({ fPort: req.fPort, bytes: fromHex(req.bytes) });
  else if (req.op === "encode_downlink") result = codec.encodeDownlink({ data: req.data });
  else return { crash: "unknown op " + req.op };
  var errors = result.errors || [];
  if (!Array.isArray(errors) || !Array.isArray(result.warnings)) return { crash: "bad result " + JSON.stringify(result) };
  if (errors.length) {
    if (errors.join(" ").indexOf("internal error") >= 0 || "data" in result || "bytes" in result) {
      return { crash: JSON.stringify(result) };
    }
    return { errors: errors };
  }
  if (req.op === "encode_downlink") return { fPort: result.fPort, bytes: toHex(result.bytes) };
  return { data: result.data };
}

var input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", function (chunk) { input += chunk; });
process.stdin.on("end", function () {
  var out = [];
  input.split("\n").forEach(function (line) {
    if (!line.trim()) return;
    var reply;
    try {
      reply = answer(JSON.parse(line));
    } catch (e) {
      reply = { crash: String(e && e.stack ? e.stack : e) };
    }
    out.push(JSON.stringify(reply));
  });
  process.stdout.write(out.length ? out.join("\n") + "\n" : "");
});
