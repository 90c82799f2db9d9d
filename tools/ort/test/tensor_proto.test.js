'use strict';
// tensor_proto.js against TensorProto bytes written out by hand (field
// number << 3 | wire type, then the payload), one per storage form.

const test = require('node:test');
const assert = require('node:assert/strict');
const { decodeTensorProto, tensorFromProto } = require('../tensor_proto');

const bytes = (...parts) => Buffer.from(parts.flat());
const floatLE = (v) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return [...b];
};

test('raw_data with packed dims and a name', () => {
  // dims [2, 3] packed (1 << 3 | 2), data_type int8 (3), name "x", raw_data 6 bytes.
  const buf = bytes([0x0a, 2, 2, 3], [0x10, 3], [0x42, 1, 0x78], [0x4a, 6, 1, 2, 0xff, 4, 5, 0x80]);
  const t = decodeTensorProto(buf);
  assert.equal(t.name, 'x');
  assert.equal(t.type, 'int8');
  assert.deepEqual(t.dims, [2, 3]);
  assert.deepEqual(Array.from(t.data), [1, 2, -1, 4, 5, -128]);
});

test('uint8 in int32_data, unpacked dims, a scalar float in float_data', () => {
  // dims 3 unpacked (1 << 3 | 0), data_type uint8 (2), int32_data packed [7, 200, 0].
  const u8 = decodeTensorProto(bytes([0x08, 3], [0x10, 2], [0x2a, 4, 7, 0xc8, 0x01, 0]));
  assert.deepEqual(u8.dims, [3]);
  assert.deepEqual(Array.from(u8.data), [7, 200, 0]);
  // No dims (a scalar), data_type float (1), float_data unpacked (4 << 3 | 5).
  const f = decodeTensorProto(bytes([0x10, 1], [0x25, ...floatLE(0.25)]));
  assert.deepEqual(f.dims, []);
  assert.deepEqual(Array.from(f.data), [0.25]);
});

test('negative int64_data and an ort.Tensor', () => {
  // dims [2], data_type int64 (7), int64_data packed [-1, 5] (-1 is ten bytes).
  const minusOne = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  const t = tensorFromProto(bytes([0x0a, 1, 2], [0x10, 7], [0x3a, 11, ...minusOne, 5]));
  assert.equal(t.type, 'int64');
  assert.deepEqual(t.dims, [2]);
  assert.deepEqual(Array.from(t.data), [-1n, 5n]);
});

test('refuses what it cannot read', () => {
  assert.throws(() => decodeTensorProto(bytes([0x10, 8])), /unsupported data_type 8/);
  assert.throws(() => decodeTensorProto(bytes([0x0a, 1, 4], [0x10, 2], [0x4a, 3, 1, 2, 3])), /raw_data has 3 bytes/);
  assert.throws(() => decodeTensorProto(bytes([0x10, 2], [0x4a, 9, 1])), /truncated/);
});
