#!/usr/bin/env node
'use strict';
// qopt-calibrate: runs an FP32 model in ONNX Runtime (CPU) over calibration
// inputs with its intermediate tensors exposed (by qopt-opt's expose-tensors
// pass, a batch of tensors per session) and writes per-tensor ranges as
// calib.json; or converts an ONNX Runtime calibration table to calib.json.
// See docs/calibration.md.

const { parseArgs } = require('node:util');
const lib = require('./lib');
const cal = require('./calibration');

const D = cal.CALIB_DEFAULTS;
const USAGE = `usage: qopt-calibrate MODEL.onnx (--inputs=DIR|FILE | --random=N) [options] -o calib.json
       qopt-calibrate MODEL.onnx --from-ort-table=calibration.json [-o calib.json]
inputs:
  --inputs=DIR|FILE           .npy, ONNX TensorProto .pb (test_data_set_N/input_K.pb) or PNG/JPEG files
  --random=N                  N generated samples (uniform [-1, 1) floats; --seed=S, default ${lib.DEFAULTS.seed})
  --input-shape=NAME:1x3x640x640  dims of an input (random samples; fixed image sides)
images:
  --image-size=HxW            resize to HxW (default: the model's fixed sides, else the image's, keeping aspect)
  --size-multiple=N           round free image sides to a multiple of N (e.g. 32 for detectors)
  --mean=a,b,c  --std=a,b,c   value = (pixel * scale - mean[c]) / std[c] (defaults 0 and 1)
  --scale=1/255               pixel scale (default 1/255)
  --channel-order=rgb|bgr     (default rgb)   --layout=nchw|nhwc (default nchw)
statistics:
  --percentile=P              also P-th percentile ranges (e.g. 99.99), from histograms
  --methods=entropy,mse       also these ranges per tensor, from histograms: entropy (KL divergence,
                              as TensorRT/ONNX Runtime), mse (least expected squared error)
  --method-bits=N             the quantization the methods aim at: N-bit asymmetric (default ${D.methodBits})
  --choose=M                  record each tensor's choice: minmax, percentile, entropy, mse, or auto
                              (auto: min/max for inputs, bounded ops, Softmax/ArgMax inputs and few
                              values; else the best estimated SQNR; docs/calibration.md)
  --bins=N                    histogram bins (default ${D.bins})
  --types=float[,float16,double]  element types to calibrate (default float)
  --ops=Conv,MatMul           only outputs of these op types (default all)
  --allow-nonfinite           count NaN/Inf values instead of failing on them
running:
  --batch-size=K              at most K exposed tensors per ONNX Runtime session (default ${D.batchSize}; 0: all)
  --opt-level=LEVEL           ONNX Runtime graph optimizations (default ${D.optLevel})
  --threads=N                 intra-op threads (default ${lib.DEFAULTS.threads})
  --qopt-opt=PATH             qopt-opt binary (default $QOPT_OPT, else build/tools/qopt-opt/qopt-opt)
  --keep-temp                 keep the augmented models (printed path)
  -o, --output=FILE           calib.json to write (default: stdout)
Exit: 0 success, 2 bad input or usage (one line naming the file or tensor), 3 internal error.`;

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  ...cal.INPUT_CLI_OPTIONS,
  percentile: { type: 'string' },
  methods: { type: 'string' },
  'method-bits': { type: 'string' },
  choose: { type: 'string' },
  bins: { type: 'string' },
  types: { type: 'string' },
  ops: { type: 'string' },
  'allow-nonfinite': { type: 'boolean' },
  'batch-size': { type: 'string' },
  'opt-level': { type: 'string' },
  threads: { type: 'string' },
  'qopt-opt': { type: 'string' },
  'keep-temp': { type: 'boolean' },
  'from-ort-table': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function usageError(message) {
  return new lib.UsageError(`${message} (see --help)`);
}

