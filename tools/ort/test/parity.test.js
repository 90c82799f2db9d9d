'use strict';
// Tests of tools/ort/parity.js: reading the output scales from a
// hand-written qdq-boundaries report (fixtures/), the step arithmetic on
// hand-made tensors, and the CLI on the PaddleOCR classifier (needs qopt-opt:
// $QOPT_OPT, else build/tools/qopt-opt/qopt-opt).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const lib = require('../lib');
const parity = require('../parity');

const { Tensor } = lib.ort;
const ROOT = path.resolve(__dirname, '..', '..', '..');
const PARITY = path.join(ROOT, 'tools', 'ort', 'parity.js');
const FIXTURE = path.join(__dirname, 'fixtures', 'qdq_boundaries_graph_outputs.json');
const CLS = path.join(ROOT, 'testdata', 'models', 'paddleocr-cls.onnx');
const QOPT_OPT = process.env.QOPT_OPT || path.join(ROOT, 'build', 'tools', 'qopt-opt', 'qopt-opt');
const fixture = () => JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
const OPTS = { steps: 1, atol: 1e-4, rtol: 1e-3 };

test('outputQuantization: graph_outputs of the qdq-boundaries report', () => {
  const q = parity.outputQuantization(fixture());
  assert.equal(q.note, null);
  assert.deepEqual(q.outputs.get('softmax_0.tmp_0'), { scale: 0.00390625, zeroPoint: 0, type: 'uint8' });
  assert.equal(q.outputs.get('logits').scale, null);

  const old = fixture();
  delete old.analyses['qdq-boundaries'].graph_outputs;
  const o = parity.outputQuantization(old);
  assert.equal(o.outputs, null);
  assert.match(o.note, /no graph_outputs/);

  assert.throws(() => parity.outputQuantization({ analyses: {} }), lib.UsageError);
  const bad = fixture();
  bad.analyses['qdq-boundaries'].graph_outputs[0].scale = 0;
  assert.throws(() => parity.outputQuantization(bad), /bad scale/);
});

test('outputLimits: steps where a DequantizeLinear scale is known, a stated tolerance elsewhere', () => {
  const limits = parity.outputLimits(['softmax_0.tmp_0', 'logits', 'extra'], parity.outputQuantization(fixture()), OPTS);
  assert.deepEqual(limits.get('softmax_0.tmp_0'), { kind: 'steps', scale: 0.00390625, zeroPoint: 0, steps: 1 });
  assert.equal(limits.get('logits').kind, 'tolerance');
  assert.match(limits.get('logits').why, /not produced by a DequantizeLinear/);
  assert.match(limits.get('extra').why, /not listed/);
  const old = fixture();
  delete old.analyses['qdq-boundaries'].graph_outputs;
  const l2 = parity.outputLimits(['softmax_0.tmp_0'], parity.outputQuantization(old), OPTS);
  assert.equal(l2.get('softmax_0.tmp_0').kind, 'tolerance');
});

