#!/usr/bin/env node
'use strict';
// Runs two ONNX models in ONNX Runtime (CPU) on the same deterministic inputs
// and compares their outputs. Exit 0: all outputs pass; 1: outputs differ;
// 2: usage error, or a model failed to load or run. See README.md.

const lib = require('./lib');

const USAGE = `usage: node tools/ort/compare.js A.onnx B.onnx [options]
  --input-shape=NAME:1x3x64x64[,NAME2:...]  dims of an input (repeatable)
  --input=NAME:FILE.npy       feed this input from a .npy file (repeatable)
  --inputs-dir=DIR            feed the inputs saved by run.js --out-dir=DIR
  --seed=N                    seed of the generated inputs (default ${lib.DEFAULTS.seed})
  --opt-level=LEVEL           disabled | basic | extended | layout | all (default ${lib.DEFAULTS.optLevel})
  --threads=N                 intra-op threads (default ${lib.DEFAULTS.threads})
  --atol=X --rtol=X           pass when |a-b| <= atol + rtol*|b| (default ${lib.DEFAULTS.atol}, ${lib.DEFAULTS.rtol})
  --exact                     pass only when the output bytes are identical
  --seed-b=N                  generate B's inputs with another seed (to check the checker)
  --opt-level-b=LEVEL         load B with another optimization level`;

async function main(argv) {
  const { values, positionals } = lib.parseCliArgs(argv, {
    ...lib.COMMON_CLI_OPTIONS,
    atol: { type: 'string' },
    rtol: { type: 'string' },
    exact: { type: 'boolean' },
    'seed-b': { type: 'string' },
    'opt-level-b': { type: 'string' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 2) {
    const err = new lib.UsageError(`want exactly two models, got ${positionals.length}`);
    throw Object.assign(err, { showUsage: true });
  }
  const [a, b] = positionals;
  const optLevelB = values['opt-level-b'];
  if (optLevelB !== undefined && !lib.OPT_LEVELS.includes(optLevelB)) {
    throw new lib.UsageError(`bad --opt-level-b=${optLevelB} (one of ${lib.OPT_LEVELS.join(', ')})`);
  }
  const opts = {
    ...lib.commonOptsFromCli(values),
    atol: lib.parseFloatOpt('atol', values.atol),
    rtol: lib.parseFloatOpt('rtol', values.rtol),
    exact: Boolean(values.exact),
    seedB: lib.parseIntOpt('seed-b', values['seed-b']),
    optLevelB,
  };
  const res = await lib.compareModels(a, b, opts);
  for (const { name, tensor } of res.inputs) console.log(`input ${lib.formatStats(name, tensor)}`);
  res.results.forEach((r, i) => console.log(lib.formatCompareResult(r, i)));
  for (const n of res.unmatchedA) console.log(`output ${n}: FAIL only in ${a}`);
  for (const n of res.unmatchedB) console.log(`output ${n}: FAIL only in ${b}`);
  const total = res.results.length + res.unmatchedA.length + res.unmatchedB.length;
  const mode = opts.exact ? 'exact' : `atol=${lib.fmtNum(opts.atol ?? lib.DEFAULTS.atol)} rtol=${lib.fmtNum(opts.rtol ?? lib.DEFAULTS.rtol)}`;
  if (res.pass) {
    console.log(`compare: PASS (${total} outputs, ${mode})`);
    return 0;
  }
  const bad = res.results.filter((r) => !r.pass).length + res.unmatchedA.length + res.unmatchedB.length;
  console.log(`compare: FAIL (${bad} of ${total} outputs differ, ${mode})`);
  return 1;
}

lib.runCli('compare', USAGE, main);
