#!/usr/bin/env node
'use strict';
// Parity of a rewritten quantized model with its input, in quantization steps:
// runs IN.onnx (a QDQ model) and OUT.onnx (the same after a qopt pipeline) in
// ONNX Runtime on the same seeded inputs, at each graph optimization level
// asked for, and checks every output element within N steps, the step being
// the scale of the DequantizeLinear that produces that graph output in IN
// (from `qopt-opt IN --pass=qdq-boundaries --report=json`, field
// analyses["qdq-boundaries"].graph_outputs). Outputs without such a scale
// are held to |out - in| <= atol + rtol*|in| instead, and say so.
// Used by tests/ort/pipeline_parity.sh; see tools/ort/README.md.
//
// Exit 0: every output passes; 1: some output differs; 2: usage error, or a
// model or qopt-opt failed. The last line of stdout is `parity: PASS|FAIL|ERROR ...`.

const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const lib = require('./lib');

const USAGE = `usage: node tools/ort/parity.js IN.onnx OUT.onnx [options]
  --qopt-opt=PATH             for op-count and qdq-boundaries (default $QOPT_OPT)
  --input-shape=NAME:1x3x48x192  dims of an input (repeatable)
  --seeds=1,2,3               one run per seed (inputs uniform in [-1, 1), as run.js)
  --opt-levels=disabled,all   ONNX Runtime graph optimization levels to check at
  --steps=N                   allowed |out - in| in quantization steps (default 1)
  --atol=X --rtol=X           for outputs without a DequantizeLinear scale (default ${1e-4}, ${1e-3})
  --boundaries=FILE.json      read the qdq-boundaries report from FILE instead of running qopt-opt
  --out-opt-level=LEVEL       run OUT at LEVEL whatever the level of IN (to check the checker)
  --in-opt-level=LEVEL        run IN at LEVEL whatever the level of OUT: with "all", OUT is compared
                              with ONNX Runtime's own fused execution of IN
  --label=TEXT                first cells of the table row (default: IN's file name)
  --header                    print only the table header, then exit`;

const DEFAULT_ATOL = 1e-4;
const DEFAULT_RTOL = 1e-3;
// A k-step difference computed from float32 outputs is k up to float32
// rounding of values up to 2^16 steps from the zero point; this slack keeps
// such rounding from turning an allowed step into a failure.
const STEP_SLACK = 1e-3;

/**
 * Quantization of each graph output, from a qopt-opt JSON report that ran
 * qdq-boundaries: Map name -> {scale (number or null), zeroPoint, type}.
 * Returns {outputs, note}; `outputs` is null (and `note` says why) when the
 * report has no graph_outputs field (a qopt-opt older than that field).
 */
function outputQuantization(report) {
  const qb = report && report.analyses && report.analyses['qdq-boundaries'];
  if (!qb) throw new lib.UsageError('the report has no analyses["qdq-boundaries"] (did qdq-boundaries run?)');
  if (!Array.isArray(qb.graph_outputs)) {
    return { outputs: null, note: 'qopt-opt\'s qdq-boundaries report has no graph_outputs (qopt-opt predates it)' };
  }
  const outputs = new Map();
  for (const o of qb.graph_outputs) {
    if (!o || typeof o.name !== 'string') throw new lib.UsageError(`bad graph_outputs entry ${JSON.stringify(o)}`);
    const scale = o.scale === null || o.scale === undefined ? null : Number(o.scale);
    if (scale !== null && !(Number.isFinite(scale) && scale > 0)) {
      throw new lib.UsageError(`graph output '${o.name}': bad scale ${JSON.stringify(o.scale)}`);
    }
    outputs.set(o.name, { scale, zeroPoint: o.zero_point === undefined ? null : o.zero_point, type: o.type || null });
  }
  return { outputs, note: null };
}

/**
 * The limit each output is held to: {kind: 'steps', scale, steps} or
 * {kind: 'tolerance', atol, rtol, why}.
 */
function outputLimits(names, quant, opts) {
  const limits = new Map();
  for (const name of names) {
    const q = quant.outputs ? quant.outputs.get(name) : undefined;
    if (q && q.scale !== null) {
      limits.set(name, { kind: 'steps', scale: q.scale, zeroPoint: q.zeroPoint, steps: opts.steps });
    } else {
      const why = !quant.outputs ? quant.note
        : q ? 'not produced by a DequantizeLinear in the input model'
          : 'not listed in the report\'s graph_outputs';
      limits.set(name, { kind: 'tolerance', atol: opts.atol, rtol: opts.rtol, why });
    }
  }
  return limits;
}

/**
 * Compares output tensor `b` (rewritten model) against `a` (input model)
 * under `limit`. Returns {pass, reason, elements, differing, outOfLimit,
 * nanMismatch, maxAbs, maxSteps (steps limits only)}.
 */
