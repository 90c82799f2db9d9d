#!/usr/bin/env node
'use strict';
// Per-tensor SQNR of models against a reference model, over the float
// outputs the models have in common by name (make them with
// `qopt-opt M --pass=expose-tensors`, which exposes every float tensor). Each
// model runs in ONNX Runtime (opt level disabled) on the same seeded inputs
// (tools/ort/lib.js generates them from REF's input metadata).
//
//   node tests/ort/tensor_sqnr.js REF.onnx NAME=A.onnx NAME=B.onnx... [--input-shape=x:1x3x48x192] [--seeds=1,2]
//        [--npy-dir=DIR] [--min-db=X] [--zero-rms=1e-6]
//
// --npy-dir=DIR runs the models on DIR/*.npy instead (one sample per file,
// feeding a one-input model) in name order, not on seeded inputs.
//
// Prints one line per common tensor (SQNR in dB of every model against REF)
// and a last line `mean NAME=dB ...`, the mean over tensors whose SQNR is
// finite for every model (a tensor identical to REF's in some model is left
// out). With --min-db, a tensor below X dB in some model is a failure (a
// `FAIL` line), unless REF's tensor is numerically zero (RMS below
// --zero-rms, default 1e-6: there SQNR measures nothing). Exit 0, 1 on a
// failure, 2 on a usage or model error.
const fs = require('node:fs');
const path = require('node:path');
const lib = require(path.join(__dirname, '..', '..', 'tools', 'ort', 'lib.js'));
const metrics = require(path.join(__dirname, '..', '..', 'bench', 'lib', 'metrics.js'));

async function outputsOf(file, opts, seeds) {
  const session = await lib.loadSession(file, { optLevel: 'disabled' });
  try {
    const runs = [];
    const samples = opts.npyFiles
      ? opts.npyFiles.map((f) => ({ provided: new Map([[session.inputNames[0], lib.readNpy(f)]]) }))
      : seeds.map((seed) => ({ seed }));
    for (const sample of samples) {
      const { feeds } = lib.generateInputs(session, { ...opts, ...sample });
      const { outputs } = await lib.runSession(session, feeds, file);
      runs.push(new Map(outputs.filter((o) => o.tensor.type === 'float32').map((o) => [o.name, o.tensor.data])));
    }
    return runs;
  } finally {
    await session.release();
  }
}

function rms(runs, name) {
  let sum = 0;
  let n = 0;
  for (const run of runs) {
    for (const v of run.get(name)) { sum += v * v; n += 1; }
  }
  return Math.sqrt(sum / Math.max(n, 1));
}

// SQNR in dB over the runs (bench/lib/metrics.js); NaN when some element
// differs by a non-finite amount (a NaN or Inf on one side only), so that it
// is never mistaken for a close match.
function sqnrDb(refRuns, testRuns, name) {
  const sqnr = new metrics.Sqnr();
  refRuns.forEach((ref, r) => sqnr.add(ref.get(name), testRuns[r].get(name)));
  return sqnr.nonFinite > 0 ? NaN : sqnr.db();
}

async function main() {
  const args = process.argv.slice(2);
  const shapes = args.filter((a) => a.startsWith('--input-shape=')).map((a) => a.slice('--input-shape='.length));
  const seedArg = args.find((a) => a.startsWith('--seeds='));
  const seeds = (seedArg ? seedArg.slice('--seeds='.length) : '1,2').split(',').map(Number);
  const numberOpt = (flag, fallback) => {
    const a = args.find((x) => x.startsWith(`${flag}=`));
    return a === undefined ? fallback : Number(a.slice(flag.length + 1));
  };
  const minDb = numberOpt('--min-db', -Infinity);
  const zeroRms = numberOpt('--zero-rms', 1e-6);
  const files = args.filter((a) => !a.startsWith('--'));
  if (files.length < 2 || files.slice(1).some((f) => !f.includes('='))) {
    console.error('usage: tensor_sqnr.js REF.onnx NAME=A.onnx... [--input-shape=NAME:DIMS] [--seeds=1,2]');
    process.exit(2);
  }
  const opts = { shapes: lib.parseShapeSpecs(shapes) };
  const npyArg = args.find((a) => a.startsWith('--npy-dir='));
  if (npyArg) {
    const dir = npyArg.slice('--npy-dir='.length);
    opts.npyFiles = fs.readdirSync(dir).filter((f) => f.endsWith('.npy')).sort().map((f) => path.join(dir, f));
    if (!opts.npyFiles.length) {
      console.error(`tensor_sqnr: no .npy files in '${dir}'`);
      process.exit(2);
    }
  }
  const ref = await outputsOf(files[0], opts, seeds);
  const models = [];
  for (const spec of files.slice(1)) {
    const [name, file] = [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)];
    models.push({ name, runs: await outputsOf(file, opts, seeds) });
  }
  const common = [...ref[0].keys()].filter((t) => models.every((m) => m.runs[0].has(t))).sort();
  const sums = models.map(() => 0);
  let counted = 0;
  let failures = 0;
  for (const t of common) {
    const dbs = models.map((m) => sqnrDb(ref, m.runs, t));
    const zero = rms(ref, t) < zeroRms;
    const low = !zero && dbs.some((d) => !(d >= minDb));  // NaN is low too
    if (low) failures += 1;
    console.log(low ? 'FAIL' : zero ? 'zero' : 'ok', t, ...models.map((m, k) => `${m.name}=${dbs[k].toFixed(2)}`));
    if (dbs.every(Number.isFinite)) {
      dbs.forEach((d, k) => { sums[k] += d; });
      counted += 1;
    }
  }
  if (counted === 0) {
    console.error(`tensor_sqnr: no common float tensor with a finite SQNR (${common.length} common)`);
    process.exit(2);
  }
  console.log('mean', ...models.map((m, k) => `${m.name}=${(sums[k] / counted).toFixed(3)}`), `tensors=${counted}`,
    `below=${failures}`);
  if (failures > 0) process.exit(1);
}

main().catch((err) => {
  console.error(`tensor_sqnr: ${err.message}`);
  process.exit(2);
});
