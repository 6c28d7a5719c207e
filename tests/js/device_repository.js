#!/usr/bin/env node
"use strict";
// Validates payload_codec/js/device-repository/ the way TheThingsNetwork/lorawan-devices validates a
// vendor folder, as far as its rules can be applied here (tests/js/lorawan-devices/README.md):
//
//  1. vendor/index.yaml, vendor/<vendor>/index.yaml, each end device, region profile and codec file
//     against the matching definition of schema.json (JSON Schema draft-07, 2024). lib/payload.json
//     (JSON Schema 2020-12, $defs) is registered a second time as draft-07 with $defs renamed to
//     definitions, which is what schema.json's payload/schema#/definitions/uplinkPayload refers to.
//     The same files are also checked against lib/draft/schema.json, which upstream used until 2022;
//     those results are printed as "draft" lines and do not fail the run unless --strict-draft is given.
//  2. The repository's own rules beside the schema: every vendor folder listed, logos present and
//     lowercase, device names free of the vendor id and unique, firmware hardware versions declared,
//     profiles without vendorProfileID, referenced files present, a main photo (warned only).
//  3. Every codec example run as The Things Stack runs codecs: a fresh context per run, the codec file
//     evaluated, decodeUplink / encodeDownlink / decodeDownlink called with the example's input, the
//     result compared with the example's output by lodash.isequal (types and extra keys count). An
//     uplink example with normalizedOutput also runs normalizeUplink on the example's output (and on
//     { data } alone, as the stack calls it), its data wrapped in a list when it is not one, compared
//     the same way, and its data checked against lib/payload.json's uplinkPayload (2020-12, as is).
//  4. The codec file parses as ECMAScript 5.1 (acorn) and stays under the 40 KB limit that The Things
//     Stack sets for a formatter pasted by hand.
//
//   node tests/js/device_repository.js [--schemas DIR] [--root DIR] [--strict-draft]
//
// DIR defaults: tests/js/lorawan-devices (the schemas), payload_codec/js/device-repository (the root
// holding vendor/). Exit status 0 when nothing failed, 1 otherwise (tests/payload_codec runs it).

const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");
const Ajv = require("ajv");
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");
const acorn = require("acorn");
const isEqual = require("lodash.isequal");
const { runFormatter } = require("./codec_runner");

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const SCHEMAS = option("--schemas", path.join(__dirname, "lorawan-devices"));
const ROOT = option("--root", path.join(__dirname, "../../payload_codec/js/device-repository"));
const STRICT_DRAFT = process.argv.indexOf("--strict-draft") > 0;
const VENDOR_DIR = path.join(ROOT, "vendor");
const FORMATTER_LIMIT = 40960;

// ---------------------------------------------------------------- reporting

const counts = { ok: 0, fail: 0, warn: 0, draftOk: 0, draftFail: 0 };
function ok(what) {
  counts.ok++;
  console.log(`ok    ${what}`);
}
function fail(what, detail) {
  counts.fail++;
  console.log(`FAIL  ${what}${detail ? "\n" + indent(detail) : ""}`);
}
function warn(what) {
  counts.warn++;
  console.log(`warn  ${what}`);
}
function info(what) {
  console.log(`info  ${what}`);
}
function draftResult(what, errors) {
  if (!errors) {
    counts.draftOk++;
    console.log(`draft ok    ${what}`);
  } else {
    counts.draftFail++;
    console.log(`draft FAIL  ${what}\n${indent(errors)}`);
  }
}
function indent(text) {
  return String(text).split("\n").map((l) => "        " + l).join("\n");
}
function rel(p) {
  return path.relative(ROOT, p) || p;
}
function show(x) {
  return JSON.stringify(x);
}

// ---------------------------------------------------------------- schemas

function readJson(p) {
  return JSON.parse(fs.readFileSync(p, "utf8"));
}
const schema2024 = readJson(path.join(SCHEMAS, "schema.json"));
const schemaDraft = readJson(path.join(SCHEMAS, "lib/draft/schema.json"));
const payload = readJson(path.join(SCHEMAS, "lib/payload.json"));

