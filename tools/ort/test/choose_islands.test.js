'use strict';
// Tests of tools/ort/choose_islands.js: its helpers, and the CLI on the
// PaddleOCR classifier quantized by qopt itself (canonicalize, qopt-calibrate
// on 2 random samples, quantize; as tests/ort/lib.sh does) with few rounds,
// and on a hand-written QDQ model without units to put in float. Timing is
// noisy, so no test asserts which kind is kept. Needs qopt-opt: $QOPT_OPT,
// else build/tools/qopt-opt/qopt-opt.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const ci = require('../choose_islands');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TOOL = path.join(ROOT, 'tools', 'ort', 'choose_islands.js');
const CALIBRATE = path.join(ROOT, 'tools', 'qopt-calibrate');
const CLS = path.join(ROOT, 'testdata', 'models', 'paddleocr-cls.onnx');
const CLS_SHAPE = 'x:1x3x48x192';
const QOPT_OPT = process.env.QOPT_OPT || path.join(ROOT, 'build', 'tools', 'qopt-opt', 'qopt-opt');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-choose-islands-test-'));
// The CLI runs with TMPDIR here, so the tests see what it leaves behind.
const childTmp = path.join(tmp, 'tmpdir');
fs.mkdirSync(childTmp);
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const STEP = /^(first-conv|depthwise|last-conv): (?:candidate\/best = (\d+\.\d{3}) \(median of (\d+) paired rounds\) -> (kept|dropped)|not measured -> (no islands))/;
const LAST = /^choose_islands: (--pass=fuse-qdq|--pass='fuse-qdq\{float-units=((?:first-conv|depthwise|last-conv)(?:,(?:first-conv|depthwise|last-conv))*)\}')$/;

function qoptOpt(args) {
  const r = spawnSync(QOPT_OPT, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `qopt-opt ${args.join(' ')}: ${r.stderr}`);
}

function cli(args, env = {}) {
  const r = spawnSync(process.execPath, [TOOL, ...args], {
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, QOPT_OPT, TMPDIR: childTmp, ...env },
  });
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, lines, last: lines[lines.length - 1], stdout: r.stdout, stderr: r.stderr };
}

function steps(lines) {
  return lines.filter((l) => STEP.test(l)).map((l) => {
    const m = STEP.exec(l);
    return { kind: m[1], ratio: m[2] === undefined ? null : Number(m[2]), rounds: m[3] === undefined ? null : Number(m[3]), verdict: m[4] || m[5] };
  });
}

// What the tool left in TMPDIR: everything but ONNX Runtime's own `.ses`
// and `mat-debug-<pid>.log`, which it drops there whenever it loads a model.
function assertTmpEmpty() {
  const left = fs.readdirSync(childTmp).filter((f) => !/^(\.ses|mat-debug-\d+\.log)$/.test(f));
  assert.deepEqual(left, [], 'the tool left files in TMPDIR');
}

// ---------------------------------------------------------------------------
// Helpers

test('parseKinds: order kept, unknown and repeated kinds refused', () => {
  assert.deepEqual(ci.parseKinds('last-conv,first-conv'), ['last-conv', 'first-conv']);
  assert.deepEqual(ci.parseKinds(' depthwise , '), ['depthwise']);
  assert.throws(() => ci.parseKinds('first-conv,pointwise'), /bad --kinds entry 'pointwise'/);
  assert.throws(() => ci.parseKinds('depthwise,depthwise'), /twice/);
  assert.throws(() => ci.parseKinds(','), /empty/);
});

test('passFor / passOption', () => {
  assert.equal(ci.passFor([]), 'fuse-qdq');
  assert.equal(ci.passFor(['first-conv', 'depthwise']), 'fuse-qdq{float-units=first-conv,depthwise}');
  assert.equal(ci.passOption([]), '--pass=fuse-qdq');
  assert.equal(ci.passOption(['last-conv']), "--pass='fuse-qdq{float-units=last-conv}'");
});

test('islandsOf / dequantizeBefore read the qopt-opt JSON report', () => {
  const report = {
    passes: [{ name: 'qdq-cleanup', census: { before: { dequantize: 7 } } }],
    analyses: {
      'float-islands': {
        islands: [{ seed: 'conv_a', entry: 'DequantizeLinear', ops: ['Conv'] }],
        not_isolated: [{ seed: 'conv_b', why: 'nothing to take in' }],
      },
    },
  };
  assert.deepEqual(ci.islandsOf(report), { islands: ['conv_a'], notIsolated: [{ seed: 'conv_b', why: 'nothing to take in' }] });
  assert.deepEqual(ci.islandsOf({ analyses: {} }), { islands: [], notIsolated: [] });
  assert.equal(ci.dequantizeBefore(report), 7);
  assert.equal(ci.dequantizeBefore({}), undefined);
});

// ---------------------------------------------------------------------------
// CLI

let qdq;

test('setup: cls quantized by qopt (canonicalize, calibrate, quantize)', () => {
  assert.ok(fs.existsSync(QOPT_OPT), `no qopt-opt at ${QOPT_OPT}: build qopt or set QOPT_OPT`);
  const fp32 = path.join(tmp, 'fp32.onnx');
  const calib = path.join(tmp, 'calib.json');
  qdq = path.join(tmp, 'qdq.onnx');
  qoptOpt([CLS, '--pass=canonicalize', '--report=none', '-o', fp32]);
  const r = spawnSync(CALIBRATE, [fp32, '--random=2', `--input-shape=${CLS_SHAPE}`, '-o', calib], {
    encoding: 'utf8', timeout: 120000, env: { ...process.env, QOPT_OPT },
  });
  assert.equal(r.status, 0, `qopt-calibrate: ${r.stdout}${r.stderr}`);
  qoptOpt([fp32, `--pass=quantize{calibration=${calib}}`, '--report=none', '-o', qdq]);
});

