'use strict';
// Shared helpers for running ONNX models in ONNX Runtime (CPU) from Node:
// session loading, deterministic input generation, .npy I/O, tensor stats and
// output comparison. The CLIs in this folder (run.js, compare.js) are thin
// wrappers around these functions.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { parseArgs } = require('node:util');
const ort = require('onnxruntime-node');

// ---------------------------------------------------------------------------
// Defaults and errors

const DEFAULTS = Object.freeze({
  seed: 1,
  optLevel: 'all',
  threads: 1,
  // Value used for a symbolic/unknown dimension that is not the first one
  // (the first dimension, usually the batch, defaults to 1).
  symbolicDim: 64,
  atol: 1e-5,
  rtol: 1e-4,
  // Generated float inputs are uniform in [floatLow, floatHigh).
  floatLow: -1,
  floatHigh: 1,
  // Generated wide integer inputs (int64/int32/int16/uint16/uint32/uint64) are
  // uniform in [0, intHigh): such inputs are usually indices or shapes.
  intHigh: 10,
});

const OPT_LEVELS = ['disabled', 'basic', 'extended', 'layout', 'all'];

/** Bad command line or bad option value: CLIs exit 2. */
class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A model could not be loaded or run: CLIs exit 2. `file` names the model. */
class ModelError extends Error {
  constructor(file, what, cause) {
    const msg = cause && cause.message ? oneLine(cause.message) : String(cause || '');
    super(`cannot ${what} model '${file}': ${msg}`);
    this.name = 'ModelError';
    this.file = file;
    this.cause = cause;
  }
}

function oneLine(s) {
  return String(s).replace(/\s*\n\s*/g, ' ').trim();
}

// ---------------------------------------------------------------------------
// Element types

// ORT element type -> { array: TypedArray ctor, npy: numpy descr without byte order, size }
const DTYPES = {
  float32: { array: Float32Array, npy: 'f4', size: 4, kind: 'float' },
  float64: { array: Float64Array, npy: 'f8', size: 8, kind: 'float' },
  float16: { array: Uint16Array, npy: 'f2', size: 2, kind: 'half' },
  int64: { array: BigInt64Array, npy: 'i8', size: 8, kind: 'bigint' },
  uint64: { array: BigUint64Array, npy: 'u8', size: 8, kind: 'bigint' },
  int32: { array: Int32Array, npy: 'i4', size: 4, kind: 'int' },
  uint32: { array: Uint32Array, npy: 'u4', size: 4, kind: 'int' },
  int16: { array: Int16Array, npy: 'i2', size: 2, kind: 'int' },
  uint16: { array: Uint16Array, npy: 'u2', size: 2, kind: 'int' },
  int8: { array: Int8Array, npy: 'i1', size: 1, kind: 'int' },
  uint8: { array: Uint8Array, npy: 'u1', size: 1, kind: 'int' },
  bool: { array: Uint8Array, npy: 'b1', size: 1, kind: 'bool' },
};
const NPY_TO_DTYPE = Object.fromEntries(Object.entries(DTYPES).map(([k, v]) => [v.npy, k]));

function dtypeInfo(type) {
  const info = DTYPES[type];
  if (!info) throw new UsageError(`unsupported tensor element type '${type}'`);
  return info;
}

// float16 <-> float conversions (round to nearest even).
const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

