#!/usr/bin/env node
'use strict';
// Per-op / per-node kernel times of an ONNX model in ONNX Runtime (CPU), from
// ORT's own profiler: the session is loaded with profiling on, run
// `warmup + runs` times on deterministic inputs (as run.js generates them),
// and the kernel-time events of the timed runs are summed per op type or per
// node. See README.md.
//
// Exit 0: ok; 2: usage error, or the model failed to load or run (last line
// `profile: ERROR ...`).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const lib = require('./lib');

const DEFAULT_RUNS = 50;
const DEFAULT_WARMUP = 3;
// Base name of the profile in the private temporary directory; ORT appends
// `_<date>_<time>.json`.
const PROFILE_PREFIX = 'ort-profile';
const KERNEL_SUFFIX = '_kernel_time';

const USAGE = `usage: node tools/ort/profile.js MODEL.onnx [options]
  --input-shape=NAME:1x3x64x64[,NAME2:...]  dims of an input (repeatable)
  --input=NAME:FILE.npy       feed this input from a .npy file (repeatable)
  --inputs-dir=DIR            feed the inputs saved by run.js --out-dir=DIR
  --seed=N                    seed of the generated inputs (default ${lib.DEFAULTS.seed})
  --runs=N                    timed runs (default ${DEFAULT_RUNS})
  --warmup=N                  untimed runs first; their events are dropped (default ${DEFAULT_WARMUP})
  --threads=N                 intra-op threads (default ${lib.DEFAULTS.threads})
  --opt-level=LEVEL           disabled | basic | extended | layout | all (default ${lib.DEFAULTS.optLevel})
  --by=op|node                one row per op type or per node (default op)
  --top=N                     print only the N slowest rows (the total still counts all)
  --json=FILE                 write the full per-op and per-node tables as JSON`;

// ---------------------------------------------------------------------------
// Profile events -> tables

// ORT's type names in input_type_shape / output_type_shape -> short names.
const SHORT_TYPES = {
  float: 'f32', double: 'f64', float16: 'f16', bfloat16: 'bf16',
  int8: 'i8', uint8: 'u8', int16: 'i16', uint16: 'u16', int32: 'i32', uint32: 'u32',
  int64: 'i64', uint64: 'u64', bool: 'bool', string: 'str',
};

/** [{float: [1,3]}, ...] (ORT's *_type_shape) -> [{type, dims}]. */
function typeShapes(list) {
  if (!Array.isArray(list)) return [];
  return list.map((entry) => {
    const [type, dims] = Object.entries(entry || {})[0] || ['?', []];
    return { type, dims: Array.isArray(dims) ? dims.slice() : [] };
  });
}

/** [{type, dims}] -> `f32[1x3x48x192] f32[16]` (`[]` is a scalar). */
function formatTypeShapes(list) {
  return list.map((t) => `${SHORT_TYPES[t.type] || t.type}[${t.dims.join('x')}]`).join(' ');
}

function isKernelEvent(e) {
  return e && e.cat === 'Node' && typeof e.name === 'string' && e.name.endsWith(KERNEL_SUFFIX);
}

/**
 * Sums the kernel times of an ORT profile (the parsed JSON array of events)
 * over the timed runs. The session ran `warmup + runs` times; each run is a
 * `model_run` event (cat "Session"), and a kernel event belongs to the run
 * whose [ts, ts + dur] holds its ts. The first `warmup` runs are dropped.
 * Returns {runs, warmup, totalUs, ops, nodes}, times in microseconds summed
 * over the timed runs:
 *   nodes: [{name, nodeIndex, op, provider, us, calls, callUs, inputs, outputs}] (callUs:
 *          the duration of each timed call, in the profile's order; inputs/outputs:
 *          [{type, dims}] of the first timed call), slowest first;
 *   ops:   [{op, us, nodes, calls}], slowest first.
 * Throws when the profile does not hold exactly warmup + runs model_run events
 * or holds kernel events outside every run.
 */
