'use strict';
// Calibration for static quantization: statistics accumulators (min/max,
// per-channel absolute max, histograms for percentile ranges), loaders for
// calibration inputs (.npy, ONNX TensorProto .pb, PNG/JPEG images), the
// calib.json document (schema "qopt-calib/1", docs/calibration.md), the
// conversion of ONNX Runtime calibration tables, and calibrate(), which runs
// a model in ONNX Runtime with its intermediate tensors exposed in batches by
// qopt-opt's expose-tensors pass. The CLI is calibrate.js.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');
const lib = require('./lib');

const { ort, UsageError } = lib;

const SCHEMA = 'qopt-calib/1';
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const DEFAULT_QOPT_OPT = path.join(REPO_ROOT, 'build', 'tools', 'qopt-opt', 'qopt-opt');

const CALIB_DEFAULTS = Object.freeze({
  batchSize: 128,
  bins: 4096,
  optLevel: 'disabled',
  // Decoded samples are kept in memory between batches up to this many bytes;
  // past it they are read again for every batch.
  cacheBytes: 256 * 1024 * 1024,
  types: ['float'],
  methodBits: 8,
});

/**
 * Bad calibration input: a missing or unreadable file, a wrong shape, a NaN
 * range, a tensor the model does not have. The CLI prints the message (one
 * line, naming the file or tensor) and exits 2.
 */
class CalibrationError extends Error {
  constructor(message) {
    super(message);
    this.name = 'CalibrationError';
  }
}

// ---------------------------------------------------------------------------
// Statistics

/**
 * The channel axis of an activation: axis 1 for rank >= 4 (NCHW, NCDHW) and
 * for rank-3 tensors read by convolution-like ops (NCL); the last axis for
 * rank 2 and the other rank-3 tensors (MatMul/Gemm activations [.., T, K]).
 * Returns {axis, rule} or null for rank < 2.
 */
