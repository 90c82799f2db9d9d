#!/usr/bin/env node
'use strict';
// Measures ONNX Runtime (onnxruntime-node, CPU execution provider, one
// intra-op thread) on this machine and writes a qopt target profile (JSON,
// schema "qopt-target/1") for `--pass='fuse-qdq{target=FILE.json}'`.
//
// It starts from the built-in profile (`qopt-opt --print-target=ort-cpu`, or
// --base=FILE.json) and fills in what it measured: `source`,
// `fused_activation_types`, `unfused_activation_note`, `quantize`,
// `dequantize` and `measurements`. The op table (`kernels`) and the other
// fields stay as the base states them.
//
// For each unit class (analysis/target_profile.cc UnitClassOf: conv-first,
// conv-depthwise, conv-pointwise, conv-dense, matmul, Add, Mul) and each of
// its shapes, it writes models in ONNX textual syntax, converts them with
// `qopt-opt IN.onnxtxt --report=none -o OUT.onnx`, and profiles them with
// profile.js (ORT's own per-node kernel times; the interquartile mean of
// the timed runs):
//   - FP32: the op alone (after a Relu, see below); its kernel time is the
//     float cost.
//   - QDQ with uint8 and with int8 activations: Q -> DQ -> op (int8
//     weights, zero point 0, behind a DQ; Conv's int32 bias behind a DQ
//     with scale x_scale * w_scale) -> Q -> DQ. Loaded at opt level all
//     with ORT writing its optimized graph; `qopt-opt OPT.onnx
//     --pass=op-count` says whether ORT fused the unit (its integer kernel,
//     from `qopt-opt --list-op-traits=json`, is there and the float op is
//     gone). The Q/DQ nodes' times feed the quantize/dequantize fit.
//   - The same QDQ model with the input's Q also feeding a second DQ (a
//     fan-out, as at every branch of a real graph), only loaded: ORT turns
//     int8 Q/DQ pairs into uint8 (and then fuses) only where a Q feeds a
//     single DQ, so int8 units that fuse alone can stay unfused in a model.
//     A unit counts as fused by the runtime when ORT fuses it both ways;
//     then the integer cost is the kernel ORT ran in the plain QDQ model.
//   - Otherwise the QOperator form (QLinearConv, QLinearMatMul,
//     com.microsoft.QLinearAdd/QLinearMul on integer inputs and outputs of
//     that activation type) is profiled for the integer cost.
// Costs are fitted per class by relative least squares over the shapes:
// per_call_ns plus one slope (per_mac_ns for Conv and MatMul,
// per_element_ns for element-wise ops), negatives clamped to 0; with one
// shape (--quick) the slope alone. MACs and output elements are counted as
// analysis/macs.cc counts them. The quantize/dequantize costs are fitted the
// same way on (1, elements) over every 8-bit QuantizeLinear/DequantizeLinear
// of the QDQ runs. A table goes to stderr; the profile to --out or stdout.
//
// Exit 0: ok; 2: usage error, or qopt-opt or ONNX Runtime failed (last line
// `measure_target: ERROR ...`).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const lib = require('./lib');
const { profileModel } = require('./profile');

const { UsageError } = lib;
const SCHEMA = 'qopt-target/1';
const BASE_TARGET = 'ort-cpu';
const DEFAULT_RUNS = 200;
const DEFAULT_WARMUP = 10;
const QUICK_RUNS = 5;
const QUICK_WARMUP = 1;
const QUICK_SHAPE = 1;
const THREADS = 1;
const OPT_LEVEL = 'all';

const USAGE = `usage: node tools/ort/measure_target.js [options]
  --out=FILE.json     write the profile here (default: stdout)
  --qopt-opt=PATH     default $QOPT_OPT, else build/tools/qopt-opt/qopt-opt
  --base=FILE.json    start from this profile instead of \`qopt-opt --print-target=${BASE_TARGET}\`
  --runs=N            timed runs per model (default ${DEFAULT_RUNS}; ${QUICK_RUNS} with --quick)
  --warmup=N          untimed runs per model first (default ${DEFAULT_WARMUP}; ${QUICK_WARMUP} with --quick)
  --quick             one shape per class and few runs (a test, not a measurement)
  --keep-dir=DIR      write the generated models and reports to DIR and keep them`;

// ---------------------------------------------------------------------------
// What is measured