test('compareWithLimit: differences counted in quantization steps', () => {
  const s = 0.0123; // not a power of two: the float32 values carry rounding
  const q = [0, 1, 17, 200, 255];
  const t = (ks) => new Tensor('float32', Float32Array.from(ks, (k) => k * s), [ks.length]);
  const a = t(q);
  const steps = (n) => ({ kind: 'steps', scale: s, steps: n });
  let r = parity.compareWithLimit(a, t(q), steps(0));
  assert.equal(r.pass, true);
  assert.equal(r.differing, 0);
  r = parity.compareWithLimit(a, t([0, 2, 16, 200, 254]), steps(1)); // three elements one step off
  assert.equal(r.pass, true);
  assert.equal(r.differing, 3);
  assert.ok(Math.abs(r.maxSteps - 1) < 1e-4, String(r.maxSteps));
  r = parity.compareWithLimit(a, t([0, 2, 16, 200, 254]), steps(0));
  assert.equal(r.pass, false);
  assert.equal(r.outOfLimit, 3);
  r = parity.compareWithLimit(a, t([0, 1, 17, 202, 255]), steps(1)); // two steps
  assert.equal(r.pass, false);
  assert.equal(r.outOfLimit, 1);
  assert.ok(Math.abs(r.maxSteps - 2) < 1e-4);
  const withNan = t(q);
  withNan.data[2] = NaN;
  r = parity.compareWithLimit(a, withNan, steps(1000));
  assert.equal(r.pass, false);
  assert.equal(r.nanMismatch, 1);
  assert.match(parity.compareWithLimit(a, t([0, 1]), steps(1)).reason, /^dims 5 vs 2$/);

  const tol = { kind: 'tolerance', atol: 1e-4, rtol: 1e-3 };
  const x = new Tensor('float32', Float32Array.of(1, 100), [2]);
  assert.equal(parity.compareWithLimit(x, new Tensor('float32', Float32Array.of(1.0001, 100.09), [2]), tol).pass, true);
  assert.equal(parity.compareWithLimit(x, new Tensor('float32', Float32Array.of(1.002, 100), [2]), tol).pass, false);

  const merged = parity.mergeComparisons([parity.compareWithLimit(a, t(q), steps(1)),
    parity.compareWithLimit(a, t([0, 1, 17, 202, 255]), steps(1))]);
  assert.equal(merged.pass, false);
  assert.deepEqual(merged.reasons, ['1 of 10 elements beyond the limit (2 runs)']);
  assert.ok(Math.abs(merged.maxSteps - 2) < 1e-4);
});

function cli(args) {
  const r = spawnSync(process.execPath, [PARITY, ...args], {
    encoding: 'utf8', timeout: 60000, env: { ...process.env, QOPT_OPT },
  });
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, lines, last: lines[lines.length - 1], out: r.stdout + r.stderr };
}

test('parity.js: cls against itself passes; run at another opt level against a tiny step, it fails', () => {
  assert.ok(fs.existsSync(QOPT_OPT), `no qopt-opt at ${QOPT_OPT}: build qopt or set QOPT_OPT`);
  // The float model has no DequantizeLinear; the fixture names its output with a step.
  const common = [CLS, CLS, '--input-shape=x:1x3x48x192', `--boundaries=${FIXTURE}`, '--seeds=1,2', '--label=cls'];
  let r = cli([...common, '--steps=0']);
  assert.equal(r.code, 0, r.out);
  assert.equal(r.last, 'parity: PASS (cls)');
  assert.match(r.lines[0], /^cls\s+471\s+471\s+\d+\s+\d+\s+0 steps\s+0\s+0\s+PASS$/);
  // Graph optimizations move the float results by ~1e-7: beyond a step of 1e-9.
  const tiny = path.join(require('node:os').tmpdir(), `qopt-parity-${process.pid}.json`);
  const doc = fixture();
  doc.analyses['qdq-boundaries'].graph_outputs[0].scale = 1e-9;
  fs.writeFileSync(tiny, JSON.stringify(doc));
  try {
    r = cli([CLS, CLS, '--input-shape=x:1x3x48x192', `--boundaries=${tiny}`, '--seeds=1,2', '--label=cls',
      '--opt-levels=disabled', '--out-opt-level=all']);
  } finally {
    fs.rmSync(tiny, { force: true });
  }
  assert.equal(r.code, 1, r.out);
  assert.equal(r.last, 'parity: FAIL (cls)');
  assert.ok(r.lines.some((l) => /^ {2}disabled \(OUT at all\) output softmax_0\.tmp_0: .* FAIL \d+ of 4 elements beyond/.test(l)), r.out);
  r = cli([CLS, 'missing.onnx']);
  assert.equal(r.code, 2, r.out);
  assert.match(r.last, /^parity: ERROR /);
});