function summarizeProfile(events, { runs, warmup = 0 }) {
  if (!Array.isArray(events)) throw new Error('the profile is not a JSON array of events');
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`bad run count ${runs}`);
  const runEvents = events
    .filter((e) => e && e.cat === 'Session' && e.name === 'model_run')
    .sort((a, b) => a.ts - b.ts);
  if (runEvents.length !== warmup + runs) {
    throw new Error(`the profile holds ${runEvents.length} model_run events, expected ${warmup + runs} ` +
      `(${warmup} warm-up + ${runs} timed runs)`);
  }
  const runOf = (ts) => {
    let lo = 0;
    let hi = runEvents.length - 1;
    let found = -1;
    while (lo <= hi) { // last run starting at or before ts
      const mid = (lo + hi) >> 1;
      if (runEvents[mid].ts <= ts) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0 || ts > runEvents[found].ts + runEvents[found].dur) return -1;
    return found;
  };

  const nodes = new Map();
  let totalUs = 0;
  let outside = 0;
  for (const e of events) {
    if (!isKernelEvent(e)) continue;
    const run = runOf(e.ts);
    if (run < 0) { outside++; continue; }
    if (run < warmup) continue;
    const args = e.args || {};
    const name = e.name.slice(0, -KERNEL_SUFFIX.length);
    const nodeIndex = args.node_index === undefined ? null : Number(args.node_index);
    const key = `${nodeIndex}\u0000${name}`;
    let n = nodes.get(key);
    if (!n) {
      n = {
        name,
        nodeIndex,
        op: args.op_name || '?',
        provider: args.provider || null,
        us: 0,
        calls: 0,
        callUs: [],
        inputs: typeShapes(args.input_type_shape),
        outputs: typeShapes(args.output_type_shape),
      };
      nodes.set(key, n);
    }
    n.us += e.dur;
    n.calls++;
    n.callUs.push(e.dur);
    totalUs += e.dur;
  }
  if (outside) throw new Error(`the profile holds ${outside} kernel events outside every model_run`);

  const ops = new Map();
  for (const n of nodes.values()) {
    let o = ops.get(n.op);
    if (!o) { o = { op: n.op, us: 0, nodes: 0, calls: 0 }; ops.set(n.op, o); }
    o.us += n.us;
    o.nodes++;
    o.calls += n.calls;
  }
  const slowest = (key) => (a, b) => b.us - a.us || (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0);
  return {
    runs,
    warmup,
    totalUs,
    ops: [...ops.values()].sort(slowest('op')),
    nodes: [...nodes.values()].sort(slowest('name')),
  };
}

/** The summary in milliseconds per run, as --json writes it (full tables, not cut by --top). */
function summaryToJson(summary, meta = {}) {
  const perRun = (us) => us / summary.runs / 1000;
  const share = (us) => (summary.totalUs > 0 ? us / summary.totalUs : 0);
  return {
    ...meta,
    runs: summary.runs,
    warmup: summary.warmup,
    totalMsPerRun: perRun(summary.totalUs),
    nodesTimed: summary.nodes.length,
    ops: summary.ops.map((o) => ({ op: o.op, msPerRun: perRun(o.us), share: share(o.us), nodes: o.nodes, calls: o.calls })),
    nodes: summary.nodes.map((n) => ({
      name: n.name,
      op: n.op,
      nodeIndex: n.nodeIndex,
      provider: n.provider,
      msPerRun: perRun(n.us),
      share: share(n.us),
      calls: n.calls,
      inputs: n.inputs,
      outputs: n.outputs,
    })),
  };
}

const fmtMs = (ms) => ms.toFixed(3);
const fmtShare = (s) => `${(100 * s).toFixed(1)}%`;

/** Aligned table lines for summaryToJson(...) rows: by 'op' or 'node'; top = max rows. */
function formatTable(json, by = 'op', top = Infinity) {
  const all = by === 'node' ? json.nodes : json.ops;
  const rows = all.slice(0, top);
  const cells = by === 'node'
    ? [['node', 'op', 'ms/run', 'share', 'inputs'],
      ...rows.map((n) => [n.name || `(node ${n.nodeIndex})`, n.op, fmtMs(n.msPerRun), fmtShare(n.share), formatTypeShapes(n.inputs)])]
    : [['op', 'ms/run', 'share', 'nodes'],
      ...rows.map((o) => [o.op, fmtMs(o.msPerRun), fmtShare(o.share), String(o.nodes)])];
  const left = by === 'node' ? [true, true, false, false, true] : [true, false, false, false];
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const lines = cells.map((r) => r.map((c, i) => {
    if (i === r.length - 1 && left[i]) return c; // no trailing blanks
    return left[i] ? c.padEnd(widths[i]) : c.padStart(widths[i]);
  }).join('  '));
  if (rows.length < all.length) {
    const rest = all.slice(rows.length);
    const ms = rest.reduce((a, r) => a + r.msPerRun, 0);
    const share = rest.reduce((a, r) => a + r.share, 0);
    lines.push(`(${rest.length} more ${by === 'node' ? 'nodes' : 'ops'}: ${fmtMs(ms)} ms/run, ${fmtShare(share)})`);
  }
  return lines;
}

// ---------------------------------------------------------------------------
// Profiling a model