// Unit classes as analysis/target_profile.cc UnitClassOf names them, each
// with three shapes (small, medium, large); --quick measures the medium one.
// Conv: 3x3 (1x1 for pointwise), stride 1, same padding, NCHW, batch 1.
// MatMul: X [m, k] times a constant W [k, n]. Element-wise: two [1, c, h, w].
const CLASSES = [
  {
    unitClass: 'conv-first', op: 'Conv',
    shapes: [{ cin: 3, cout: 16, k: 3, group: 1, h: 16 }, { cin: 3, cout: 16, k: 3, group: 1, h: 48 },
      { cin: 3, cout: 32, k: 3, group: 1, h: 96 }],
  },
  {
    unitClass: 'conv-depthwise', op: 'Conv',
    shapes: [{ cin: 32, cout: 32, k: 3, group: 32, h: 8 }, { cin: 32, cout: 32, k: 3, group: 32, h: 24 },
      { cin: 64, cout: 64, k: 3, group: 64, h: 56 }],
  },
  {
    unitClass: 'conv-pointwise', op: 'Conv',
    shapes: [{ cin: 16, cout: 32, k: 1, group: 1, h: 8 }, { cin: 32, cout: 64, k: 1, group: 1, h: 24 },
      { cin: 32, cout: 64, k: 1, group: 1, h: 56 }],
  },
  {
    unitClass: 'conv-dense', op: 'Conv',
    shapes: [{ cin: 16, cout: 16, k: 3, group: 1, h: 8 }, { cin: 32, cout: 32, k: 3, group: 1, h: 24 },
      { cin: 32, cout: 32, k: 3, group: 1, h: 56 }],
  },
  {
    unitClass: 'matmul', op: 'MatMul',
    shapes: [{ m: 16, k: 64, n: 64 }, { m: 64, k: 128, n: 128 }, { m: 256, k: 256, n: 256 }],
  },
  {
    unitClass: 'Add', op: 'Add',
    shapes: [{ c: 16, h: 8 }, { c: 32, h: 24 }, { c: 64, h: 56 }],
  },
  {
    unitClass: 'Mul', op: 'Mul',
    shapes: [{ c: 16, h: 8 }, { c: 32, h: 24 }, { c: 64, h: 56 }],
  },
  {
    // 2x2, stride 2. Its integer form is MaxPool itself on the 8-bit data
    // (the op table's "="): ORT drops the Q/DQ around it.
    unitClass: 'MaxPool', op: 'MaxPool',
    shapes: [{ c: 16, h: 16 }, { c: 32, h: 48 }, { c: 64, h: 96 }],
  },
];

const ACTIVATIONS = ['uint8', 'int8'];
// Zero point of the activations: the middle of the range for uint8, 0 for
// int8 (symmetric).
const ACT_ZERO = { uint8: 128, int8: 0 };

// Scales, powers of two so that the bias scale x_scale * w_scale is exact.
// Inputs are uniform in [-1, 1) (lib.generateTensor), so 1/128 covers them.
const X_SCALE = 2 ** -7;
const X2_SCALE = 2 ** -6; // the second input of Add/Mul: another scale, as in real models
const W_SCALE = 2 ** -7;
// MaxPool's output shares its input's parameters, as ORT needs to drop them.
const Y_SCALE = { Conv: 2 ** -3, MatMul: 2 ** -3, Add: 2 ** -6, Mul: 2 ** -7, MaxPool: X_SCALE };

// ---------------------------------------------------------------------------
// Shapes and models in ONNX textual syntax

const product = (dims) => dims.reduce((a, b) => a * b, 1);

/**
 * Everything about one class x shape that the models and the fit need:
 * {label, inputs: [{name, dims}], outDims, macs, elements, weightDims, biasDims, attrs}.
 * MACs as analysis/macs.cc counts them: Conv output elements x weight
 * elements per output channel; MatMul output elements x k.
 */
function describeShape(cls, s) {
  if (cls.op === 'Conv') {
    const pad = (s.k - 1) / 2;
    const outDims = [1, s.cout, s.h, s.h];
    const weightDims = [s.cout, s.cin / s.group, s.k, s.k];
    const channels = s.group > 1 ? `${s.cin}ch dw` : `${s.cin}->${s.cout}`;
    return {
      label: `${channels} ${s.k}x${s.k} @${s.h}x${s.h}`,
      inputs: [{ name: 'X', dims: [1, s.cin, s.h, s.h] }],
      outDims,
      weightDims,
      biasDims: [s.cout],
      attrs: `<kernel_shape = [${s.k}, ${s.k}], pads = [${pad}, ${pad}, ${pad}, ${pad}], group = ${s.group}>`,
      macs: product(outDims) * product(weightDims.slice(1)),
      elements: product(outDims),
    };
  }
  if (cls.op === 'MatMul') {
    const outDims = [s.m, s.n];
    return {
      label: `${s.m}x${s.k} * ${s.k}x${s.n}`,
      inputs: [{ name: 'X', dims: [s.m, s.k] }],
      outDims,
      weightDims: [s.k, s.n],
      biasDims: null,
      attrs: '',
      macs: product(outDims) * s.k,
      elements: product(outDims),
    };
  }
  if (cls.op === 'MaxPool') {
    const outDims = [1, s.c, s.h / 2, s.h / 2];
    return {
      label: `${s.c}ch 2x2/2 @${s.h}x${s.h}`,
      inputs: [{ name: 'X', dims: [1, s.c, s.h, s.h] }],
      outDims,
      weightDims: null,
      biasDims: null,
      attrs: '<kernel_shape = [2, 2], strides = [2, 2]>',
      macs: 0,
      elements: product(outDims),
    };
  }
  const dims = [1, s.c, s.h, s.h];
  return {
    label: `${s.c}ch @${s.h}x${s.h}`,
    inputs: [{ name: 'A', dims }, { name: 'B', dims }],
    outDims: dims,
    weightDims: null,
    biasDims: null,
    attrs: '',
    macs: 0,
    elements: product(dims),
  };
}

