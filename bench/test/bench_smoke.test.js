'use strict';
// Keeps bench/quantized_variants.sh from rotting: the whole chain (rendered
// images, canonicalize, qopt-calibrate, the five quantized variants, the ONNX
// Runtime benchmark) on the small PaddleOCR classifier with 2 timing rounds,
// checking that the table has every variant column and finite numbers
// (with --pipeline=dce standing in for fuse-qdq: the u8s8+dce and
// per-channel+dce columns and their before/after lines); the message when the
// pipeline names a pass qopt-opt does not know; plus the metrics and the
// before/after summaries on hand-made numbers. Needs a built qopt-opt ($QOPT_OPT, else
// build/tools/qopt-opt/qopt-opt), ImageMagick and the DejaVu fonts.
// Run: node --test bench/test/

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
// scripts/sanitize.sh runs qopt-opt built with ASan, several times slower.
const TIMEOUT_SCALE = Number(process.env.QOPT_TEST_TIMEOUT_SCALE || 1);
const metrics = require('../lib/metrics');
const pairs = require('../lib/pairs');

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'bench', 'quantized_variants.sh');
const KEYS = path.join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ppocr_keys_v1.txt');
const COLUMNS = ['original', 'fp32', 'u8s8', 'u8s8+dce', 'u8s8+islands', 'u8s8+auto', 'u8s8+per-channel', 'per-channel',
  'per-channel+dce', 'per-channel+islands', 'per-channel+auto', 's8s8', 'qop-s8', 'dynamic'];
const QOPT = process.env.QOPT_OPT || path.join(ROOT, 'build', 'tools', 'qopt-opt', 'qopt-opt');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-bench-smoke-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The rows under the header line naming `columns`: [{label, cells}]. */
function parseTable(stdout, columns) {
  const lines = stdout.split('\n');
  const header = lines.findIndex((l) => l.trim().split(/\s+/).join(' ') === columns.join(' '));
  assert.ok(header >= 0, `no header line '${columns.join(' ')}' in:\n${stdout}`);
  const rows = [];
  for (const line of lines.slice(header + 1)) {
    const parts = line.trim().split(/\s{2,}/);
    if (parts.length !== columns.length + 1) break;
    rows.push({ label: parts[0], cells: parts.slice(1) });
  }
  return rows;
}

/** The number in a cell: 1.23, 1.23x, 4.5%, 16/16 (as a fraction); NaN otherwise. */
function cellValue(cell) {
  const frac = /^(\d+)\/(\d+)$/.exec(cell);
  if (frac) return Number(frac[2]) > 0 ? Number(frac[1]) / Number(frac[2]) : NaN;
  const m = /^(-?\d+(?:\.\d+)?)[x%]?$/.exec(cell);
  return m ? Number(m[1]) : NaN;
}