function floatToHalfBits(v) {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

function halfBitsToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Returns an array whose elements are plain comparable values (float16 decoded). */
function valuesOf(tensor) {
  if (tensor.type === 'float16' && tensor.data instanceof Uint16Array) {
    const out = new Float32Array(tensor.data.length);
    for (let i = 0; i < out.length; i++) out[i] = halfBitsToFloat(tensor.data[i]);
    return out;
  }
  return tensor.data;
}

function rawBytes(tensor) {
  const d = tensor.data;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

function numElements(dims) {
  return dims.reduce((a, b) => a * b, 1);
}

function dimsToString(dims) {
  return dims.length ? dims.join('x') : 'scalar';
}

// ---------------------------------------------------------------------------
// Sessions

/**
 * Loads a model into an InferenceSession on the CPU.
 * opts: optLevel ('disabled'|'basic'|'extended'|'layout'|'all', default 'all'),
 *       threads (intraOpNumThreads, default 1), logSeverityLevel (default 4 = fatal only:
 *       load/run errors are reported through the thrown ModelError instead),
 *       profileFilePrefix (when set, ORT's profiler is on from the load and
 *       session.endProfiling() writes PREFIX_<date>.json; see profile.js),
 *       optimizedModelFilePath (when set, ORT writes the graph it runs, after
 *       its optimizations, to this .onnx file at load; see measure_target.js).
 */
async function loadSession(modelPath, opts = {}) {
  const optLevel = opts.optLevel || DEFAULTS.optLevel;
  if (!OPT_LEVELS.includes(optLevel)) {
    throw new UsageError(`bad opt level '${optLevel}' (one of ${OPT_LEVELS.join(', ')})`);
  }
  const threads = opts.threads === undefined ? DEFAULTS.threads : opts.threads;
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`bad thread count '${threads}'`);
  if (!fs.existsSync(modelPath)) throw new ModelError(modelPath, 'load', new Error('no such file'));
  try {
    return await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: optLevel,
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      logSeverityLevel: opts.logSeverityLevel === undefined ? 4 : opts.logSeverityLevel,
      ...(opts.profileFilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profileFilePrefix } : {}),
      ...(opts.optimizedModelFilePath ? { optimizedModelFilePath: opts.optimizedModelFilePath } : {}),
    });
  } catch (err) {
    throw new ModelError(modelPath, 'load', err);
  }
}

/** [{name, type, shape}] for the session's inputs; shape entries are numbers or symbol strings. */
function inputInfo(session) {
  const meta = session.inputMetadata;
  return session.inputNames.map((name, i) => {
    const m = Array.isArray(meta) ? meta.find((x) => x.name === name) || meta[i] : undefined;
    if (!m) throw new UsageError(`no metadata for input '${name}'`);
    if (m.isTensor === false) throw new UsageError(`input '${name}' is not a tensor (unsupported)`);
    return { name, type: m.type, shape: m.shape };
  });
}

// ---------------------------------------------------------------------------
// Shapes

/**
 * Parses --input-shape values: each string is one or more comma-separated
 * `NAME:D0xD1x...` items (`NAME:` alone means a scalar). Returns Map name -> dims.
 */
function parseShapeSpecs(specs) {
  const out = new Map();
  for (const spec of [].concat(specs || [])) {
    for (const item of String(spec).split(',')) {
      if (!item.trim()) continue;
      const colon = item.lastIndexOf(':');
      if (colon <= 0) throw new UsageError(`bad --input-shape '${item}' (want NAME:1x3x64x64)`);
      const name = item.slice(0, colon);
      const dimsText = item.slice(colon + 1).trim();
      const dims = dimsText === '' ? [] : dimsText.split('x').map((t) => {
        if (!/^\d+$/.test(t)) throw new UsageError(`bad dimension '${t}' in --input-shape '${item}'`);
        return Number(t);
      });
      out.set(name, dims);
    }
  }
  return out;
}

function isFixedDim(d) {
  return typeof d === 'number' && Number.isInteger(d) && d >= 0;
}

/**
 * Resolves concrete dims for every input. Overridden shapes are checked
 * against the fixed dims of the model and bind the symbols they cover; other
 * symbolic dims take the value bound to the same symbol, else 1 for dim 0
 * and `symbolicDim` (default 64) for the others.
 */