/** Deterministic int8 weights and int32 bias of a shape (seeded by class and shape index). */
function constantsFor(shape, seed) {
  const next = lib.mulberry32(seed);
  const weights = shape.weightDims ? Array.from({ length: product(shape.weightDims) }, () => (next() % 255) - 127) : null;
  const bias = shape.biasDims ? Array.from({ length: product(shape.biasDims) }, () => (next() % 2001) - 1000) : null;
  return { weights, bias };
}

const dimsText = (dims) => `[${dims.join(',')}]`;
const valuesText = (values) => `{${values.join(', ')}}`;

/** One node's right-hand side: `Conv <group = 1> (X, W)` or `Add(A, B)`. */
const call = (op, attrs, args) => `${op}${attrs ? ` ${attrs} ` : ''}(${args.join(', ')})`;

/** The text of a model: header, signature, initializers, body lines. */
function modelText({ name, domains, inputs, outputs, inits, body }) {
  const imports = ['"" : 13', ...domains.map((d) => `"${d}" : 1`)].join(', ');
  return `<ir_version: 8, opset_import: [${imports}]>\n` +
    `${name} (${inputs.join(', ')}) => (${outputs.join(', ')})\n` +
    (inits.length ? `<${inits.join(',\n ')}>\n` : '') +
    `{\n${body.map((l) => `  ${l}`).join('\n')}\n}\n`;
}

// ORT's first kernel of a run takes about a microsecond longer than the same
// kernel later in the run, so no measured node comes first: in the QDQ
// models QuantizeLinear does, in the FP32 model a Relu on the first input
// (ORT fuses Conv -> Relu, not Relu -> Conv), in the QOperator model a
// QuantizeLinear of each (float) input.

/** The FP32 model: the op (after a Relu on its first input), weights and bias as float constants. */
function fp32Model(cls, shape, consts) {
  const inits = [];
  const args = shape.inputs.map((i, k) => (k === 0 ? `${i.name}r` : i.name));
  if (consts.weights) {
    inits.push(`float${dimsText(shape.weightDims)} W = ${valuesText(consts.weights.map((v) => v * W_SCALE))}`);
    args.push('W');
  }
  if (consts.bias) {
    inits.push(`float${dimsText(shape.biasDims)} Bf = ${valuesText(consts.bias.map((v) => v * X_SCALE * W_SCALE))}`);
    args.push('Bf');
  }
  return modelText({
    name: 'fp32',
    domains: [],
    inputs: shape.inputs.map((i) => `float${dimsText(i.dims)} ${i.name}`),
    outputs: [`float${dimsText(shape.outDims)} Y`],
    inits,
    body: [`${shape.inputs[0].name}r = Relu(${shape.inputs[0].name})`, `Y = ${call(cls.op, shape.attrs, args)}`],
  });
}

/** Scale and zero-point initializers shared by the QDQ and QOperator forms. */
function quantParams(cls, shape, act) {
  const z = ACT_ZERO[act];
  const inits = [`float xs = {${X_SCALE}}`, `${act} xz = {${z}}`];
  if (shape.inputs.length > 1) inits.push(`float bs = {${X2_SCALE}}`, `${act} bz = {${z}}`);
  if (shape.weightDims) inits.push(`float ws = {${W_SCALE}}`, 'int8 wz = {0}');
  inits.push(`float ys = {${Y_SCALE[cls.op]}}`, `${act} yz = {${z}}`);
  return inits;
}

/**
 * The QDQ model: each float input through QuantizeLinear -> DequantizeLinear
 * with `act` activations, int8 weights (zero point 0) and an int32 bias
 * (scale x_scale * w_scale, zero point 0) behind DequantizeLinear, the op,
 * then QuantizeLinear -> DequantizeLinear to a float output. With `fanOut`,
 * the first input's QuantizeLinear also feeds a second DequantizeLinear (a
 * second graph output), as a tensor read by two units does in a real graph.
 */
function qdqModel(cls, shape, consts, act, fanOut = false) {
  const inits = quantParams(cls, shape, act);
  const body = [];
  const args = [];
  shape.inputs.forEach((input, i) => {
    const [s, z] = i === 0 ? ['xs', 'xz'] : ['bs', 'bz'];
    body.push(`${input.name}q = QuantizeLinear(${input.name}, ${s}, ${z})`);
    body.push(`${input.name}d = DequantizeLinear(${input.name}q, ${s}, ${z})`);
    args.push(`${input.name}d`);
  });
  if (consts.weights) {
    inits.push(`int8${dimsText(shape.weightDims)} wq = ${valuesText(consts.weights)}`);
    body.push('W = DequantizeLinear(wq, ws, wz)');
    args.push('W');
  }
  if (consts.bias) {
    inits.push(`int32${dimsText(shape.biasDims)} bq = ${valuesText(consts.bias)}`,
      `float bias_s = {${X_SCALE * W_SCALE}}`, 'int32 bias_z = {0}');
    body.push('Bias = DequantizeLinear(bq, bias_s, bias_z)');
    args.push('Bias');
  }
  body.push(`R = ${call(cls.op, shape.attrs, args)}`);
  body.push('Rq = QuantizeLinear(R, ys, yz)', 'Y = DequantizeLinear(Rq, ys, yz)');
  const first = shape.inputs[0];
  if (fanOut) body.push(`Z = DequantizeLinear(${first.name}q, xs, xz)`);
  return modelText({
    name: `qdq_${act}${fanOut ? '_fan_out' : ''}`,
    domains: [],
    inputs: shape.inputs.map((i) => `float${dimsText(i.dims)} ${i.name}`),
    outputs: [`float${dimsText(shape.outDims)} Y`, ...(fanOut ? [`float${dimsText(first.dims)} Z`] : [])],
    inits,
    body,
  });
}

