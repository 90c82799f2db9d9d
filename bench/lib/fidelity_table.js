#!/usr/bin/env node
'use strict';
// The summary of bench/fidelity.sh: one row per variant, the fidelity and
// latency of each model side by side (read from ort_bench.js's results.json
// files), and the goals of issue 14 checked on the int8 columns.
//
// CLI: node bench/lib/fidelity_table.js [--json=summary.json] det=results.json rec=... cls=...

const fs = require('node:fs');
const { parseArgs } = require('node:util');

// Goals for the int8 pipeline (issue 14): per-channel (`int8`) and
// per-tensor-only (`int8-pt`).
const GOALS = {
  int8: {
    rec: { strings: 0.95, cer: 0.01, latency: 0.75 },
    cls: { top1: 1.0, latency: 1.0 },
    det: { iou: 0.97, latency: 0.75 },
  },
  'int8-pt': { rec: { strings: 0.75 } },
};

function num(v) {
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  return typeof v === 'number' ? v : NaN;
}

/** Per variant and model: {latency, sqnr, strings, cer, top1, iou}. */
function collect(results) {
  const rows = new Map();
  for (const { model, doc } of results) {
    for (const v of doc.variants) {
      if (!rows.has(v.name)) rows.set(v.name, {});
      const f = v.fidelity;
      const n = f.samples;
      const cell = { latency: num(v.ratio_to_reference), sqnr: Math.min(...f.sqnr_db.map(num)) };
      if (v.name === doc.reference) cell.reference = true;
      if (model === 'rec') {
        cell.strings = n ? f.agreement / n : NaN;
        cell.cer = num(f.cer);
      }
      if (model === 'cls') cell.top1 = n ? f.agreement / n : NaN;
      if (model === 'det') cell.iou = num(f.iou);
      rows.get(v.name)[model] = cell;
    }
  }
  return rows;
}

/** Goal checks for one variant: [{model, metric, value, goal, met}]. */
function checkGoals(name, cells) {
  const goals = GOALS[name];
  if (!goals) return [];
  const checks = [];
  for (const [model, metrics] of Object.entries(goals)) {
    const c = cells[model];
    if (!c) continue;
    for (const [metric, goal] of Object.entries(metrics)) {
      const value = c[metric];
      const atMost = metric === 'cer' || metric === 'latency';
      const met = Number.isFinite(value) && (atMost ? value <= goal : value >= goal);
      checks.push({ model, metric, value, goal, atMost, met });
    }
  }
  return checks;
}

const pct = (v) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a');
const ratio = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
const db = (v) => (v === Infinity ? 'inf' : Number.isFinite(v) ? v.toFixed(1) : 'n/a');

function render(rows, models) {
  const header = ['variant'];
  const colsOf = {
    det: [['det IoU', (c) => (Number.isFinite(c.iou) ? c.iou.toFixed(3) : 'n/a')], ['det dB', (c) => db(c.sqnr)], ['det lat', (c) => ratio(c.latency)]],
    rec: [['rec strings', (c) => pct(c.strings)], ['rec CER', (c) => pct(c.cer)], ['rec dB', (c) => db(c.sqnr)], ['rec lat', (c) => ratio(c.latency)]],
    cls: [['cls top-1', (c) => pct(c.top1)], ['cls dB', (c) => db(c.sqnr)], ['cls lat', (c) => ratio(c.latency)]],
  };
  const columns = models.flatMap((m) => colsOf[m].map(([label, fn]) => ({ m, label, fn })));
  header.push(...columns.map((c) => c.label));
  const body = [...rows.entries()].map(([name, cells]) => [name, ...columns.map(({ m, fn }) => {
    const c = cells[m];
    if (!c) return '-';
    return c.reference ? 'ref' : fn(c);
  })]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r) => r.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  return [line(header), ...body.map(line)].join('\n');
}

function main(argv) {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'string' } }, allowPositionals: true });
  const results = positionals.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`bad argument '${p}' (want MODEL=results.json)`);
    return { model: p.slice(0, eq), doc: JSON.parse(fs.readFileSync(p.slice(eq + 1), 'utf8')) };
  });
  const models = results.map((r) => r.model);
  const rows = collect(results);
  console.log('Fidelity against FP32 (different images for calibration and evaluation) and latency / FP32 (1 thread):');
  console.log(render(rows, models));
  const goals = [];
  for (const [name, cells] of rows) {
    for (const g of checkGoals(name, cells)) {
      goals.push({ variant: name, ...g });
      const show = g.metric === 'latency' ? ratio : g.metric === 'iou' ? (v) => v.toFixed(3) : pct;
      console.log(`goal ${g.met ? 'met   ' : 'MISSED'} ${name} ${g.model} ${g.metric} ${show(g.value)} (goal ${g.atMost ? '<=' : '>='} ${show(g.goal)})`);
    }
  }
  if (values.json) {
    const doc = { schema: 'qopt-bench-fidelity/1', models, variants: Object.fromEntries(rows), goals };
    fs.writeFileSync(values.json, `${JSON.stringify(doc, (k, x) => (x === Infinity ? 'inf' : x), 2)}\n`);
  }
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`fidelity_table: ${err.message}`);
    process.exit(2);
  }
}

module.exports = { collect, checkGoals, render, GOALS };