function resolveShapes(infos, shapeOverrides = new Map(), opts = {}) {
  const symbolicDim = opts.symbolicDim || DEFAULTS.symbolicDim;
  const known = new Set(infos.map((i) => i.name));
  if (opts.strictNames !== false) {
    for (const name of shapeOverrides.keys()) {
      if (!known.has(name)) {
        throw new UsageError(`--input-shape names '${name}', but the model's inputs are: ${[...known].join(', ')}`);
      }
    }
  }
  const symbols = new Map();
  const result = new Map();
  for (const info of infos) {
    const dims = shapeOverrides.get(info.name);
    if (!dims) continue;
    const shape = info.shape;
    if (Array.isArray(shape)) {
      if (shape.length !== dims.length) {
        throw new UsageError(`input '${info.name}' has rank ${shape.length} [${shape.join(',')}], ` +
          `--input-shape gives ${dimsToString(dims)}`);
      }
      shape.forEach((d, k) => {
        if (isFixedDim(d) && d !== dims[k]) {
          throw new UsageError(`input '${info.name}' dim ${k} is fixed to ${d}, --input-shape gives ${dims[k]}`);
        }
        if (typeof d === 'string' && d && !symbols.has(d)) symbols.set(d, dims[k]);
      });
    }
    result.set(info.name, dims.slice());
  }
  for (const info of infos) {
    if (result.has(info.name)) continue;
    if (!Array.isArray(info.shape)) {
      throw new UsageError(`input '${info.name}' has unknown rank: give --input-shape=${info.name}:...`);
    }
    const dims = info.shape.map((d, k) => {
      if (isFixedDim(d)) return d;
      if (typeof d === 'string' && d && symbols.has(d)) return symbols.get(d);
      const v = k === 0 ? 1 : symbolicDim;
      if (typeof d === 'string' && d) symbols.set(d, v);
      return v;
    });
    result.set(info.name, dims);
  }
  return result;
}

// ---------------------------------------------------------------------------
// Deterministic input generation

function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function fnv1a32(str) {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(str, 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Fills a tensor of `type` and `dims` with values from a PRNG seeded by
 * (seed, name), so an input's values do not depend on the other inputs.
 */
function generateTensor(type, dims, seed, name, opts = {}) {
  const info = dtypeInfo(type);
  const n = numElements(dims);
  const rng = mulberry32((seed ^ fnv1a32(name)) >>> 0);
  const lo = opts.floatLow === undefined ? DEFAULTS.floatLow : opts.floatLow;
  const hi = opts.floatHigh === undefined ? DEFAULTS.floatHigh : opts.floatHigh;
  const intHigh = opts.intHigh || DEFAULTS.intHigh;
  const data = new info.array(n);
  const unit = () => rng() / 4294967296;
  switch (type) {
    case 'float32':
    case 'float64':
      for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * unit();
      break;
    case 'float16':
      for (let i = 0; i < n; i++) data[i] = floatToHalfBits(lo + (hi - lo) * unit());
      break;
    case 'int64':
    case 'uint64':
      for (let i = 0; i < n; i++) data[i] = BigInt(rng() % intHigh);
      break;
    case 'int32':
    case 'uint32':
    case 'int16':
    case 'uint16':
      for (let i = 0; i < n; i++) data[i] = rng() % intHigh;
      break;
    case 'uint8':
      for (let i = 0; i < n; i++) data[i] = rng() & 0xff;
      break;
    case 'int8':
      for (let i = 0; i < n; i++) data[i] = (rng() & 0xff) - 128;
      break;
    case 'bool':
      for (let i = 0; i < n; i++) data[i] = rng() & 1;
      break;
    default:
      throw new UsageError(`unsupported tensor element type '${type}'`);
  }
  return new ort.Tensor(type, data, dims);
}

/**
 * Builds the feeds for a session: tensors from `opts.provided` (Map name ->
 * Tensor, e.g. read from .npy) are used as given (type and fixed dims are
 * checked); the others are generated from the seed.
 * opts: seed, shapes (Map from parseShapeSpecs), provided, symbolicDim,
 *       strictNames, floatLow, floatHigh, intHigh.
 * Returns { feeds: {name: Tensor}, names: [...] } in the model's input order.
 */
function generateInputs(session, opts = {}) {
  const seed = opts.seed === undefined ? DEFAULTS.seed : opts.seed;
  const infos = inputInfo(session);
  const provided = opts.provided || new Map();
  if (opts.strictNames !== false) {
    for (const name of provided.keys()) {
      if (!infos.some((i) => i.name === name)) {
        throw new UsageError(`input file given for '${name}', but the model's inputs are: ` +
          infos.map((i) => i.name).join(', '));
      }
    }
  }
  // Provided tensors fix their inputs' shapes (and bind symbols for the rest).
  const shapes = new Map(opts.shapes || []);
  for (const [name, t] of provided) {
    if (infos.some((i) => i.name === name)) shapes.set(name, t.dims.slice());
  }
  const dims = resolveShapes(infos, shapes, opts);
  const feeds = {};
  for (const info of infos) {
    const given = provided.get(info.name);
    if (given) {
      if (given.type !== info.type) {
        throw new UsageError(`input '${info.name}' is ${info.type}, the given file holds ${given.type}`);
      }
      feeds[info.name] = given;
    } else {
      feeds[info.name] = generateTensor(info.type, dims.get(info.name), seed, info.name, opts);
    }
  }
  return { feeds, names: infos.map((i) => i.name) };
}

// ---------------------------------------------------------------------------
// Running

/** Runs a session; returns { outputs: [{name, tensor}], ms }. Errors become ModelError. */
async function runSession(session, feeds, modelPath = '(model)') {
  const t0 = process.hrtime.bigint();
  let result;
  try {
    result = await session.run(feeds);
  } catch (err) {
    throw new ModelError(modelPath, 'run', err);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const outputs = session.outputNames.map((name) => ({ name, tensor: result[name] }));
  return { outputs, ms };
}

/**
 * Loads `modelPath`, builds inputs (see generateInputs) and runs it once.
 * Returns { inputs: [{name, tensor}], outputs: [{name, tensor}], ms, loadMs }.
 */
async function runModel(modelPath, opts = {}) {
  const t0 = process.hrtime.bigint();
  const session = await loadSession(modelPath, opts);
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  try {
    let feeds;
    try {
      feeds = generateInputs(session, opts).feeds;
    } catch (err) {
      if (err instanceof UsageError) err.message = `${modelPath}: ${err.message}`;
      throw err;
    }
    const { outputs, ms } = await runSession(session, feeds, modelPath);
    const inputs = session.inputNames.map((name) => ({ name, tensor: feeds[name] }));
    return { inputs, outputs, ms, loadMs };
  } finally {
    await session.release();
  }
}

// ---------------------------------------------------------------------------
// Stats

function sha256Hex(tensor) {
  return crypto.createHash('sha256').update(rawBytes(tensor)).digest('hex');
}

/** { dims, type, elements, sha256, min, max, mean, nan, inf } (NaN/Inf excluded from min/max/mean). */
function tensorStats(tensor) {
  const vals = valuesOf(tensor);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let finite = 0;
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < vals.length; i++) {
    const v = typeof vals[i] === 'bigint' ? Number(vals[i]) : vals[i];
    if (Number.isNaN(v)) { nan++; continue; }
    if (!Number.isFinite(v)) { inf++; continue; }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    finite++;
  }
  return {
    dims: tensor.dims.slice(),
    type: tensor.type,
    elements: vals.length,
    sha256: sha256Hex(tensor),
    min: finite ? min : NaN,
    max: finite ? max : NaN,
    mean: finite ? sum / finite : NaN,
    nan,
    inf,
  };
}

function fmtNum(x) {
  if (typeof x !== 'number') return String(x);
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(7)));
}

