#!/usr/bin/env node
'use strict';
// Which float islands pay off for one QDQ model on this machine: measures
// `fuse-qdq{float-units=...}` (docs/passes.md, `## float-islands`) against
// plain `fuse-qdq` in ONNX Runtime (CPU) and prints the --pass option to use.
//
// Greedy, one unit kind at a time, in --kinds order:
//   1. base = `qopt-opt QDQ.onnx --pass=fuse-qdq`; best = base, chosen = [].
//   2. For each kind: candidate = chosen + [kind], made with
//      `fuse-qdq{float-units=<candidate>}`. qopt-opt's JSON report lists the
//      islands it made (analyses["float-islands"].islands, by seed node); when
//      the candidate has no island that best lacks, the kind is skipped
//      ("no islands": nothing to measure). Otherwise best and candidate are
//      loaded as two sessions of this one process and run alternately on the
//      same seeded inputs: `warmup` runs each, then --rounds rounds of one
//      run each, the first of the pair alternating per round. The ratio
//      candidate/best is the median of the per-round ratios (paired, as
//      bench/ort_bench.js measures: slow phases of the machine hit both
//      sides of a round). The kind is kept, and the candidate becomes best,
//      when that ratio is below 1 - --min-gain.
//   3. When something was kept, the final model is measured against base
//      the same way (one more paired measurement, not a product of the
//      step ratios).
// Each candidate's outputs are also compared with base's on the first input
// (max abs difference over all outputs): islands are not exact.
//
// The order matters (an island changes its neighbours' layout and fusions),
// and a kind dropped early is not retried; with 3 kinds that is a few
// measurements instead of all 7 subsets.
//
// Output: one line per kind
//   `depthwise: candidate/best = 0.873 (median of 40 paired rounds) -> kept (...)`
//   `last-conv: not measured -> no islands (...)`
// then `final: ...` with the ratio against base, and last, exactly,
//   `choose_islands: --pass='fuse-qdq{float-units=A,B}'` or `choose_islands: --pass=fuse-qdq`.
// Generated models go to a fresh folder under $TMPDIR, removed at the end
// (also on error) unless --keep=DIR, where they are written and left.
//
// Exit 0: ok; 2: usage error, or qopt-opt or ONNX Runtime failed (last line
// `choose_islands: ERROR ...`).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const lib = require('./lib');
const { median, quantile } = require('../../bench/lib/metrics');

const { UsageError } = lib;
const KINDS = ['first-conv', 'depthwise', 'last-conv'];
const DEFAULT_ROUNDS = 40;
const DEFAULT_WARMUP = 3;
const DEFAULT_MIN_GAIN = 0.03;

const USAGE = `usage: node tools/ort/choose_islands.js QDQ.onnx [options]
  --input-shape=NAME:1x3x48x192  dims of an input (repeatable; as run.js)
  --input=NAME:FILE.npy       feed this input from a .npy file (repeatable)
  --inputs-dir=DIR            feed the inputs saved by run.js --out-dir=DIR
  --seed=N                    seed of the generated inputs (default ${lib.DEFAULTS.seed})
  --qopt-opt=PATH             default $QOPT_OPT, else build/tools/qopt-opt/qopt-opt
  --kinds=LIST                unit kinds to try, in this order (default ${KINDS.join(',')})
  --rounds=N                  paired rounds per measurement (default ${DEFAULT_ROUNDS})
  --warmup=N                  untimed runs of each model first (default ${DEFAULT_WARMUP})
  --min-gain=X                keep a kind when candidate/best < 1 - X (default ${DEFAULT_MIN_GAIN})
  --threads=N                 intra-op threads (default ${lib.DEFAULTS.threads})
  --opt-level=LEVEL           ONNX Runtime graph optimization level (default ${lib.DEFAULTS.optLevel})
  --keep=DIR                  write the generated models and qopt-opt reports to DIR and keep them`;

// ---------------------------------------------------------------------------
// Options