function compareWithLimit(a, b, limit) {
  const res = { pass: false, reason: '', elements: 0, differing: 0, outOfLimit: 0, nanMismatch: 0, maxAbs: 0, maxSteps: 0 };
  if (a.type !== b.type) {
    res.reason = `dtype ${a.type} vs ${b.type}`;
    return res;
  }
  if (a.dims.length !== b.dims.length || a.dims.some((d, i) => Number(d) !== Number(b.dims[i]))) {
    res.reason = `dims ${lib.dimsToString(a.dims)} vs ${lib.dimsToString(b.dims)}`;
    return res;
  }
  const va = a.data;
  const vb = b.data;
  res.elements = va.length;
  const stepTol = limit.kind === 'steps' ? (limit.steps + STEP_SLACK) * limit.scale : 0;
  for (let i = 0; i < va.length; i++) {
    const x = Number(va[i]);
    const y = Number(vb[i]);
    if (x === y) continue;
    const xn = Number.isNaN(x);
    const yn = Number.isNaN(y);
    if (xn || yn) {
      if (xn && yn) continue;
      res.differing++;
      res.outOfLimit++;
      res.nanMismatch++;
      continue;
    }
    res.differing++;
    const d = Math.abs(x - y); // Infinity for inf vs finite, NaN for inf vs -inf
    if (!(d <= res.maxAbs)) res.maxAbs = Number.isNaN(d) ? Infinity : d;
    const ok = limit.kind === 'steps' ? d <= stepTol : d <= limit.atol + limit.rtol * Math.abs(x);
    if (!ok) res.outOfLimit++;
  }
  if (limit.kind === 'steps') res.maxSteps = res.maxAbs / limit.scale;
  res.pass = res.outOfLimit === 0;
  if (!res.pass) res.reason = `${res.outOfLimit} of ${res.elements} elements beyond the limit`;
  return res;
}

/** Merges per-run comparisons of one output into its worst case. */
function mergeComparisons(list) {
  const m = { pass: true, reasons: [], elements: 0, differing: 0, outOfLimit: 0, nanMismatch: 0, maxAbs: 0, maxSteps: 0 };
  for (const r of list) {
    m.pass = m.pass && r.pass;
    if (r.reason && !r.outOfLimit && !m.reasons.includes(r.reason)) m.reasons.push(r.reason); // dtype, dims
    for (const k of ['elements', 'differing', 'outOfLimit', 'nanMismatch']) m[k] += r[k];
    m.maxAbs = Math.max(m.maxAbs, r.maxAbs);
    m.maxSteps = Math.max(m.maxSteps, r.maxSteps);
  }
  if (m.outOfLimit) m.reasons.push(`${m.outOfLimit} of ${m.elements} elements beyond the limit (${list.length} runs)`);
  return m;
}

function describeLimit(limit) {
  return limit.kind === 'steps'
    ? `<= ${limit.steps} step(s) of ${lib.fmtNum(limit.scale)}`
    : `|out-in| <= ${lib.fmtNum(limit.atol)} + ${lib.fmtNum(limit.rtol)}*|in|`;
}

/** The worst cell of one level: "0", "1.00" steps, or "3.1e-7 abs" for tolerance-held outputs. */
function levelCell(perOutput, limits) {
  const steps = [];
  const abs = [];
  for (const [name, r] of perOutput) (limits.get(name).kind === 'steps' ? steps : abs).push(r);
  const parts = [];
  if (steps.length) {
    const s = Math.max(...steps.map((r) => r.maxSteps));
    parts.push(s === 0 ? '0' : s.toFixed(2));
  }
  if (abs.length) {
    const a = Math.max(...abs.map((r) => r.maxAbs));
    parts.push(`${a === 0 ? '0' : a.toExponential(1)} abs`);
  }
  return parts.join(' + ');
}

// ---------------------------------------------------------------------------
// qopt-opt reports