/**
 * The QOperator model: float inputs through QuantizeLinear with `act`
 * activations into the target's integer kernel (`kernel`, e.g.
 * "QLinearConv" or "com.microsoft.QLinearAdd"), its `act` output the
 * graph's.
 */
function qopModel(cls, shape, consts, act, kernel) {
  const inits = quantParams(cls, shape, act);
  const q = shape.inputs.map((i) => `${i.name}q`);
  const quantize = shape.inputs.map((input, i) => {
    const [s, z] = i === 0 ? ['xs', 'xz'] : ['bs', 'bz'];
    return `${input.name}q = QuantizeLinear(${input.name}, ${s}, ${z})`;
  });
  let args;
  if (cls.op === 'Conv' || cls.op === 'MatMul') {
    inits.push(`int8${dimsText(shape.weightDims)} wq = ${valuesText(consts.weights)}`);
    args = [q[0], 'xs', 'xz', 'wq', 'ws', 'wz', 'ys', 'yz'];
    if (consts.bias) {
      inits.push(`int32${dimsText(shape.biasDims)} bq = ${valuesText(consts.bias)}`);
      args.push('bq');
    }
  } else if (kernel === cls.op) {
    args = [q[0]]; // the op on the 8-bit data as it is ("=")
  } else {
    args = [q[0], 'xs', 'xz', q[1], 'bs', 'bz', 'ys', 'yz'];
  }
  const { domain } = splitKernel(kernel);
  return modelText({
    name: `qop_${act}`,
    domains: domain ? [domain] : [],
    inputs: shape.inputs.map((i) => `float${dimsText(i.dims)} ${i.name}`),
    outputs: [`${act}${dimsText(shape.outDims)} Yq`],
    inits,
    body: [...quantize, `Yq = ${call(kernel, shape.attrs, args)}`],
  });
}

/** "com.microsoft.QLinearAdd" -> {domain: "com.microsoft", op: "QLinearAdd"}. */
function splitKernel(kernel) {
  const dot = kernel.lastIndexOf('.');
  return dot < 0 ? { domain: '', op: kernel } : { domain: kernel.slice(0, dot), op: kernel.slice(dot + 1) };
}

// ---------------------------------------------------------------------------
// qopt-opt

/** Runs qopt-opt with `args`; returns its stdout. Throws UsageError naming the command on failure. */
function qoptOpt(exe, args) {
  const r = spawnSync(exe, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw new UsageError(`cannot run qopt-opt '${exe}': ${r.error.message}`);
  if (r.status !== 0) {
    throw new UsageError(`qopt-opt ${args.join(' ')} failed (exit ${r.status}): ${lib.oneLine(r.stderr || r.stdout || '')}`);
  }
  return r.stdout;
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what}: unreadable JSON (${err.message})`);
  }
}

/** The profile to start from: --base=FILE, else `qopt-opt --print-target=ort-cpu`. */
function baseProfile(exe, baseFile) {
  let base;
  if (baseFile) {
    let text;
    try {
      text = fs.readFileSync(baseFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --base '${baseFile}': ${err.message}`);
    }
    base = parseJson(text, `--base '${baseFile}'`);
  } else {
    base = parseJson(qoptOpt(exe, [`--print-target=${BASE_TARGET}`]), `qopt-opt --print-target=${BASE_TARGET}`);
  }
  if (!base || typeof base !== 'object' || base.schema !== SCHEMA) {
    throw new UsageError(`the base profile is not schema "${SCHEMA}" (it says ${JSON.stringify(base && base.schema)})`);
  }
  return base;
}

/** Float op type -> the integer kernel of `target` (e.g. Add -> com.microsoft.QLinearAdd), from the op table. */
function integerKernels(exe, target, ops) {
  const table = parseJson(qoptOpt(exe, ['--list-op-traits=json']), 'qopt-opt --list-op-traits=json');
  const kernels = {};
  for (const op of ops) {
    const row = (table.ops || []).find((r) => r.domain === '' && r.op === op);
    const kernel = row && row.kernels ? row.kernels[target] : undefined;
    if (!kernel) throw new UsageError(`the op table has no integer kernel for ${op} on ${target}`);
    kernels[op] = kernel === '=' ? op : kernel; // "=": the op itself on the integers
  }
  return kernels;
}

/** Op type -> count in model `file`, from `qopt-opt FILE --pass=op-count` (domains dropped). */
function opCounts(exe, file) {
  const report = parseJson(qoptOpt(exe, [file, '--pass=op-count', '--report=json']), `qopt-opt ${file} --pass=op-count`);
  const byOp = report && report.analyses && report.analyses['op-count'] && report.analyses['op-count'].by_op;
  if (!byOp) throw new UsageError(`qopt-opt ${file} --pass=op-count: no analyses["op-count"].by_op in the report`);
  const counts = {};
  for (const [key, n] of Object.entries(byOp)) {
    const op = key.includes('::') ? key.slice(key.lastIndexOf('::') + 2) : key;
    counts[op] = (counts[op] || 0) + n;
  }
  return counts;
}

