#!/usr/bin/env node
'use strict';
// qopt-bias-correct: empirical bias correction (Nagel et al., "Data-Free
// Quantization", ICCV 2019, §4.2, measured instead of derived): quantization
// shifts the mean of a conv's output channels (rounded weights, clipped and
// rounded inputs), and that shift adds up layer after layer. This runs the
// FP32 model and its quantized version (a quantize pipeline) in ONNX Runtime
// on calibration inputs, measures per output channel of every Conv/Gemm/
// MatMul whose output is quantized the mean of (quantized - FP32), and writes
// those shifts as corrections.json; `correct-bias{corrections=...}` then
// subtracts them from the FP32 biases before `quantize` (docs/passes.md).
//
// Usage: see USAGE below or docs/calibration.md#bias-correction.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const lib = require('./lib');
const cal = require('./calibration');

const SCHEMA = 'qopt-bias-corrections/1';
const UNIT_OPS = ['Conv', 'Gemm', 'MatMul'];

const USAGE = `usage: qopt-bias-correct FP32.onnx --quantize='quantize{calibration=calib.json ...}'
         (--inputs=DIR | --random=N) [image options as qopt-calibrate] [--samples=N] [--rounds=R] -o corrections.json
  --quantize=PIPELINE  the quantize pipeline whose shifts are measured (the one used afterwards)
  --samples=N          at most N calibration inputs (default 16)
  --rounds=R           measure, correct, measure again R times (default 2): a corrected
                       layer changes what the layers after it see
  --qopt-opt=PATH      qopt-opt binary (default $QOPT_OPT, else build/tools/qopt-opt/qopt-opt)
Exit: 0 success, 2 bad input or usage, 3 internal error.`;

class BiasCorrectionError extends Error {}

function runQopt(qoptOpt, args, what) {
  const r = spawnSync(qoptOpt, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new BiasCorrectionError(`cannot run qopt-opt '${qoptOpt}': ${r.error.message}`);
  if (r.status !== 0) {
    const msg = (r.stderr || '').trim().split('\n').filter(Boolean)[0] || `exit ${r.status}`;
    throw new BiasCorrectionError(`qopt-opt failed (${what}): ${msg.replace(/^qopt-opt: error: /, '')}`);
  }
  return r;
}

/**
 * Per-channel running sum of (q - f) and element count per channel; the
 * channel axis is 1 for Conv (NCHW) and the last for Gemm/MatMul ([.., N]),
 * where the bias lives.
 */
class ChannelShift {
  constructor(dims, opType) {
    this.axis = opType === 'Conv' ? 1 : dims.length - 1;
    this.channels = dims.length >= 2 ? dims[this.axis] : 1;
    this.sum = new Float64Array(this.channels);
    this.count = 0;
  }

  add(f, q, dims) {
    const c = this.channels;
    const inner = dims.slice(this.axis + 1).reduce((a, b) => a * b, 1);
    const outer = f.length / (c * inner);
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < c; k++) {
        let s = 0;
        const base = (o * c + k) * inner;
        for (let i = 0; i < inner; i++) s += q[base + i] - f[base + i];
        this.sum[k] += s;
      }
    }
    this.count += outer * inner;
  }

  mean() { return Array.from(this.sum, (s) => s / this.count); }
}

/**
 * Measures per-channel output shifts of the units of `fp32` quantized by
 * `pipeline` (with `corrections` applied first); returns {unitName: {tensor, shift}}.
 */
async function measureShifts(qoptOpt, fp32, pipeline, corrections, source, tmp) {
  const f = (n) => path.join(tmp, n);
  const prefix = corrections ? `correct-bias{corrections=${cal.quotePipelineValue(corrections)}},` : '';
  const fpList = cal.runExposeTensors(qoptOpt, fp32, {
    types: ['float'], ops: UNIT_OPS, batchSize: 0, batchIndex: 0, list: f('fp.list.json'), out: f('fp.exposed.onnx'),
  });
  runQopt(qoptOpt, [fp32, `--pass=${prefix}${pipeline}`, '--report=none', '-o', f('q.onnx')], 'the --quantize pipeline');
  const qList = cal.runExposeTensors(qoptOpt, f('q.onnx'), {
    types: ['float'], ops: ['DequantizeLinear'], batchSize: 0, batchIndex: 0, list: f('q.list.json'),
    out: f('q.exposed.onnx'),
  });
  // A unit's output T is quantized when the QDQ model has T_DequantizeLinear.
  const dqOf = new Map(qList.tensors.filter((t) => t.op_type === 'DequantizeLinear').map((t) => [t.node, t.name]));
  const pairs = fpList.tensors.filter((t) => UNIT_OPS.includes(t.op_type) && dqOf.has(`${t.name}_DequantizeLinear`))
    .map((t) => ({ unit: t.node, tensor: t.name, opType: t.op_type, dq: dqOf.get(`${t.name}_DequantizeLinear`) }));
  if (!pairs.length) throw new BiasCorrectionError('no Conv/Gemm/MatMul output is quantized by the --quantize pipeline');
  const shifts = new Map();
  const fp = await lib.loadSession(f('fp.exposed.onnx'), { optLevel: 'disabled', threads: 1 });
  const q = await lib.loadSession(f('q.exposed.onnx'), { optLevel: 'disabled', threads: 1 });
  try {
    for (let i = 0; i < source.count; i++) {
      const feeds = source.load(i);
      const a = await fp.run(feeds, pairs.map((p) => p.tensor));
      const b = await q.run(feeds, pairs.map((p) => p.dq));
      for (const p of pairs) {
        const x = a[p.tensor];
        const y = b[p.dq];
        if (x.data.length !== y.data.length) {
          throw new BiasCorrectionError(`tensor '${p.tensor}': ${x.data.length} values in FP32, ${y.data.length} quantized`);
        }
        if (!shifts.has(p.unit)) shifts.set(p.unit, { tensor: p.tensor, acc: new ChannelShift(x.dims, p.opType) });
        shifts.get(p.unit).acc.add(x.data, y.data, x.dims);
      }
    }
  } finally {
    await fp.release();
    await q.release();
  }
  return shifts;
}