test('quantized_variants.sh: cls, 2 rounds, every variant column with finite numbers', () => {
  const qopt = QOPT;
  assert.ok(fs.existsSync(qopt), `no qopt-opt at ${qopt}: build qopt (scripts/build.sh) or set QOPT_OPT`);
  const out = path.join(tmp, 'bench');
  const r = spawnSync('bash', [SCRIPT, '--skip-setup', '--models=cls', '--rounds=2', '--samples=4', `--out-dir=${out}`,
    '--pipeline=dce', '--pipeline-on=u8s8,per-channel', '--islands=cls:first-conv,depthwise,last-conv', '--auto=on'], {
    cwd: ROOT, encoding: 'utf8', timeout: 120000 * TIMEOUT_SCALE, env: { ...process.env, QOPT_OPT: qopt },
  });
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  const rows = parseTable(r.stdout, COLUMNS);
  const labels = rows.map((row) => row.label);
  for (const want of ['median latency (ms)', 'latency / fp32 (paired)', 'nodes in file', 'nodes after ORT optimization',
    'output SQNR (dB)', "top-1 = fp32's"]) {
    assert.ok(labels.includes(want), `no row '${want}' in:\n${r.stdout}`);
  }
  const ref = COLUMNS.indexOf('fp32');
  for (const { label, cells } of rows) {
    cells.forEach((cell, i) => {
      if (cell === 'ref' && i === ref) return; // fidelity rows: the reference itself
      if (cell === 'inf' && COLUMNS[i] === 'original' && label.includes('SQNR')) return; // bit-identical to fp32
      assert.ok(Number.isFinite(cellValue(cell)), `row '${label}', column ${COLUMNS[i]}: '${cell}' is not a finite number`);
    });
  }
  const row = (label) => rows.find((x) => x.label === label).cells.map(cellValue);
  assert.equal(row('latency / fp32 (paired)')[ref], 1);
  const nodes = row('nodes in file');
  assert.ok(nodes[COLUMNS.indexOf('u8s8')] > nodes[ref], 'the QDQ model has more nodes than FP32');
  const qdq = row('Q/DQ nodes in file');
  assert.equal(qdq[ref], 0);
  assert.ok(qdq[COLUMNS.indexOf('u8s8')] > 0, 'the QDQ model has Q/DQ nodes');
  const doc = JSON.parse(fs.readFileSync(path.join(out, 'cls', 'results.json'), 'utf8'));
  assert.equal(doc.schema, 'qopt-bench-variants/1');
  assert.deepEqual(doc.variants.map((v) => v.name), COLUMNS);
  for (const v of doc.variants) assert.equal(v.times_ms.length, 2, v.name);
  // dce changes nothing in a quantized model: the after columns count the same nodes.
  assert.equal(nodes[COLUMNS.indexOf('u8s8+dce')], nodes[COLUMNS.indexOf('u8s8')]);
  assert.match(r.stdout, /^ {2}VARIANT\+dce = qopt-opt VARIANT\.onnx --pass='dce'$/m);
  for (const v of ['u8s8', 'per-channel']) {
    assert.match(r.stdout, new RegExp(`^  ${v} -> ${v}\\+dce: latency \\d+\\.\\d\\dx \\(after/before, paired\\); ` +
      '/ fp32 \\d+\\.\\d\\dx -> \\d+\\.\\d\\dx; nodes in file (\\d+) -> \\1; after ORT optimization (\\d+) -> \\2$', 'm'));
  }
  assert.deepEqual(doc.pairs.map((p) => [p.before, p.after]), [['u8s8', 'u8s8+dce'], ['u8s8+dce', 'u8s8+islands'],
    ['u8s8', 'u8s8+auto'], ['u8s8', 'u8s8+per-channel'], ['per-channel', 'per-channel+dce'], ['per-channel+dce', 'per-channel+islands'],
    ['per-channel', 'per-channel+auto']]);
  // The QOperator variant runs int8 activations in QLinear ops: fewer nodes than the s8s8 QDQ file.
  assert.ok(nodes[COLUMNS.indexOf('qop-s8')] < nodes[COLUMNS.indexOf('s8s8')], 'qop-s8 is fused');
  assert.match(r.stdout, /^ {2}VARIANT\+auto = qopt-opt VARIANT\.onnx --pass='fuse-qdq\{float-units=auto target=ort-cpu input-shape=x:1x3x48x192\}'/m);
  // The default islands of cls (first conv, depthwise convs, the tail) run in float: fewer Q/DQ
  // pairs than the QDQ file, more nodes than plain fusion would leave, and the column is named.
  assert.match(r.stdout, /^ {2}VARIANT\+islands = qopt-opt VARIANT\.onnx --pass='fuse-qdq\{float-units=first-conv,depthwise,last-conv\}'/m);
  assert.ok(qdq[COLUMNS.indexOf('u8s8+islands')] < qdq[COLUMNS.indexOf('u8s8')], 'islands drop Q/DQ pairs');
  assert.ok(qdq[COLUMNS.indexOf('u8s8+islands')] > 0, 'island exits keep their Q');
});