// ---------------------------------------------------------------------------
// ONNX Runtime

/**
 * The interquartile mean of call durations: the mean of the middle half.
 * ORT's profiler records whole microseconds, so a median of a few-µs kernel
 * is coarse; the mean of the middle half keeps fractions and drops the
 * outliers of both tails.
 */
function interquartileMean(values) {
  const v = [...values].sort((a, b) => a - b);
  const lo = Math.floor(v.length / 4);
  const mid = v.slice(lo, Math.max(lo + 1, v.length - lo));
  return mid.reduce((a, b) => a + b, 0) / mid.length;
}

/**
 * Profiles `file` (profile.js) and returns [{op, ns, inputs, outputs}]: each
 * node's kernel time over the timed runs (interquartile mean), in ns.
 */
async function profileNodes(file, opts, extra = {}) {
  const { summary } = await profileModel(file, {
    runs: opts.runs, warmup: opts.warmup, threads: THREADS, optLevel: OPT_LEVEL, seed: 1, ...extra,
  });
  return summary.nodes.map((n) => ({
    op: n.op, ns: 1000 * interquartileMean(n.callUs), inputs: n.inputs, outputs: n.outputs,
  }));
}

/** The one node of op type `op` in a profile (an error when there is not exactly one). */
function theNode(nodes, op, file) {
  const found = nodes.filter((n) => n.op === op);
  if (found.length !== 1) {
    throw new lib.ModelError(file, 'profile', new Error(`expected one ${op} node in ORT's graph, found ${found.length} ` +
      `(ops: ${nodes.map((n) => n.op).join(', ')})`));
  }
  return found[0];
}

const EIGHT_BIT = new Set(['uint8', 'int8']);

/**
 * Quantize/dequantize data points of a profile: [{kind: 'quantize' |
 * 'dequantize', elements, ns}] for each QuantizeLinear making 8-bit
 * integers and each DequantizeLinear reading them.
 */
function qdqPoints(nodes) {
  const points = [];
  for (const n of nodes) {
    if (n.op === 'QuantizeLinear' && n.outputs[0] && EIGHT_BIT.has(n.outputs[0].type)) {
      points.push({ kind: 'quantize', elements: product(n.outputs[0].dims), ns: n.ns });
    } else if (n.op === 'DequantizeLinear' && n.inputs[0] && EIGHT_BIT.has(n.inputs[0].type)) {
      points.push({ kind: 'dequantize', elements: product(n.inputs[0].dims), ns: n.ns });
    }
  }
  return points;
}

// ---------------------------------------------------------------------------
// Fitting

/**
 * Relative least squares of y = a + b x over points [{x, y}]: each point
 * weighted by 1 / y^2, so a 4 µs kernel's error counts as much as a 1 ms
 * one's (the shapes span two orders of magnitude). a and b are clamped to
 * >= 0 (a < 0: refit through the origin; b < 0: b = 0, a = the weighted
 * mean of y). With one distinct x, a = 0 and b = y / x. Returns {perCall, slope}.
 */
function fitLine(points) {
  if (!points.length) return { perCall: 0, slope: 0 };
  const w = points.map((p) => (p.y > 0 ? 1 / (p.y * p.y) : 1));
  const sum = (f) => points.reduce((acc, p, i) => acc + w[i] * f(p), 0);
  const sw = sum(() => 1);
  const mx = sum((p) => p.x) / sw;
  const my = sum((p) => p.y) / sw;
  const sxx = sum((p) => (p.x - mx) ** 2);
  const sxy = sum((p) => (p.x - mx) * (p.y - my));
  const throughOrigin = () => {
    const xx = sum((p) => p.x * p.x);
    return { perCall: 0, slope: xx > 0 ? Math.max(0, sum((p) => p.x * p.y) / xx) : 0 };
  };
  if (sxx <= 1e-12 * sw * Math.max(1, mx * mx)) return throughOrigin();
  const slope = sxy / sxx;
  if (slope < 0) return { perCall: Math.max(0, my), slope: 0 };
  const perCall = my - slope * mx;
  return perCall < 0 ? throughOrigin() : { perCall, slope };
}

const sig = (v) => Number(v.toPrecision(4));

/** A LinearCost (JSON) from a fit over points [{macs, elements, ns}]; `by` is 'mac' or 'element'. */
function linearCost(points, by) {
  const fit = fitLine(points.map((p) => ({ x: by === 'mac' ? p.macs : p.elements, y: p.ns })));
  return {
    per_call_ns: Math.round(fit.perCall * 10) / 10,
    per_mac_ns: by === 'mac' ? sig(fit.slope) : 0,
    per_element_ns: by === 'element' ? sig(fit.slope) : 0,
  };
}

// ---------------------------------------------------------------------------
// Measuring

/** Converts TEXT (written to DIR/NAME.onnxtxt) into DIR/NAME.onnx with qopt-opt; returns the .onnx path. */
function writeModel(exe, dir, name, text) {
  const txt = path.join(dir, `${name}.onnxtxt`);
  const onnx = path.join(dir, `${name}.onnx`);
  fs.writeFileSync(txt, text);
  qoptOpt(exe, [txt, '--report=none', '-o', onnx]);
  return onnx;
}