// What qopt's op-traits table (ir/op_traits.def) says about ops, asked of
// qopt-opt once (`--list-op-traits=json`): op type -> its trait names.
let opTraitTable = null;
function opsWithTrait(trait) {
  if (opTraitTable === null) {
    const r = spawnSync(resolveQoptOpt(), ['--list-op-traits=json'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    if (r.error || r.status !== 0) {
      throw new CalibrationError(`qopt-opt --list-op-traits=json failed: ${r.error ? r.error.message : r.stderr.trim()}`);
    }
    opTraitTable = JSON.parse(r.stdout).ops;
  }
  return new Set(opTraitTable.filter((op) => op.traits.includes(trait)).map((op) => op.op));
}

// The ops that read NCHW data: `channels-first` in the op-traits table.
let channelsFirstOps = null;
function channelsFirstConsumers() {
  if (channelsFirstOps === null) channelsFirstOps = opsWithTrait('channels-first');
  return channelsFirstOps;
}

function channelAxis(rank, consumers = []) {
  if (rank >= 4) return { axis: 1, rule: 'channels-first' };
  if (rank === 3) {
    if (consumers.some((c) => channelsFirstConsumers().has(c))) return { axis: 1, rule: 'channels-first' };
    return { axis: 2, rule: 'channels-last' };
  }
  if (rank === 2) return { axis: 1, rule: 'channels-last' };
  return null;
}

/**
 * A histogram of values over [-R, R) in `bins` equal bins, R a power of two
 * that doubles (merging neighbouring bins) whenever a value falls outside.
 * Symmetric around 0, so the histogram of |x| is the two halves folded.
 */
class Histogram {
  constructor(bins = CALIB_DEFAULTS.bins) {
    if (!Number.isInteger(bins) || bins < 8 || bins % 4 !== 0) {
      throw new UsageError(`bad histogram bin count ${bins} (want a multiple of 4, >= 8)`);
    }
    this.bins = bins;
    this.counts = new Float64Array(bins);
    this.range = 0; // R; 0 until a non-zero value was seen
    this.zeros = 0; // zeros seen while range == 0
    this.total = 0;
  }

  /** Grows the range to cover |x| <= absmax. */
  cover(absmax) {
    if (!(absmax > 0)) return;
    if (this.range === 0) {
      let r = 2 ** Math.ceil(Math.log2(absmax));
      if (r < absmax) r *= 2;
      if (r === absmax) r *= 2; // values equal to R must fall inside [-R, R)
      this.range = r;
      if (this.zeros) this.counts[this.bins / 2] += this.zeros;
      this.zeros = 0;
      return;
    }
    const n = this.bins;
    while (absmax >= this.range) {
      const merged = new Float64Array(n);
      for (let i = 0; i < n; i++) merged[n / 4 + (i >> 1)] += this.counts[i];
      this.counts = merged;
      this.range *= 2;
    }
  }

  /** Adds finite values (the caller has checked there is no NaN/Inf unless `checkFinite`). */
  add(data, absmax, checkFinite = false) {
    this.cover(absmax);
    const n = this.bins;
    if (this.range === 0) {
      // Only zeros so far (or nothing finite).
      for (let i = 0; i < data.length; i++) if (data[i] === 0) { this.zeros++; this.total++; }
      return;
    }
    const r = this.range;
    const scale = n / (2 * r);
    const counts = this.counts;
    let added = 0;
    if (checkFinite) {
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (!Number.isFinite(v)) continue;
        let k = Math.floor((v + r) * scale);
        if (k >= n) k = n - 1; else if (k < 0) k = 0;
        counts[k]++;
        added++;
      }
    } else {
      for (let i = 0; i < data.length; i++) {
        let k = Math.floor((data[i] + r) * scale);
        if (k >= n) k = n - 1; else if (k < 0) k = 0;
        counts[k]++;
      }
      added = data.length;
    }
    this.total += added;
  }

  /** Value at quantile q in [0, 1] of the values, interpolated inside its bin. */
  quantile(q) {
    if (this.total === 0) return NaN;
    if (this.range === 0) return 0;
    const w = (2 * this.range) / this.bins;
    return quantileOf(this.counts, this.total, q, -this.range, w);
  }

  /** Value at quantile q of |values|. */
  absQuantile(q) {
    if (this.total === 0) return NaN;
    if (this.range === 0) return 0;
    const half = this.bins / 2;
    const folded = new Float64Array(half);
    for (let j = 0; j < half; j++) folded[j] = this.counts[half + j] + this.counts[half - 1 - j];
    const w = this.range / half;
    return quantileOf(folded, this.total, q, 0, w);
  }
}

function quantileOf(counts, total, q, low, width) {
  const target = Math.min(Math.max(q, 0), 1) * total;
  let cum = 0;
  let last = -1;
  for (let k = 0; k < counts.length; k++) {
    const c = counts[k];
    if (c === 0) continue;
    last = k;
    if (cum + c >= target) {
      const frac = c > 0 ? (target - cum) / c : 0;
      return low + (k + frac) * width;
    }
    cum += c;
  }
  return low + (last + 1) * width;
}

// ---------------------------------------------------------------------------
// Range methods on a histogram: entropy (KL divergence, as TensorRT's and ONNX
// Runtime's entropy calibration) and MinMSE, plus the per-tensor choice.

const RANGE_METHODS = ['entropy', 'mse'];
const CHOICES = ['minmax', 'percentile', 'entropy', 'mse', 'auto'];
// auto keeps min/max for tensors whose histogram has at most this many
// occupied bins (few distinct values: masks, one-hot, constant-like tensors).
const AUTO_FEW_BINS = 16;
// auto never takes a range narrower than this fraction of the min/max span.
const AUTO_MIN_SPAN = 1 / 16;

// Entropy thresholds that would clip more than this fraction of the values
// are not candidates: KL compares shapes, not values, so where |x| has
// little mass near 0 it can rate a threshold that folds most values into one
// spike bin as a perfect match (measured on cls: SE-block HardSigmoid gates
// in [0.15, 0.34] cut to the constant 0.15).
const ENTROPY_MAX_CLIPPED = 1e-3;

const xlogx = (x) => (x > 0 ? x * Math.log(x) : 0);

/** Folded counts of |x|: bin j covers [j·w, (j+1)·w), w = R / (bins/2). */
function foldedCounts(h) {
  const half = h.bins / 2;
  const folded = new Float64Array(half);
  for (let j = 0; j < half; j++) folded[j] = h.counts[half + j] + h.counts[half - 1 - j];
  return folded;
}

/**
 * Entropy calibration: the threshold t minimizing KL(P || Q), P the |x|
 * histogram cut at t with the mass beyond t added to its last bin, Q the cut
 * histogram (without that mass) merged into `levels` groups of bins — the
 * bin holding 0 alone, the others in `levels - 1` equal groups — and spread
 * back evenly over each group's bins where P is non-zero. Candidates are the
 * bin edges from `levels` bins up to the bin holding the absolute maximum
 * that clip at most ENTROPY_MAX_CLIPPED of the values; the first minimum wins. Each candidate costs O(levels) with prefix sums.
 * Returns {t, kl} (t = absmax when there are fewer occupied bins than levels).
 */
function entropyThreshold(h, absmax, levels) {
  const f = foldedCounts(h);
  const half = f.length;
  const w = h.range / half;
  const used = Math.min(half, Math.floor(absmax / w) + 1);
  if (used <= levels) return { t: absmax, kl: 0 };
  const S = new Float64Array(used + 1); // counts before bin k
  const HL = new Float64Array(used + 1); // sum of c·ln c before bin k
  const NZ = new Float64Array(used + 1); // non-zero bins before bin k
  for (let k = 0; k < used; k++) {
    S[k + 1] = S[k] + f[k];
    HL[k + 1] = HL[k] + xlogx(f[k]);
    NZ[k + 1] = NZ[k] + (f[k] > 0 ? 1 : 0);
  }
  const T = S[used];
  const lnT = Math.log(T);
  const EPS = 1e-12;
  let best = Infinity;
  let bestI = used;
  for (let i = levels; i <= used; i++) {
    const kept = S[i];
    const outliers = T - kept;
    if (kept === 0 || outliers > ENTROPY_MAX_CLIPPED * T) continue;
    let kl = 0;
    for (let j = 0; j < levels; j++) {
      // Group 0 is the bin holding 0 alone: the quantizer represents 0
      // exactly (the zero point), so the spike of exact zeros after Relu or
      // padding is not smeared over a group (which would favour small t).
      const a = j === 0 ? 0 : 1 + Math.floor(((j - 1) * (i - 1)) / (levels - 1));
      const b = j === 0 ? 1 : 1 + Math.floor((j * (i - 1)) / (levels - 1));
      const qCount = S[b] - S[a];
      let pMass = qCount;
      let plnp = HL[b] - HL[a];
      let nz = NZ[b] - NZ[a];
      if (j === levels - 1 && outliers > 0) {
        const last = f[i - 1];
        pMass += outliers;
        plnp += xlogx(last + outliers) - xlogx(last);
        if (last === 0) nz += 1;
      }
      if (pMass === 0) continue;
      let q = qCount > 0 ? qCount / nz / kept : 0; // normalized Q of each non-zero bin
      if (q < EPS) q = EPS;
      // sum over the group of p·ln(p / q), p = count / T
      kl += plnp / T - (pMass / T) * lnT - (pMass / T) * Math.log(q);
    }
    if (kl < best) {
      best = kl;
      bestI = i;
    }
  }
  return { t: Math.min(bestI * w, absmax), kl: best };
}

/**
 * Prefix sums of the signed histogram over bin centres: C (counts), M1
 * (count·x), M2 (count·x²); index k sums bins [0, k).
 */
function histogramMoments(h) {
  const n = h.bins;
  const w = (2 * h.range) / n;
  const C = new Float64Array(n + 1);
  const M1 = new Float64Array(n + 1);
  const M2 = new Float64Array(n + 1);
  for (let k = 0; k < n; k++) {
    const c = h.counts[k];
    const x = -h.range + (k + 0.5) * w;
    C[k + 1] = C[k] + c;
    M1[k + 1] = M1[k] + c * x;
    M2[k + 1] = M2[k] + c * x * x;
  }
  return { n, w, C, M1, M2 };
}

/**
 * Expected squared error of quantizing the histogram's values to `levels`
 * uniform levels over [lo, hi] (lo <= 0 <= hi), per value: values outside
 * are clipped ((x - lo)² or (x - hi)²), values inside get the rounding error
 * Δ²/12, Δ = (hi - lo) / (levels - 1). Bins are taken at their centres.
 */
function histogramMse(h, lo, hi, levels, mom = histogramMoments(h)) {
  const { n, w, C, M1, M2 } = mom;
  if (h.total === 0) return NaN;
  if (h.range === 0) return 0;
  const total = C[n];
  // first bin whose centre is >= lo, first bin whose centre is > hi
  const a = Math.min(n, Math.max(0, Math.ceil((lo + h.range) / w - 0.5)));
  const b = Math.min(n, Math.max(0, Math.floor((hi + h.range) / w - 0.5) + 1));
  return mseFromMoments(mom, a, b, lo, hi, levels) / total;
}

function mseFromMoments({ n, C, M1, M2 }, a, b, lo, hi, levels) {
  const below = M2[a] - 2 * lo * M1[a] + lo * lo * C[a];
  const above = (M2[n] - M2[b]) - 2 * hi * (M1[n] - M1[b]) + hi * hi * (C[n] - C[b]);
  const step = (hi - lo) / (levels - 1);
  return below + above + (C[b] - C[a]) * (step * step) / 12;
}

/**
 * MinMSE: the range [lo, hi] (bin edges, lo <= 0 <= hi) minimizing
 * histogramMse over every pair of edges between the bins holding min and max
 * (O(1) per pair with prefix sums); past about 250k pairs, a grid of every
 * s-th edge first, then every edge within s of its best pair. The first
 * minimum wins. Returns {lo, hi, mse}.
 */
function mseRange(h, min, max, levels) {
  const mom = histogramMoments(h);
  const { n, w, C } = mom;
  const z = n / 2; // edge index of 0
  const edge = (k) => -h.range + k * w;
  const aMin = Math.min(z, Math.max(0, Math.floor((min + h.range) / w)));
  const bMax = Math.max(z, Math.min(n, Math.floor((max + h.range) / w) + 1));
  const total = C[n];
  let best = Infinity;
  let bestA = aMin;
  let bestB = bMax;
  const tryPair = (a, b) => {
    if (b <= a) return;
    const e = mseFromMoments(mom, a, b, edge(a), edge(b), levels);
    if (e < best) {
      best = e;
      bestA = a;
      bestB = b;
    }
  };
  const pairs = (z - aMin + 1) * (bMax - z + 1);
  const s = Math.max(1, Math.ceil(Math.sqrt(pairs / 250000)));
  for (let a = z; a >= aMin; a -= s) for (let b = z; b <= bMax; b += s) tryPair(a, b);
  tryPair(aMin, bMax);
  if (s > 1) {
    const a0 = bestA;
    const b0 = bestB;
    for (let a = Math.min(z, a0 + s); a >= Math.max(aMin, a0 - s); a--) {
      for (let b = Math.max(z, b0 - s); b <= Math.min(bMax, b0 + s); b++) tryPair(a, b);
    }
  }
  return { lo: edge(bestA), hi: edge(bestB), mse: best / total };
}

/** Estimated SQNR in dB of quantizing the histogram to `levels` levels over [lo, hi]. */
function histogramSqnr(h, lo, hi, levels, mom = histogramMoments(h)) {
  const { n, C, M2 } = mom;
  if (!(C[n] > 0)) return null;
  const power = M2[n] / C[n];
  const err = histogramMse(h, Math.min(lo, 0), Math.max(hi, 0), levels, mom);
  if (err === 0) return power === 0 ? null : Infinity;
  return 10 * Math.log10(power / err);
}

/** Occupied bins of a histogram (a proxy for the number of distinct values). */
function occupiedBins(h) {
  if (h.range === 0) return h.total > 0 ? 1 : 0;
  let k = 0;
  for (let i = 0; i < h.bins; i++) if (h.counts[i] > 0) k++;
  return k;
}

const rangeEntry = (lo, hi, extra = {}) => ({ min: lo, max: hi, absmax: Math.max(Math.abs(lo), Math.abs(hi)), ...extra });

/** Fraction of the histogram's values in bins wholly outside [lo, hi] (a lower bound of the clipped fraction). */
function clippedFraction(h, lo, hi) {
  if (h.total === 0 || h.range === 0) return 0;
  const w = (2 * h.range) / h.bins;
  let out = 0;
  for (let k = 0; k < h.bins; k++) {
    const a = -h.range + k * w;
    if (a + w <= lo || a > hi) out += h.counts[k];
  }
  return out / h.total;
}

/**
 * The entropy range of a tensor with finite values in [min, max], for
 * `bits`-bit asymmetric quantization: a one-signed tensor (min >= 0 or
 * max <= 0, e.g. after Relu) spends all 2^bits levels on one side, so the
 * KL threshold of |x| uses 2^bits levels and the range is [min, t] (or
 * [-t, max]); a two-signed tensor uses TensorRT's symmetric form, 2^(bits-1)
 * levels for |x|, and the range [max(min, -t), min(max, t)].
 */
function entropyRange(h, min, max, bits) {
  const absmax = Math.max(-min, max);
  const oneSided = min >= 0 || max <= 0;
  const levels = oneSided ? 2 ** bits : 2 ** (bits - 1);
  if (h.range === 0 || absmax === 0) return rangeEntry(min, max, { levels, clipped: 0 });
  const { t } = entropyThreshold(h, absmax, levels);
  const lo = Math.max(min, -t);
  const hi = Math.min(max, t);
  return rangeEntry(lo, hi, { levels, clipped: clippedFraction(h, lo, hi) });
}

/** The MinMSE range for asymmetric `bits`-bit quantization, clamped to [min, max]. */
function minMseRange(h, min, max, bits) {
  const levels = 2 ** bits;
  if (h.range === 0 || min === max) return rangeEntry(min, max, { levels, clipped: 0 });
  const r = mseRange(h, min, max, levels);
  const lo = Math.max(min, r.lo);
  const hi = Math.min(max, r.hi);
  return rangeEntry(lo, hi, { levels, clipped: clippedFraction(h, lo, hi) });
}

/**
 * The per-tensor choice of `--choose=auto` (docs/calibration.md):
 *  1. graph inputs keep min/max (the preprocessing bounds them);
 *  2. outputs of bounded ops (trait `bounded`: Sigmoid, Tanh, Softmax) keep
 *     min/max, and so do tensors read, directly or through data movement,
 *     by an op whose result hangs on its largest inputs (trait
 *     `top-decides`: Softmax, LogSoftmax, ArgMax, TopK; `ctx.decides` names it);
 *  3. tensors with at most AUTO_FEW_BINS occupied histogram bins keep min/max;
 *  4. otherwise the candidate (minmax, percentile, entropy, mse, those
 *     computed) with the highest estimated SQNR on the histogram for
 *     `bits`-bit asymmetric quantization, among those whose span is at least
 *     AUTO_MIN_SPAN of the min/max span; the first in that order on a tie.
 * Returns {method, reason}.
 */
function autoChoice(entry, h, ctx) {
  if (entry.kind === 'input') return { method: 'minmax', reason: 'graph input' };
  if (entry.op_type && ctx.bounded.has(entry.op_type)) {
    return { method: 'minmax', reason: `output of bounded op ${entry.op_type}` };
  }
  if (ctx.decides) return { method: 'minmax', reason: `read by ${ctx.decides}: its largest values decide` };
  const occupied = occupiedBins(h);
  if (occupied <= AUTO_FEW_BINS) return { method: 'minmax', reason: `few distinct values (${occupied} histogram bins)` };
  const mom = histogramMoments(h);
  const levels = 2 ** ctx.bits;
  const span = entry.max - entry.min;
  let best = null;
  const scores = [];
  for (const m of ['minmax', 'percentile', 'entropy', 'mse']) {
    const r = m === 'minmax' ? entry : entry[m];
    if (!r || r.min === null) continue;
    const sqnr = histogramSqnr(h, r.min, r.max, levels, mom);
    if (sqnr === null) continue;
    const narrow = r.max - r.min < AUTO_MIN_SPAN * span;
    scores.push(`${m} ${sqnr.toFixed(1)}${narrow ? ' (too narrow)' : ''}`);
    if (!narrow && (best === null || sqnr > best.sqnr)) best = { method: m, sqnr };
  }
  if (best === null) return { method: 'minmax', reason: 'no estimate' };
  return { method: best.method, reason: `highest estimated SQNR, dB: ${scores.join(', ')}` };
}

/** Float values of an ort.Tensor (float16 decoded); throws for other types. */
function floatData(tensor, what) {
  if (tensor.type === 'float32' || tensor.type === 'float64') return tensor.data;
  if (tensor.type === 'float16') {
    const src = tensor.data;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = lib.halfBitsToFloat(src[i]);
    return out;
  }
  throw new CalibrationError(`${what}: element type ${tensor.type} cannot be calibrated (float, float16, double only)`);
}

/**
 * Streaming statistics of one tensor over many samples: min, max, mean,
 * element count, NaN/Inf counts, per-channel absolute max along the axis
 * chosen by channelAxis(), and optionally a histogram for percentiles.
 * Nothing of the tensors themselves is kept.
 */
class TensorStats {
  /**
   * opts: consumers (op types reading the tensor, for the channel axis),
   *       histogram (bins, 0 for none), channels (default true).
   */
  constructor(name, opts = {}) {
    this.name = name;
    this.consumers = opts.consumers || [];
    this.wantChannels = opts.channels !== false;
    this.histogram = opts.histogram ? new Histogram(opts.histogram) : null;
    this.dtype = null;
    this.dims = null; // first sample's dims; entries that vary become null
    this.count = 0;
    this.samples = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.sum = 0;
    this.nan = 0;
    this.inf = 0;
    this.channel = undefined; // {axis, rule, absmax: Float64Array} | null once decided
    this.channelNote = null;
  }

  /** Adds one tensor (an ort.Tensor, or {type, dims, data}). */
  update(tensor) {
    const data = floatData(tensor, `tensor '${this.name}'`);
    const dims = tensor.dims.map(Number);
    if (this.dtype === null) this.dtype = tensor.type;
    if (this.dims === null) {
      this.dims = dims.slice();
    } else if (this.dims.length !== dims.length) {
      throw new CalibrationError(`tensor '${this.name}' changed rank between samples ` +
        `(${lib.dimsToString(this.dims)} vs ${lib.dimsToString(dims)})`);
    } else {
      dims.forEach((d, k) => { if (this.dims[k] !== d) this.dims[k] = null; });
    }
    this.samples++;
    if (this.channel === undefined) {
      const ax = this.wantChannels ? channelAxis(dims.length, this.consumers) : null;
      this.channel = ax ? { ...ax, absmax: new Float64Array(dims[ax.axis]) } : null;
    }
    let outer = 1;
    let channels = 1;
    let inner = data.length;
    let chAbs = null;
    if (this.channel) {
      const a = this.channel.axis;
      if (dims[a] !== this.channel.absmax.length) {
        this.channelNote = `channel count changed between samples (${this.channel.absmax.length} vs ${dims[a]})`;
        this.channel = null;
      } else {
        outer = dims.slice(0, a).reduce((x, y) => x * y, 1);
        channels = dims[a];
        inner = dims.slice(a + 1).reduce((x, y) => x * y, 1);
        chAbs = this.channel.absmax;
      }
    }
    if (chAbs === null) {
      outer = 1;
      channels = 1;
      inner = data.length;
    }

    // One pass: per-channel min and max (one "channel" when there is no
    // channel axis) and the sum, whose finiteness tells NaN/Inf apart.
    const cmin = new Float64Array(channels).fill(Infinity);
    const cmax = new Float64Array(channels).fill(-Infinity);
    let sum = 0;
    if (inner === 1) {
      for (let o = 0, i = 0; o < outer; o++) {
        for (let c = 0; c < channels; c++, i++) {
          const v = data[i];
          sum += v;
          if (v < cmin[c]) cmin[c] = v;
          if (v > cmax[c]) cmax[c] = v;
        }
      }
    } else {
      for (let o = 0; o < outer; o++) {
        for (let c = 0; c < channels; c++) {
          const base = (o * channels + c) * inner;
          let bmn = cmin[c];
          let bmx = cmax[c];
          for (let i = base, end = base + inner; i < end; i++) {
            const v = data[i];
            sum += v;
            if (v < bmn) bmn = v;
            if (v > bmx) bmx = v;
          }
          cmin[c] = bmn;
          cmax[c] = bmx;
        }
      }
    }
    const nonFinite = !Number.isFinite(sum);
    if (nonFinite) {
      // NaN or Inf somewhere (a sum of finite float32 values cannot overflow a
      // double): count them and take the ranges over the finite values only.
      sum = this.slowUpdate(data, outer, channels, inner, cmin, cmax);
    }
    let mn = Infinity;
    let mx = -Infinity;
    for (let c = 0; c < channels; c++) {
      if (cmin[c] < mn) mn = cmin[c];
      if (cmax[c] > mx) mx = cmax[c];
      if (chAbs !== null && cmin[c] <= cmax[c]) {
        const a = Math.max(-cmin[c], cmax[c]);
        if (a > chAbs[c]) chAbs[c] = a;
      }
    }
    this.count += data.length;
    this.sum += sum;
    if (mn < this.min) this.min = mn;
    if (mx > this.max) this.max = mx;
    if (this.histogram) {
      const absmax = mn <= mx ? Math.max(-mn, mx) : 0;
      this.histogram.add(data, absmax, nonFinite);
    }
    return { nan: this.nan, inf: this.inf };
  }

  slowUpdate(data, outer, channels, inner, cmin, cmax) {
    cmin.fill(Infinity);
    cmax.fill(-Infinity);
    let sum = 0;
    for (let o = 0, i = 0; o < outer; o++) {
      for (let c = 0; c < channels; c++) {
        for (let j = 0; j < inner; j++, i++) {
          const v = data[i];
          if (Number.isNaN(v)) { this.nan++; continue; }
          if (!Number.isFinite(v)) { this.inf++; continue; }
          sum += v;
          if (v < cmin[c]) cmin[c] = v;
          if (v > cmax[c]) cmax[c] = v;
        }
      }
    }
    return sum;
  }

  /** The calib.json entry (see docs/calibration.md). */
  toJSON(opts = {}) {
    const finite = this.count - this.nan - this.inf;
    const has = finite > 0;
    const entry = {
      kind: opts.kind || 'activation',
      op_type: opts.opType === undefined ? null : opts.opType,
      dtype: this.dtype,
      dims: this.dims,
      samples: this.samples,
      count: this.count,
      min: has ? this.min : null,
      max: has ? this.max : null,
      absmax: has ? Math.max(Math.abs(this.min), Math.abs(this.max)) : null,
      mean: has ? this.sum / finite : null,
    };
    if (this.nan || this.inf) {
      entry.nan = this.nan;
      entry.inf = this.inf;
    }
    entry.channel = this.channel ? {
      axis: this.channel.axis,
      rule: this.channel.rule,
      absmax: Array.from(this.channel.absmax, (a) => (a === -Infinity || Number.isNaN(a) ? 0 : a)),
    } : null;
    if (this.channelNote) entry.channel_note = this.channelNote;
    if (opts.percentile !== undefined && opts.percentile !== null && this.histogram) {
      const p = opts.percentile;
      const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
      entry.percentile = has ? {
        p,
        min: clamp(this.histogram.quantile((100 - p) / 100), this.min, this.max),
        max: clamp(this.histogram.quantile(p / 100), this.min, this.max),
        absmax: clamp(this.histogram.absQuantile(p / 100), 0, entry.absmax),
      } : { p, min: null, max: null, absmax: null };
    }
    const bits = opts.bits || CALIB_DEFAULTS.methodBits;
    if (this.histogram) {
      for (const m of opts.methods || []) {
        if (!has) entry[m] = { min: null, max: null, absmax: null };
        else if (m === 'entropy') entry.entropy = entropyRange(this.histogram, this.min, this.max, bits);
        else if (m === 'mse') entry.mse = minMseRange(this.histogram, this.min, this.max, bits);
        else throw new UsageError(`unknown range method '${m}' (${RANGE_METHODS.join(', ')})`);
      }
    }
    if (opts.choose) {
      let pick = { method: opts.choose };
      if (opts.choose === 'auto') {
        if (!this.histogram) throw new UsageError('--choose=auto needs the histogram');
        const ctx = { bits, bounded: opts.bounded || new Set(), decides: opts.decides || null };
        pick = has ? autoChoice(entry, this.histogram, ctx)
          : { method: 'minmax', reason: 'no finite values' };
      }
      const r = pick.method === 'minmax' ? entry : entry[pick.method];
      if (!r) throw new UsageError(`--choose=${opts.choose}: tensor '${this.name}' has no ${pick.method} range`);
      entry.choice = { method: pick.method, min: r.min, max: r.max };
      if (pick.reason) entry.choice.reason = pick.reason;
    }
    return entry;
  }
}

// ---------------------------------------------------------------------------
// ONNX TensorProto (.pb) reading and writing: a minimal protobuf codec for
// the fields calibration inputs use.

// TensorProto.DataType -> ORT element type
const ONNX_TO_ORT = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};
const ORT_TO_ONNX = Object.fromEntries(Object.entries(ONNX_TO_ORT).map(([k, v]) => [v, Number(k)]));