/** One line: `NAME dims=.. dtype=.. sha256=<16 hex> min=.. max=.. mean=.. nan=.. inf=..`. */
function formatStats(name, tensor) {
  const s = tensorStats(tensor);
  return `${name} dims=${dimsToString(s.dims)} dtype=${s.type} sha256=${s.sha256.slice(0, 16)} ` +
    `min=${fmtNum(s.min)} max=${fmtNum(s.max)} mean=${fmtNum(s.mean)} nan=${s.nan} inf=${s.inf}`;
}

// ---------------------------------------------------------------------------
// Comparison

/**
 * Compares tensor `a` against reference `b`.
 * Element passes when both are NaN, or |a-b| <= atol + rtol*|b|.
 * With exact, the tensors pass only when their raw bytes are identical.
 * Returns { pass, reason, dtypeA, dtypeB, dimsA, dimsB, elements, bitwise,
 *           maxAbsDiff, maxRelDiff, differing, outOfTolerance, nanMismatch }.
 * differing counts elements whose values differ (NaN == NaN, 0 == -0);
 * maxRelDiff is |a-b|/|b| (Infinity where b == 0 and a != 0).
 */
function compareTensors(a, b, opts = {}) {
  const atol = opts.atol === undefined ? DEFAULTS.atol : opts.atol;
  const rtol = opts.rtol === undefined ? DEFAULTS.rtol : opts.rtol;
  const res = {
    pass: false,
    reason: '',
    dtypeA: a.type,
    dtypeB: b.type,
    dimsA: a.dims.slice(),
    dimsB: b.dims.slice(),
    elements: numElements(b.dims),
    bitwise: false,
    maxAbsDiff: 0,
    maxRelDiff: 0,
    differing: 0,
    outOfTolerance: 0,
    nanMismatch: 0,
  };
  if (a.type !== b.type) {
    res.reason = `dtype ${a.type} vs ${b.type}`;
    return res;
  }
  if (a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) {
    res.reason = `dims ${dimsToString(a.dims)} vs ${dimsToString(b.dims)}`;
    return res;
  }
  res.bitwise = rawBytes(a).equals(rawBytes(b));
  if (!res.bitwise) {
    const va = valuesOf(a);
    const vb = valuesOf(b);
    const big = DTYPES[a.type] && DTYPES[a.type].kind === 'bigint';
    for (let i = 0; i < va.length; i++) {
      const x = va[i];
      const y = vb[i];
      if (x === y) continue;
      let d;
      let ay;
      if (big) {
        d = Number(x > y ? x - y : y - x);
        ay = Math.abs(Number(y));
      } else {
        const xn = Number.isNaN(x);
        const yn = Number.isNaN(y);
        if (xn || yn) {
          if (xn && yn) continue;
          res.differing++;
          res.outOfTolerance++;
          res.nanMismatch++;
          continue;
        }
        d = Math.abs(x - y);
        ay = Math.abs(y);
      }
      res.differing++;
      const rel = ay === 0 ? Infinity : d / ay;
      if (d > res.maxAbsDiff) res.maxAbsDiff = d;
      if (rel > res.maxRelDiff) res.maxRelDiff = rel;
      if (!(d <= atol + rtol * ay)) res.outOfTolerance++;
    }
  }
  if (opts.exact) {
    res.pass = res.bitwise;
    if (!res.pass) res.reason = 'bytes differ';
  } else {
    res.pass = res.outOfTolerance === 0;
    if (!res.pass) res.reason = `${res.outOfTolerance} elements out of tolerance`;
  }
  return res;
}

