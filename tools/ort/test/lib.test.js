'use strict';
// Unit tests of tools/ort/lib.js on hand-built tensors and a tiny ONNX model
// written by this file (Identity nodes over inputs of many element types).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const lib = require('../lib');

const { Tensor } = lib.ort;

// ---------------------------------------------------------------------------
// Minimal protobuf writer for an ONNX ModelProto of Identity nodes.

function varint(n) {
  let v = BigInt(n);
  const out = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}
const fieldVarint = (f, n) => Buffer.concat([varint((f << 3) | 0), varint(n)]);
const fieldBytes = (f, buf) => {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf, 'utf8');
  return Buffer.concat([varint((f << 3) | 2), varint(b.length), b]);
};

const ELEM = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 };

function valueInfo(name, type, shape) {
  const dims = shape.map((d) => fieldBytes(1, typeof d === 'number' ? fieldVarint(1, d) : fieldBytes(2, d)));
  const tensorType = Buffer.concat([fieldVarint(1, ELEM[type]), fieldBytes(2, Buffer.concat(dims))]);
  return Buffer.concat([fieldBytes(1, name), fieldBytes(2, fieldBytes(1, tensorType))]);
}

/** inputs: [{name, type, shape}]; output `NAME_out` = Identity(NAME) for each. */
function identityModel(inputs) {
  const parts = [];
  for (const i of inputs) {
    parts.push(fieldBytes(1, Buffer.concat([
      fieldBytes(1, i.name), fieldBytes(2, `${i.name}_out`), fieldBytes(3, `id_${i.name}`), fieldBytes(4, 'Identity'),
    ])));
  }
  parts.push(fieldBytes(2, 'identity_graph'));
  for (const i of inputs) parts.push(fieldBytes(11, valueInfo(i.name, i.type, i.shape)));
  for (const i of inputs) parts.push(fieldBytes(12, valueInfo(`${i.name}_out`, i.type, i.shape)));
  const graph = Buffer.concat(parts);
  return Buffer.concat([
    fieldVarint(1, 8),
    fieldBytes(2, 'qopt-ort-test'),
    fieldBytes(7, graph),
    fieldBytes(8, Buffer.concat([fieldBytes(1, ''), fieldVarint(2, 17)])),
  ]);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-ort-lib-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const INPUTS = [
  { name: 'f32', type: 'float32', shape: ['N', 4] },
  { name: 'f16', type: 'float16', shape: [2, 'W'] },
  { name: 'i64', type: 'int64', shape: ['N'] },
  { name: 'i32', type: 'int32', shape: [3] },
  { name: 'u8', type: 'uint8', shape: [5] },
  { name: 'i8', type: 'int8', shape: [5] },
  { name: 'b', type: 'bool', shape: [4] },
  { name: 'f64', type: 'float64', shape: [] },
];
const modelPath = path.join(tmp, 'identity.onnx');
fs.writeFileSync(modelPath, identityModel(INPUTS));

function sameBytes(a, b) {
  const ba = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const bb = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  return ba.equals(bb);
}

// ---------------------------------------------------------------------------

test('parseShapeSpecs: repeatable and comma-separated, scalar, errors', () => {
  const m = lib.parseShapeSpecs(['x:1x3x64x64,y:2', 'a:b:5', 's:']);
  assert.deepEqual([...m], [['x', [1, 3, 64, 64]], ['y', [2]], ['a:b', [5]], ['s', []]]);
  assert.throws(() => lib.parseShapeSpecs(['x']), lib.UsageError);
  assert.throws(() => lib.parseShapeSpecs(['x:1x?']), lib.UsageError);
});

test('resolveShapes: defaults, shared symbols, overrides checked against fixed dims', () => {
  const infos = [
    { name: 'a', type: 'float32', shape: ['N', 3, 'H', 'W'] },
    { name: 'b', type: 'float32', shape: ['N', 'W'] },
  ];
  assert.deepEqual([...lib.resolveShapes(infos)], [['a', [1, 3, 64, 64]], ['b', [1, 64]]]);
  const over = lib.resolveShapes(infos, lib.parseShapeSpecs(['a:2x3x32x96']));
  assert.deepEqual(over.get('b'), [2, 96]);
  assert.throws(() => lib.resolveShapes(infos, lib.parseShapeSpecs(['a:1x4x32x32'])), /fixed to 3/);
  assert.throws(() => lib.resolveShapes(infos, lib.parseShapeSpecs(['a:1x3x32'])), /rank 4/);
  assert.throws(() => lib.resolveShapes(infos, lib.parseShapeSpecs(['zz:1'])), /inputs are: a, b/);
});

test('float16 conversions round to nearest even and keep specials', () => {
  const cases = [[0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00],
    [Infinity, 0x7c00], [-Infinity, 0xfc00], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -24, 0x0002],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [0.1, 0x2e66]];
  for (const [f, h] of cases) assert.equal(lib.floatToHalfBits(f), h, `floatToHalfBits(${f})`);
  assert.ok(Number.isNaN(lib.halfBitsToFloat(lib.floatToHalfBits(NaN))));
  for (let h = 0; h < 0x7c00; h += 7) assert.equal(lib.floatToHalfBits(lib.halfBitsToFloat(h)), h);
});