async function biasCorrection(modelPath, opts) {
  if (!fs.existsSync(modelPath)) throw new BiasCorrectionError(`cannot read model '${modelPath}': no such file`);
  if (!opts.quantize || !/(^|,)\s*quantize\b/.test(opts.quantize)) {
    throw new lib.UsageError("give --quantize='quantize{calibration=calib.json ...}'");
  }
  const qoptOpt = cal.resolveQoptOpt(opts.qoptOpt);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-bias-correct-'));
  const t0 = Date.now();
  try {
    const probe = await lib.loadSession(modelPath, { optLevel: 'disabled', threads: 1 });
    const infos = lib.inputInfo(probe);
    await probe.release();
    let samples = opts.inputs ? cal.listSamples(opts.inputs, infos.map((i) => i.name)) : null;
    const limit = opts.samples === undefined ? 16 : opts.samples;
    if (samples && limit > 0) samples = samples.slice(0, limit);
    const source = new cal.SampleSource({
      samples, random: opts.random, infos, seed: opts.seed, shapes: opts.shapes, cacheBytes: Infinity,
      loadOpts: { shapes: opts.shapes, imageSize: opts.imageSize, image: opts.image, layout: opts.layout || 'nchw' },
    });
    // Rounds: the shifts measured with the corrections so far are added to them.
    const total = new Map();
    const history = [];
    const rounds = opts.rounds === undefined ? 2 : opts.rounds;
    let file = null;
    for (let r = 0; r < rounds; r++) {
      const shifts = await measureShifts(qoptOpt, modelPath, opts.quantize, file, source, tmp);
      let worst = 0;
      for (const [unit, { tensor, acc }] of shifts) {
        const m = acc.mean();
        const prev = total.get(unit);
        total.set(unit, { tensor, shift: prev ? prev.shift.map((v, k) => v + m[k]) : m });
        for (const v of m) worst = Math.max(worst, Math.abs(v));
      }
      history.push({ round: r + 1, units: shifts.size, largest_remaining_shift: worst });
      opts.log(`round ${r + 1}: ${shifts.size} units, largest mean shift ${worst.toPrecision(3)}`);
      file = path.join(tmp, `corrections.${r}.json`);
      fs.writeFileSync(file, JSON.stringify(toDoc(modelPath, opts, source, total, history, t0)));
    }
    return toDoc(modelPath, opts, source, total, history, t0);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function toDoc(modelPath, opts, source, total, history, t0) {
  const units = {};
  for (const [unit, { tensor, shift }] of total) units[unit] = { output: tensor, shift };
  return {
    schema: SCHEMA,
    producer: { name: 'qopt-bias-correct', onnxruntime: lib.ort.env.versions.common || null },
    model: modelPath,
    quantize: opts.quantize,
    samples: source.count,
    rounds: history,
    seconds: (Date.now() - t0) / 1000,
    units,
  };
}

const OPTIONS = {
  ...cal.INPUT_CLI_OPTIONS,
  quantize: { type: 'string' },
  samples: { type: 'string' },
  rounds: { type: 'string' },
  'qopt-opt': { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
};

async function main(argv) {
  const { parseArgs } = require('node:util');
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    throw new lib.UsageError(`${err.message} (see --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new lib.UsageError(`want exactly one FP32 model (see --help)`);
  if (!values.output) throw new lib.UsageError('give -o corrections.json');
  const opts = {
    ...cal.inputOptionsFromCli(values),
    quantize: values.quantize,
    samples: lib.parseIntOpt('samples', values.samples, 1),
    rounds: lib.parseIntOpt('rounds', values.rounds, 1),
    qoptOpt: values['qopt-opt'],
    log: (line) => process.stderr.write(`bias-correct: ${line}\n`),
  };
  if (!opts.inputs && !opts.random) throw new lib.UsageError('give --inputs=DIR or --random=N (see --help)');
  const doc = await biasCorrection(positionals[0], opts);
  cal.writeFileAtomic(values.output, `${JSON.stringify(doc, null, 1)}\n`);
  console.log(`bias-correct: OK (${Object.keys(doc.units).length} units, ${doc.samples} samples, ` +
    `${doc.rounds.length} rounds, ${doc.seconds.toFixed(1)} s) -> ${values.output}`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => {
      if (err instanceof lib.UsageError || err instanceof BiasCorrectionError || err instanceof cal.CalibrationError ||
          err instanceof lib.ModelError) {
        console.error(`qopt-bias-correct: error: ${lib.oneLine(err.message)}`);
        process.exitCode = 2;
      } else {
        console.error(`qopt-bias-correct: internal error: ${lib.oneLine(err && err.stack ? err.stack : err)}`);
        process.exitCode = 3;
      }
    },
  );
}

module.exports = { SCHEMA, ChannelShift, biasCorrection };