/**
 * Pairs outputs of A with outputs of B: first by equal name, then the
 * remaining ones by their order. Returns { pairs: [{a, b, byPosition}], unmatchedA, unmatchedB }.
 */
function matchOutputs(outsA, outsB) {
  const namesB = new Set(outsB.map((o) => o.name));
  const namesA = new Set(outsA.map((o) => o.name));
  const pairs = [];
  for (const a of outsA) {
    if (namesB.has(a.name)) pairs.push({ a, b: outsB.find((o) => o.name === a.name), byPosition: false });
  }
  const restA = outsA.filter((o) => !namesB.has(o.name));
  const restB = outsB.filter((o) => !namesA.has(o.name));
  const n = Math.min(restA.length, restB.length);
  for (let i = 0; i < n; i++) pairs.push({ a: restA[i], b: restB[i], byPosition: true });
  return { pairs, unmatchedA: restA.slice(n), unmatchedB: restB.slice(n) };
}

/** Compares two output lists; returns { pass, results: [{nameA, nameB, byPosition, ...compareTensors}], unmatchedA, unmatchedB }. */
function compareOutputs(outsA, outsB, opts = {}) {
  const { pairs, unmatchedA, unmatchedB } = matchOutputs(outsA, outsB);
  const results = pairs.map(({ a, b, byPosition }) => ({
    nameA: a.name,
    nameB: b.name,
    byPosition,
    ...compareTensors(a.tensor, b.tensor, opts),
  }));
  const pass = results.every((r) => r.pass) && unmatchedA.length === 0 && unmatchedB.length === 0;
  return {
    pass,
    results,
    unmatchedA: unmatchedA.map((o) => o.name),
    unmatchedB: unmatchedB.map((o) => o.name),
  };
}

/**
 * Feeds for model B built from A's feeds: by name where B's input exists in
 * A, otherwise by position when both models have the same number of inputs.
 */