// lib/payload.json as draft-07: the same rules, $defs renamed to definitions (and the references to
// them), so that schema.json's "payload/schema#/definitions/uplinkPayload" resolves.
function payloadAsDraft07(p) {
  const rename = (node) => {
    if (Array.isArray(node)) return node.map(rename);
    if (node && typeof node === "object") {
      const out = {};
      for (const [k, v] of Object.entries(node)) {
        if (k === "$ref" && typeof v === "string") out[k] = v.replace("#/$defs/", "#/definitions/");
        else out[k === "$defs" ? "definitions" : k] = rename(v);
      }
      return out;
    }
    return node;
  };
  const copy = rename(p);
  copy.$schema = "http://json-schema.org/draft-07/schema#";
  return copy;
}

const ajvLog = [];
const logger = { log: () => {}, warn: (m) => ajvLog.push(String(m)), error: (m) => ajvLog.push(String(m)) };

const ajv07 = new Ajv({ allErrors: true, logger });
addFormats(ajv07);
ajv07.addSchema(payloadAsDraft07(payload));
ajv07.addSchema(schema2024);

const ajvDraft = new Ajv({ allErrors: true, logger });
addFormats(ajvDraft);
ajvDraft.addSchema(schemaDraft);

const ajv2020 = new Ajv2020({ allErrors: true, logger });
addFormats(ajv2020);
ajv2020.addSchema(payload);
const validateUplinkPayload = ajv2020.getSchema(payload.$id + "#/$defs/uplinkPayload");

function errorsText(errors) {
  return errors
    .map((e) => `${e.instancePath || "(root)"} ${e.message}${e.params && Object.keys(e.params).length ? " " + show(e.params) : ""}`)
    .join("\n");
}

// Returns null when valid, else the error text.
function check(ajv, schemaId, definition, obj) {
  const validate = ajv.getSchema(`${schemaId}#/definitions/${definition}`);
  if (!validate) return `no definition ${definition} in ${schemaId}`;
  return validate(obj) ? null : errorsText(validate.errors);
}

function against2024(definition, obj, what) {
  const errors = check(ajv07, schema2024.$id, definition, obj);
  if (errors) fail(`${what}: schema.json #/definitions/${definition}`, errors);
  else ok(`${what}: schema.json #/definitions/${definition}`);
}

function againstDraft(definition, obj, what) {
  if (!schemaDraft.definitions[definition]) {
    draftResult(`${what}: lib/draft/schema.json has no definition ${definition}; not applicable`, null);
    return;
  }
  draftResult(`${what}: lib/draft/schema.json #/definitions/${definition}`, check(ajvDraft, schemaDraft.$id, definition, obj));
}

function loadYaml(p) {
  return yaml.load(fs.readFileSync(p, "utf8"));
}

