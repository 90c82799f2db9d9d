'use strict';
// Reads a serialized onnx.TensorProto (the .pb files of ONNX's backend test
// data sets) into an onnxruntime-node Tensor. onnxruntime-node reads no
// protobuf, and the message is small, so the wire format is decoded here:
// dims (1), data_type (2), float_data (4), int32_data (5), int64_data (7),
// name (8), raw_data (9), double_data (10), uint64_data (11). Strings,
// segments and external data are refused.

const { ort } = require('./lib');

// TensorProto.DataType -> onnxruntime-node element type.
const ELEMENT_TYPES = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};
const ARRAYS = {
  float32: Float32Array, uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array,
  int32: Int32Array, int64: BigInt64Array, bool: Uint8Array, float16: Uint16Array, float64: Float64Array,
  uint32: Uint32Array, uint64: BigUint64Array,
};

class Reader {
  constructor(buf, where) {
    this.buf = buf;
    this.pos = 0;
    this.where = where;
  }
  done() {
    return this.pos >= this.buf.length;
  }
  fail(what) {
    throw new Error(`${this.where}: ${what} at byte ${this.pos}`);
  }
  // A varint as a BigInt (int64 values and negative int32s take 10 bytes).
  varint() {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 63n) this.fail('varint longer than 64 bits');
    }
  }
  bytes() {
    const n = Number(this.varint());
    if (this.pos + n > this.buf.length) this.fail('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire) {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else this.fail(`unsupported wire type ${wire}`);
  }
}

// The values of a repeated scalar field, packed (wire type 2) or not.
function readRepeated(r, wire, scalarWire, readOne, out) {
  if (wire === 2 && scalarWire !== 2) {
    const sub = new Reader(r.bytes(), r.where);
    while (!sub.done()) out.push(readOne(sub));
  } else if (wire === scalarWire) {
    out.push(readOne(r));
  } else {
    r.fail(`wire type ${wire} for a repeated field`);
  }
}

const asInt64 = (r) => BigInt.asIntN(64, r.varint());
const asUint64 = (r) => BigInt.asUintN(64, r.varint());
const asFloat = (r) => {
  const v = r.buf.readFloatLE(r.pos);
  r.pos += 4;
  return v;
};
const asDouble = (r) => {
  const v = r.buf.readDoubleLE(r.pos);
  r.pos += 8;
  return v;
};

/** Decodes TensorProto bytes: { name, type, dims, data (typed array) }. */
function decodeTensorProto(buf, where = 'TensorProto') {
  const r = new Reader(Buffer.isBuffer(buf) ? buf : Buffer.from(buf), where);
  const dims = [];
  const fields = { float: [], int32: [], int64: [], double: [], uint64: [] };
  let dataType = 0;
  let name = '';
  let raw = null;
  while (!r.done()) {
    const key = Number(r.varint());
    const field = key >>> 3;
    const wire = key & 7;
    switch (field) {
      case 1: readRepeated(r, wire, 0, asInt64, dims); break;
      case 2: dataType = Number(r.varint()); break;
      case 4: readRepeated(r, wire, 5, asFloat, fields.float); break;
      case 5: readRepeated(r, wire, 0, asInt64, fields.int32); break;
      case 7: readRepeated(r, wire, 0, asInt64, fields.int64); break;
      case 8: name = r.bytes().toString('utf8'); break;
      case 9: raw = r.bytes(); break;
      case 10: readRepeated(r, wire, 1, asDouble, fields.double); break;
      case 11: readRepeated(r, wire, 0, asUint64, fields.uint64); break;
      case 3: case 6: case 13: r.fail(`TensorProto field ${field} (segment, strings, external data) is not supported`); break;
      default: r.skip(wire);
    }
  }
  const type = ELEMENT_TYPES[dataType];
  if (!type) throw new Error(`${where}: unsupported data_type ${dataType}`);
  const shape = dims.map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const Array_ = ARRAYS[type];
  let data;
  if (raw) {
    if (raw.length !== count * Array_.BYTES_PER_ELEMENT) {
      throw new Error(`${where}: raw_data has ${raw.length} bytes for ${count} ${type} elements`);
    }
    // Copied: the typed array must be aligned to its element size.
    data = new Array_(count);
    Buffer.from(data.buffer).set(raw);
  } else {
    // The typed field each element type is stored in (onnx.proto).
    const source =
      type === 'float32' ? fields.float
        : type === 'float64' ? fields.double
          : type === 'int64' ? fields.int64
            : type === 'uint32' || type === 'uint64' ? fields.uint64
              : fields.int32;
    if (source.length !== count) throw new Error(`${where}: ${source.length} values for ${count} ${type} elements`);
    data = new Array_(count);
    for (let i = 0; i < count; i++) {
      const v = source[i];
      data[i] = Array_ === BigInt64Array || Array_ === BigUint64Array ? BigInt(v) : Number(v);
    }
  }
  return { name, type, dims: shape, data };
}

/** Decodes TensorProto bytes into an ort.Tensor; `.protoName` is the proto's name field. */
function tensorFromProto(buf, where) {
  const t = decodeTensorProto(buf, where);
  const data = t.type === 'bool' ? Uint8Array.from(t.data, (v) => (v ? 1 : 0)) : t.data;
  const tensor = new ort.Tensor(t.type, data, t.dims);
  tensor.protoName = t.name;
  return tensor;
}

module.exports = { decodeTensorProto, tensorFromProto, ELEMENT_TYPES };