/**
 * The profile file endProfiling() wrote into the private directory `dir`.
 * onnxruntime-node 1.30.0's InferenceSession.endProfiling() returns
 * undefined (its native binding returns the path, the JS wrapper drops it),
 * so unless a string comes back, the one file named PREFIX_*.json in the
 * fresh directory is it; any other count is an error.
 */
function profileFile(returned, dir) {
  if (typeof returned === 'string' && returned) {
    const file = path.resolve(returned);
    if (path.dirname(file) !== path.resolve(dir)) throw new Error(`ORT wrote the profile to '${file}', outside '${dir}'`);
    return file;
  }
  const found = fs.readdirSync(dir).filter((f) => f.startsWith(`${PROFILE_PREFIX}_`) && f.endsWith('.json'));
  if (found.length !== 1) {
    throw new Error(`expected one ORT profile file in '${dir}', found ${found.length}${found.length ? `: ${found.join(', ')}` : ''}`);
  }
  return path.join(dir, found[0]);
}

/**
 * Loads `modelPath` with ORT's profiler on, runs it opts.warmup + opts.runs
 * times on inputs from lib.generateInputs(opts) and returns
 * {summary (see summarizeProfile), inputs: [{name, dims, type}], wallMsPerRun}.
 * The profile goes to a fresh directory under os.tmpdir(), removed before
 * returning or throwing.
 */
async function profileModel(modelPath, opts = {}) {
  const runs = opts.runs === undefined ? DEFAULT_RUNS : opts.runs;
  const warmup = opts.warmup === undefined ? DEFAULT_WARMUP : opts.warmup;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-ort-profile-'));
  try {
    const session = await lib.loadSession(modelPath, { ...opts, profileFilePrefix: path.join(dir, PROFILE_PREFIX) });
    let file;
    let feeds;
    let names;
    let wallMs = 0;
    try {
      try {
        ({ feeds, names } = lib.generateInputs(session, opts));
      } catch (err) {
        if (err instanceof lib.UsageError) err.message = `${modelPath}: ${err.message}`;
        throw err;
      }
      for (let i = 0; i < warmup + runs; i++) {
        const { ms } = await lib.runSession(session, feeds, modelPath);
        if (i >= warmup) wallMs += ms;
      }
      file = profileFile(session.endProfiling(), dir);
    } finally {
      await session.release();
    }
    let events;
    try {
      events = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read ORT profile '${file}': ${err.message}`);
    }
    return {
      summary: summarizeProfile(events, { runs, warmup }),
      inputs: names.map((name) => ({ name, type: feeds[name].type, dims: feeds[name].dims.slice() })),
      wallMsPerRun: wallMs / runs,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// CLI

async function main(argv) {
  const { values, positionals } = lib.parseCliArgs(argv, {
    ...lib.COMMON_CLI_OPTIONS,
    runs: { type: 'string' },
    warmup: { type: 'string' },
    by: { type: 'string' },
    top: { type: 'string' },
    json: { type: 'string' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    const err = new lib.UsageError(`want exactly one model, got ${positionals.length}`);
    throw Object.assign(err, { showUsage: true });
  }
  const model = positionals[0];
  const by = values.by === undefined ? 'op' : values.by;
  if (by !== 'op' && by !== 'node') throw new lib.UsageError(`bad --by=${by} (op or node)`);
  const opts = {
    ...lib.commonOptsFromCli(values),
    runs: lib.parseIntOpt('runs', values.runs, 1),
    warmup: lib.parseIntOpt('warmup', values.warmup, 0),
  };
  const top = lib.parseIntOpt('top', values.top, 1);

  const { summary, inputs, wallMsPerRun } = await profileModel(model, opts);
  const json = summaryToJson(summary, {
    model,
    optLevel: opts.optLevel || lib.DEFAULTS.optLevel,
    threads: opts.threads === undefined ? lib.DEFAULTS.threads : opts.threads,
    seed: opts.seed === undefined ? lib.DEFAULTS.seed : opts.seed,
    inputs,
    wallMsPerRun,
  });
  for (const line of formatTable(json, by, top === undefined ? Infinity : top)) console.log(line);
  if (values.json) {
    try {
      fs.writeFileSync(values.json, JSON.stringify(json, null, 2) + '\n');
    } catch (err) {
      throw new lib.UsageError(`cannot write '${values.json}': ${err.message}`);
    }
  }
  console.log(`profile: total ${fmtMs(json.totalMsPerRun)} ms per run over ${summary.runs} runs ` +
    `(${summary.nodes.length} nodes timed)`);
  return 0;
}

if (require.main === module) lib.runCli('profile', USAGE, main);

module.exports = { summarizeProfile, summaryToJson, formatTable, formatTypeShapes, profileFile, profileModel };