class ProtoReader {
  constructor(buf, where) {
    this.buf = buf;
    this.pos = 0;
    this.where = where;
  }

  fail(msg) {
    throw new CalibrationError(`${this.where}: not a valid ONNX TensorProto (${msg} at byte ${this.pos})`);
  }

  done() { return this.pos >= this.buf.length; }

  varint() {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 63n) this.fail('varint too long');
    }
  }

  bytes() {
    const len = Number(this.varint());
    if (this.pos + len > this.buf.length) this.fail('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(wire) {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else this.fail(`unsupported wire type ${wire}`);
    if (this.pos > this.buf.length) this.fail('truncated field');
  }
}

function signed64(v) { return BigInt.asIntN(64, v); }

/** Parses TensorProto bytes into {name, tensor: ort.Tensor}. */
function decodeTensorProto(buf, where = '.pb data') {
  const r = new ProtoReader(buf, where);
  const dims = [];
  let dataType = 0;
  let name = '';
  let raw = null;
  const floats = [];
  const int32s = [];
  const int64s = [];
  const doubles = [];
  const uint64s = [];
  let external = false;
  let segment = false;
  const packedOr = (wire, readOne, sink) => {
    if (wire === 2) {
      const sub = new ProtoReader(r.bytes(), where);
      while (!sub.done()) sink.push(readOne(sub));
    } else {
      sink.push(readOne(r));
    }
  };
  const f32 = (rd) => {
    if (rd.pos + 4 > rd.buf.length) rd.fail('truncated float');
    const v = rd.buf.readFloatLE(rd.pos); rd.pos += 4; return v;
  };
  const f64 = (rd) => {
    if (rd.pos + 8 > rd.buf.length) rd.fail('truncated double');
    const v = rd.buf.readDoubleLE(rd.pos); rd.pos += 8; return v;
  };
  while (!r.done()) {
    const key = Number(r.varint());
    const field = key >>> 3;
    const wire = key & 7;
    switch (field) {
      case 1: packedOr(wire, (rd) => Number(signed64(rd.varint())), dims); break;
      case 2: dataType = Number(r.varint()); break;
      case 3: segment = true; r.skip(wire); break;
      case 4: packedOr(wire, f32, floats); break;
      case 5: packedOr(wire, (rd) => Number(BigInt.asIntN(32, rd.varint())), int32s); break;
      case 7: packedOr(wire, (rd) => signed64(rd.varint()), int64s); break;
      case 8: name = r.bytes().toString('utf8'); break;
      case 9: raw = r.bytes(); break;
      case 10: packedOr(wire, f64, doubles); break;
      case 11: packedOr(wire, (rd) => rd.varint(), uint64s); break;
      case 13: external = true; r.skip(wire); break;
      case 14: if (Number(r.varint()) === 1) external = true; break;
      default: r.skip(wire);
    }
  }
  if (external) throw new CalibrationError(`${where}: tensors with external data are not supported`);
  if (segment) throw new CalibrationError(`${where}: segmented tensors are not supported`);
  const type = ONNX_TO_ORT[dataType];
  if (!type) throw new CalibrationError(`${where}: unsupported TensorProto data_type ${dataType}`);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new CalibrationError(`${where}: negative dimension`);
  const info = lib.DTYPES[type];
  const n = dims.reduce((a, b) => a * b, 1);
  let data;
  if (raw !== null) {
    if (raw.length !== n * info.size) {
      throw new CalibrationError(`${where}: raw_data has ${raw.length} bytes, dims ${lib.dimsToString(dims)} of ` +
        `${type} need ${n * info.size}`);
    }
    const copy = Buffer.from(raw); // aligned and owned
    data = new info.array(copy.buffer, copy.byteOffset, n);
  } else {
    let src;
    if (type === 'float32') src = floats;
    else if (type === 'float64') src = doubles;
    else if (type === 'int64') src = int64s;
    else if (type === 'uint64' || type === 'uint32') src = uint64s;
    else src = int32s; // int32, int16, int8, uint16, uint8, bool, float16 (bits)
    if (src.length !== n) {
      throw new CalibrationError(`${where}: holds ${src.length} values, dims ${lib.dimsToString(dims)} need ${n}`);
    }
    data = new info.array(n);
    for (let i = 0; i < n; i++) data[i] = info.kind === 'bigint' ? BigInt(src[i]) : Number(src[i]);
  }
  return { name, tensor: new ort.Tensor(type, data, dims) };
}