function requireFile(p, what) {
  const name = path.basename(p);
  if (name !== name.toLowerCase()) {
    fail(`${what}: ${rel(p)} is not lowercase`);
    return false;
  }
  if (!fs.existsSync(p)) {
    fail(`${what}: ${rel(p)} does not exist`);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- vendors, devices, profiles

console.log(`schemas: ${SCHEMAS}`);
console.log(`  schema.json ${schema2024.$schema} ${schema2024.$id}`);
console.log(`  lib/draft/schema.json ${schemaDraft.$schema} ${schemaDraft.$id}`);
console.log(`  lib/payload.json ${payload.$schema} ${payload.$id} (also registered as draft-07 with $defs -> definitions)`);
console.log(`root: ${ROOT}\n`);

const vendorsIndexPath = path.join(VENDOR_DIR, "index.yaml");
const vendorsIndex = loadYaml(vendorsIndexPath);
against2024("vendorsIndex", vendorsIndex, rel(vendorsIndexPath));
(vendorsIndex.vendors || []).forEach((v, i) => againstDraft("vendor", v, `${rel(vendorsIndexPath)} vendors[${i}] (${v.id})`));
againstDraft("vendorsIndex", vendorsIndex, rel(vendorsIndexPath));

const listed = new Set((vendorsIndex.vendors || []).map((v) => v.id));
for (const entry of fs.readdirSync(VENDOR_DIR, { withFileTypes: true })) {
  if (entry.isDirectory() && !listed.has(entry.name)) fail(`vendor/${entry.name} is not listed in vendor/index.yaml`);
}

const codecs = new Map(); // "vendor/codecId" -> {vendor, id, path}
const profiles = new Map();

for (const vendor of vendorsIndex.vendors || []) {
  const folder = path.join(VENDOR_DIR, vendor.id);
  if (vendor.logo) requireFile(path.join(folder, vendor.logo), `vendor ${vendor.id} logo`);
  const indexPath = path.join(folder, "index.yaml");
  if (!fs.existsSync(indexPath)) {
    info(`vendor ${vendor.id} has no folder index; nothing more to check`);
    continue;
  }
  const vendorIndex = loadYaml(indexPath);
  against2024("vendorIndex", vendorIndex, rel(indexPath));
  againstDraft("vendorIndex", vendorIndex, rel(indexPath));

  const names = new Map();
  for (const deviceId of vendorIndex.endDevices || []) {
    const devicePath = path.join(folder, `${deviceId}.yaml`);
    if (!requireFile(devicePath, `end device ${deviceId}`)) continue;
    const device = loadYaml(devicePath);
    against2024("endDevice", device, rel(devicePath));
    againstDraft("endDevice", device, rel(devicePath));

    const what = `${rel(devicePath)}`;
    const vendorWord = new RegExp(`\\b${vendor.id.replace(/[^a-z0-9]/g, "\\$&")}\\b`, "i");
    if (vendorWord.test(device.name || "")) fail(`${what}: name ${show(device.name)} contains the vendor id ${vendor.id}`);
    else ok(`${what}: name ${show(device.name)} does not contain the vendor id`);
    if (names.has(device.name)) fail(`${what}: name ${show(device.name)} also used by ${names.get(device.name)}`);
    names.set(device.name, deviceId);

    const hardware = new Set((device.hardwareVersions || []).map((h) => h.version));
    for (const fw of device.firmwareVersions || []) {
      const missing = (fw.hardwareVersions || []).filter((h) => !hardware.has(h));
      if (missing.length) fail(`${what}: firmware ${fw.version} names hardware versions ${show(missing)} the device does not declare`);
      else ok(`${what}: firmware ${fw.version} hardware versions ${show(fw.hardwareVersions || [])} declared`);
      for (const [region, ref] of Object.entries(fw.profiles || {})) {
        const profileVendor = ref.vendorID || vendor.id;
        const profilePath = path.join(VENDOR_DIR, profileVendor, `${ref.id}.yaml`);
        profiles.set(profilePath, `${what} firmware ${fw.version} ${region}`);
        if (ref.codec) codecs.set(path.join(folder, `${ref.codec}.yaml`), `${what} firmware ${fw.version} ${region}`);
      }
    }
    if (device.photos && device.photos.main) {
      for (const photo of [device.photos.main].concat(device.photos.other || [])) requireFile(path.join(folder, photo), `${what} photo`);
    } else {
      warn(`${what}: no photos.main; the newest upstream validator refuses a device without a photo (png/jpg, at most 2000 x 2000)`);
    }
  }
}

for (const [profilePath, from] of profiles) {
  if (!requireFile(profilePath, `profile for ${from}`)) continue;
  const profile = loadYaml(profilePath);
  against2024("endDeviceProfile", profile, rel(profilePath));
  againstDraft("endDeviceProfile", profile, rel(profilePath));
  if ("vendorProfileID" in profile) fail(`${rel(profilePath)}: has vendorProfileID, which upstream now refuses`);
}

// ---------------------------------------------------------------- codecs and their examples

function es5(source, name) {
  try {
    return acorn.parse(source, { ecmaVersion: 5, sourceType: "script" });
  } catch (e) {
    fail(`${name}: not ECMAScript 5.1: ${e.message}`);
    return null;
  }
}

function jsonSafe(x) {
  try {
    return isEqual(JSON.parse(JSON.stringify(x)), x);
  } catch (e) {
    return false;
  }
}

const SECTIONS = [
  ["uplinkDecoder", "decodeUplink"],
  ["downlinkEncoder", "encodeDownlink"],
  ["downlinkDecoder", "decodeDownlink"],
];

const normalizedSeen = [];

for (const [codecPath, from] of codecs) {
  if (!requireFile(codecPath, `codec for ${from}`)) continue;
  const codec = loadYaml(codecPath);
  const what = rel(codecPath);
  against2024("endDevicePayloadCodec", codec, what);
  againstDraft("endDevicePayloadCodec", codec, what);

  const checkedFiles = new Set();
  for (const [section, fn] of SECTIONS) {
    const spec = codec[section];
    if (!spec) continue;
    const filePath = path.join(path.dirname(codecPath), spec.fileName);
    if (!requireFile(filePath, `${what} ${section}.fileName`)) continue;
    const source = { name: spec.fileName, text: fs.readFileSync(filePath, "utf8") };

    if (!checkedFiles.has(filePath)) {
      checkedFiles.add(filePath);
      const size = Buffer.byteLength(source.text);
      if (es5(source.text, rel(filePath))) ok(`${rel(filePath)}: parses as ECMAScript 5.1`);
      if (size > FORMATTER_LIMIT) fail(`${rel(filePath)}: ${size} bytes, over The Things Stack's ${FORMATTER_LIMIT}`);
      else ok(`${rel(filePath)}: ${size} bytes, under The Things Stack's ${FORMATTER_LIMIT}`);
    }
    const hasNormalizer = /function\s+normalizeUplink\s*\(/.test(source.text);

    (spec.examples || []).forEach((example, i) => {
      const label = `${what} ${section} example ${i + 1} (${example.description || "no description"})`;
      let result;
      try {
        result = runFormatter([source], fn, example.input);
      } catch (e) {
        fail(`${label}: ${fn} threw`, e && e.stack ? e.stack : String(e));
        return;
      }
      if (!jsonSafe(result)) fail(`${label}: result is not plain JSON (undefined, NaN, a function ...)`, show(result));
      else if (!isEqual(result, example.output)) fail(`${label}: output differs`, `expected ${show(example.output)}\nactual   ${show(result)}`);
      else ok(`${label}: output equal`);

      if (section !== "uplinkDecoder" || example.normalizedOutput === undefined) return;
      if (!hasNormalizer) {
        fail(`${label}: has normalizedOutput but ${spec.fileName} defines no normalizeUplink`);
        return;
      }
      // As upstream's validator (the example's whole output) and as the stack calls it ({ data } only).
      const inputs = [["output", example.output], ["{ data }", { data: example.output.data }]];
      for (const [how, input] of inputs) {
        let normalized;
        try {
          normalized = runFormatter([source], "normalizeUplink", input);
        } catch (e) {
          fail(`${label}: normalizeUplink(${how}) threw`, e && e.stack ? e.stack : String(e));
          continue;
        }
        if (normalized && normalized.data !== undefined && !Array.isArray(normalized.data)) {
          normalized = Object.assign({}, normalized, { data: [normalized.data] });
        }
        if (!jsonSafe(normalized)) fail(`${label}: normalizeUplink(${how}) result is not plain JSON`, show(normalized));
        else if (!isEqual(normalized, example.normalizedOutput)) {
          fail(`${label}: normalizeUplink(${how}) differs`, `expected ${show(example.normalizedOutput)}\nactual   ${show(normalized)}`);
        } else ok(`${label}: normalizeUplink(${how}) equal`);
      }
      const data = example.normalizedOutput.data;
      if (validateUplinkPayload(data)) ok(`${label}: normalizedOutput.data valid against lib/payload.json #/$defs/uplinkPayload (2020-12)`);
      else fail(`${label}: normalizedOutput.data invalid against lib/payload.json #/$defs/uplinkPayload`, errorsText(validateUplinkPayload.errors));
      normalizedSeen.push(data);
    });
  }
}

// ---------------------------------------------------------------- summary

if (ajvLog.length) {
  const unique = Array.from(new Set(ajvLog));
  info(`Ajv reported ${unique.length} strict-mode note(s) on the schemas (not errors):\n${indent(unique.join("\n"))}`);
}
console.log(
  `\n${counts.ok} ok, ${counts.fail} failed, ${counts.warn} warnings; ` +
    `draft (lib/draft/schema.json): ${counts.draftOk} ok or not applicable, ${counts.draftFail} failed` +
    (STRICT_DRAFT ? " (fatal: --strict-draft)" : " (informational)")
);
process.exit(counts.fail || (STRICT_DRAFT && counts.draftFail) ? 1 : 0);