function qoptReport(qoptOpt, file, pass) {
  const r = spawnSync(qoptOpt, [file, `--pass=${pass}`, '--report=json'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw new lib.UsageError(`cannot run qopt-opt '${qoptOpt}': ${r.error.message}`);
  if (r.status !== 0) throw new lib.UsageError(`qopt-opt ${file} --pass=${pass}: ${lib.oneLine(r.stderr || `exit ${r.status}`)}`);
  return JSON.parse(r.stdout);
}

/** Units of a model that ONNX Runtime does not fuse, from its qdq-boundaries report: {count, reasons}. */
function unfusedByOrt(report) {
  const reasons = (report && report.analyses && report.analyses['qdq-boundaries'] &&
    report.analyses['qdq-boundaries'].reasons) || {};
  let count = 0;
  const names = [];
  for (const [reason, n] of Object.entries(reasons)) {
    if (!reason.includes('not fused by ORT on this target')) continue;
    count += n;
    names.push(reason);
  }
  return { count, reasons: names };
}

function fileBytes(file) {
  let n = fs.statSync(file).size;
  if (fs.existsSync(`${file}.data`)) n += fs.statSync(`${file}.data`).size;
  return n;
}

// ---------------------------------------------------------------------------
// Table

const COLUMNS = [
  ['model/variant', 20, 'l'], ['nodes in', 8], ['nodes out', 9], ['KB in', 8], ['KB out', 8],
  ['limit', 8], ['max|diff| disabled', 18], ['max|diff| all', 14], ['result', 6],
];

function tableLine(cells) {
  return cells.map((c, i) => {
    const [, w, align] = COLUMNS[i] || ['', 10];
    return align === 'l' ? String(c).padEnd(w) : String(c).padStart(w);
  }).join('  ').trimEnd();
}

function header() {
  return `${tableLine(COLUMNS.map((c) => c[0]))}\n` +
    '  (max|diff| in quantization steps of the output DequantizeLinear of the input model; "abs": absolute, see notes)';
}

// ---------------------------------------------------------------------------

async function check(inPath, outPath, opts) {
  const report = opts.boundaries
    ? JSON.parse(fs.readFileSync(opts.boundaries, 'utf8'))
    : qoptReport(opts.qoptOpt, inPath, 'qdq-boundaries');
  const quant = outputQuantization(report);
  const counts = [inPath, outPath].map((f) => qoptReport(opts.qoptOpt, f, 'op-count').analyses['op-count'].total_nodes);
  const lines = [];
  const perLevel = new Map();
  let limits;
  for (const level of opts.levels) {
    const outLevel = opts.outOptLevel || level;
    const inLevel = opts.inOptLevel || level;
    const sIn = await lib.loadSession(inPath, { optLevel: inLevel, threads: 1 });
    let sOut;
    try {
      sOut = await lib.loadSession(outPath, { optLevel: outLevel, threads: 1 });
      const names = sIn.outputNames;
      const missing = names.filter((n) => !sOut.outputNames.includes(n));
      const extra = sOut.outputNames.filter((n) => !names.includes(n));
      if (missing.length || extra.length) {
        throw Object.assign(new Error(`outputs differ: only in IN [${missing}], only in OUT [${extra}]`), { parity: true });
      }
      if (!limits) limits = outputLimits(names, quant, opts);
      const runs = new Map(names.map((n) => [n, []]));
      for (const seed of opts.seeds) {
        const { feeds, names: inNames } = lib.generateInputs(sIn, { seed, shapes: opts.shapes });
        const feedsOut = {};
        sOut.inputNames.forEach((n, i) => { feedsOut[n] = feeds[n] || feeds[inNames[i]]; });
        const a = await lib.runSession(sIn, feeds, inPath);
        const b = await lib.runSession(sOut, feedsOut, outPath);
        for (const n of names) {
          const ta = a.outputs.find((o) => o.name === n).tensor;
          const tb = b.outputs.find((o) => o.name === n).tensor;
          runs.get(n).push(compareWithLimit(ta, tb, limits.get(n)));
        }
      }
      const merged = new Map([...runs].map(([n, list]) => [n, mergeComparisons(list)]));
      perLevel.set(level, merged);
      for (const [n, m] of merged) {
        const lim = limits.get(n);
        lines.push(`  ${level}${outLevel !== level ? ` (OUT at ${outLevel})` : ''} output ${n}: ` +
          `max_abs=${lib.fmtNum(m.maxAbs)}${lim.kind === 'steps' ? ` max_steps=${lib.fmtNum(m.maxSteps)}` : ''} ` +
          `differing=${m.differing}/${m.elements} beyond=${m.outOfLimit} nan_mismatch=${m.nanMismatch} ` +
          `limit ${describeLimit(lim)} ${m.pass ? 'PASS' : `FAIL ${m.reasons.join('; ')}`}`);
      }
    } finally {
      await sIn.release();
      if (sOut) await sOut.release();
    }
  }
  const notes = [];
  // Units ONNX Runtime leaves unfused on this target (qopt's profile says
  // which: int8 activations on x86). Where IN and OUT differ in them (OUT
  // fuses or converts IN's, or OUT is QDQ where IN ran integer kernels),
  // OUT is not ORT's own execution of IN at any level: the steps measured
  // are a distance, not an exact match.
  const unfused = unfusedByOrt(report);
  const unfusedOut = unfusedByOrt(qoptReport(opts.qoptOpt, outPath, 'qdq-boundaries'));
  const distance = unfusedOut.count !== unfused.count;
  if (distance) {
    const [side, u] = unfused.count > unfusedOut.count ? ['IN', unfused] : ['OUT', unfusedOut];
    notes.push(`note: ONNX Runtime does not fuse ${u.count} unit(s) of ${side} on this target ` +
      `(${u.reasons.join('; ')}), ${side === 'IN' ? unfusedOut.count : unfused.count} of the other: OUT is not ` +
      "ORT's own run of IN, so this is a distance in steps, not exact");
  }
  for (const [n, lim] of limits) {
    if (lim.kind === 'tolerance') notes.push(`note: output '${n}': ${lim.why}; held to ${describeLimit(lim)} instead of steps`);
  }
  const pass = [...perLevel.values()].every((m) => [...m.values()].every((r) => r.pass));
  const anySteps = [...limits.values()].some((l) => l.kind === 'steps');
  const cells = [
    opts.label, counts[0], counts[1], (fileBytes(inPath) / 1024).toFixed(0), (fileBytes(outPath) / 1024).toFixed(0),
    anySteps ? `${opts.steps} step${opts.steps === 1 ? '' : 's'}` : 'tol',
    perLevel.has('disabled') ? levelCell(perLevel.get('disabled'), limits) : '-',
    perLevel.has('all') ? levelCell(perLevel.get('all'), limits) : '-',
    pass ? (distance ? 'DIST' : 'PASS') : 'FAIL',
  ];
  return { pass, distance, row: tableLine(cells), lines, notes, counts };
}

function parseList(name, text, parse) {
  const items = String(text).split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new lib.UsageError(`--${name} is empty`);
  return items.map(parse);
}

async function main(argv) {
  const { values, positionals } = lib.parseCliArgs(argv, {
    'qopt-opt': { type: 'string' },
    'input-shape': { type: 'string', multiple: true },
    seeds: { type: 'string', default: '1,2,3' },
    'opt-levels': { type: 'string', default: 'disabled,all' },
    steps: { type: 'string', default: '1' },
    atol: { type: 'string' },
    rtol: { type: 'string' },
    boundaries: { type: 'string' },
    'out-opt-level': { type: 'string' },
    'in-opt-level': { type: 'string' },
    label: { type: 'string' },
    header: { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.header) {
    console.log(header());
    return 0;
  }
  if (positionals.length !== 2) {
    throw Object.assign(new lib.UsageError(`want IN.onnx and OUT.onnx, got ${positionals.length} files`), { showUsage: true });
  }
  const level = (l) => {
    if (!lib.OPT_LEVELS.includes(l)) throw new lib.UsageError(`bad opt level '${l}' (one of ${lib.OPT_LEVELS.join(', ')})`);
    return l;
  };
  const opts = {
    qoptOpt: values['qopt-opt'] || process.env.QOPT_OPT,
    shapes: lib.parseShapeSpecs(values['input-shape'] || []),
    seeds: parseList('seeds', values.seeds, (s) => lib.parseIntOpt('seeds', s)),
    levels: parseList('opt-levels', values['opt-levels'], level),
    steps: lib.parseFloatOpt('steps', values.steps),
    atol: values.atol === undefined ? DEFAULT_ATOL : lib.parseFloatOpt('atol', values.atol),
    rtol: values.rtol === undefined ? DEFAULT_RTOL : lib.parseFloatOpt('rtol', values.rtol),
    boundaries: values.boundaries,
    outOptLevel: values['out-opt-level'] === undefined ? undefined : level(values['out-opt-level']),
    inOptLevel: values['in-opt-level'] === undefined ? undefined : level(values['in-opt-level']),
    label: values.label || require('node:path').basename(positionals[0]),
  };
  if (!opts.qoptOpt) throw new lib.UsageError('give --qopt-opt=PATH or set QOPT_OPT');
  const [inPath, outPath] = positionals;
  for (const f of positionals) if (!fs.existsSync(f)) throw new lib.ModelError(f, 'load', new Error('no such file'));
  let res;
  try {
    res = await check(inPath, outPath, opts);
  } catch (err) {
    if (err.parity) {
      console.log(`parity: FAIL ${err.message}`);
      return 1;
    }
    throw err;
  }
  console.log(res.row);
  for (const n of res.notes) console.log(`  ${n}`);
  if (!res.pass || values.verbose) for (const l of res.lines) console.log(l);
  const kind = res.distance ? '; a distance: ONNX Runtime does not fuse the same units of IN and OUT, see the note' : '';
  console.log(`parity: ${res.pass ? 'PASS' : 'FAIL'} (${opts.label}${kind})`);
  return res.pass ? 0 : 1;
}

if (require.main === module) lib.runCli('parity', USAGE, main);

module.exports = {
  outputQuantization, outputLimits, compareWithLimit, mergeComparisons, levelCell, unfusedByOrt, STEP_SLACK,
};
