'use strict';
// Fidelity and timing statistics for the quantized-variants benchmark
// (bench/ort_bench.js): SQNR accumulated over samples, argmax, PaddleOCR's CTC
// greedy decoding, binarized-map IoU, medians and quartiles.

const fs = require('node:fs');

/**
 * Signal-to-quantization-noise ratio of `test` against `ref`, accumulated over
 * samples: 10 log10(sum ref^2 / sum (ref - test)^2). Infinity when every
 * element is equal; -Infinity when the reference is all zero but test is not.
 */
class Sqnr {
  constructor() {
    this.signal = 0;
    this.noise = 0;
    this.nonFinite = 0;
  }

  add(ref, test) {
    if (ref.length !== test.length) throw new Error(`SQNR: ${ref.length} elements against ${test.length}`);
    let s = 0;
    let n = 0;
    for (let i = 0; i < ref.length; i++) {
      const r = ref[i];
      const d = r - test[i];
      if (!Number.isFinite(d)) {
        this.nonFinite++;
        continue;
      }
      s += r * r;
      n += d * d;
    }
    this.signal += s;
    this.noise += n;
  }

  db() {
    if (this.noise === 0) return Infinity;
    if (this.signal === 0) return -Infinity;
    return 10 * Math.log10(this.signal / this.noise);
  }
}

/** Index of the largest of `n` values starting at `offset` (first one on ties). */
function argmax(data, offset = 0, n = data.length - offset) {
  let best = 0;
  let bestValue = -Infinity;
  for (let k = 0; k < n; k++) {
    const v = data[offset + k];
    if (v > bestValue) {
      bestValue = v;
      best = k;
    }
  }
  return best;
}

/**
 * PaddleOCR's character list for CTC: class 0 is the blank, class i (1..K) is
 * line i-1 of the keys file, and class K+1 is a space (use_space_char).
 * Returns ['<blank>', ...lines, ' '].
 */
function loadCtcCharset(keysFile) {
  const text = fs.readFileSync(keysFile, 'utf8');
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return ['<blank>', ...lines, ' '];
}

/**
 * CTC greedy decoding of a [T, C] probability (or logit) matrix: the argmax of
 * each time step, repeats collapsed, blanks (class 0) dropped.
 */
function ctcGreedyDecode(data, steps, classes, charset) {
  let out = '';
  let prev = -1;
  for (let t = 0; t < steps; t++) {
    const k = argmax(data, t * classes, classes);
    if (k !== prev && k !== 0) out += charset[k];
    prev = k;
  }
  return out;
}

/**
 * Intersection and union of two probability maps binarized at `threshold`
 * (value > threshold, compared in float32 as PaddleOCR's numpy code does, so
 * a map value of 0.3f is not above a threshold of 0.3).
 */
function binaryOverlap(a, b, threshold) {
  if (a.length !== b.length) throw new Error(`IoU: ${a.length} elements against ${b.length}`);
  threshold = Math.fround(threshold);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] > threshold;
    const y = b[i] > threshold;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return { inter, union };
}

/**
 * Levenshtein distance between two strings, by code point (insertions,
 * deletions and substitutions cost 1): the numerator of the character error
 * rate, CER = sum of distances / sum of reference lengths.
 */
function editDistance(a, b) {
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length];
}

/** Linear-interpolated quantile (q in [0, 1]) of an array of numbers. */
function quantile(values, q) {
  if (!values.length) return NaN;
  const s = Float64Array.from(values).sort();
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

function median(values) {
  return quantile(values, 0.5);
}

module.exports = { Sqnr, argmax, loadCtcCharset, ctcGreedyDecode, editDistance, binaryOverlap, quantile, median };
