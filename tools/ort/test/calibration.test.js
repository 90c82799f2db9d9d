'use strict';
// Tests of qopt-calibrate (calibrate.js, calibration.js): the statistics on
// hand-computed tensors, the input decoders, ORT calibration tables, a tiny
// model whose ranges are known exactly, the PaddleOCR models over text
// images rendered here with ImageMagick, and the one-line errors (exit 2).
//
// qopt-opt comes from $QOPT_OPT, else build/tools/qopt-opt/qopt-opt.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const lib = require('../lib');
const cal = require('../calibration');

const { Tensor } = lib.ort;
const ROOT = path.resolve(__dirname, '..', '..', '..');
const CALIBRATE = path.join(ROOT, 'tools', 'ort', 'calibrate.js');
const QOPT_OPT = process.env.QOPT_OPT || cal.DEFAULT_QOPT_OPT;
const MODELS = path.join(ROOT, 'testdata', 'models');
const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-calib-test-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function calibrateCli(args) {
  const r = spawnSync(process.execPath, [CALIBRATE, ...args], {
    encoding: 'utf8', timeout: 120000, env: { ...process.env, QOPT_OPT },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, err: r.stderr.trim() };
}

function qoptOpt(args) {
  const r = spawnSync(QOPT_OPT, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `qopt-opt ${args.join(' ')}: ${r.stderr}`);
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function f32(values, dims) {
  return new Tensor('float32', Float32Array.from(values), dims);
}

/** Runs qopt-calibrate, expects success, returns the calib.json document. */
function calibrateOk(args, out) {
  const r = calibrateCli([...args, '-o', out]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^calibrate: OK \(/m);
  const doc = readJson(out);
  assert.deepEqual(cal.validateCalib(doc), []);
  return doc;
}

/** Runs qopt-calibrate, expects exit 2 with one error line matching `re`. */
function calibrateFails(args, re) {
  const r = calibrateCli(args);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.equal(r.err.split('\n').length, 1, `one line: ${r.err}`);
  assert.match(r.err, /^qopt-calibrate: error: /);
  assert.match(r.err, re);
  return r.err;
}

// ---------------------------------------------------------------------------
// Statistics

test('channelAxis: channels-first for rank >= 4 and conv-read rank 3, else the last axis', () => {
  assert.deepEqual(cal.channelAxis(4), { axis: 1, rule: 'channels-first' });
  assert.deepEqual(cal.channelAxis(5), { axis: 1, rule: 'channels-first' });
  assert.deepEqual(cal.channelAxis(3, ['MatMul']), { axis: 2, rule: 'channels-last' });
  assert.deepEqual(cal.channelAxis(3, ['Conv']), { axis: 1, rule: 'channels-first' });
  assert.deepEqual(cal.channelAxis(2, ['Gemm']), { axis: 1, rule: 'channels-last' });
  assert.equal(cal.channelAxis(1), null);
  assert.equal(cal.channelAxis(0), null);
});

test('TensorStats: min, max, mean and per-channel absmax over NCHW samples', () => {
  const s = new cal.TensorStats('t');
  // [N=2, C=2, H=1, W=2]: channel 0 holds -3, 1, 0.5, 2; channel 1 holds 4, -5, 0, 0.25
  s.update(f32([-3, 1, 4, -5, 0.5, 2, 0, 0.25], [2, 2, 1, 2]));
  s.update(f32([1, 1, -6, 2], [1, 2, 1, 2]));
  const j = s.toJSON({ opType: 'Conv' });
  assert.equal(j.min, -6);
  assert.equal(j.max, 4);
  assert.equal(j.absmax, 6);
  assert.equal(j.count, 12);
  assert.equal(j.samples, 2);
  assert.equal(j.mean, (-3 + 1 + 4 - 5 + 0.5 + 2 + 0 + 0.25 + 1 + 1 - 6 + 2) / 12);
  assert.deepEqual(j.dims, [null, 2, 1, 2]);
  assert.deepEqual(j.channel, { axis: 1, rule: 'channels-first', absmax: [3, 6] });
  assert.equal(j.op_type, 'Conv');
  assert.equal(j.percentile, undefined);
});

test('TensorStats: channels-last for MatMul activations, none for vectors', () => {
  const s = new cal.TensorStats('t', { consumers: ['MatMul'] });
  // [1, T=2, K=3]
  s.update(f32([1, -2, 3, -4, 0.5, -0.5], [1, 2, 3]));
  assert.deepEqual(s.toJSON().channel, { axis: 2, rule: 'channels-last', absmax: [4, 2, 3] });
  const v = new cal.TensorStats('v');
  v.update(f32([1, -7], [2]));
  const j = v.toJSON();
  assert.equal(j.channel, null);
  assert.deepEqual([j.min, j.max, j.absmax], [-7, 1, 7]);
});

test('TensorStats: a changing channel count drops the per-channel vector with a note', () => {
  const s = new cal.TensorStats('t', { consumers: ['Transpose'] });
  s.update(f32([1, 2, 3, 4], [1, 2, 2]));
  s.update(f32([1, 2, 3, 4, 5, 6], [1, 2, 3]));
  const j = s.toJSON();
  assert.equal(j.channel, null);
  assert.match(j.channel_note, /channel count changed between samples \(2 vs 3\)/);
  assert.deepEqual(j.dims, [1, 2, null]);
  assert.throws(() => s.update(f32([1], [1])), /tensor 't' changed rank/);
});

test('TensorStats: NaN and Inf are counted and kept out of the ranges', () => {
  const s = new cal.TensorStats('t', { histogram: 64 });
  s.update(f32([1, NaN, -2, Infinity, 0.5, -Infinity, 3, NaN], [1, 2, 2, 2]));
  const j = s.toJSON({ percentile: 100 });
  assert.deepEqual([j.min, j.max, j.nan, j.inf], [-2, 3, 2, 2]);
  assert.deepEqual(j.channel.absmax, [2, 3]);
  assert.equal(j.mean, (1 - 2 + 0.5 + 3) / 4);
  assert.equal(j.percentile.max, 3);
  assert.equal(j.percentile.min, -2);
  const allNan = new cal.TensorStats('n');
  allNan.update(f32([NaN, NaN], [2]));
  assert.deepEqual([allNan.toJSON().min, allNan.toJSON().max], [null, null]);
});

test('Histogram: percentiles within one bin of the exact order statistic', () => {
  const h = new cal.Histogram(4096);
  const vals = Float32Array.from({ length: 10000 }, (_, i) => i - 2000); // -2000 .. 7999
  h.add(vals, 7999);
  const w = (2 * h.range) / h.bins;
  assert.equal(h.range, 8192);
  assert.ok(Math.abs(h.quantile(0.99) - 7899) <= w, `${h.quantile(0.99)}`);
  assert.ok(Math.abs(h.quantile(0.01) - (-1901)) <= w, `${h.quantile(0.01)}`);
  assert.ok(Math.abs(h.quantile(0.5) - 2999) <= w);
  // |x|: 0..2000 twice-ish below 2000, then 2001..7999 once
  assert.ok(Math.abs(h.absQuantile(0.5) - 3000) <= w, `${h.absQuantile(0.5)}`);
  assert.equal(h.total, 10000);
});

test('Histogram: the range doubles as larger values arrive, keeping every count', () => {
  const h = new cal.Histogram(16);
  h.add(Float32Array.from([0, 0]), 0); // zeros only: no range yet
  assert.equal(h.range, 0);
  h.add(Float32Array.from([0.75, -0.25]), 0.75);
  assert.equal(h.range, 1);
  assert.deepEqual(Array.from(h.counts), [0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 1, 0]);
  h.add(Float32Array.from([3.5]), 3.5);
  assert.equal(h.range, 4);
  // bins of width 0.5 over [-4, 4): -0.25 -> 7, 0 (x2) -> 8, 0.75 -> 9, 3.5 -> 15
  assert.deepEqual(Array.from(h.counts), [0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 0, 0, 0, 0, 0, 1]);
  assert.equal(h.total, 5);
  assert.throws(() => new cal.Histogram(10), /multiple of 4/);
});

test('TensorStats: percentile ranges from the histogram, clamped to min/max', () => {
  const s = new cal.TensorStats('t', { histogram: 4096 });
  const n = 100000;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (i / n) * 2 - 1; // uniform on [-1, 1)
  data[0] = -50; // one outlier each side
  data[1] = 40;
  s.update(new Tensor('float32', data, [n]));
  const j = s.toJSON({ percentile: 99 });
  const w = (2 * s.histogram.range) / s.histogram.bins;
  assert.equal(j.min, -50);
  assert.equal(j.max, 40);
  assert.ok(Math.abs(j.percentile.max - 0.98) <= w, `${j.percentile.max}`);
  assert.ok(Math.abs(j.percentile.min + 0.98) <= w, `${j.percentile.min}`);
  assert.ok(Math.abs(j.percentile.absmax - 0.99) <= w, `${j.percentile.absmax}`);
  assert.equal(j.percentile.p, 99);
});

// ---------------------------------------------------------------------------
// Input decoders

test('TensorProto: raw_data round trip, float_data and int64_data forms, errors name the file', () => {
  const t = f32([1.5, -2, 3, 4.25, 0, -0.5], [1, 2, 3]);
  const back = cal.decodeTensorProto(cal.encodeTensorProto(t, 'x'), 'a.pb');
  assert.equal(back.name, 'x');
  assert.deepEqual(back.tensor.dims, [1, 2, 3]);
  assert.deepEqual(Array.from(back.tensor.data), Array.from(t.data));
  // float_data, packed (dims 2, data_type 1, field 4 packed)
  const floats = Buffer.alloc(8);
  floats.writeFloatLE(0.25, 0);
  floats.writeFloatLE(-8, 4);
  const packed = Buffer.concat([Buffer.from([0x08, 0x02, 0x10, 0x01, 0x22, 0x08]), floats]);
  assert.deepEqual(Array.from(cal.decodeTensorProto(packed, 'p.pb').tensor.data), [0.25, -8]);
  // float_data unpacked: two separate field-4 fixed32 entries
  const unpacked = Buffer.concat([Buffer.from([0x08, 0x02, 0x10, 0x01, 0x25]), floats.subarray(0, 4),
    Buffer.from([0x25]), floats.subarray(4)]);
  assert.deepEqual(Array.from(cal.decodeTensorProto(unpacked, 'u.pb').tensor.data), [0.25, -8]);
  // int64_data (field 7 packed) with a negative value (10-byte varint)
  const neg = [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]; // -3
  const ints = Buffer.from([0x08, 0x02, 0x10, 0x07, 0x3a, 11, 0x05, ...neg]);
  const it = cal.decodeTensorProto(ints, 'i.pb').tensor;
  assert.equal(it.type, 'int64');
  assert.deepEqual(Array.from(it.data), [5n, -3n]);
  assert.throws(() => cal.decodeTensorProto(Buffer.from([0x08, 0x02, 0x10, 0x01, 0x22, 0x09, 1, 2]), 'bad.pb'),
    /bad\.pb: not a valid ONNX TensorProto \(truncated/);
  assert.throws(() => cal.decodeTensorProto(Buffer.from([0x08, 0x03, 0x10, 0x01, 0x22, 0x08, ...floats]), 'n.pb'),
    /n\.pb: holds 2 values, dims 3 need 3/);
});

test('images: PNG pixels scaled, normalized, in RGB or BGR order, NCHW or NHWC', () => {
  const { PNG } = require('pngjs');
  const png = new PNG({ width: 2, height: 1 });
  png.data = Buffer.from([255, 0, 51, 255, 0, 102, 204, 255]);
  const file = path.join(tmp, 'px.png');
  fs.writeFileSync(file, PNG.sync.write(png));
  let t = cal.imageToTensor(file, {});
  assert.deepEqual(t.dims, [1, 3, 1, 2]);
  assert.deepEqual(Array.from(t.data), [1, 0, 0, 0.4, 0.2, 0.8].map(Math.fround));
  t = cal.imageToTensor(file, { channelOrder: 'bgr', mean: [0.5], std: [0.5], layout: 'nhwc' });
  assert.deepEqual(t.dims, [1, 1, 2, 3]);
  const n = (p) => Math.fround((p / 255 - 0.5) / 0.5);
  assert.deepEqual(Array.from(t.data), [n(51), n(0), n(255), n(204), n(102), n(0)]);
  // Resize to 1x4 (bilinear, pixel centres): 255, 191.25, 63.75, 0 in red
  t = cal.imageToTensor(file, { height: 1, width: 4, scale: 1 });
  assert.deepEqual(Array.from(t.data.subarray(0, 4)), [255, 191.25, 63.75, 0]);
  // A free side follows the aspect ratio from the fixed one, rounded to the multiple.
  assert.deepEqual(cal.targetImageSize({ width: 300, height: 100 }, { height: 48 }, 8), { height: 48, width: 144 });
  assert.deepEqual(cal.targetImageSize({ width: 100, height: 70 }, {}, 32), { height: 64, width: 96 });
  const bad = path.join(tmp, 'bad.png');
  fs.writeFileSync(bad, 'not a png');
  assert.throws(() => cal.imageToTensor(bad), /cannot decode image '.*bad\.png'/);
});

test('ORT tables: TensorsData, tuple and calibration.cache forms; NaN literals parse', () => {
  const td = JSON.stringify({
    CLS: 'TensorsData',
    data: {
      a: { lowest: { data: -1.5, dtype: 'float32', CLS: 'numpy.array' }, highest: { data: 2, dtype: 'float32', CLS: 'numpy.array' }, CLS: 'TensorData' },
      b: { lowest: { data: [[-1], [-4]], dtype: 'float32', CLS: 'numpy.array' }, highest: { data: [[3], [0.5]], dtype: 'float32', CLS: 'numpy.array' }, hist: [1, 2], CLS: 'TensorData' },
    },
    calibration_method: { CLS: 'CalibrationMethod', value: 'CalibrationMethod.MinMax' },
  });
  let table = cal.parseOrtTable(td, 't.json');
  assert.equal(table.format, 'TensorsData');
  assert.equal(table.method, 'CalibrationMethod.MinMax');
  const tensors = cal.ortTableToTensors(table, 't.json', null);
  assert.deepEqual([tensors.a.min, tensors.a.max, tensors.a.channel], [-1.5, 2, null]);
  assert.deepEqual([tensors.b.min, tensors.b.max], [-4, 3]);
  assert.deepEqual(tensors.b.channel, { axis: 1, rule: 'ort-per-channel', absmax: [3, 4] });
  table = cal.parseOrtTable('{"a": [-1.0, 2.5], "b": [0.0, NaN]}', 'old.json');
  assert.equal(table.format, 'tuples');
  assert.ok(Number.isNaN(table.entries[1].highest[0]));
  assert.throws(() => cal.ortTableToTensors(table, 'old.json', null), /ORT table 'old\.json': tensor 'b' has a NaN range/);
  table = cal.parseOrtTable('conv_out 2.5\nrelu:0 1\n', 'calibration.cache');
  const c = cal.ortTableToTensors(table, 'calibration.cache', null);
  assert.deepEqual([c.conv_out.min, c.conv_out.max, c.conv_out.symmetric], [-2.5, 2.5, true]);
  assert.deepEqual([c['relu:0'].min, c['relu:0'].max], [-1, 1]);
  assert.throws(() => cal.parseOrtTable('{"a": {"lowest": 1}}', 'x.json'), /tensor 'a' has no lowest\/highest/);
  assert.throws(() => cal.ortTableToTensors(cal.parseOrtTable('{"a": [3, 1]}', 'y.json'), 'y.json', null),
    /tensor 'a' has lowest 3 > highest 1/);
});

// ---------------------------------------------------------------------------
// A tiny model with exactly known ranges

const TINY = `<ir_version: 8, opset_import: ["" : 13]>
tiny (float[1,2,2,3] X) => (float[1,4,3] Z)
<float[1,2,1,1] S = {2, 0.5}, int64[3] Shape = {1, 4, 3}, float[3,3] W = {1, 0, 0, 0, 2, 0, 0, 0, -1}>
{
  R = Relu(X)
  M = Mul(R, S)
  T = Reshape(M, Shape)
  Z = MatMul(T, W)
}
`;
const SQRT = `<ir_version: 8, opset_import: ["" : 13]>
sq (float[2] X) => (float[2] Y)
{
  Q = Sqrt(X)
  Y = Neg(Q)
}
`;

// Three samples of X [1,2,2,3]; every value is exact in float32 and stays
// exact through the model.
const SAMPLES = [
  [-1, 2, 0.5, -3, 4, 1.25, 0.75, -0.5, 3, 1, -2, 0.25],
  [6, -7, 0, 1, 2, 3, 1.5, 2.5, -4, 8, 0.5, -1],
  [0.125, 0.25, -0.125, 5, -6, 2, -1, 1, 1, 1, 1, 10],
];

function tinyExpected() {
  const stats = { X: [], R: [], M: [], T: [], Z: [] };
  for (const x of SAMPLES) {
    const r = x.map((v) => Math.max(v, 0));
    const m = r.map((v, i) => v * (i < 6 ? 2 : 0.5)); // channel = i / 6
    const z = [];
    for (let row = 0; row < 4; row++) {
      const t = m.slice(row * 3, row * 3 + 3);
      z.push(t[0] * 1, t[1] * 2, t[2] * -1);
    }
    stats.X.push(x); stats.R.push(r); stats.M.push(m); stats.T.push(m); stats.Z.push(z);
  }
  const out = {};
  for (const [name, samples] of Object.entries(stats)) {
    const all = samples.flat();
    out[name] = { min: Math.min(...all), max: Math.max(...all) };
  }
  // channels: X, R, M [1,2,2,3] -> axis 1 (2 channels of 6 values); T [1,4,3]
  // read by MatMul and Z [1,4,3] -> last axis (3 channels)
  const byChannelFirst = (samples) => [0, 1].map((c) => Math.max(...samples.flatMap((s) => s.slice(c * 6, c * 6 + 6).map(Math.abs))));
  const byLast = (samples) => [0, 1, 2].map((k) => Math.max(...samples.flatMap((s) => s.filter((_, i) => i % 3 === k).map(Math.abs))));
  out.X.channel = byChannelFirst(stats.X);
  out.R.channel = byChannelFirst(stats.R);
  out.M.channel = byChannelFirst(stats.M);
  out.T.channel = byLast(stats.T);
  out.Z.channel = byLast(stats.Z);
  return out;
}

let tinyModel;
let sqrtModel;
let tinyNpyDir;

test('tiny model: built with qopt-opt from ONNX text', () => {
  assert.ok(fs.existsSync(QOPT_OPT), `qopt-opt not found at ${QOPT_OPT} (build it or set QOPT_OPT)`);
  fs.writeFileSync(path.join(tmp, 'tiny.onnxtxt'), TINY);
  fs.writeFileSync(path.join(tmp, 'sqrt.onnxtxt'), SQRT);
  tinyModel = path.join(tmp, 'tiny.onnx');
  sqrtModel = path.join(tmp, 'sqrt.onnx');
  qoptOpt([path.join(tmp, 'tiny.onnxtxt'), '-o', tinyModel, '--report=none']);
  qoptOpt([path.join(tmp, 'sqrt.onnxtxt'), '-o', sqrtModel, '--report=none']);
  tinyNpyDir = path.join(tmp, 'tiny-npy');
  fs.mkdirSync(tinyNpyDir);
  SAMPLES.forEach((s, i) => lib.writeNpy(path.join(tinyNpyDir, `sample_${i}.npy`), f32(s, [1, 2, 2, 3])));
});

test('tiny model: every intermediate range is exact', () => {
  const doc = calibrateOk([tinyModel, `--inputs=${tinyNpyDir}`], path.join(tmp, 'tiny.json'));
  const want = tinyExpected();
  assert.equal(doc.schema, 'qopt-calib/1');
  assert.equal(doc.samples, 3);
  assert.deepEqual(Object.keys(doc.tensors), ['X', 'R', 'M', 'T', 'Z']);
  for (const [name, w] of Object.entries(want)) {
    const t = doc.tensors[name];
    assert.equal(t.min, w.min, `${name}.min`);
    assert.equal(t.max, w.max, `${name}.max`);
    assert.equal(t.absmax, Math.max(-w.min, w.max), `${name}.absmax`);
    assert.deepEqual(t.channel.absmax, w.channel, `${name}.channel`);
    assert.equal(t.count, 36);
  }
  assert.deepEqual([doc.tensors.X.kind, doc.tensors.R.kind, doc.tensors.Z.kind], ['input', 'activation', 'output']);
  assert.deepEqual([doc.tensors.M.op_type, doc.tensors.T.op_type, doc.tensors.Z.op_type], ['Mul', 'Reshape', 'MatMul']);
  assert.deepEqual([doc.tensors.M.channel.axis, doc.tensors.M.channel.rule], [1, 'channels-first']);
  assert.deepEqual([doc.tensors.T.channel.axis, doc.tensors.T.channel.rule], [2, 'channels-last']);
  assert.deepEqual(doc.tensors.M.dims, [1, 2, 2, 3]);
});

test('tiny model: batches of one tensor give the same document as one batch', () => {
  const one = calibrateOk([tinyModel, `--inputs=${tinyNpyDir}`, '--batch-size=0', '--percentile=99'],
    path.join(tmp, 'tiny-all.json'));
  const many = calibrateOk([tinyModel, `--inputs=${tinyNpyDir}`, '--batch-size=1', '--percentile=99'],
    path.join(tmp, 'tiny-1.json'));
  assert.equal(one.settings.batches, 1);
  assert.equal(many.settings.batches, 4);
  assert.deepEqual(many.tensors, one.tensors);
});

test('tiny model: ONNX test-data layout (.pb) and --random', () => {
  const dir = path.join(tmp, 'tiny-pb');
  SAMPLES.forEach((s, i) => {
    const set = path.join(dir, `test_data_set_${i}`);
    fs.mkdirSync(set, { recursive: true });
    fs.writeFileSync(path.join(set, 'input_0.pb'), cal.encodeTensorProto(f32(s, [1, 2, 2, 3]), 'X'));
    fs.writeFileSync(path.join(set, 'output_0.pb'), 'expected outputs are ignored');
  });
  const fromPb = calibrateOk([tinyModel, `--inputs=${dir}`], path.join(tmp, 'tiny-pb.json'));
  const fromNpy = readJson(path.join(tmp, 'tiny.json'));
  assert.deepEqual(fromPb.tensors, fromNpy.tensors);
  const rnd = calibrateOk([tinyModel, '--random=2', '--seed=7'], path.join(tmp, 'tiny-rnd.json'));
  assert.equal(rnd.samples, 2);
  assert.deepEqual(rnd.source, { kind: 'random', seed: 7 });
  assert.ok(rnd.tensors.X.min >= -1 && rnd.tensors.X.max < 1);
  assert.equal(rnd.tensors.R.min, 0);
});

test('errors: missing or unreadable inputs, wrong shapes, NaN, bad usage exit 2 naming the culprit', () => {
  const missing = path.join(tmp, 'no-such-dir');
  calibrateFails([tinyModel, `--inputs=${missing}`, '-o', path.join(tmp, 'x.json')],
    /cannot read calibration inputs '.*no-such-dir': no such file or folder/);
  calibrateFails([path.join(tmp, 'nope.onnx'), '--random=1'], /cannot read model '.*nope\.onnx'/);

  const wrong = path.join(tmp, 'wrong-shape');
  fs.mkdirSync(wrong);
  lib.writeNpy(path.join(wrong, 'a.npy'), f32([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]));
  calibrateFails([tinyModel, `--inputs=${wrong}`], /'.*wrong-shape\/a\.npy' has shape 1x2x2x2, input 'X' wants \[1,2,2,3\]/);

  const ints = path.join(tmp, 'ints.npy');
  lib.writeNpy(ints, new Tensor('int32', Int32Array.from(SAMPLES[0]), [1, 2, 2, 3]));
  calibrateFails([tinyModel, `--inputs=${ints}`], /'.*ints\.npy' holds int32, input 'X' wants float32/);

  const corrupt = path.join(tmp, 'corrupt');
  fs.mkdirSync(corrupt);
  fs.writeFileSync(path.join(corrupt, 'broken.npy'), 'garbage');
  calibrateFails([tinyModel, `--inputs=${corrupt}`], /'.*broken\.npy': not a \.npy file/);
  fs.writeFileSync(path.join(corrupt, 'broken.npy'), Buffer.alloc(0));
  fs.renameSync(path.join(corrupt, 'broken.npy'), path.join(corrupt, 'broken.png'));
  calibrateFails([tinyModel, `--inputs=${corrupt}`], /cannot decode image '.*broken\.png'/);

  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  fs.writeFileSync(path.join(empty, 'README.txt'), 'no data here');
  calibrateFails([tinyModel, `--inputs=${empty}`], /no calibration inputs in '.*empty'/);

  // Sqrt of a negative input: NaN in Q, named with the file it came from.
  const neg = path.join(tmp, 'neg.npy');
  lib.writeNpy(neg, f32([4, -1], [2]));
  calibrateFails([sqrtModel, `--inputs=${neg}`], /tensor 'Q' has NaN values on calibration input '.*neg\.npy'/);
  const ok = calibrateOk([sqrtModel, `--inputs=${neg}`, '--allow-nonfinite'], path.join(tmp, 'sqrt.json'));
  assert.deepEqual([ok.tensors.Q.min, ok.tensors.Q.max, ok.tensors.Q.nan], [2, 2, 1]);

  calibrateFails([tinyModel], /give --inputs=DIR or --random=N/);
  calibrateFails([tinyModel, '--random=1', '--percentile=20'], /bad --percentile=20/);
  calibrateFails([tinyModel, '--random=1', '--image-size=12'], /bad --image-size=12/);
  const r = calibrateCli([tinyModel, '--random=1', `--qopt-opt=${path.join(tmp, 'no-qopt-opt')}`]);
  assert.equal(r.code, 2);
  assert.match(r.err, /qopt-opt not found at '.*no-qopt-opt'/);
});

test('--from-ort-table: converts ORT\'s calibration.json, rejects unknown tensors and NaN ranges', () => {
  const tableFile = path.join(tmp, 'calibration.json');
  const arr = (v) => ({ data: v, dtype: 'float32', CLS: 'numpy.array' });
  fs.writeFileSync(tableFile, JSON.stringify({
    CLS: 'TensorsData',
    data: {
      X: { lowest: arr(-7), highest: arr(10), CLS: 'TensorData' },
      R: { lowest: arr(0), highest: arr(10), CLS: 'TensorData' },
      Z: { lowest: arr(-10), highest: arr(12), CLS: 'TensorData' },
    },
    calibration_method: { CLS: 'CalibrationMethod', value: 'CalibrationMethod.MinMax' },
  }));
  const doc = calibrateOk([tinyModel, `--from-ort-table=${tableFile}`], path.join(tmp, 'from-ort.json'));
  assert.deepEqual(doc.source, { kind: 'ort-table', file: tableFile, format: 'TensorsData',
    calibration_method: 'CalibrationMethod.MinMax' });
  assert.deepEqual(Object.keys(doc.tensors), ['X', 'R', 'Z']);
  assert.deepEqual([doc.tensors.X.kind, doc.tensors.X.min, doc.tensors.X.max], ['input', -7, 10]);
  assert.deepEqual([doc.tensors.Z.kind, doc.tensors.Z.op_type, doc.tensors.Z.absmax], ['output', 'MatMul', 12]);

  const unknown = path.join(tmp, 'unknown.json');
  fs.writeFileSync(unknown, '{"R": [0.0, 1.0], "conv_99.tmp_0": [-1.0, 1.0]}');
  calibrateFails([tinyModel, `--from-ort-table=${unknown}`],
    /ORT table '.*unknown\.json' names tensor 'conv_99\.tmp_0', which the model does not have/);
  const nan = path.join(tmp, 'nan.json');
  fs.writeFileSync(nan, '{"R": [0.0, NaN]}');
  calibrateFails([tinyModel, `--from-ort-table=${nan}`], /ORT table '.*nan\.json': tensor 'R' has a NaN range/);
  calibrateFails([tinyModel, `--from-ort-table=${path.join(tmp, 'missing-table.json')}`],
    /cannot read '.*missing-table\.json': no such file/);
});

// ---------------------------------------------------------------------------
// PaddleOCR models over rendered text images

const TEXTS = ['qopt 2024', 'INT8 calibration', 'Hello, world!', '42 + 17 = 59'];

function render(file, { width, height, text, pointsize, rotate }) {
  const args = ['-size', `${width}x${height}`, 'xc:white', '-font', FONT, '-pointsize', String(pointsize),
    '-fill', 'black', '-gravity', 'center', '-annotate', '+0+0', text];
  if (rotate) args.push('-rotate', String(rotate));
  args.push(file);
  const r = spawnSync('convert', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `ImageMagick convert failed (apt-get install imagemagick fonts-dejavu-core): ${r.stderr}`);
  assert.ok(fs.existsSync(file), file);
}

function renderSet(dir, shapes) {
  fs.mkdirSync(dir, { recursive: true });
  shapes.forEach((s, i) => render(path.join(dir, `img_${i}.${s.ext || 'png'}`), { ...s, text: TEXTS[i % TEXTS.length] }));
  return dir;
}

/** The float tensors calibration must cover: the inputs and every exposed candidate. */
function expectedTensors(model) {
  const list = path.join(tmp, `${path.basename(model)}.list.json`);
  qoptOpt([model, `--pass=expose-tensors{list=${list}}`, '--report=none']);
  const l = readJson(list);
  return [...l.inputs.map((i) => i.name), ...l.tensors.map((t) => t.name)];
}

function checkComplete(doc, model) {
  const want = expectedTensors(model);
  assert.deepEqual(Object.keys(doc.tensors), want);
  for (const [name, t] of Object.entries(doc.tensors)) {
    assert.ok(Number.isFinite(t.min) && Number.isFinite(t.max) && t.min <= t.max, `${name}: ${t.min}..${t.max}`);
    assert.equal(t.dtype, 'float32', name);
    assert.ok(t.count > 0, name);
    if (t.channel) assert.ok(t.channel.absmax.every((a) => Number.isFinite(a) && a >= 0 && a <= t.absmax), name);
  }
}

const IMAGENET = ['--mean=0.485,0.456,0.406', '--std=0.229,0.224,0.225'];
const PADDLE = ['--mean=0.5', '--std=0.5'];

test('PaddleOCR cls: rendered text lines 48x192, one upside down, one JPEG; batching agrees', () => {
  const dir = renderSet(path.join(tmp, 'cls'), [
    { width: 192, height: 48, pointsize: 22 },
    { width: 192, height: 48, pointsize: 18, rotate: 180 },
    { width: 200, height: 50, pointsize: 20, ext: 'jpg' },
  ]);
  const model = path.join(MODELS, 'paddleocr-cls.onnx');
  const args = [model, `--inputs=${dir}`, '--image-size=48x192', ...PADDLE, '--percentile=99.99'];
  const doc = calibrateOk([...args, '--batch-size=0'], path.join(tmp, 'cls.json'));
  checkComplete(doc, model);
  assert.equal(doc.samples, 3);
  assert.deepEqual(doc.tensors.x.dims, [1, 3, 48, 192]);
  assert.ok(doc.tensors.x.min >= -1 && doc.tensors.x.max <= 1);
  for (const [name, t] of Object.entries(doc.tensors)) {
    const p = t.percentile;
    assert.ok(t.min <= p.min && p.min <= p.max && p.max <= t.max && p.absmax <= t.absmax, `${name}: ${JSON.stringify(p)}`);
  }
  const batched = calibrateOk([...args, '--batch-size=50'], path.join(tmp, 'cls-50.json'));
  assert.equal(batched.settings.batches, Math.ceil((Object.keys(doc.tensors).length - 1) / 50));
  assert.deepEqual(batched.tensors, doc.tensors);
});

test('PaddleOCR rec: height 48, widths from the aspect ratio (multiples of 8)', () => {
  const dir = renderSet(path.join(tmp, 'rec'), [
    { width: 160, height: 40, pointsize: 22 },
    { width: 320, height: 48, pointsize: 26 },
    { width: 250, height: 64, pointsize: 30 },
  ]);
  const model = path.join(MODELS, 'paddleocr-rec.onnx');
  const doc = calibrateOk([model, `--inputs=${dir}`, ...PADDLE, '--size-multiple=8', '--batch-size=0'],
    path.join(tmp, 'rec.json'));
  checkComplete(doc, model);
  assert.deepEqual(doc.tensors.x.dims, [1, 3, 48, null]); // widths 192, 320, 184
});

test('PaddleOCR det: ImageNet normalization, sides rounded to multiples of 32', () => {
  const dir = renderSet(path.join(tmp, 'det'), [
    { width: 160, height: 96, pointsize: 20 },
    { width: 128, height: 128, pointsize: 24 },
  ]);
  const model = path.join(MODELS, 'paddleocr-det.onnx');
  const doc = calibrateOk([model, `--inputs=${dir}`, ...IMAGENET, '--size-multiple=32', '--batch-size=0'],
    path.join(tmp, 'det.json'));
  checkComplete(doc, model);
  assert.deepEqual(doc.tensors.x.dims, [1, 3, null, null]);
  const out = Object.values(doc.tensors).find((t) => t.kind === 'output');
  assert.ok(out.min >= 0 && out.max <= 1, 'the sigmoid output stays in [0, 1]');
});
