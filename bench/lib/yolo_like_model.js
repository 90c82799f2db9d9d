#!/usr/bin/env node
'use strict';
// Writes a YOLO-class FP32 detector as ONNX textual syntax (qopt-opt reads
// it and writes the .onnx): a YOLOv5n-shaped conv net with seeded random
// weights (batch norm already folded into the convs). What makes it
// YOLO-class for a quantizer: SiLU as Sigmoid * x after every conv, C3
// blocks (two 1x1 branches, a bottleneck with a residual Add, Concat), SPPF
// (three chained 5x5 MaxPools and a Concat), an upsampling path (Resize,
// Concat with the backbone), and detection heads at two scales reshaped
// and concatenated into one output. The weights are not trained; latency
// and the structure quantizers meet are what it is for.
//
//   node bench/lib/yolo_like_model.js [--size=320] [--classes=80] [--width=16] [--seed=7] -o yolo.onnxtxt
const fs = require('node:fs');
const { parseArgs } = require('node:util');

function rng(seed) {
  // mulberry32: small, seeded, the same on every machine.
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class ModelText {
  constructor(seed) {
    this.random = rng(seed);
    this.initializers = [];
    this.nodes = [];
    this.count = 0;
  }

  name(prefix) {
    this.count += 1;
    return `${prefix}${this.count}`;
  }

  // Uniform weights with He-like scale, so activations stay in range.
  tensor(prefix, dims, scale) {
    const n = dims.reduce((a, b) => a * b, 1);
    const values = new Array(n);
    for (let i = 0; i < n; i += 1) values[i] = ((this.random() * 2 - 1) * scale).toPrecision(5);
    const name = this.name(prefix);
    this.initializers.push(`float[${dims.join(',')}] ${name} = {${values.join(', ')}}`);
    return name;
  }

  constant(type, dims, values) {
    const name = this.name('k');
    this.initializers.push(`${type}[${dims.join(',')}] ${name} = {${values.join(', ')}}`);
    return name;
  }

  node(text) {
    this.nodes.push(`  ${text}`);
  }

  // Conv (+ bias) and SiLU = x * Sigmoid(x).
  conv(x, cin, cout, k, stride = 1, silu = true) {
    const w = this.tensor('w', [cout, cin, k, k], Math.sqrt(6 / (cin * k * k)));
    const b = this.tensor('b', [cout], 0.1);
    const pad = Math.floor(k / 2);
    const y = this.name('conv');
    this.node(`${y} = Conv<kernel_shape = [${k}, ${k}], pads = [${pad}, ${pad}, ${pad}, ${pad}], ` +
      `strides = [${stride}, ${stride}]>(${x}, ${w}, ${b})`);
    if (!silu) return y;
    const s = this.name('sigmoid');
    const out = this.name('silu');
    this.node(`${s} = Sigmoid(${y})`);
    this.node(`${out} = Mul(${y}, ${s})`);
    return out;
  }

  // C3: 1x1 branch -> bottleneck (1x1, 3x3, + residual), 1x1 branch, Concat, 1x1.
  c3(x, cin, cout) {
    const hidden = cout / 2;
    const a = this.conv(x, cin, hidden, 1);
    const b1 = this.conv(a, hidden, hidden, 1);
    const b2 = this.conv(b1, hidden, hidden, 3);
    const res = this.name('res');
    this.node(`${res} = Add(${a}, ${b2})`);
    const c = this.conv(x, cin, hidden, 1);
    const cat = this.name('cat');
    this.node(`${cat} = Concat<axis = 1>(${res}, ${c})`);
    return this.conv(cat, cout, cout, 1);
  }

  sppf(x, cin, cout) {
    const hidden = cin / 2;
    const a = this.conv(x, cin, hidden, 1);
    const pools = [a];
    for (let i = 0; i < 3; i += 1) {
      const p = this.name('pool');
      this.node(`${p} = MaxPool<kernel_shape = [5, 5], pads = [2, 2, 2, 2], strides = [1, 1]>(${pools[i]})`);
      pools.push(p);
    }
    const cat = this.name('cat');
    this.node(`${cat} = Concat<axis = 1>(${pools.join(', ')})`);
    return this.conv(cat, hidden * 4, cout, 1);
  }

  // A detection head: 1x1 conv to anchors * (5 + classes), flattened spatially.
  head(x, cin, outputs) {
    const y = this.conv(x, cin, outputs, 1, 1, false);
    const shape = this.constant('int64', [3], [1, outputs, -1]);
    const r = this.name('head');
    this.node(`${r} = Reshape(${y}, ${shape})`);
    return r;
  }
}

function build({ size, classes, width, seed }) {
  const m = new ModelText(seed);
  const w = width;
  let x = m.conv('images', 3, w, 3, 2);
  x = m.conv(x, w, 2 * w, 3, 2);
  x = m.c3(x, 2 * w, 2 * w);
  x = m.conv(x, 2 * w, 4 * w, 3, 2);
  const p3 = m.c3(x, 4 * w, 4 * w);
  x = m.conv(p3, 4 * w, 8 * w, 3, 2);
  x = m.c3(x, 8 * w, 8 * w);
  const p4 = m.sppf(x, 8 * w, 8 * w);
  // Top-down path: upsample P4, concatenate with P3.
  const lateral = m.conv(p4, 8 * w, 4 * w, 1);
  const scales = m.constant('float', [4], [1, 1, 2, 2]);
  const up = m.name('up');
  m.node(`${up} = Resize<mode = "nearest">(${lateral}, , ${scales})`);
  const cat = m.name('cat');
  m.node(`${cat} = Concat<axis = 1>(${up}, ${p3})`);
  const n3 = m.c3(cat, 8 * w, 4 * w);
  const outputs = 3 * (5 + classes);
  const h3 = m.head(n3, 4 * w, outputs);
  const h4 = m.head(p4, 8 * w, outputs);
  const cells = (size / 8) ** 2 + (size / 16) ** 2;  // P3 at stride 8, P4 at 16
  m.node(`output = Concat<axis = 2>(${h3}, ${h4})`);
  return [
    '<ir_version: 8, opset_import: ["" : 13]>',
    `yolo_like (float[1,3,${size},${size}] images) => (float[1,${outputs},${cells}] output)`,
    `<${m.initializers.join(',\n ')}>`,
    '{',
    ...m.nodes,
    '}',
    '',
  ].join('\n');
}

function main() {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '320' },
      classes: { type: 'string', default: '80' },
      width: { type: 'string', default: '16' },
      seed: { type: 'string', default: '7' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.output) {
    console.error('usage: node bench/lib/yolo_like_model.js [--size=320] [--classes=80] [--width=16] [--seed=7] -o FILE.onnxtxt');
    process.exit(values.help ? 0 : 2);
  }
  const size = Number(values.size);
  const width = Number(values.width);
  if (!(size > 0 && size % 32 === 0) || !(width > 0 && width % 2 === 0)) {
    console.error('yolo_like_model: --size must be a multiple of 32 and --width even');
    process.exit(2);
  }
  fs.writeFileSync(values.output, build({ size, classes: Number(values.classes), width, seed: Number(values.seed) }));
}

main();