function optionsFromCli(values) {
  const opts = {
    ...cal.inputOptionsFromCli(values),
    qoptOpt: values['qopt-opt'],
    batchSize: lib.parseIntOpt('batch-size', values['batch-size'], 0),
    bins: lib.parseIntOpt('bins', values.bins, 8),
    optLevel: cal.oneOf('opt-level', values['opt-level'], lib.OPT_LEVELS),
    threads: lib.parseIntOpt('threads', values.threads, 1),
    allowNonFinite: Boolean(values['allow-nonfinite']),
    keepTemp: Boolean(values['keep-temp']),
  };
  if (values.percentile !== undefined) {
    const p = cal.parseNumber('percentile', values.percentile);
    if (!(p > 50 && p <= 100)) throw new lib.UsageError(`bad --percentile=${values.percentile} (want 50 < P <= 100)`);
    opts.percentile = p;
  }
  if (values.methods !== undefined) opts.methods = values.methods.split(',').map((s) => s.trim()).filter(Boolean);
  if (values['method-bits'] !== undefined) {
    opts.methodBits = lib.parseIntOpt('method-bits', values['method-bits'], 2);
    if (opts.methodBits > 16) throw new lib.UsageError(`bad --method-bits=${values['method-bits']} (2 to 16)`);
  }
  if (values.choose !== undefined) {
    if (!cal.CHOICES.includes(values.choose)) {
      throw new lib.UsageError(`bad --choose=${values.choose} (one of ${cal.CHOICES.join(', ')})`);
    }
    opts.choose = values.choose;
  }
  if (opts.bins !== undefined && opts.bins % 4 !== 0) throw new lib.UsageError(`bad --bins=${values.bins} (a multiple of 4)`);
  if (values.types !== undefined) {
    opts.types = values.types.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = opts.types.find((t) => !['float', 'float16', 'double'].includes(t));
    if (bad || !opts.types.length) throw new lib.UsageError(`bad --types=${values.types} (float, float16, double)`);
  }
  if (values.ops !== undefined) opts.ops = values.ops.split(',').map((s) => s.trim()).filter(Boolean);
  return opts;
}

function makeProgress() {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const cliProgress = require('cli-progress');
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: 'calibrate |{bar}| {value}/{total} runs | batch {batch}/{batches} | {duration_formatted} (eta {eta_formatted})',
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(done, total, batch, batches) {
      if (!started) { bar.start(total, 0, { batch, batches }); started = true; }
      bar.update(done, { batch, batches });
    },
    stop() { if (started) bar.stop(); },
  };
}

function countSummary(doc) {
  const t = Object.values(doc.tensors);
  return `${t.length} tensors`;
}

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    throw usageError(err.message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw usageError(`want exactly one model, got ${positionals.length}`);
  const model = positionals[0];
  const out = values.output;

  let doc;
  if (values['from-ort-table'] !== undefined) {
    if (values.inputs !== undefined || values.random !== undefined) {
      throw usageError('--from-ort-table converts a table: give no --inputs or --random');
    }
    doc = cal.convertOrtTable(model, values['from-ort-table'], { qoptOpt: values['qopt-opt'] });
  } else {
    const opts = optionsFromCli(values);
    if (!opts.inputs && !opts.random) throw usageError('give --inputs=DIR or --random=N (or --from-ort-table=FILE)');
    const progress = makeProgress();
    opts.onProgress = (d, t, b, bs) => progress.update(d, t, b, bs);
    try {
      doc = await cal.calibrate(model, opts);
    } finally {
      progress.stop();
    }
  }
  const text = cal.formatCalibJson(doc);
  if (out) cal.writeFileAtomic(out, text);
  else process.stdout.write(text);
  const where = out ? ` -> ${out}` : '';
  const what = doc.source.kind === 'ort-table'
    ? `from ORT table (${doc.source.format})`
    : `${doc.samples} samples, ${doc.settings.batches} batches of <= ${doc.settings.batch_size || 'all'}, ` +
      `${doc.timing.seconds.toFixed(1)} s: run ${doc.timing.run.toFixed(1)} s, statistics ${doc.timing.stats.toFixed(1)} s, ` +
      `qopt-opt ${doc.timing.expose.toFixed(1)} s, load ${doc.timing.load.toFixed(1)} s`;
  (out ? process.stdout : process.stderr).write(`calibrate: OK (${countSummary(doc)}, ${what})${where}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    if (err instanceof lib.UsageError || err instanceof cal.CalibrationError || err instanceof lib.ModelError) {
      console.error(`qopt-calibrate: error: ${lib.oneLine(err.message)}`);
      process.exitCode = 2;
    } else {
      console.error(`qopt-calibrate: internal error: ${lib.oneLine(err && err.stack ? err.stack : err)}`);
      process.exitCode = 3;
    }
  },
);