function feedsForB(sessionB, feedsA, namesA, pathB) {
  const feeds = {};
  sessionB.inputNames.forEach((name, i) => {
    if (Object.prototype.hasOwnProperty.call(feedsA, name)) {
      feeds[name] = feedsA[name];
    } else if (namesA.length === sessionB.inputNames.length) {
      feeds[name] = feedsA[namesA[i]];
    } else {
      throw new UsageError(`${pathB}: input '${name}' matches no input of the first model (${namesA.join(', ')})`);
    }
  });
  return feeds;
}

/**
 * Runs models A and B on the same inputs (generated from A's input metadata
 * and opts.seed, or provided) and compares their outputs.
 * opts: seed, shapes, provided, optLevel, threads, atol, rtol, exact, and for
 *       checking the checker: seedB (generate B's inputs with another seed),
 *       optLevelB (load B with another optimization level).
 * Returns { pass, results, unmatchedA, unmatchedB, inputs: [{name, tensor}],
 *           outputsA, outputsB, msA, msB }.
 * Throws UsageError / ModelError (which names the file) when something cannot run.
 */
async function compareModels(pathA, pathB, opts = {}) {
  const sessionA = await loadSession(pathA, opts);
  let sessionB;
  try {
    sessionB = await loadSession(pathB, { ...opts, optLevel: opts.optLevelB || opts.optLevel });
    let gen;
    try {
      gen = generateInputs(sessionA, opts);
    } catch (err) {
      if (err instanceof UsageError) err.message = `${pathA}: ${err.message}`;
      throw err;
    }
    let feedsB;
    if (opts.seedB !== undefined) {
      try {
        feedsB = generateInputs(sessionB, { ...opts, seed: opts.seedB, strictNames: false }).feeds;
      } catch (err) {
        if (err instanceof UsageError) err.message = `${pathB}: ${err.message}`;
        throw err;
      }
    } else {
      feedsB = feedsForB(sessionB, gen.feeds, gen.names, pathB);
    }
    const runA = await runSession(sessionA, gen.feeds, pathA);
    const runB = await runSession(sessionB, feedsB, pathB);
    const cmp = compareOutputs(runA.outputs, runB.outputs, opts);
    return {
      ...cmp,
      inputs: gen.names.map((name) => ({ name, tensor: gen.feeds[name] })),
      outputsA: runA.outputs,
      outputsB: runB.outputs,
      msA: runA.ms,
      msB: runB.ms,
    };
  } finally {
    await sessionA.release();
    if (sessionB) await sessionB.release();
  }
}

/** One line describing a compareOutputs result entry. */
function formatCompareResult(r, index) {
  const names = r.nameA === r.nameB ? r.nameA : `${r.nameA} <-> ${r.nameB}${r.byPosition ? ' (by position)' : ''}`;
  const head = `output[${index}] ${names}:`;
  if (r.reason && (r.reason.startsWith('dtype') || r.reason.startsWith('dims'))) {
    return `${head} FAIL ${r.reason}`;
  }
  return `${head} dims=${dimsToString(r.dimsB)} dtype=${r.dtypeB} max_abs=${fmtNum(r.maxAbsDiff)} ` +
    `max_rel=${fmtNum(r.maxRelDiff)} differing=${r.differing}/${r.elements} ` +
    `out_of_tol=${r.outOfTolerance} nan_mismatch=${r.nanMismatch} bitwise=${r.bitwise ? 'yes' : 'no'} ` +
    `${r.pass ? 'PASS' : `FAIL ${r.reason}`}`;
}

// ---------------------------------------------------------------------------
// .npy files (format versions 1.0 / 2.0 / 3.0; C order; any byte order on read)

function npyHeaderShape(dims) {
  if (dims.length === 0) return '()';
  if (dims.length === 1) return `(${dims[0]},)`;
  return `(${dims.join(', ')})`;
}