/** Whether ORT fused the unit in `file`: its graph at OPT_LEVEL has the integer kernel and no float op. */
function fusedIn(exe, optFile, cls, kernelOp) {
  const counts = opCounts(exe, optFile);
  if (kernelOp === cls.op) {
    // The op on the integers ("="): ORT dropped the DQ before it and the Q
    // after it, leaving the input's Q and the output's DQ (and the fan-out's).
    const qdq = (counts.QuantizeLinear || 0) + (counts.DequantizeLinear || 0);
    return (counts[kernelOp] || 0) === 1 && qdq <= 3 && (counts.DequantizeLinear || 0) <= 2 &&
      (counts.QuantizeLinear || 0) === 1;
  }
  return (counts[kernelOp] || 0) > 0 && !counts[cls.op];
}

/**
 * Measures one class: per shape, the float op, and per activation type the
 * QDQ unit and the integer kernel. Returns {rows: [...], qdq: [points]}, a
 * row being {shape, act, fused, fusedAlone, floatNs, intNs, ortNs, ortType,
 * qopNs}:
 *   fusedAlone: ORT fused the unit of the plain QDQ model (its input Q
 *     feeding only the unit); ortNs is then the time of the kernel it ran
 *     and ortType that kernel's data type (uint8 where ORT turned int8
 *     Q/DQ into uint8 first, which it does only for a Q with one consumer);
 *   fused: ORT also fused it with a second DequantizeLinear on the input Q
 *     (a fan-out, as at each branch of a real graph);
 *   qopNs: the QOperator kernel with `act` data (measured unless fused);
 *   intNs: the integer cost recorded, ortNs when fused, else qopNs.
 */
async function measureClass(cls, ci, opts, log) {
  const kernel = opts.kernels[cls.op];
  const kernelOp = splitKernel(kernel).op;
  const indices = opts.quick ? [QUICK_SHAPE] : cls.shapes.map((_, i) => i);
  const rows = [];
  const qdq = [];
  for (const si of indices) {
    const s = cls.shapes[si];
    const shape = describeShape(cls, s);
    const consts = constantsFor(shape, 0x9e3779b9 ^ (ci * 16 + si + 1));
    const stem = `${cls.unitClass}.${si}`;
    const fp32 = writeModel(opts.qoptOpt, opts.dir, `${stem}.fp32`, fp32Model(cls, shape, consts));
    const floatNs = theNode(await profileNodes(fp32, opts), cls.op, fp32).ns;
    for (const act of ACTIVATIONS) {
      const name = `${stem}.qdq-${act}`;
      const qdqFile = writeModel(opts.qoptOpt, opts.dir, name, qdqModel(cls, shape, consts, act));
      const optFile = path.join(opts.dir, `${name}.ort-${OPT_LEVEL}.onnx`);
      const nodes = await profileNodes(qdqFile, opts, { optimizedModelFilePath: optFile });
      qdq.push(...qdqPoints(nodes));
      const fusedAlone = fusedIn(opts.qoptOpt, optFile, cls, kernelOp);

      const fanName = `${stem}.qdq-${act}-fan-out`;
      const fanFile = writeModel(opts.qoptOpt, opts.dir, fanName, qdqModel(cls, shape, consts, act, true));
      const fanOpt = path.join(opts.dir, `${fanName}.ort-${OPT_LEVEL}.onnx`);
      const session = await lib.loadSession(fanFile, { optLevel: OPT_LEVEL, threads: THREADS, optimizedModelFilePath: fanOpt });
      await session.release();
      const fused = fusedAlone && fusedIn(opts.qoptOpt, fanOpt, cls, kernelOp);

      const ortNode = fusedAlone ? theNode(nodes, kernelOp, optFile) : null;
      let qopNs = null;
      if (!fused) {
        const qop = writeModel(opts.qoptOpt, opts.dir, `${stem}.qop-${act}`, qopModel(cls, shape, consts, act, kernel));
        qopNs = theNode(await profileNodes(qop, opts), kernelOp, qop).ns;
      }
      const row = {
        shape, act, fused, fusedAlone, floatNs, qopNs,
        ortNs: ortNode ? ortNode.ns : null,
        ortType: ortNode && ortNode.inputs[0] ? ortNode.inputs[0].type : null,
        intNs: fused ? ortNode.ns : qopNs,
      };
      rows.push(row);
      log(formatRow(cls.unitClass, row));
    }
  }
  return { rows, qdq };
}

const fmtUs = (ns) => (ns === null ? '-' : (ns / 1000).toFixed(ns < 10000 ? 2 : 1));
const fmtRatio = (r) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a');
const shortType = (t) => ({ uint8: 'u8', int8: 's8' }[t] || t);
const COLUMNS = [['class', 15], ['act', 5], ['fused', 9], ['shape', 20], ['MACs', -9], ['elements', -8],
  ['int us', -8], ['float us', -8], ['int/float', -9], ['ORT-fused us', -12]];