test('compareTensors: tolerance, NaN, -0, exact, dtype and dims mismatch', () => {
  const t = (arr, dims = [arr.length]) => new Tensor('float32', Float32Array.from(arr), dims);
  let r = lib.compareTensors(t([1, NaN, 0]), t([1, NaN, -0]));
  assert.equal(r.pass, true);
  assert.equal(r.differing, 0);
  assert.equal(r.bitwise, false);
  assert.equal(lib.compareTensors(t([1, NaN, 0]), t([1, NaN, -0]), { exact: true }).pass, false);
  assert.equal(lib.compareTensors(t([1, NaN]), t([1, NaN]), { exact: true }).pass, true);
  r = lib.compareTensors(t([1, 2]), t([1, NaN]));
  assert.deepEqual([r.pass, r.nanMismatch, r.outOfTolerance], [false, 1, 1]);
  r = lib.compareTensors(t([100.5, 1]), t([100, 1]), { atol: 0, rtol: 0.01 });
  assert.equal(r.pass, true);
  assert.equal(r.maxAbsDiff, 0.5);
  assert.equal(r.maxRelDiff, 0.005);
  assert.equal(lib.compareTensors(t([100.5, 1]), t([100, 1]), { atol: 0.1, rtol: 0.001 }).pass, false);
  r = lib.compareTensors(t([1e-3]), t([0]), { atol: 1e-2, rtol: 0 });
  assert.equal(r.pass, true);
  assert.equal(r.maxRelDiff, Infinity);
  assert.match(lib.compareTensors(t([1, 2]), t([1, 2], [1, 2])).reason, /dims/);
  assert.match(lib.compareTensors(t([1]), new Tensor('int32', Int32Array.from([1]), [1])).reason, /dtype/);
  const big = (v) => new Tensor('int64', BigInt64Array.from(v), [v.length]);
  r = lib.compareTensors(big([2n ** 60n + 1n]), big([2n ** 60n]), { atol: 0, rtol: 0 });
  assert.deepEqual([r.pass, r.differing, r.maxAbsDiff], [false, 1, 1]);
});

test('matchOutputs: by name first, the rest by position', () => {
  const o = (name) => ({ name, tensor: null });
  const m = lib.matchOutputs([o('a'), o('x'), o('c')], [o('y'), o('c'), o('a'), o('z')]);
  assert.deepEqual(m.pairs.map((p) => [p.a.name, p.b.name, p.byPosition]),
    [['a', 'a', false], ['c', 'c', false], ['x', 'y', true]]);
  assert.deepEqual(m.unmatchedB.map((x) => x.name), ['z']);
});

