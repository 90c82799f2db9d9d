#!/usr/bin/env node
'use strict';
// Runs an ONNX model once in ONNX Runtime (CPU) on deterministic inputs and
// prints one line per input and output. See README.md.

const lib = require('./lib');

const USAGE = `usage: node tools/ort/run.js MODEL.onnx [options]
  --input-shape=NAME:1x3x64x64[,NAME2:...]  dims of an input (repeatable)
  --input=NAME:FILE.npy       feed this input from a .npy file (repeatable)
  --inputs-dir=DIR            feed the inputs saved by an earlier --out-dir=DIR
  --seed=N                    seed of the generated inputs (default ${lib.DEFAULTS.seed})
  --opt-level=LEVEL           disabled | basic | extended | layout | all (default ${lib.DEFAULTS.optLevel})
  --threads=N                 intra-op threads (default ${lib.DEFAULTS.threads})
  --out-dir=DIR               write DIR/inputs/*.npy, DIR/outputs/*.npy, DIR/manifest.json`;

async function main(argv) {
  const { values, positionals } = lib.parseCliArgs(argv, { ...lib.COMMON_CLI_OPTIONS, 'out-dir': { type: 'string' } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    const err = new lib.UsageError(`want exactly one model, got ${positionals.length}`);
    throw Object.assign(err, { showUsage: true });
  }
  const model = positionals[0];
  const opts = lib.commonOptsFromCli(values);
  const run = await lib.runModel(model, opts);
  for (const { name, tensor } of run.inputs) console.log(`input ${lib.formatStats(name, tensor)}`);
  for (const { name, tensor } of run.outputs) console.log(`output ${lib.formatStats(name, tensor)}`);
  if (values['out-dir']) {
    lib.writeRunDir(values['out-dir'], run, {
      model,
      seed: opts.seed === undefined ? lib.DEFAULTS.seed : opts.seed,
      optLevel: opts.optLevel || lib.DEFAULTS.optLevel,
    });
  }
  console.log(`run: OK (${run.outputs.length} outputs, load ${run.loadMs.toFixed(1)} ms, run ${run.ms.toFixed(1)} ms)`);
  return 0;
}

lib.runCli('run', USAGE, main);