test('cls: every kind gets a step line, the last line is the option to use', () => {
  const r = cli([qdq, `--input-shape=${CLS_SHAPE}`, '--rounds=3']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.last, LAST);
  const s = steps(r.lines);
  assert.deepEqual(s.map((x) => x.kind), ['first-conv', 'depthwise', 'last-conv']);
  for (const x of s) {
    if (x.verdict === 'no islands') continue;
    assert.equal(x.rounds, 3);
    assert.ok(x.ratio > 0, `${x.kind}: ratio ${x.ratio}`);
  }
  // The final option names exactly the kept kinds, in --kinds order.
  const kept = s.filter((x) => x.verdict === 'kept').map((x) => x.kind);
  const m = LAST.exec(r.last);
  assert.deepEqual(m[2] ? m[2].split(',') : [], kept);
  assert.ok(r.lines.some((l) => /^final: /.test(l)), 'no final ratio line');
  assertTmpEmpty();
});

test('cls: --kinds order is followed; --min-gain=1 keeps nothing; --keep keeps the models', () => {
  const keep = path.join(tmp, 'keep');
  const r = cli([qdq, `--input-shape=${CLS_SHAPE}`, '--rounds=2', '--warmup=1', '--min-gain=1',
    '--kinds=last-conv,depthwise', `--keep=${keep}`]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.last, 'choose_islands: --pass=fuse-qdq');
  const s = steps(r.lines);
  assert.deepEqual(s.map((x) => x.kind), ['last-conv', 'depthwise']);
  assert.ok(s.every((x) => x.verdict !== 'kept'), r.stdout);
  assert.match(r.stdout, /^final: nothing kept/m);
  const files = fs.readdirSync(keep);
  assert.ok(files.includes('base.onnx'), files.join(' '));
  assert.ok(files.includes('base.report.json'), files.join(' '));
  // Nothing kept, so each candidate is one kind alone.
  if (s[0].verdict === 'dropped') assert.ok(files.includes('islands-last-conv.onnx'), files.join(' '));
  if (s[1].verdict === 'dropped') assert.ok(files.includes('islands-depthwise.onnx'), files.join(' '));
  assertTmpEmpty();
});

test('a QDQ model without units to put in float: every kind "no islands"', () => {
  const txt = path.join(tmp, 'qdq_relu.onnxtxt');
  const model = path.join(tmp, 'qdq_relu.onnx');
  fs.writeFileSync(txt, `<ir_version: 8, opset_import: ["" : 13]>
qdqrelu (float[1,4] X) => (float[1,4] Y)
<float s = {0.05}, uint8 z = {128}>
{
  Xq = QuantizeLinear(X, s, z)
  Xd = DequantizeLinear(Xq, s, z)
  R = Relu(Xd)
  Rq = QuantizeLinear(R, s, z)
  Y = DequantizeLinear(Rq, s, z)
}
`);
  qoptOpt([txt, '--report=none', '-o', model]);
  const r = cli([model, '--rounds=2']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(steps(r.lines).map((x) => `${x.kind} ${x.verdict}`),
    ['first-conv no islands', 'depthwise no islands', 'last-conv no islands']);
  assert.equal(r.last, 'choose_islands: --pass=fuse-qdq');
  assertTmpEmpty();
});

test('errors exit 2 with a last line choose_islands: ERROR', () => {
  const cases = [
    [[path.join(tmp, 'missing.onnx'), `--input-shape=${CLS_SHAPE}`], /no such file/],
    [[qdq, `--input-shape=${CLS_SHAPE}`, '--kinds=first-conv,pointwise'], /bad --kinds entry 'pointwise'/],
    [[qdq, '--rounds=0'], /bad --rounds=0/],
    [[qdq, '--min-gain=x'], /bad --min-gain=x/],
    [[qdq, `--qopt-opt=${path.join(tmp, 'no-qopt-opt')}`], /qopt-opt not found/],
    // qopt-opt runs and fails (after the temporary folder was made).
    [[qdq, '--qopt-opt=/bin/false'], /qopt-opt .* failed \(exit 1\)/],
    // Inputs ONNX Runtime's model does not take (after the temporary folder was made).
    [[qdq, '--input-shape=x:1x3x48'], /rank/],
    // Not a QDQ model.
    [[CLS, `--input-shape=${CLS_SHAPE}`], /no DequantizeLinear: not a QDQ model/],
    [[], /want one QDQ\.onnx/],
  ];
  for (const [args, want] of cases) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.last, /^choose_islands: ERROR /, args.join(' '));
    assert.match(r.last, want, args.join(' '));
  }
  assertTmpEmpty();
});

test('the generated models go under TMPDIR', () => {
  // A TMPDIR that does not exist makes the tool fail: it does write there.
  const r = cli([qdq, `--input-shape=${CLS_SHAPE}`, '--rounds=1'], { TMPDIR: path.join(tmp, 'no-such-dir') });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.last, /^choose_islands: ERROR .*ENOENT.*mkdtemp/);
});