test('quantized_variants.sh: a pipeline pass qopt-opt does not know leaves its columns out, with a message', () => {
  const r = spawnSync('bash', [SCRIPT, '--skip-setup', '--models=', '--pipeline=no-such-pass{x=1},dce',
    `--out-dir=${path.join(tmp, 'none')}`], { cwd: ROOT, encoding: 'utf8', timeout: 30000 * TIMEOUT_SCALE, env: { ...process.env, QOPT_OPT: QOPT } });
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /qopt-opt has no such pass \(.*unknown pass 'no-such-pass'.*\): no '\+no-such-pass' columns/);
});

test('pairs: before/after summaries from per-round times and node counts', () => {
  const names = ['fp32', 'u8s8', 'u8s8+fuse-qdq'];
  assert.deepEqual(pairs.parsePairs(['u8s8=u8s8+fuse-qdq'], names), [{ before: 'u8s8', after: 'u8s8+fuse-qdq' }]);
  assert.deepEqual(pairs.parsePairs(undefined, names), []);
  assert.throws(() => pairs.parsePairs(['u8s8'], names), /want BEFORE=AFTER/);
  assert.throws(() => pairs.parsePairs(['u8s8=s8s8'], names), /no variant 's8s8'/);
  assert.throws(() => pairs.parsePairs(['u8s8=u8s8'], names), /itself/);
  const before = { name: 'u8s8', times: [10, 20, 30], ratio: 0.88, nodes: { total: 1128 }, ortNodes: { total: 374 } };
  const after = { name: 'u8s8+fuse-qdq', times: [8, 20, 15], ratio: 0.7, nodes: { total: 400 }, ortNodes: { error: 'x' } };
  const s = pairs.summarizePair(before, after);
  assert.equal(s.latency_after_over_before, 0.8); // median of 0.8, 1, 0.5
  assert.equal(s.nodes_after, 400);
  assert.equal(s.ort_nodes_after, null);
  assert.equal(pairs.formatPair(s, 'fp32'), 'u8s8 -> u8s8+fuse-qdq: latency 0.80x (after/before, paired); ' +
    '/ fp32 0.88x -> 0.70x; nodes in file 1128 -> 400; after ORT optimization 374 -> n/a');
  assert.throws(() => pairs.summarizePair(before, { ...after, times: [1] }), /3 rounds against 1/);
});

test('metrics: SQNR, CTC greedy decoding with the PaddleOCR charset, binarized IoU', () => {
  const s = new metrics.Sqnr();
  s.add(Float32Array.of(3, 4), Float32Array.of(3, 4));
  assert.equal(s.db(), Infinity);
  s.add(Float32Array.of(0, 0), Float32Array.of(0.5, 0)); // signal 25, noise 0.25
  assert.ok(Math.abs(s.db() - 20) < 1e-9);

  const charset = metrics.loadCtcCharset(KEYS);
  assert.equal(charset.length, 6625, 'blank + 6623 keys + space = the rec model\'s 6625 classes');
  assert.equal(charset[0], '<blank>');
  assert.equal(charset[6624], ' ');
  const a = charset.indexOf('a');
  const b = charset.indexOf('b');
  // Steps: a a blank a b b space b -> "aab b"
  const steps = [a, a, 0, a, b, b, 6624, b];
  const probs = new Float32Array(steps.length * charset.length);
  steps.forEach((k, t) => { probs[t * charset.length + k] = 1; });
  assert.equal(metrics.ctcGreedyDecode(probs, steps.length, charset.length, charset), 'aab b');

  assert.deepEqual(metrics.binaryOverlap(Float32Array.of(0.9, 0.2, 0.5, 0.31), Float32Array.of(0.8, 0.4, 0.1, 0.3), 0.3),
    { inter: 1, union: 4 });
  assert.equal(metrics.editDistance('kitten', 'sitting'), 3);
  assert.equal(metrics.editDistance('', 'abc'), 3);
  assert.equal(metrics.editDistance('€5.00', '€5.00'), 0);
  assert.equal(metrics.editDistance('ab', 'ba'), 2);
  assert.equal(metrics.median([5, 1, 3]), 3);
  assert.equal(metrics.quantile([1, 2, 3, 4, 5], 0.25), 2);
});
