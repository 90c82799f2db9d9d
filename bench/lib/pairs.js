'use strict';
// Before/after pairs of variants for bench/ort_bench.js: a model and the same
// model after a qopt pipeline (e.g. u8s8 and u8s8+fuse-qdq), summarized from
// the numbers ort_bench.js measured for both columns: the after/before
// latency ratio paired per round, each side's ratio to the reference (FP32),
// and node counts of the files and of ONNX Runtime's optimized graphs.

const { median } = require('./metrics');

/**
 * Parses --pair=BEFORE=AFTER values against the variant names; returns
 * [{before, after}]. Throws Error naming the bad spec.
 */
function parsePairs(specs, variantNames) {
  const pairs = [];
  for (const spec of specs || []) {
    const m = /^([^=]+)=([^=]+)$/.exec(spec);
    if (!m) throw new Error(`bad --pair=${spec} (want BEFORE=AFTER, two variant names)`);
    for (const name of [m[1], m[2]]) {
      if (!variantNames.includes(name)) throw new Error(`--pair=${spec}: no variant '${name}' (${variantNames.join(', ')})`);
    }
    if (m[1] === m[2]) throw new Error(`--pair=${spec}: a variant paired with itself`);
    pairs.push({ before: m[1], after: m[2] });
  }
  return pairs;
}

/**
 * Summary of one pair. `before` and `after` are {name, times (ms per round,
 * the same rounds for both), ratio (to the reference), nodes, ortNodes}
 * where nodes/ortNodes are {total} or {error}.
 */
function summarizePair(before, after) {
  if (before.times.length !== after.times.length) {
    throw new Error(`pair ${before.name}/${after.name}: ${before.times.length} rounds against ${after.times.length}`);
  }
  const count = (c) => (c && !c.error && Number.isFinite(c.total) ? c.total : null);
  return {
    before: before.name,
    after: after.name,
    latency_after_over_before: median(after.times.map((t, r) => t / before.times[r])),
    ratio_before: before.ratio,
    ratio_after: after.ratio,
    nodes_before: count(before.nodes),
    nodes_after: count(after.nodes),
    ort_nodes_before: count(before.ortNodes),
    ort_nodes_after: count(after.ortNodes),
  };
}

function fmtX(v) { return Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a'; }
function fmtN(v) { return v === null ? 'n/a' : String(v); }

/** One line: `u8s8 -> u8s8+fuse-qdq: latency 0.91x (per round); / fp32 0.88x -> 0.80x; nodes ...`. */
function formatPair(s, refName) {
  return `${s.before} -> ${s.after}: latency ${fmtX(s.latency_after_over_before)} (after/before, paired); ` +
    `/ ${refName} ${fmtX(s.ratio_before)} -> ${fmtX(s.ratio_after)}; ` +
    `nodes in file ${fmtN(s.nodes_before)} -> ${fmtN(s.nodes_after)}; ` +
    `after ORT optimization ${fmtN(s.ort_nodes_before)} -> ${fmtN(s.ort_nodes_after)}`;
}

module.exports = { parsePairs, summarizePair, formatPair };