function pbVarint(n) {
  let v = BigInt.asUintN(64, BigInt(n));
  const out = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

function pbField(field, wire, payload) {
  const key = pbVarint((field << 3) | wire);
  if (wire === 2) return Buffer.concat([key, pbVarint(payload.length), payload]);
  return Buffer.concat([key, payload]);
}

/** Serializes an ort.Tensor as TensorProto bytes (dims, data_type, name, raw_data). */
function encodeTensorProto(tensor, name = '') {
  const dataType = ORT_TO_ONNX[tensor.type];
  if (!dataType) throw new UsageError(`cannot write element type ${tensor.type} as a TensorProto`);
  const parts = tensor.dims.map((d) => pbField(1, 0, pbVarint(d)));
  parts.push(pbField(2, 0, pbVarint(dataType)));
  if (name) parts.push(pbField(8, 2, Buffer.from(name, 'utf8')));
  const d = tensor.data;
  parts.push(pbField(9, 2, Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------
// Images

const IMAGE_EXTS = new Set(['.png', '.jpg', '.jpeg']);
const TENSOR_EXTS = new Set(['.npy', '.pb']);

/** Decodes a PNG or JPEG file into {width, height, rgba: Uint8Array}. */
function readImage(file) {
  const buf = readFileOrFail(file);
  const ext = path.extname(file).toLowerCase();
  try {
    if (ext === '.png') {
      const { PNG } = require('pngjs');
      const png = PNG.sync.read(buf);
      return { width: png.width, height: png.height, rgba: png.data };
    }
    const jpeg = require('jpeg-js');
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 2048 });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (err) {
    throw new CalibrationError(`cannot decode image '${file}': ${lib.oneLine(err.message)}`);
  }
}

/** Bilinear resize of an RGBA image (pixel centres aligned, as OpenCV's INTER_LINEAR). */
function resizeRgba(img, width, height) {
  if (img.width === width && img.height === height) return img;
  const out = new Float32Array(width * height * 4);
  const sx = img.width / width;
  const sy = img.height / height;
  const src = img.rgba;
  for (let y = 0; y < height; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    const y0 = Math.min(Math.floor(fy), img.height - 1);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      let fx = (x + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      const x0 = Math.min(Math.floor(fx), img.width - 1);
      const x1 = Math.min(x0 + 1, img.width - 1);
      const wx = fx - x0;
      const o = (y * width + x) * 4;
      for (let c = 0; c < 4; c++) {
        const a = src[(y0 * img.width + x0) * 4 + c];
        const b = src[(y0 * img.width + x1) * 4 + c];
        const d = src[(y1 * img.width + x0) * 4 + c];
        const e = src[(y1 * img.width + x1) * 4 + c];
        out[o + c] = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
      }
    }
  }
  return { width, height, rgba: out };
}

function roundToMultiple(v, m) {
  if (m <= 1) return Math.max(1, Math.round(v));
  return Math.max(m, Math.round(v / m) * m);
}

/**
 * The (height, width) an image is resized to: --image-size if given, else the
 * model input's fixed H/W (or those of --input-shape); a side that is still
 * free follows the image's aspect ratio from the known side, or keeps the
 * image's size; free sides are rounded to a multiple of sizeMultiple.
 */
function targetImageSize(img, known, sizeMultiple = 1) {
  let h = known.height;
  let w = known.width;
  if (h && w) return { height: h, width: w };
  if (h && !w) w = roundToMultiple((img.width * h) / img.height, sizeMultiple);
  else if (w && !h) h = roundToMultiple((img.height * w) / img.width, sizeMultiple);
  else {
    h = roundToMultiple(img.height, sizeMultiple);
    w = roundToMultiple(img.width, sizeMultiple);
  }
  return { height: h, width: w };
}

/**
 * An image file as a float32 tensor [1, C, H, W] (layout 'nchw') or
 * [1, H, W, C] ('nhwc'): value = (pixel * scale - mean[c]) / std[c], channels
 * in `channelOrder` ('rgb' or 'bgr'; C = 1 gives the luma).
 * opts: height, width (fixed sides, see targetImageSize), sizeMultiple,
 *       channels (1 or 3), layout, channelOrder, scale, mean, std.
 */
function imageToTensor(file, opts = {}) {
  const img = readImage(file);
  const { height, width } = targetImageSize(img, { height: opts.height, width: opts.width }, opts.sizeMultiple || 1);
  const rs = resizeRgba(img, width, height);
  const channels = opts.channels || 3;
  const scale = opts.scale === undefined ? 1 / 255 : opts.scale;
  const mean = expand(opts.mean || [0], channels, 'mean');
  const std = expand(opts.std || [1], channels, 'std');
  const order = channels === 1 ? [0] : (opts.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2]);
  const plane = width * height;
  const out = new Float32Array(plane * channels);
  const nhwc = opts.layout === 'nhwc';
  for (let p = 0; p < plane; p++) {
    const r = rs.rgba[p * 4];
    const g = rs.rgba[p * 4 + 1];
    const b = rs.rgba[p * 4 + 2];
    const rgb = [r, g, b];
    for (let c = 0; c < channels; c++) {
      const px = channels === 1 ? 0.299 * r + 0.587 * g + 0.114 * b : rgb[order[c]];
      const v = (px * scale - mean[c]) / std[c];
      if (nhwc) out[p * channels + c] = v; else out[c * plane + p] = v;
    }
  }
  const dims = nhwc ? [1, height, width, channels] : [1, channels, height, width];
  return new ort.Tensor('float32', out, dims);
}

function expand(values, n, what) {
  if (values.length === n) return values;
  if (values.length === 1) return new Array(n).fill(values[0]);
  throw new UsageError(`--${what} has ${values.length} values, the images have ${n} channels`);
}

// ---------------------------------------------------------------------------
// Calibration samples

function readFileOrFail(file) {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const why = err.code === 'ENOENT' ? 'no such file' : lib.oneLine(err.message);
    throw new CalibrationError(`cannot read '${file}': ${why}`);
  }
}

/** Reads one .npy or .pb file: {name (from the TensorProto, else ''), tensor}. */
function readTensorFile(file) {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') {
    try {
      return { name: '', tensor: lib.decodeNpy(readFileOrFail(file), `'${file}'`) };
    } catch (err) {
      if (err instanceof UsageError) throw new CalibrationError(err.message);
      throw err;
    }
  }
  if (ext === '.pb') return decodeTensorProto(readFileOrFail(file), `'${file}'`);
  throw new CalibrationError(`'${file}': not a calibration input (.npy, .pb, .png, .jpg, .jpeg)`);
}