const cellsLine = (cells) => cells.map((c, i) => {
  const w = COLUMNS[i][1];
  return w < 0 ? String(c).padStart(-w) : String(c).padEnd(w);
}).join(' ').trimEnd();
const TABLE_HEADER = cellsLine(COLUMNS.map((c) => c[0]));
const TABLE_LEGEND = [
  'fused: yes = ORT fuses the QDQ unit, also when its input Q feeds a second DQ; 1-DQ only = only when that Q',
  '  feeds the unit alone. int us: the integer kernel ORT runs when fused, else the QOperator kernel with these',
  '  activations. ORT-fused us: the kernel ORT ran for the plain QDQ unit (with its data type when ORT changed it).',
  '  Times: ORT profiler kernel times, interquartile mean of the timed runs.',
];

function fusedCell(r) {
  if (r.fused) return 'yes';
  return r.fusedAlone ? '1-DQ only' : 'no';
}

function formatRow(unitClass, r) {
  const ort = r.ortNs === null ? '-' : `${fmtUs(r.ortNs)}${r.ortType !== r.act ? ` (${shortType(r.ortType)})` : ''}`;
  return cellsLine([unitClass, r.act, fusedCell(r), r.shape.label, r.shape.macs, r.shape.elements,
    fmtUs(r.intNs), fmtUs(r.floatNs), fmtRatio(r.intNs / r.floatNs), ort]);
}

/** One measured sentence for a class x activation (at its largest shape). */
function noteFor(cls, act, rows, kernel) {
  const mine = rows.filter((r) => r.act === act);
  const last = mine[mine.length - 1];
  const at = `at ${last.shape.label}`;
  const vsFloat = `${fmtRatio(last.intNs / last.floatNs)} the float ${cls.op}`;
  const u8 = rows.find((r) => r.act === 'uint8' && r.shape === last.shape);
  const vsU8 = act !== 'uint8' && u8 && u8.fused ? `${fmtRatio(last.intNs / u8.intNs)} the uint8 one` : '';
  if (last.fused) {
    return `ORT fuses the ${act} QDQ unit into ${kernel}: ${vsFloat}${vsU8 ? `, ${vsU8}` : ''} ${at}`;
  }
  const how = last.ortType !== act ? `, turning its ${act} Q/DQ into ${last.ortType} first` : '';
  const alone = last.fusedAlone ? ` where its input Q also feeds another DQ (it fuses it alone${how})` : '';
  return `ORT leaves the ${act} QDQ unit unfused${alone}; its ${act} ${kernel} takes ` +
    `${vsU8 ? `${vsU8} and ` : ''}${vsFloat} ${at}`;
}

function cpuSource() {
  let model = 'unknown CPU';
  let flags = [];
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const m = info.match(/^model name\s*:\s*(.+)$/m);
    if (m) model = m[1].trim();
    const f = info.match(/^flags\s*:\s*(.+)$/m);
    if (f) flags = f[1].trim().split(/\s+/).filter((x) => /vnni/.test(x));
  } catch {
    // not Linux: keep the defaults
  }
  return `${model} (${flags.length ? flags.join(' ') : 'no VNNI'})`;
}

function ortVersion() {
  try {
    return require('onnxruntime-node/package.json').version;
  } catch {
    return (lib.ort.env && lib.ort.env.versions && lib.ort.env.versions.node) || 'unknown';
  }
}

async function measure(opts, log) {
  const results = [];
  for (const [ci, cls] of CLASSES.entries()) results.push({ cls, ...(await measureClass(cls, ci, opts, log)) });

  const measurements = [];
  const fusedEverywhere = [];
  for (const act of ACTIVATIONS) {
    let all = true;
    for (const { cls, rows } of results) {
      const mine = rows.filter((r) => r.act === act);
      const fused = mine.every((r) => r.fused);
      if (!fused && mine.some((r) => r.fused)) {
        log(`note: ${cls.unitClass} ${act}: ORT fused the unit at some shapes and not at others; recorded as not fused`);
      }
      all = all && fused;
      const by = cls.op === 'Conv' || cls.op === 'MatMul' ? 'mac' : 'element';
      const pts = (key) => mine.map((r) => ({ macs: r.shape.macs, elements: r.shape.elements, ns: r[key] }));
      measurements.push({
        unit_class: cls.unitClass,
        activation: act,
        fused_by_runtime: fused,
        integer: linearCost(pts('intNs'), by),
        float: linearCost(pts('floatNs'), by),
        note: noteFor(cls, act, rows, opts.kernels[cls.op]),
      });
    }
    if (all) fusedEverywhere.push(act);
  }
  const qdq = results.flatMap((r) => r.qdq);
  const qPoints = (kind) => qdq.filter((p) => p.kind === kind).map((p) => ({ macs: 0, elements: p.elements, ns: p.ns }));
  return { results, measurements, fusedEverywhere, quantize: linearCost(qPoints('quantize'), 'element'),
    dequantize: linearCost(qPoints('dequantize'), 'element'), qdqCount: qdq.length };
}