test('npy: encode/decode round trip for every element type, big-endian read', () => {
  for (const [type, info] of Object.entries(lib.DTYPES)) {
    const t = lib.generateTensor(type, [2, 3], 7, 'v');
    const back = lib.decodeNpy(lib.encodeNpy(t));
    assert.equal(back.type, type);
    assert.deepEqual(back.dims, [2, 3]);
    assert.ok(sameBytes(t, back), type);
    const enc = lib.encodeNpy(t);
    assert.equal(enc.readUInt16LE(8) + 10, enc.length - 6 * info.size, 'header padded');
    assert.equal((enc.readUInt16LE(8) + 10) % 64, 0);
  }
  const scalar = lib.decodeNpy(lib.encodeNpy(new Tensor('float32', Float32Array.from([3.5]), [])));
  assert.deepEqual([scalar.dims, scalar.data[0]], [[], 3.5]);
  // A big-endian int32 array [1, 258] written by hand.
  let header = "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }";
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const head = Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
  const be = Buffer.concat([head, Buffer.from(header), Buffer.from([0, 0, 0, 1, 0, 0, 1, 2])]);
  assert.deepEqual([...lib.decodeNpy(be).data], [1, 258]);
  assert.throws(() => lib.decodeNpy(Buffer.from('nope, not npy')), /not a .npy/);
});

test('runModel on an all-dtypes Identity model: deterministic inputs, outputs equal inputs', async () => {
  const shapes = lib.parseShapeSpecs(['f32:3x4', 'f16:2x5']);
  const r1 = await lib.runModel(modelPath, { seed: 5, shapes });
  const r2 = await lib.runModel(modelPath, { seed: 5, shapes });
  const r3 = await lib.runModel(modelPath, { seed: 6, shapes });
  const byName = (run) => Object.fromEntries(run.inputs.map((x) => [x.name, x.tensor]));
  const in1 = byName(r1);
  assert.deepEqual(in1.f32.dims, [3, 4]);
  assert.deepEqual(in1.i64.dims, [3], 'symbol N bound by the f32 override');
  assert.deepEqual(in1.f16.dims, [2, 5]);
  assert.deepEqual(in1.f64.dims, []);
  for (const { name, tensor } of r1.outputs) {
    const src = in1[name.replace(/_out$/, '')];
    assert.equal(tensor.type, src.type);
    assert.ok(sameBytes(tensor, src), `${name} equals its input`);
  }
  for (const name of Object.keys(in1)) {
    assert.ok(sameBytes(in1[name], byName(r2)[name]), `${name}: same seed, same bytes`);
    assert.ok(!sameBytes(in1[name], byName(r3)[name]), `${name}: other seed, other bytes`);
  }
  assert.ok([...in1.f32.data].every((v) => v >= -1 && v < 1));
  assert.ok([...in1.i64.data].every((v) => v >= 0n && v < 10n));
  assert.ok([...in1.b.data].every((v) => v === 0 || v === 1));
  const cmp = lib.compareOutputs(r1.outputs, r2.outputs, { exact: true });
  assert.equal(cmp.pass, true);
  assert.equal(cmp.results.length, INPUTS.length);
  assert.equal(lib.compareOutputs(r1.outputs, r3.outputs).pass, false);
});

test('writeRunDir + loadProvidedInputs feed back the same inputs', async () => {
  const run = await lib.runModel(modelPath, { seed: 9 });
  const dir = path.join(tmp, 'rundir');
  const manifest = lib.writeRunDir(dir, run, { model: modelPath, seed: 9 });
  assert.equal(manifest.inputs.length, INPUTS.length);
  const provided = lib.loadProvidedInputs([], dir);
  const again = await lib.runModel(modelPath, { seed: 1234, provided });
  assert.equal(lib.compareOutputs(run.outputs, again.outputs, { exact: true }).pass, true);
  const one = lib.loadProvidedInputs([`u8:${path.join(dir, 'inputs', 'u8.npy')}`]);
  await assert.rejects(lib.runModel(modelPath, { provided: new Map([['i8', one.get('u8')]]) }), /is int8/);
});

test('compareModels reports load errors naming the file', async () => {
  const bad = path.join(tmp, 'bad.onnx');
  fs.writeFileSync(bad, 'not a model');
  await assert.rejects(lib.compareModels(modelPath, bad), (err) => {
    assert.ok(err instanceof lib.ModelError);
    assert.equal(err.file, bad);
    assert.match(err.message, /cannot load model .*bad\.onnx/);
    return true;
  });
});