/** File-name-safe form of a tensor name (as run.js --out-dir writes them). */
function safeName(name) {
  return String(name).replace(/[^A-Za-z0-9._-]/g, '_') || '_';
}

function isDataFile(name) {
  const ext = path.extname(name).toLowerCase();
  if (ext === '.pb' && /^output_\d+\.pb$/i.test(name)) return false; // ONNX test data: expected outputs
  return TENSOR_EXTS.has(ext) || IMAGE_EXTS.has(ext);
}

function naturalCompare(a, b) {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Lists calibration samples under `target` for a model whose inputs are
 * `inputNames`. Returns [{id, files: [{file, input}]}], where `input` is the
 * model input a file feeds (null: decide by the file's TensorProto name or
 * position). Layouts:
 *  - a file: one sample (a one-input model);
 *  - a folder of files: one sample per file for a one-input model, or one
 *    sample of several files (NAME.npy, input_K.pb) for a multi-input one;
 *  - a folder of folders (the ONNX test-data layout test_data_set_N/input_K.pb):
 *    one sample per folder.
 */
function listSamples(target, inputNames) {
  let st;
  try {
    st = fs.statSync(target);
  } catch {
    throw new CalibrationError(`cannot read calibration inputs '${target}': no such file or folder`);
  }
  if (st.isFile()) return [sampleOfFiles(target, [target], inputNames)];
  let entries;
  try {
    entries = fs.readdirSync(target, { withFileTypes: true });
  } catch (err) {
    throw new CalibrationError(`cannot read calibration inputs '${target}': ${lib.oneLine(err.message)}`);
  }
  entries.sort((a, b) => naturalCompare(a.name, b.name));
  const dirs = entries.filter((e) => e.isDirectory());
  const files = entries.filter((e) => !e.isDirectory() && isDataFile(e.name)).map((e) => path.join(target, e.name));
  const samples = [];
  if (dirs.length) {
    for (const d of dirs) {
      const sub = path.join(target, d.name);
      const subFiles = fs.readdirSync(sub).filter(isDataFile).sort(naturalCompare).map((f) => path.join(sub, f));
      if (subFiles.length) samples.push(sampleOfFiles(sub, subFiles, inputNames));
    }
  }
  if (files.length) {
    if (inputNames.length === 1) {
      for (const f of files) samples.push(sampleOfFiles(f, [f], inputNames));
    } else {
      samples.push(sampleOfFiles(target, files, inputNames));
    }
  }
  if (!samples.length) {
    throw new CalibrationError(`no calibration inputs in '${target}' (.npy, .pb, .png, .jpg, .jpeg files, ` +
      'or sub-folders of them)');
  }
  return samples;
}

function sampleOfFiles(id, files, inputNames) {
  if (inputNames.length === 1 && files.length === 1) return { id, files: [{ file: files[0], input: inputNames[0] }] };
  const out = [];
  for (const file of files) {
    const stem = path.basename(file, path.extname(file));
    let input = inputNames.find((n) => n === stem || safeName(n) === stem);
    if (!input) {
      const m = /^input_(\d+)$/.exec(stem);
      if (m && Number(m[1]) < inputNames.length) input = inputNames[Number(m[1])];
    }
    if (!input && path.extname(file).toLowerCase() !== '.pb') {
      throw new CalibrationError(`'${file}' matches no input of the model (inputs: ${inputNames.join(', ')}; ` +
        'name files NAME.npy or input_K.pb)');
    }
    out.push({ file, input: input || null });
  }
  return { id, files: out };
}

/** Fixed sides and channel count an image must have for input `info` (from its shape or --input-shape). */
function imageSidesFor(info, layout, shapeOverride) {
  const shape = shapeOverride || info.shape;
  if (!Array.isArray(shape) || shape.length !== 4) return { height: undefined, width: undefined, channels: 3 };
  const fixed = (d) => (typeof d === 'number' && d > 0 ? d : undefined);
  if (layout === 'nhwc') return { height: fixed(shape[1]), width: fixed(shape[2]), channels: fixed(shape[3]) || 3 };
  return { height: fixed(shape[2]), width: fixed(shape[3]), channels: fixed(shape[1]) || 3 };
}

/**
 * Loads one sample's feeds and checks them against the model's inputs.
 * Returns {feeds: {name: Tensor}, bytes}.
 */
function loadSample(sample, infos, opts = {}) {
  const byName = new Map(infos.map((i) => [i.name, i]));
  const feeds = {};
  const from = {};
  let bytes = 0;
  sample.files.forEach(({ file, input }, position) => {
    const ext = path.extname(file).toLowerCase();
    let name = input;
    let tensor;
    if (IMAGE_EXTS.has(ext)) {
      const info = byName.get(name);
      const sides = imageSidesFor(info, opts.layout, opts.shapes && opts.shapes.get(name));
      const size = opts.imageSize || {};
      tensor = imageToTensor(file, {
        ...opts.image,
        height: size.height || sides.height,
        width: size.width || sides.width,
        channels: sides.channels,
        layout: opts.layout,
      });
    } else {
      const r = readTensorFile(file);
      tensor = r.tensor;
      if (!name) {
        if (r.name && byName.has(r.name)) name = r.name;
        else if (sample.files.length === infos.length) name = infos[position].name;
        else {
          throw new CalibrationError(`'${file}' matches no input of the model (inputs: ${[...byName.keys()].join(', ')})`);
        }
      }
    }
    const info = byName.get(name);
    if (Object.prototype.hasOwnProperty.call(feeds, name)) {
      throw new CalibrationError(`'${file}' and '${from[name]}' both feed input '${name}'`);
    }
    feeds[name] = checkFeed(tensor, info, file);
    from[name] = file;
    bytes += feeds[name].data.byteLength;
  });
  for (const info of infos) {
    if (!Object.prototype.hasOwnProperty.call(feeds, info.name)) {
      throw new CalibrationError(`calibration sample '${sample.id}' has no file for input '${info.name}'`);
    }
  }
  return { feeds, bytes };
}

/** Checks rank, fixed dims and element type; float64 files feed float32 inputs. */
function checkFeed(tensor, info, file) {
  const shape = info.shape;
  const dims = tensor.dims.map(Number);
  if (Array.isArray(shape)) {
    const bad = shape.length !== dims.length ||
      shape.some((d, k) => typeof d === 'number' && d >= 0 && d !== dims[k]);
    if (bad) {
      throw new CalibrationError(`'${file}' has shape ${lib.dimsToString(dims)}, input '${info.name}' wants ` +
        `[${shape.map((d) => (typeof d === 'number' && d >= 0 ? d : (d || '?'))).join(',')}]`);
    }
  }
  if (tensor.type === info.type) return tensor;
  if (info.type === 'float32' && (tensor.type === 'float64' || tensor.type === 'float16')) {
    return new ort.Tensor('float32', Float32Array.from(floatData(tensor, file)), dims);
  }
  if (info.type === 'float64' && tensor.type === 'float32') {
    return new ort.Tensor('float64', Float64Array.from(tensor.data), dims);
  }
  throw new CalibrationError(`'${file}' holds ${tensor.type}, input '${info.name}' wants ${info.type}`);
}

// ---------------------------------------------------------------------------
// Command-line options of the input loaders (qopt-calibrate, qopt-sensitivity)

/** node:util parseArgs specs of the options inputOptionsFromCli reads. */
const INPUT_CLI_OPTIONS = Object.freeze({
  inputs: { type: 'string' },
  random: { type: 'string' },
  seed: { type: 'string' },
  'input-shape': { type: 'string', multiple: true },
  'image-size': { type: 'string' },
  'size-multiple': { type: 'string' },
  mean: { type: 'string' },
  std: { type: 'string' },
  scale: { type: 'string' },
  'channel-order': { type: 'string' },
  layout: { type: 'string' },
});

/** A number, or a fraction like 1/255. */
function parseNumber(name, text) {
  const m = /^\s*([^/]+?)\s*(?:\/\s*([^/]+?)\s*)?$/.exec(text);
  const a = m ? Number(m[1]) : NaN;
  const b = m && m[2] !== undefined ? Number(m[2]) : 1;
  const v = a / b;
  if (!m || m[1] === '' || !Number.isFinite(v)) throw new UsageError(`bad --${name}=${text} (want a number)`);
  return v;
}

function parseNumberList(name, text, count) {
  const items = text.split(',').map((s) => s.trim());
  const nums = items.map((s) => parseNumber(name, s));
  if (count && nums.length !== 1 && nums.length !== count) {
    throw new UsageError(`bad --${name}=${text} (want 1 or ${count} numbers)`);
  }
  return nums;
}

function parseSize(text) {
  const m = /^(\d+)x(\d+)$/.exec(text || '');
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new UsageError(`bad --image-size=${text} (want HxW, e.g. 640x640)`);
  return { height: Number(m[1]), width: Number(m[2]) };
}

/** `v` when it is one of `allowed` (undefined stays undefined); else a UsageError naming --NAME. */
function oneOf(name, v, allowed) {
  if (v === undefined) return undefined;
  if (!allowed.includes(v)) throw new UsageError(`bad --${name}=${v} (one of ${allowed.join(', ')})`);
  return v;
}

/**
 * The loader options of parsed INPUT_CLI_OPTIONS values, as calibrate() and
 * the SampleSource take them: {inputs, random, seed, shapes, layout, image,
 * imageSize}.
 */
function inputOptionsFromCli(values) {
  const opts = {
    inputs: values.inputs,
    random: lib.parseIntOpt('random', values.random, 1),
    seed: lib.parseIntOpt('seed', values.seed),
    shapes: lib.parseShapeSpecs(values['input-shape'] || []),
    layout: oneOf('layout', values.layout, ['nchw', 'nhwc']) || 'nchw',
    image: {
      channelOrder: oneOf('channel-order', values['channel-order'], ['rgb', 'bgr']) || 'rgb',
      scale: values.scale === undefined ? undefined : parseNumber('scale', values.scale),
      mean: values.mean === undefined ? undefined : parseNumberList('mean', values.mean, 3),
      std: values.std === undefined ? undefined : parseNumberList('std', values.std, 3),
      sizeMultiple: lib.parseIntOpt('size-multiple', values['size-multiple'], 1),
    },
  };
  if (opts.image.std && opts.image.std.some((s) => s === 0)) throw new UsageError(`bad --std=${values.std} (zero)`);
  if (values['image-size'] !== undefined) opts.imageSize = parseSize(values['image-size']);
  return opts;
}

// ---------------------------------------------------------------------------
// qopt-opt

function resolveQoptOpt(explicit) {
  const p = explicit || process.env.QOPT_OPT || DEFAULT_QOPT_OPT;
  try {
    fs.accessSync(p, fs.constants.X_OK);
  } catch {
    throw new CalibrationError(`qopt-opt not found at '${p}' (build it, or pass --qopt-opt=PATH or set QOPT_OPT)`);
  }
  return p;
}

function quotePipelineValue(v) {
  const s = String(v);
  if (/^[^\s{}'",]*$/.test(s)) return s;
  if (!s.includes("'")) return `'${s}'`;
  if (!s.includes('"')) return `"${s}"`;
  throw new UsageError(`cannot pass ${JSON.stringify(s)} to qopt-opt (contains both quote characters)`);
}

/**
 * Runs `qopt-opt MODEL --pass=expose-tensors{...} [-o OUT]`; returns the
 * parsed list JSON when `list` is given.
 */
function runExposeTensors(qoptOpt, model, { types, ops, batchSize, batchIndex, list, out }) {
  const options = [`types=${quotePipelineValue(types.join(','))}`];
  if (ops && ops.length) options.push(`ops=${quotePipelineValue(ops.join(','))}`);
  options.push(`batch-size=${batchSize}`, `batch-index=${batchIndex}`);
  if (list) options.push(`list=${quotePipelineValue(list)}`);
  const args = [model, `--pass=expose-tensors{${options.join(' ')}}`, '--report=none'];
  if (out) args.push('-o', out);
  const r = spawnSync(qoptOpt, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new CalibrationError(`cannot run qopt-opt '${qoptOpt}': ${r.error.message}`);
  if (r.status !== 0) {
    const msg = (r.stderr || '').trim().split('\n').filter(Boolean).pop() || `exit ${r.status}`;
    throw new CalibrationError(`qopt-opt failed on '${model}': ${msg.replace(/^qopt-opt: error: /, '')}`);
  }
  if (!list) return null;
  return JSON.parse(fs.readFileSync(list, 'utf8'));
}

// ---------------------------------------------------------------------------
// calib.json

function sha256File(file) {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** JSON text with numeric arrays on one line (per-channel vectors stay compact). */
function formatCalibJson(doc) {
  const text = JSON.stringify(doc, null, 2);
  return text.replace(/\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]/g,
    (_, body) => `[${body.split(/,\s*/).join(', ')}]`) + '\n';
}

function writeFileAtomic(file, text) {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.tmp.${process.pid}`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (err) {
    try { fs.rmSync(tmp, { force: true }); } catch { /* nothing to clean */ }
    throw new CalibrationError(`cannot write '${file}': ${lib.oneLine(err.message)}`);
  }
}

/**
 * Checks a calib.json document; returns a list of problems (empty when
 * valid): schema, every entry with finite min <= max, channel vectors finite.
 */
function validateCalib(doc) {
  const problems = [];
  if (!doc || typeof doc !== 'object') return ['not a JSON object'];
  if (doc.schema !== SCHEMA) problems.push(`schema is ${JSON.stringify(doc.schema)}, want "${SCHEMA}"`);
  if (!doc.tensors || typeof doc.tensors !== 'object') return problems.concat(['no "tensors" object']);
  for (const [name, t] of Object.entries(doc.tensors)) {
    if (!Number.isFinite(t.min) || !Number.isFinite(t.max)) problems.push(`tensor '${name}': min/max not finite`);
    else if (t.min > t.max) problems.push(`tensor '${name}': min ${t.min} > max ${t.max}`);
    if (t.channel && (!Array.isArray(t.channel.absmax) || t.channel.absmax.some((a) => !Number.isFinite(a) || a < 0))) {
      problems.push(`tensor '${name}': bad channel.absmax`);
    }
    if (t.percentile && t.percentile.min !== null &&
        !(t.percentile.min <= t.percentile.max && Number.isFinite(t.percentile.absmax))) {
      problems.push(`tensor '${name}': bad percentile range`);
    }
    for (const m of ['entropy', 'mse', 'choice']) {
      const r = t[m];
      if (r && r.min !== null && !(Number.isFinite(r.min) && Number.isFinite(r.max) && r.min <= r.max)) {
        problems.push(`tensor '${name}': bad ${m} range`);
      }
    }
  }
  return problems;
}

/** Reads and validates a calib.json; throws CalibrationError naming the file. */
function readCalib(file) {
  let doc;
  try {
    doc = JSON.parse(readFileOrFail(file).toString('utf8'));
  } catch (err) {
    if (err instanceof CalibrationError) throw err;
    throw new CalibrationError(`'${file}': not JSON (${lib.oneLine(err.message)})`);
  }
  const problems = validateCalib(doc);
  if (problems.length) throw new CalibrationError(`'${file}': ${problems[0]}`);
  return doc;
}

// ---------------------------------------------------------------------------
// ONNX Runtime calibration tables

const NONFINITE = '\u0000qopt-nonfinite:';

/** JSON.parse that also accepts Python's NaN, Infinity and -Infinity (json.dumps writes them). */
function parsePythonJson(text) {
  const replaced = text.replace(/"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)/g,
    (m, bare) => (bare ? JSON.stringify(NONFINITE + bare) : m));
  return JSON.parse(replaced, (key, value) => {
    if (typeof value === 'string' && value.startsWith(NONFINITE)) return Number(value.slice(NONFINITE.length));
    return value;
  });
}

/** Numbers of a value written by ORT: a number, a list, or {"data": ..., "CLS": "numpy.array"}. */
function ortNumbers(v) {
  if (typeof v === 'number') return [v];
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return [Number(v)];
  if (Array.isArray(v)) return v.flatMap(ortNumbers);
  if (v && typeof v === 'object' && 'data' in v) return ortNumbers(v.data);
  return null;
}

/**
 * Parses an ONNX Runtime calibration table: the calibration.json that
 * onnxruntime.quantization's write_calibration_table writes, in either form
 *  - {"CLS": "TensorsData", "data": {NAME: {"lowest": .., "highest": .., "CLS": "TensorData"}}, ...}
 *    (ORT >= 1.16; numbers possibly as {"data": .., "dtype": .., "CLS": "numpy.array"}), or
 *  - {NAME: [lowest, highest]} (older releases),
 * or its plain-text calibration.cache ("NAME ABSMAX" lines; symmetric ranges).
 * Returns {format, method, entries: [{name, lowest: [..], highest: [..]}]}.
 */
function parseOrtTable(text, file) {
  const trimmed = text.trim();
  let doc;
  if (trimmed.startsWith('{')) {
    try {
      doc = parsePythonJson(trimmed);
    } catch (err) {
      throw new CalibrationError(`ORT table '${file}': not JSON (${lib.oneLine(err.message)})`);
    }
  }
  const entries = [];
  if (doc === undefined) {
    // calibration.cache
    trimmed.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      const m = /^(.*\S)\s+(\S+)$/.exec(line.trim());
      if (!m) throw new CalibrationError(`ORT table '${file}' line ${i + 1}: want 'NAME VALUE'`);
      const v = Number(m[2]);
      entries.push({ name: m[1], lowest: [-Math.abs(v)], highest: [Math.abs(v)], raw: m[2] });
    });
    if (!entries.length) throw new CalibrationError(`ORT table '${file}': empty`);
    return { format: 'calibration.cache', method: null, entries };
  }
  let data = doc;
  let format = 'tuples';
  let method = null;
  if (doc && doc.CLS === 'TensorsData') {
    data = doc.data;
    format = 'TensorsData';
    const cm = doc.calibration_method;
    method = cm && typeof cm === 'object' ? String(cm.value || '') : (cm === undefined ? null : String(cm));
    if (!data || typeof data !== 'object') throw new CalibrationError(`ORT table '${file}': TensorsData has no "data"`);
  }
  for (const [name, v] of Object.entries(data)) {
    let lowest;
    let highest;
    if (Array.isArray(v)) {
      if (v.length < 2) throw new CalibrationError(`ORT table '${file}': tensor '${name}' has no [lowest, highest] pair`);
      lowest = ortNumbers(v[0]);
      highest = ortNumbers(v[1]);
    } else if (v && typeof v === 'object') {
      if (!('lowest' in v) || !('highest' in v)) {
        throw new CalibrationError(`ORT table '${file}': tensor '${name}' has no lowest/highest`);
      }
      if (format === 'tuples') format = 'TensorData';
      lowest = ortNumbers(v.lowest);
      highest = ortNumbers(v.highest);
    }
    if (!lowest || !highest || !lowest.length || lowest.length !== highest.length) {
      throw new CalibrationError(`ORT table '${file}': tensor '${name}' has an unreadable range`);
    }
    entries.push({ name, lowest, highest });
  }
  if (!entries.length) throw new CalibrationError(`ORT table '${file}': names no tensor`);
  return { format, method, entries };
}

/**
 * Converts a parsed ORT table into calib.json tensor entries, checking each
 * name against `known` (Map name -> {kind, op_type, dtype}) when given.
 */
function ortTableToTensors(table, file, known) {
  const tensors = {};
  for (const e of table.entries) {
    const info = known ? known.get(e.name) : undefined;
    if (known && !info) {
      throw new CalibrationError(`ORT table '${file}' names tensor '${e.name}', which the model does not have`);
    }
    const all = e.lowest.concat(e.highest);
    if (all.some((x) => Number.isNaN(x))) throw new CalibrationError(`ORT table '${file}': tensor '${e.name}' has a NaN range`);
    if (all.some((x) => !Number.isFinite(x))) {
      throw new CalibrationError(`ORT table '${file}': tensor '${e.name}' has an infinite range`);
    }
    const min = Math.min(...e.lowest);
    const max = Math.max(...e.highest);
    e.lowest.forEach((lo, i) => {
      if (lo > e.highest[i]) {
        throw new CalibrationError(`ORT table '${file}': tensor '${e.name}' has lowest ${lo} > highest ${e.highest[i]}`);
      }
    });
    tensors[e.name] = {
      kind: info ? info.kind : 'activation',
      op_type: info ? info.op_type : null,
      dtype: info ? info.dtype : null,
      dims: null,
      samples: null,
      count: null,
      min,
      max,
      absmax: Math.max(Math.abs(min), Math.abs(max)),
      mean: null,
      channel: e.lowest.length > 1 ? {
        axis: 1,
        rule: 'ort-per-channel',
        absmax: e.lowest.map((lo, i) => Math.max(Math.abs(lo), Math.abs(e.highest[i]))),
      } : null,
    };
    if (table.format === 'calibration.cache') tensors[e.name].symmetric = true;
  }
  return tensors;
}

const ORT_ELEM = {
  float: 'float32', float16: 'float16', double: 'float64', bfloat16: 'bfloat16', uint8: 'uint8', int8: 'int8',
  int32: 'int32', int64: 'int64', bool: 'bool',
};

/**
 * `qopt-calibrate --from-ort-table`: reads FILE, checks every tensor against
 * the model, returns the calib.json document.
 */
function convertOrtTable(modelPath, tableFile, opts = {}) {
  checkModelFile(modelPath);
  const table = parseOrtTable(readFileOrFail(tableFile).toString('utf8'), tableFile);
  const qoptOpt = resolveQoptOpt(opts.qoptOpt);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-calib-'));
  let list;
  try {
    list = runExposeTensors(qoptOpt, modelPath, {
      types: ['all'], ops: [], batchSize: 0, batchIndex: 0, list: path.join(tmp, 'list.json'),
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const known = new Map();
  for (const i of list.inputs) known.set(i.name, { kind: 'input', op_type: null, dtype: ORT_ELEM[i.elem_type] || i.elem_type });
  for (const t of list.tensors) {
    known.set(t.name, { kind: t.graph_output ? 'output' : 'activation', op_type: t.op_type, dtype: ORT_ELEM[t.elem_type] || t.elem_type });
  }
  for (const n of list.untyped) known.set(n, { kind: 'activation', op_type: null, dtype: null });
  const tensors = ortTableToTensors(table, tableFile, known);
  return {
    schema: SCHEMA,
    producer: { name: 'qopt-calibrate', onnxruntime: null },
    model: modelPath,
    model_sha256: sha256File(modelPath),
    source: { kind: 'ort-table', file: tableFile, format: table.format, calibration_method: table.method },
    samples: null,
    settings: null,
    tensors,
  };
}

// ---------------------------------------------------------------------------
// Calibration run

function checkModelFile(modelPath) {
  try {
    if (!fs.statSync(modelPath).isFile()) throw new Error('not a file');
  } catch {
    throw new CalibrationError(`cannot read model '${modelPath}': no such file`);
  }
}

/**
 * Feeds of every sample, loaded on demand; kept in memory while they fit in
 * `cacheBytes`, read again for each batch otherwise.
 */
class SampleSource {
  constructor({ samples, random, infos, loadOpts, seed, shapes, cacheBytes }) {
    this.samples = samples || null;
    this.random = random || 0;
    this.infos = infos;
    this.loadOpts = loadOpts;
    this.seed = seed === undefined ? lib.DEFAULTS.seed : seed;
    this.shapes = shapes || new Map();
    this.cacheBytes = cacheBytes === undefined ? CALIB_DEFAULTS.cacheBytes : cacheBytes;
    this.cache = new Map();
    this.cached = 0;
  }

  get count() { return this.samples ? this.samples.length : this.random; }

  describe(i) { return this.samples ? this.samples[i].id : `random sample ${i} (seed ${this.seed + i})`; }

  load(i) {
    if (this.cache.has(i)) return this.cache.get(i);
    let feeds;
    let bytes = 0;
    if (this.samples) {
      ({ feeds, bytes } = loadSample(this.samples[i], this.infos, this.loadOpts));
    } else {
      const dims = lib.resolveShapes(this.infos, this.shapes);
      feeds = {};
      for (const info of this.infos) {
        feeds[info.name] = lib.generateTensor(info.type, dims.get(info.name), (this.seed + i) >>> 0, info.name);
        bytes += feeds[info.name].data.byteLength;
      }
    }
    if (this.cached + bytes <= this.cacheBytes) {
      this.cache.set(i, feeds);
      this.cached += bytes;
    }
    return feeds;
  }
}

function checkFinite(stats, name, source, i, allowNonFinite) {
  if (allowNonFinite) return;
  if (stats.nan || stats.inf) {
    const what = stats.nan ? 'NaN' : 'infinite';
    throw new CalibrationError(`tensor '${name}' has ${what} values on calibration input '${source.describe(i)}'`);
  }
}

/**
 * Tensors read by a `top-decides` op (Softmax, ArgMax, ...) directly or
 * through `data-movement` ops (Flatten, Reshape, Transpose, ...), from the
 * expose-tensors list (graph order, each with its `uses`): name -> that op.
 */
function topDecidingReaders(tensors) {
  const top = opsWithTrait('top-decides');
  const moves = opsWithTrait('data-movement');
  const found = new Map();
  for (let i = tensors.length - 1; i >= 0; i--) {
    for (const u of tensors[i].uses || []) {
      const op = top.has(u.op_type) ? u.op_type : moves.has(u.op_type) ? found.get(u.output) : undefined;
      if (op) {
        found.set(tensors[i].name, op);
        break;
      }
    }
  }
  return found;
}

/**
 * The range methods to compute: those asked for, plus the one --choose names
 * (mse for auto). --choose=percentile needs --percentile.
 */
function rangeMethods(asked, choose, percentile) {
  for (const m of asked) {
    if (!RANGE_METHODS.includes(m)) {
      throw new UsageError(`bad --methods: '${m}' (${RANGE_METHODS.join(', ')}; percentile is --percentile=P)`);
    }
  }
  if (choose !== null && !CHOICES.includes(choose)) throw new UsageError(`bad --choose=${choose} (${CHOICES.join(', ')})`);
  if (choose === 'percentile' && percentile === null) throw new UsageError('--choose=percentile needs --percentile=P');
  const want = new Set(asked);
  if (choose === 'entropy' || choose === 'mse') want.add(choose);
  if (choose === 'auto') want.add('mse');
  return RANGE_METHODS.filter((m) => want.has(m));
}

/**
 * Calibrates `modelPath`: exposes its float tensors in batches of
 * opts.batchSize with qopt-opt, runs every sample through each batch's model
 * in ONNX Runtime and accumulates statistics. Returns the calib.json document.
 * opts: inputs (file or folder) | random (N), shapes (Map), seed, qoptOpt,
 *       batchSize, types, ops, percentile, bins, methods ([entropy, mse]),
 *       methodBits, choose (minmax|percentile|entropy|mse|auto), optLevel, threads,
 *       imageSize {height, width}, image {mean, std, scale, channelOrder,
 *       sizeMultiple}, layout, allowNonFinite, keepTemp, onProgress(done, total, batch, batches).
 */
async function calibrate(modelPath, opts = {}) {
  checkModelFile(modelPath);
  if (!opts.inputs && !opts.random) throw new UsageError('give --inputs=DIR or --random=N');
  if (opts.inputs && opts.random) throw new UsageError('give --inputs=DIR or --random=N, not both');
  const qoptOpt = resolveQoptOpt(opts.qoptOpt);
  const batchSize = opts.batchSize === undefined ? CALIB_DEFAULTS.batchSize : opts.batchSize;
  const types = opts.types || CALIB_DEFAULTS.types;
  const ops = opts.ops || [];
  const bins = opts.bins || CALIB_DEFAULTS.bins;
  const percentile = opts.percentile === undefined ? null : opts.percentile;
  const choose = opts.choose || null;
  const methods = rangeMethods(opts.methods || [], choose, percentile);
  const bits = opts.methodBits || CALIB_DEFAULTS.methodBits;
  const optLevel = opts.optLevel || CALIB_DEFAULTS.optLevel;
  const t0 = process.hrtime.bigint();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-calib-'));
  const timing = { exposeMs: 0, loadMs: 0, runMs: 0, statsMs: 0 };
  const since = (t) => Number(process.hrtime.bigint() - t) / 1e6;
  try {
    const listFile = path.join(tmp, 'list.json');
    const augmented = (b) => path.join(tmp, `batch-${b}.onnx`);
    let t = process.hrtime.bigint();
    const list = runExposeTensors(qoptOpt, modelPath, { types, ops, batchSize, batchIndex: 0, list: listFile, out: augmented(0) });
    timing.exposeMs += since(t);
    const batches = Math.max(list.batches, 1);

    // Accumulators: graph inputs first, then the candidates in graph order.
    const stats = new Map();
    const meta = new Map();
    const histogram = percentile === null && !methods.length ? 0 : bins;
    const bounded = choose === 'auto' ? opsWithTrait('bounded') : new Set();
    const decides = choose === 'auto' ? topDecidingReaders(list.tensors) : new Map();
    const entryOpts = { percentile, methods, bits, choose, bounded };
    const tensorsByBatch = Array.from({ length: batches }, () => []);
    for (const t2 of list.tensors) {
      stats.set(t2.name, new TensorStats(t2.name, { consumers: t2.consumers, histogram }));
      meta.set(t2.name, { kind: t2.graph_output ? 'output' : 'activation', opType: t2.op_type });
      tensorsByBatch[t2.batch].push(t2.name);
    }
    const inputStats = new Map();

    let source;
    let done = 0;
    for (let b = 0; b < batches; b++) {
      if (b > 0) {
        t = process.hrtime.bigint();
        runExposeTensors(qoptOpt, modelPath, { types, ops, batchSize, batchIndex: b, out: augmented(b) });
        timing.exposeMs += since(t);
      }
      t = process.hrtime.bigint();
      const session = await lib.loadSession(augmented(b), { optLevel, threads: opts.threads });
      timing.loadMs += since(t);
      try {
        if (!source) {
          const infos = lib.inputInfo(session);
          for (const info of infos) {
            if (['float32', 'float16', 'float64'].includes(info.type)) {
              const consumers = [];
              inputStats.set(info.name, new TensorStats(info.name, { consumers, histogram }));
            }
          }
          source = new SampleSource({
            samples: opts.inputs ? listSamples(opts.inputs, infos.map((i) => i.name)) : null,
            random: opts.random,
            infos,
            seed: opts.seed,
            shapes: opts.shapes,
            cacheBytes: opts.cacheBytes,
            loadOpts: { shapes: opts.shapes, imageSize: opts.imageSize, image: opts.image, layout: opts.layout || 'nchw' },
          });
        }
        const total = source.count * batches;
        const fetches = tensorsByBatch[b];
        for (let i = 0; i < source.count; i++) {
          const feeds = source.load(i);
          t = process.hrtime.bigint();
          if (b === 0) {
            for (const [name, s] of inputStats) {
              checkFinite(s.update(feeds[name]), name, source, i, opts.allowNonFinite);
            }
          }
          timing.statsMs += since(t);
          if (fetches.length) {
            t = process.hrtime.bigint();
            let result;
            try {
              result = await session.run(feeds, fetches);
            } catch (err) {
              throw new CalibrationError(`running '${modelPath}' on calibration input '${source.describe(i)}' ` +
                `failed: ${lib.oneLine(err.message)}`);
            }
            timing.runMs += since(t);
            t = process.hrtime.bigint();
            for (const name of fetches) {
              checkFinite(stats.get(name).update(result[name]), name, source, i, opts.allowNonFinite);
            }
            for (const name of Object.keys(result)) {
              if (typeof result[name].dispose === 'function') result[name].dispose();
            }
            result = null;
            timing.statsMs += since(t);
          }
          done++;
          if (opts.onProgress) opts.onProgress(done, total, b + 1, batches);
        }
      } finally {
        await session.release();
        if (!opts.keepTemp) fs.rmSync(augmented(b), { force: true });
      }
    }

    const tensors = {};
    for (const [name, s] of inputStats) tensors[name] = s.toJSON({ ...entryOpts, kind: 'input', opType: null });
    for (const [name, s] of stats) {
      const m = meta.get(name);
      tensors[name] = s.toJSON({ ...entryOpts, kind: m.kind, opType: m.opType, decides: decides.get(name) });
    }
    const seconds = since(t0) / 1000;
    const doc = {
      schema: SCHEMA,
      producer: { name: 'qopt-calibrate', onnxruntime: ort.env.versions.node || ort.env.versions.common || null },
      model: modelPath,
      model_sha256: sha256File(modelPath),
      source: opts.inputs ? { kind: 'files', path: opts.inputs } : { kind: 'random', seed: opts.seed === undefined ? lib.DEFAULTS.seed : opts.seed },
      samples: source ? source.count : 0,
      settings: {
        types,
        ops,
        batch_size: batchSize,
        batches,
        percentile,
        bins: histogram ? bins : null,
        methods,
        method_bits: methods.length || choose ? bits : null,
        choose,
        opt_level: optLevel,
        untyped: list.untyped,
      },
      tensors,
    };
    // Not part of the document (which stays reproducible): for the CLI's summary.
    Object.defineProperty(doc, 'timing', {
      enumerable: false,
      value: {
        seconds,
        expose: timing.exposeMs / 1000,
        load: timing.loadMs / 1000,
        run: timing.runMs / 1000,
        stats: timing.statsMs / 1000,
      },
    });
    return doc;
  } finally {
    if (!opts.keepTemp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

module.exports = {
  SCHEMA,
  CALIB_DEFAULTS,
  DEFAULT_QOPT_OPT,
  CalibrationError,
  channelAxis,
  Histogram,
  RANGE_METHODS,
  CHOICES,
  entropyThreshold,
  entropyRange,
  minMseRange,
  histogramMse,
  histogramSqnr,
  autoChoice,
  TensorStats,
  decodeTensorProto,
  encodeTensorProto,
  readImage,
  resizeRgba,
  targetImageSize,
  imageToTensor,
  readTensorFile,
  listSamples,
  loadSample,
  checkFeed,
  INPUT_CLI_OPTIONS,
  inputOptionsFromCli,
  parseNumber,
  oneOf,
  SampleSource,
  resolveQoptOpt,
  quotePipelineValue,
  runExposeTensors,
  formatCalibJson,
  writeFileAtomic,
  validateCalib,
  readCalib,
  parsePythonJson,
  parseOrtTable,
  ortTableToTensors,
  convertOrtTable,
  calibrate,
};