/** --kinds value -> [kind], checked against KINDS (no repeats). */
function parseKinds(text) {
  const kinds = String(text).split(',').map((s) => s.trim()).filter(Boolean);
  if (!kinds.length) throw new UsageError('--kinds is empty');
  for (const k of kinds) {
    if (!KINDS.includes(k)) throw new UsageError(`bad --kinds entry '${k}' (one of ${KINDS.join(', ')})`);
  }
  const dup = kinds.find((k, i) => kinds.indexOf(k) !== i);
  if (dup) throw new UsageError(`--kinds names '${dup}' twice`);
  return kinds;
}

/** The --pass value for a list of unit kinds. */
function passFor(kinds) {
  return kinds.length ? `fuse-qdq{float-units=${kinds.join(',')}}` : 'fuse-qdq';
}

/** The final line's option, quoted for a shell when it has braces. */
function passOption(kinds) {
  return kinds.length ? `--pass='${passFor(kinds)}'` : '--pass=fuse-qdq';
}

// ---------------------------------------------------------------------------
// qopt-opt

/**
 * Runs `qopt-opt IN --pass=PASS --report=json -o OUT`; returns {islands:
 * [seed], notIsolated: [{seed, why}]} from the report (empty without islands).
 * Throws UsageError naming the command when qopt-opt fails.
 */
