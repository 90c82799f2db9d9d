'use strict';
// The range methods of qopt-calibrate (docs/calibration.md "Range methods"):
// entropy and MinMSE on synthetic distributions with known answers, the
// per-tensor choice (--choose, the auto rule), determinism, and the CLI
// flags. Run by CTest's ort.runner_tests (node --test tools/ort/test/).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const lib = require('../lib');
const cal = require('../calibration');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CALIBRATE = path.join(ROOT, 'tools', 'ort', 'calibrate.js');
const QOPT_OPT = process.env.QOPT_OPT || cal.DEFAULT_QOPT_OPT;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-calib-methods-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A deterministic uniform [0, 1) generator (an LCG; good enough for shapes of histograms). */
function uniform(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function gaussian(seed, n) {
  const u = uniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/** Statistics of one tensor fed as `chunks` samples, with a histogram. */
function statsOf(data, chunks = 1) {
  const s = new cal.TensorStats('t', { histogram: cal.CALIB_DEFAULTS.bins, channels: false });
  const step = Math.ceil(data.length / chunks);
  for (let i = 0; i < data.length; i += step) {
    const part = data.subarray(i, Math.min(data.length, i + step));
    s.update({ type: 'float32', dims: [part.length], data: part });
  }
  return s;
}

const entry = (data, opts = {}) => statsOf(data).toJSON({ methods: ['entropy', 'mse'], bits: 8, opType: 'Conv', ...opts });

test('uniform data: MinMSE and entropy keep about the full range', () => {
  const u = uniform(1);
  const data = Float32Array.from({ length: 200000 }, () => u() * 2 - 1);
  const j = entry(data);
  for (const m of ['entropy', 'mse']) {
    assert.ok(j[m].max >= 0.98 * j.max && j[m].max <= j.max, `${m}.max ${j[m].max} vs max ${j.max}`);
    assert.ok(j[m].min <= 0.98 * j.min && j[m].min >= j.min, `${m}.min ${j[m].min} vs min ${j.min}`);
    assert.equal(j[m].absmax, Math.max(-j[m].min, j[m].max));
    assert.ok(j[m].clipped >= 0 && j[m].clipped < 0.01, `${m}.clipped ${j[m].clipped}`);
  }
  assert.equal(j.entropy.levels, 128); // two signs: TensorRT's |x| form, 2^(bits-1) levels
  assert.equal(j.mse.levels, 256);
});

test('Gaussian with huge outliers: entropy clips far below them; MinMSE as its formula says', () => {
  const data = gaussian(2, 100000);
  data[5] = 1000;
  data[77] = -800;
  data[99] = 900;
  const j = entry(data);
  assert.equal(j.max, 1000);
  assert.ok(j.entropy.absmax < 100, `entropy absmax ${j.entropy.absmax}`);
  // Three outliers in 1e5 cost more clipped (~ 3e-5 · 1000²) than kept
  // (rounding (1800/255)²/12): the least squared error keeps them.
  assert.ok(j.mse.max > 500, `mse max ${j.mse.max}`);

  // One outlier X = 1000 among N = 1e6: the squared error (X - hi)² +
  // (N - 1)·((hi - lo) / 255)² / 12 is least at hi = (X + c·lo) / (1 + c),
  // c = (N - 1) / (12·255²): about 436, clipping the outlier by half.
  const N = 1000000;
  const rare = gaussian(3, N);
  rare[1234] = 1000;
  const k = entry(rare);
  const c = (N - 1) / (12 * 255 * 255);
  const want = (1000 + c * k.mse.min) / (1 + c);
  // Within 1%: the low tail MinMSE also clips (below about -2.5, worth it
  // when the step is this coarse) leaves slightly fewer values inside.
  assert.ok(Math.abs(k.mse.max / want - 1) < 0.01, `mse max ${k.mse.max}, want ${want}`);
  assert.ok(k.mse.min > -3 && k.mse.min < -2, `mse min ${k.mse.min}`);
  assert.ok(k.entropy.absmax < 100, `entropy absmax ${k.entropy.absmax}`);
});

test('one-signed data (after Relu): 2^bits levels, the range starts at the minimum', () => {
  const g = gaussian(4, 200000).map((v) => Math.max(v, 0));
  const j = entry(g);
  assert.equal(j.min, 0);
  assert.equal(j.entropy.levels, 256);
  for (const m of ['entropy', 'mse']) {
    assert.equal(j[m].min, 0, m);
    // the half-Gaussian's max is ~4.5; both clip a little, not to half
    assert.ok(j[m].max > 3 && j[m].max <= j.max, `${m}.max ${j[m].max} (max ${j.max})`);
  }
  // Fewer bits: fewer levels, so a tighter MinMSE range.
  const four = entry(g, { bits: 4 });
  assert.equal(four.mse.levels, 16);
  assert.ok(four.mse.max < j.mse.max, `4-bit ${four.mse.max} vs 8-bit ${j.mse.max}`);
});

test('entropy never folds most values into one bin: data away from 0 (an SE gate) keeps its top', () => {
  // KL compares shapes: cutting [0.15, 0.34] at 0.15 leaves a spike that its
  // quantization matches exactly. At most 0.1% of the values may be clipped.
  const u = uniform(8);
  const gate = Float32Array.from({ length: 100000 }, () => 0.15 + 0.19 * u() ** 2);
  const j = entry(gate);
  assert.ok(j.entropy.clipped <= 1e-3, `clipped ${j.entropy.clipped}`);
  assert.ok(j.entropy.max > 0.33, `entropy max ${j.entropy.max} (max ${j.max})`);
  assert.equal(j.entropy.min, j.min);
  const neg = entry(gate.map((v) => -v));
  assert.ok(neg.entropy.min < -0.33 && neg.entropy.max === neg.max, JSON.stringify(neg.entropy));
});

test('histogramMse: the rounding error of a uniform distribution is step²/12', () => {
  const u = uniform(5);
  const s = statsOf(Float32Array.from({ length: 400000 }, () => u() * 2 - 1));
  const step = 2 / 255;
  const mse = cal.histogramMse(s.histogram, -1, 1, 256);
  assert.ok(Math.abs(mse / (step * step / 12) - 1) < 0.01, `${mse} vs ${step * step / 12}`);
  // Clipping [-1, 1) to [-0.5, 0.5]: half the values clipped, E[(|x| - 0.5)²] over them = 0.25/3.
  const clipped = cal.histogramMse(s.histogram, -0.5, 0.5, 256);
  const want = 0.5 * (0.25 / 3) + 0.5 * ((1 / 255) ** 2) / 12;
  assert.ok(Math.abs(clipped / want - 1) < 0.01, `${clipped} vs ${want}`);
});

test('deterministic: the same values give the same entry, whatever the sample split', () => {
  const data = gaussian(6, 300000).map((v, i) => (i % 1000 === 0 ? v * 40 : v));
  const ranges = (chunks) => {
    const j = statsOf(data, chunks).toJSON({ methods: ['entropy', 'mse'], choose: 'auto', percentile: 99.9 });
    return JSON.stringify([j.percentile, j.entropy, j.mse, j.choice]);
  };
  const a = ranges(1);
  assert.equal(ranges(1), a);
  // Split so that the histogram range doubles between samples: same counts.
  assert.equal(ranges(7), a);
});

test('choice: an explicit method copies its range; auto keeps min/max for inputs, bounded ops, Softmax inputs, few values', () => {
  const data = gaussian(7, 100000);
  data[3] = 60;
  const s = statsOf(data);
  const mse = s.toJSON({ methods: ['mse'], choose: 'mse' });
  assert.deepEqual(mse.choice, { method: 'mse', min: mse.mse.min, max: mse.mse.max });
  const mm = s.toJSON({ choose: 'minmax' });
  assert.deepEqual(mm.choice, { method: 'minmax', min: mm.min, max: mm.max });

  const bounded = new Set(['Sigmoid']);
  const auto = (opts) => s.toJSON({ methods: ['entropy', 'mse'], choose: 'auto', bounded, ...opts }).choice;
  assert.deepEqual(auto({ kind: 'input' }), { method: 'minmax', min: mm.min, max: mm.max, reason: 'graph input' });
  assert.equal(auto({ opType: 'Sigmoid' }).reason, 'output of bounded op Sigmoid');
  assert.equal(auto({ opType: 'Add', decides: 'ArgMax' }).reason, 'read by ArgMax: its largest values decide');
  const conv = auto({ opType: 'Conv' });
  assert.match(conv.reason, /^highest estimated SQNR, dB: minmax -?[\d.]+, entropy -?[\d.]+, mse -?[\d.]+$/);
  assert.notEqual(conv.method, 'minmax'); // the one outlier at 60 costs minmax its resolution

  const few = statsOf(Float32Array.from({ length: 1000 }, (_, i) => i % 3)).toJSON({ choose: 'auto', methods: ['mse'] });
  assert.equal(few.choice.method, 'minmax');
  assert.equal(few.choice.reason, 'few distinct values (3 histogram bins)');
});

test('validateCalib checks the method ranges and the choice', () => {
  const doc = { schema: cal.SCHEMA, tensors: { t: { min: 0, max: 1, mse: { min: 0.5, max: 0.2 } } } };
  assert.deepEqual(cal.validateCalib(doc), ["tensor 't': bad mse range"]);
  doc.tensors.t.mse = { min: 0, max: 1 };
  doc.tensors.t.choice = { method: 'entropy', min: NaN, max: 1 };
  assert.deepEqual(cal.validateCalib(doc), ["tensor 't': bad choice range"]);
});

// Relu -> Sigmoid and Mul -> Flatten -> Softmax on [1, 2, 4, 4] samples:
// every tensor gets a choice; M and F reach the Softmax.
const MODEL = `<ir_version: 8, opset_import: ["" : 13]>
m (float[1,2,4,4] X) => (float[1,2,4,4] Y, float[1,32] S)
{
  R = Relu(X)
  Y = Sigmoid(R)
  M = Mul(X, X)
  F = Flatten(M)
  S = Softmax(F)
}
`;

function calibrateCli(args) {
  const r = spawnSync(process.execPath, [CALIBRATE, ...args], {
    encoding: 'utf8', timeout: 120000, env: { ...process.env, QOPT_OPT },
  });
  return { code: r.status, stdout: r.stdout, err: r.stderr.trim() };
}

test('CLI: --methods, --method-bits and --choose=auto; the same file twice', () => {
  assert.ok(fs.existsSync(QOPT_OPT), `qopt-opt not found at ${QOPT_OPT} (build it or set QOPT_OPT)`);
  fs.writeFileSync(path.join(tmp, 'm.onnxtxt'), MODEL);
  const model = path.join(tmp, 'm.onnx');
  const r0 = spawnSync(QOPT_OPT, [path.join(tmp, 'm.onnxtxt'), '-o', model, '--report=none'], { encoding: 'utf8' });
  assert.equal(r0.status, 0, r0.stderr);
  const dir = path.join(tmp, 'npy');
  fs.mkdirSync(dir);
  for (let i = 0; i < 3; i++) {
    const g = gaussian(10 + i, 32).map((v) => v * 3);
    lib.writeNpy(path.join(dir, `s${i}.npy`), new lib.ort.Tensor('float32', g, [1, 2, 4, 4]));
  }
  const args = [model, `--inputs=${dir}`, '--methods=entropy,mse', '--choose=auto', '--method-bits=8'];
  const files = ['a.json', 'b.json'].map((f) => path.join(tmp, f));
  for (const f of files) {
    const r = calibrateCli([...args, '-o', f]);
    assert.equal(r.code, 0, r.stdout + r.err);
  }
  assert.equal(fs.readFileSync(files[0], 'utf8'), fs.readFileSync(files[1], 'utf8'));
  const doc = cal.readCalib(files[0]);
  assert.deepEqual([doc.settings.methods, doc.settings.method_bits, doc.settings.choose], [['entropy', 'mse'], 8, 'auto']);
  assert.equal(doc.settings.bins, cal.CALIB_DEFAULTS.bins);
  for (const [name, t] of Object.entries(doc.tensors)) {
    assert.ok(t.entropy && t.mse && t.choice, name);
    assert.ok(t.choice.min <= t.choice.max && typeof t.choice.reason === 'string', name);
  }
  assert.equal(doc.tensors.X.choice.reason, 'graph input');
  assert.equal(doc.tensors.Y.choice.reason, 'output of bounded op Sigmoid');
  assert.equal(doc.tensors.S.choice.reason, 'output of bounded op Softmax');
  for (const name of ['M', 'F']) {
    assert.deepEqual(doc.tensors[name].choice, {
      method: 'minmax', min: doc.tensors[name].min, max: doc.tensors[name].max,
      reason: 'read by Softmax: its largest values decide',
    }, name);
  }

  // --choose=entropy alone computes entropy; minmax computes nothing more.
  const e = calibrateCli([model, `--inputs=${dir}`, '--choose=entropy', '-o', path.join(tmp, 'e.json')]);
  assert.equal(e.code, 0, e.err);
  const ej = cal.readCalib(path.join(tmp, 'e.json'));
  assert.deepEqual(ej.settings.methods, ['entropy']);
  assert.equal(ej.tensors.R.choice.method, 'entropy');
  assert.equal(ej.tensors.R.mse, undefined);

  for (const [bad, re] of [
    ['--methods=kl', /bad --methods: 'kl' \(entropy, mse; percentile is --percentile=P\)/],
    ['--choose=best', /bad --choose=best/],
    ['--choose=percentile', /--choose=percentile needs --percentile=P/],
    ['--method-bits=1', /method-bits/],
    ['--method-bits=17', /bad --method-bits=17 \(2 to 16\)/],
  ]) {
    const r = calibrateCli([model, `--inputs=${dir}`, bad, '-o', path.join(tmp, 'bad.json')]);
    assert.equal(r.code, 2, `${bad}: ${r.err}`);
    assert.match(r.err, /^qopt-calibrate: error: /);
    assert.match(r.err, re);
  }
});
