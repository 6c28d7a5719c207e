"use strict";
// Runs payload-formatter functions the way The Things Stack does for the device repository's codec
// examples: a fresh JavaScript context per call (nothing survives from one call to the next), the
// formatter's source evaluated in it, then one function called with the example's input, under a
// 1 s timeout. The input crosses into the context as JSON and is parsed there, so the formatter sees
// plain arrays and objects of its own realm, as it would in the stack's own engine.

const vm = require("vm");

const TIMEOUT_MS = 1000;
const INPUT_NAME = "__codecRunnerInputJson";

// sources: list of {name, text}, evaluated in order in one new context (a codec file, then possibly
// a normalizer that the codec file will contain once integrated).
function runFormatter(sources, fnName, input) {
  const context = vm.createContext({});
  for (const src of sources) {
    vm.runInContext(src.text, context, { filename: src.name, timeout: TIMEOUT_MS });
  }
  if (vm.runInContext("typeof " + fnName, context) !== "function") {
    throw new Error(fnName + " is not defined by " + sources.map((s) => s.name).join(" + "));
  }
  context[INPUT_NAME] = JSON.stringify(input);
  return vm.runInContext(fnName + "(JSON.parse(" + INPUT_NAME + "))", context, {
    filename: "call " + fnName,
    timeout: TIMEOUT_MS,
  });
}

module.exports = { runFormatter, TIMEOUT_MS };