/** The sentence for unfused_activation_note, from what was measured. */
function unfusedNote(results, version) {
  const where = (act, pred) => results.filter((r) => r.rows.filter((x) => x.act === act).every(pred))
    .map((r) => r.cls.unitClass);
  const classes = (list) => (list.length === results.length ? `all ${list.length} unit classes measured` : list.join(', '));
  const parts = ACTIVATIONS.map((act) => {
    const fused = where(act, (x) => x.fused);
    const alone = where(act, (x) => x.fusedAlone && !x.fused);
    const converted = results.some((r) => r.rows.some((x) => x.act === act && x.fusedAlone && !x.fused && x.ortType !== act));
    let text = `${act} activations in ${fused.length ? classes(fused) : 'none'}`;
    if (alone.length) {
      text += ` (a unit with ${act} activations fuses${converted ? ', as uint8,' : ''} only where its input Q feeds no other DQ, ` +
        `in ${classes(alone)})`;
    }
    return text;
  });
  return `Measured: ONNX Runtime ${version}'s CPU optimizer (opt level all) fuses QDQ units with ${parts.join(', with ')}`;
}

// ---------------------------------------------------------------------------
// CLI

async function main(argv) {
  const { values, positionals } = lib.parseCliArgs(argv, {
    out: { type: 'string' },
    'qopt-opt': { type: 'string' },
    base: { type: 'string' },
    runs: { type: 'string' },
    warmup: { type: 'string' },
    quick: { type: 'boolean' },
    'keep-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length) {
    throw Object.assign(new UsageError(`unexpected argument '${positionals[0]}'`), { showUsage: true });
  }
  const quick = Boolean(values.quick);
  const runs = lib.parseIntOpt('runs', values.runs, 1) ?? (quick ? QUICK_RUNS : DEFAULT_RUNS);
  const warmup = lib.parseIntOpt('warmup', values.warmup, 0) ?? (quick ? QUICK_WARMUP : DEFAULT_WARMUP);
  const exe = lib.resolveQoptOpt(values['qopt-opt']);
  const base = baseProfile(exe, values.base);
  const kernelsTarget = typeof base.kernels === 'string' ? base.kernels : BASE_TARGET;
  const kernels = integerKernels(exe, kernelsTarget, [...new Set(CLASSES.map((c) => c.op))]);

  let dir;
  try {
    dir = values['keep-dir']
      ? (fs.mkdirSync(values['keep-dir'], { recursive: true }), values['keep-dir'])
      : fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-measure-target-'));
  } catch (err) {
    throw new UsageError(`cannot make the folder for the generated models: ${err.message}`);
  }
  const log = (line) => process.stderr.write(`${line}\n`);
  const version = ortVersion();
  let m;
  try {
    log(`measuring ONNX Runtime ${version} CPU, ${THREADS} intra-op thread, opt level ${OPT_LEVEL}, ` +
      `${runs} timed runs after ${warmup} warm-up per model${quick ? ', --quick' : ''}`);
    TABLE_LEGEND.forEach((line) => log(line));
    log(TABLE_HEADER);
    m = await measure({ qoptOpt: exe, dir, runs, warmup, quick, kernels }, log);
  } finally {
    if (!values['keep-dir']) fs.rmSync(dir, { recursive: true, force: true });
  }

  for (const x of m.measurements) {
    const slope = (c) => (c.per_mac_ns ? `${c.per_mac_ns} ns/MAC` : `${c.per_element_ns} ns/element`);
    log(`fit ${x.unit_class.padEnd(15)} ${x.activation.padEnd(5)} integer ${x.integer.per_call_ns} ns + ` +
      `${slope(x.integer)}; float ${x.float.per_call_ns} ns + ${slope(x.float)}`);
  }
  log(`fit quantize   ${m.quantize.per_call_ns} ns + ${m.quantize.per_element_ns} ns/element; ` +
    `dequantize ${m.dequantize.per_call_ns} ns + ${m.dequantize.per_element_ns} ns/element ` +
    `(${m.qdqCount} Q/DQ nodes)`);
  log(`fused activation types: ${m.fusedEverywhere.length ? m.fusedEverywhere.join(', ') : 'none'}`);
  if (!m.fusedEverywhere.length) {
    // An empty list means "all of integer_types" to qopt (docs/targets.md).
    throw new UsageError('ONNX Runtime fused no activation type in every unit class; a qopt-target/1 profile ' +
      'cannot say so (an empty fused_activation_types means all), so none is written');
  }

  const date = new Date().toISOString().slice(0, 10);
  const command = ['node', path.relative(process.cwd(), __filename) || __filename, ...argv].join(' ');
  const profile = {
    ...base,
    source: `${cpuSource()}; onnxruntime-node ${version}, CPU EP, ${THREADS} intra-op thread, opt level ${OPT_LEVEL}; ` +
      `${date}; ${command}`,
    fused_activation_types: m.fusedEverywhere,
    unfused_activation_note: unfusedNote(m.results, version),
    quantize: m.quantize,
    dequantize: m.dequantize,
    measurements: m.measurements,
  };
  const text = JSON.stringify(profile, null, 2) + '\n';
  if (values.out) {
    try {
      fs.writeFileSync(values.out, text);
    } catch (err) {
      throw new UsageError(`cannot write '${values.out}': ${err.message}`);
    }
    log(`measure_target: wrote ${values.out} (${m.measurements.length} measurements)`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}

if (require.main === module) lib.runCli('measure_target', USAGE, main);

module.exports = {
  CLASSES, QUICK_SHAPE, describeShape, constantsFor, fp32Model, qdqModel, qopModel, fitLine, linearCost, splitKernel,
};