function makeVariant(qoptOpt, input, pass, out) {
  const args = [input, `--pass=${pass}`, '--report=json', '-o', out];
  const r = spawnSync(qoptOpt, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw new UsageError(`cannot run qopt-opt '${qoptOpt}': ${r.error.message}`);
  if (r.status !== 0) {
    throw new UsageError(`qopt-opt ${input} --pass=${pass} failed (exit ${r.status}): ${lib.oneLine(r.stderr || r.stdout || '')}`);
  }
  let report;
  try {
    report = JSON.parse(r.stdout);
  } catch (err) {
    throw new UsageError(`qopt-opt ${input} --pass=${pass}: unreadable JSON report (${err.message})`);
  }
  fs.writeFileSync(out.replace(/\.onnx$/, '.report.json'), r.stdout);
  return { ...islandsOf(report), dequantizeBefore: dequantizeBefore(report) };
}

/** Number of DequantizeLinear nodes of the input model (census before the first pass), or undefined. */
function dequantizeBefore(report) {
  const p = report && Array.isArray(report.passes) ? report.passes[0] : undefined;
  const n = p && p.census && p.census.before ? p.census.before.dequantize : undefined;
  return Number.isInteger(n) ? n : undefined;
}

/** {islands: [seed names], notIsolated: [{seed, why}]} from a qopt-opt JSON report. */
function islandsOf(report) {
  const fi = report && report.analyses && report.analyses['float-islands'];
  if (!fi) return { islands: [], notIsolated: [] };
  return {
    islands: (fi.islands || []).map((i) => i.seed),
    notIsolated: (fi.not_isolated || []).map((n) => ({ seed: n.seed, why: n.why })),
  };
}

// ---------------------------------------------------------------------------
// ONNX Runtime

/** Feeds for `session` from the base model's feeds: by name, else by position. */
function feedsFor(session, feeds, names, file) {
  const out = {};
  session.inputNames.forEach((name, i) => {
    if (Object.prototype.hasOwnProperty.call(feeds, name)) out[name] = feeds[name];
    else if (names.length === session.inputNames.length) out[name] = feeds[names[i]];
    else throw new UsageError(`${file}: input '${name}' is not an input of the base model (${names.join(', ')})`);
  });
  return out;
}

async function timedRun(model, feeds) {
  const t0 = process.hrtime.bigint();
  let result;
  try {
    result = await model.session.run(feeds);
  } catch (err) {
    throw new lib.ModelError(model.file, 'run', err);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  for (const t of Object.values(result)) if (t && typeof t.dispose === 'function') t.dispose();
  return ms;
}

/**
 * Paired timing of models a and b ({session, file, feeds}): `warmup` runs of
 * each, then `rounds` rounds of one run each, a first in even rounds and b
 * first in odd ones. Returns {ratio: median of b/a per round, q1, q3, rounds,
 * msA, msB (medians)}.
 */
async function measurePair(a, b, opts) {
  for (let i = 0; i < opts.warmup; i++) {
    await timedRun(a, a.feeds);
    await timedRun(b, b.feeds);
  }
  const ta = [];
  const tb = [];
  for (let r = 0; r < opts.rounds; r++) {
    if (r % 2 === 0) {
      ta.push(await timedRun(a, a.feeds));
      tb.push(await timedRun(b, b.feeds));
    } else {
      tb.push(await timedRun(b, b.feeds));
      ta.push(await timedRun(a, a.feeds));
    }
  }
  const ratios = tb.map((t, r) => t / ta[r]);
  return {
    ratio: median(ratios), q1: quantile(ratios, 0.25), q3: quantile(ratios, 0.75),
    rounds: opts.rounds, msA: median(ta), msB: median(tb),
  };
}

/** Loads `file` as a session with the feeds it takes; returns {file, session, feeds}. */
async function loadModel(file, opts, base) {
  const session = await lib.loadSession(file, opts);
  const model = { file, session, feeds: null };
  try {
    model.feeds = base ? feedsFor(session, base.feeds, base.names, file) : null;
  } catch (err) {
    await session.release();
    throw err;
  }
  return model;
}

/** Largest |candidate - base| over all outputs (matched by name, else position) on the feeds. */
async function maxAbsAgainstBase(model, baseOutputs) {
  const run = await lib.runSession(model.session, model.feeds, model.file);
  const cmp = lib.compareOutputs(run.outputs, baseOutputs, { atol: 0, rtol: 0 });
  if (cmp.unmatchedA.length || cmp.unmatchedB.length || cmp.results.some((r) => r.dimsA.join('x') !== r.dimsB.join('x'))) {
    return NaN;
  }
  return Math.max(0, ...cmp.results.map((r) => r.maxAbsDiff));
}

// ---------------------------------------------------------------------------

const fmtRatio = (v) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const fmtMs = (v) => v.toFixed(3);
const fmtDiff = (v) => (Number.isNaN(v) ? 'n/a (outputs differ in names or dims)' : lib.fmtNum(v));

async function choose(modelPath, opts, log) {
  let dir;
  try {
    dir = opts.keep
      ? (fs.mkdirSync(opts.keep, { recursive: true }), opts.keep)
      : fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-choose-islands-'));
  } catch (err) {
    throw new UsageError(`cannot make the folder for the generated models: ${err.message}`);
  }
  const loaded = new Set();
  const release = async (m) => {
    if (m && loaded.delete(m)) await m.session.release();
  };
  try {
    const basePath = path.join(dir, 'base.onnx');
    const made = makeVariant(opts.qoptOpt, modelPath, 'fuse-qdq', basePath);
    if (made.dequantizeBefore === 0) {
      throw new UsageError(`'${modelPath}' has no DequantizeLinear: not a QDQ model (quantize it first, ` +
        'e.g. qopt-opt F --pass=\'quantize{calibration=calib.json}\')');
    }
    const base = await loadModel(basePath, opts, null);
    loaded.add(base);
    let gen;
    try {
      gen = lib.generateInputs(base.session, opts);
    } catch (err) {
      if (err instanceof UsageError) err.message = `${modelPath}: ${err.message}`;
      throw err;
    }
    base.feeds = gen.feeds;
    const inputs = { feeds: gen.feeds, names: gen.names };
    const baseOutputs = (await lib.runSession(base.session, base.feeds, basePath)).outputs;
    const dims = gen.names.map((n) => `${n}:${lib.dimsToString(gen.feeds[n].dims)}`).join(',');
    log(`measuring ${path.basename(modelPath)}: input ${dims}; ONNX Runtime ${lib.ort.env.versions.common || ''} CPU, ` +
      `${opts.threads} intra-op thread(s), opt level ${opts.optLevel}; ${opts.rounds} paired rounds after ` +
      `${opts.warmup} warm-up runs each; keep a kind when candidate/best < ${fmtRatio(1 - opts.minGain)}`);

    let chosen = [];
    let best = base;
    let bestIslands = new Set();
    for (const kind of opts.kinds) {
      const candidate = [...chosen, kind];
      const file = path.join(dir, `islands-${candidate.join('+')}.onnx`);
      const made = makeVariant(opts.qoptOpt, modelPath, passFor(candidate), file);
      const fresh = made.islands.filter((s) => !bestIslands.has(s));
      if (!fresh.length) {
        const why = made.notIsolated.length ? `; ${made.notIsolated.length} seed(s) not isolated: ${made.notIsolated[0].why}` : '';
        log(`${kind}: not measured -> no islands (fuse-qdq{float-units=${candidate.join(',')}} made none of this kind${why})`);
        if (!opts.keep) fs.rmSync(file, { force: true });
        continue;
      }
      const model = await loadModel(file, opts, inputs);
      loaded.add(model);
      const diff = await maxAbsAgainstBase(model, baseOutputs);
      const m = await measurePair(best, model, opts);
      const keep = m.ratio < 1 - opts.minGain;
      log(`${kind}: candidate/best = ${fmtRatio(m.ratio)} (median of ${m.rounds} paired rounds) -> ` +
        `${keep ? 'kept' : 'dropped'} (${fresh.length} island(s); IQR ${fmtRatio(m.q1)}-${fmtRatio(m.q3)}; ` +
        `median ms candidate ${fmtMs(m.msB)}, best ${fmtMs(m.msA)}; max |out - base| ${fmtDiff(diff)})`);
      if (keep) {
        if (best !== base) await release(best);
        best = model;
        chosen = candidate;
        bestIslands = new Set(made.islands);
      } else {
        await release(model);
      }
    }

    if (chosen.length) {
      const m = await measurePair(base, best, opts);
      log(`final: ${passFor(chosen)}/fuse-qdq = ${fmtRatio(m.ratio)} (median of ${m.rounds} paired rounds; ` +
        `median ms final ${fmtMs(m.msB)}, base ${fmtMs(m.msA)})`);
    } else {
      log('final: nothing kept; fuse-qdq/fuse-qdq = 1 (base)');
    }
    log(`choose_islands: ${passOption(chosen)}`);
    return { chosen, dir };
  } finally {
    for (const m of [...loaded]) await release(m);
    if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv) {
  const { values, positionals } = lib.parseCliArgs(argv, {
    ...lib.COMMON_CLI_OPTIONS,
    'qopt-opt': { type: 'string' },
    kinds: { type: 'string', default: KINDS.join(',') },
    rounds: { type: 'string', default: String(DEFAULT_ROUNDS) },
    warmup: { type: 'string', default: String(DEFAULT_WARMUP) },
    'min-gain': { type: 'string', default: String(DEFAULT_MIN_GAIN) },
    keep: { type: 'string' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    throw Object.assign(new UsageError(`want one QDQ.onnx, got ${positionals.length} files`), { showUsage: true });
  }
  const common = lib.commonOptsFromCli(values);
  const opts = {
    ...common,
    optLevel: common.optLevel || lib.DEFAULTS.optLevel,
    threads: common.threads || lib.DEFAULTS.threads,
    kinds: parseKinds(values.kinds),
    rounds: lib.parseIntOpt('rounds', values.rounds, 1),
    warmup: lib.parseIntOpt('warmup', values.warmup, 0),
    minGain: lib.parseFloatOpt('min-gain', values['min-gain']),
    keep: values.keep,
  };
  const modelPath = positionals[0];
  if (!fs.existsSync(modelPath)) throw new lib.ModelError(modelPath, 'load', new Error('no such file'));
  opts.qoptOpt = lib.resolveQoptOpt(values['qopt-opt']);
  await choose(modelPath, opts, (line) => console.log(line));
  return 0;
}

if (require.main === module) lib.runCli('choose_islands', USAGE, main);

module.exports = { KINDS, parseKinds, passFor, passOption, islandsOf, dequantizeBefore };