/** Serializes a Tensor to .npy bytes (little-endian, C order). */
function encodeNpy(tensor) {
  const info = dtypeInfo(tensor.type);
  const descr = info.size === 1 ? `|${info.npy}` : `<${info.npy}`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${npyHeaderShape(tensor.dims)}, }`;
  let version = 1;
  let prefix = 10;
  if (header.length + 1 + prefix > 65535) { version = 2; prefix = 12; }
  const pad = (64 - ((prefix + header.length + 1) % 64)) % 64;
  header = header + ' '.repeat(pad) + '\n';
  const head = Buffer.alloc(prefix);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = version;
  head[7] = 0;
  if (version === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  if (os.endianness() !== 'LE') throw new Error('big-endian hosts are not supported');
  return Buffer.concat([head, Buffer.from(header, 'latin1'), rawBytes(tensor)]);
}

/** Parses .npy bytes into an ort.Tensor. */
function decodeNpy(buf, where = '.npy data') {
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') {
    throw new UsageError(`${where}: not a .npy file`);
  }
  const major = buf[6];
  let hlen;
  let off;
  if (major === 1) { hlen = buf.readUInt16LE(8); off = 10; } else if (major === 2 || major === 3) {
    hlen = buf.readUInt32LE(8); off = 12;
  } else {
    throw new UsageError(`${where}: unsupported .npy version ${major}`);
  }
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', off, off + hlen);
  const descrM = /'descr'\s*:\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const fortranM = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descrM || !fortranM || !shapeM) throw new UsageError(`${where}: bad .npy header ${JSON.stringify(header)}`);
  const type = NPY_TO_DTYPE[descrM[2]];
  if (!type) throw new UsageError(`${where}: unsupported .npy dtype '${descrM[1]}${descrM[2]}'`);
  const dims = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new UsageError(`${where}: bad shape in header`);
  if (fortranM[1] === 'True' && dims.filter((d) => d > 1).length > 1) {
    throw new UsageError(`${where}: Fortran-order arrays are not supported`);
  }
  const info = DTYPES[type];
  const n = numElements(dims);
  const start = off + hlen;
  const nbytes = n * info.size;
  if (buf.length - start < nbytes) throw new UsageError(`${where}: truncated data (${buf.length - start} of ${nbytes} bytes)`);
  const bytes = Buffer.from(buf.subarray(start, start + nbytes)); // copy: aligned, owned
  if (descrM[1] === '>' && info.size > 1) {
    if (info.size === 2) bytes.swap16();
    else if (info.size === 4) bytes.swap32();
    else bytes.swap64();
  }
  const data = new info.array(bytes.buffer, bytes.byteOffset, n);
  return new ort.Tensor(type, data, dims);
}

function writeNpy(file, tensor) {
  fs.writeFileSync(file, encodeNpy(tensor));
}

function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read '${file}': ${err.message}`);
  }
  return decodeNpy(buf, file);
}

/** File-name-safe form of a tensor name. */
function safeName(name) {
  return String(name).replace(/[^A-Za-z0-9._-]/g, '_') || '_';
}

/**
 * Writes DIR/inputs/*.npy, DIR/outputs/*.npy and DIR/manifest.json
 * ({model, seed, optLevel, inputs: [{name, file, dtype, dims, sha256}], outputs: [...]}).
 */
function writeRunDir(dir, run, meta = {}) {
  const manifest = { ...meta, inputs: [], outputs: [] };
  for (const kind of ['inputs', 'outputs']) {
    const sub = path.join(dir, kind);
    fs.mkdirSync(sub, { recursive: true });
    const used = new Set();
    for (const { name, tensor } of run[kind]) {
      let base = safeName(name);
      for (let k = 1; used.has(base); k++) base = `${safeName(name)}.${k}`;
      used.add(base);
      const file = `${kind}/${base}.npy`;
      writeNpy(path.join(dir, file), tensor);
      manifest[kind].push({ name, file, dtype: tensor.type, dims: tensor.dims.slice(), sha256: sha256Hex(tensor) });
    }
  }
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/**
 * Tensors to feed, from `--input=NAME:FILE.npy` values and/or a run directory
 * written by writeRunDir (its manifest's inputs). Returns Map name -> Tensor.
 */
function loadProvidedInputs(inputSpecs = [], inputsDir) {
  const out = new Map();
  if (inputsDir) {
    const mf = path.join(inputsDir, 'manifest.json');
    let manifest;
    try {
      manifest = JSON.parse(fs.readFileSync(mf, 'utf8'));
    } catch (err) {
      throw new UsageError(`cannot read '${mf}': ${err.message}`);
    }
    for (const e of manifest.inputs || []) out.set(e.name, readNpy(path.join(inputsDir, e.file)));
  }
  for (const spec of [].concat(inputSpecs || [])) {
    const colon = spec.indexOf(':');
    if (colon <= 0) throw new UsageError(`bad --input '${spec}' (want NAME:FILE.npy)`);
    out.set(spec.slice(0, colon), readNpy(spec.slice(colon + 1)));
  }
  return out;
}

// ---------------------------------------------------------------------------
// CLI helpers

function parseIntOpt(name, v, min = 0) {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > 0xffffffff) {
    throw new UsageError(`bad --${name}=${v} (want an integer >= ${min})`);
  }
  return Number(v);
}

function parseFloatOpt(name, v) {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < 0) throw new UsageError(`bad --${name}=${v} (want a number >= 0)`);
  return x;
}

/** Options shared by the CLIs, as node:util parseArgs option specs. */
const COMMON_CLI_OPTIONS = {
  'input-shape': { type: 'string', multiple: true },
  input: { type: 'string', multiple: true },
  'inputs-dir': { type: 'string' },
  seed: { type: 'string' },
  'opt-level': { type: 'string' },
  threads: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/**
 * Parses a CLI's argv (positionals allowed) with `options` (node:util
 * parseArgs specs; most CLIs pass {...COMMON_CLI_OPTIONS, ...their own});
 * a parse error becomes a UsageError that asks for the usage text.
 * Returns { values, positionals }.
 */
function parseCliArgs(argv, options) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options });
  } catch (err) {
    throw Object.assign(new UsageError(err.message), { showUsage: true });
  }
}

/** Turns parsed common CLI values into lib options. */
function commonOptsFromCli(values) {
  const optLevel = values['opt-level'];
  if (optLevel !== undefined && !OPT_LEVELS.includes(optLevel)) {
    throw new UsageError(`bad --opt-level=${optLevel} (one of ${OPT_LEVELS.join(', ')})`);
  }
  return {
    shapes: parseShapeSpecs(values['input-shape'] || []),
    provided: loadProvidedInputs(values.input || [], values['inputs-dir']),
    seed: parseIntOpt('seed', values.seed),
    optLevel,
    threads: parseIntOpt('threads', values.threads, 1),
  };
}

/**
 * Runs a CLI's async main(argv) and maps its outcome to the exit code: the
 * code it returns, or 2 with one "PREFIX: ERROR ..." line on stdout for an
 * error (the usage text on stderr when a UsageError asks for it).
 */
function runCli(prefix, usage, main) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => {
      if (err instanceof UsageError && err.showUsage) console.error(usage);
      const known = err instanceof UsageError || err instanceof ModelError;
      console.log(`${prefix}: ERROR ${oneLine(known ? err.message : (err && err.stack ? err.stack : err))}`);
      process.exitCode = 2;
    },
  );
}

/**
 * The qopt-opt the Node tools run: `explicit` (their --qopt-opt=), else
 * $QOPT_OPT, else the build's. Throws UsageError when it is not executable.
 */
function resolveQoptOpt(explicit) {
  const p = explicit || process.env.QOPT_OPT || path.join(__dirname, '..', '..', 'build', 'tools', 'qopt-opt', 'qopt-opt');
  try {
    fs.accessSync(p, fs.constants.X_OK);
  } catch {
    throw new UsageError(`qopt-opt not found at '${p}' (build qopt, or give --qopt-opt=PATH or set QOPT_OPT)`);
  }
  return p;
}

module.exports = {
  ort,
  runCli,
  resolveQoptOpt,
  parseCliArgs,
  DEFAULTS,
  OPT_LEVELS,
  DTYPES,
  UsageError,
  ModelError,
  oneLine,
  loadSession,
  inputInfo,
  parseShapeSpecs,
  resolveShapes,
  mulberry32,
  generateTensor,
  generateInputs,
  runSession,
  runModel,
  tensorStats,
  formatStats,
  fmtNum,
  dimsToString,
  compareTensors,
  matchOutputs,
  compareOutputs,
  compareModels,
  formatCompareResult,
  floatToHalfBits,
  halfBitsToFloat,
  encodeNpy,
  decodeNpy,
  writeNpy,
  readNpy,
  writeRunDir,
  loadProvidedInputs,
  parseIntOpt,
  parseFloatOpt,
  COMMON_CLI_OPTIONS,
  commonOptsFromCli,
};
