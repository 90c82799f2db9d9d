'use strict';
// Tests of tools/ort/measure_target.js: the fit, the generated models (each
// converts with qopt-opt, and qopt-opt's op-count counts the MACs the tool
// fits on), and the CLI's errors and --quick output. Timing is noisy, so no
// test asserts a figure beyond its type and sign. Needs qopt-opt: $QOPT_OPT,
// else build/tools/qopt-opt/qopt-opt.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const mt = require('../measure_target');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TOOL = path.join(ROOT, 'tools', 'ort', 'measure_target.js');
const QOPT_OPT = process.env.QOPT_OPT || path.join(ROOT, 'build', 'tools', 'qopt-opt', 'qopt-opt');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-measure-target-test-'));
// The CLI runs with TMPDIR here, so the tests see what it leaves behind.
const childTmp = path.join(tmp, 'tmpdir');
fs.mkdirSync(childTmp);
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function qoptOpt(args) {
  const r = spawnSync(QOPT_OPT, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `qopt-opt ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function cli(args) {
  const r = spawnSync(process.execPath, [TOOL, ...args], {
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, QOPT_OPT, TMPDIR: childTmp },
  });
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, last: lines[lines.length - 1] };
}

test('fitLine recovers a line, clamps negatives and takes one point as a slope', () => {
  const exact = mt.fitLine([{ x: 1000, y: 3000 + 2 * 1000 }, { x: 1e5, y: 3000 + 2 * 1e5 }, { x: 1e6, y: 3000 + 2 * 1e6 }]);
  assert.ok(Math.abs(exact.perCall - 3000) < 1e-6, `perCall ${exact.perCall}`);
  assert.ok(Math.abs(exact.slope - 2) < 1e-12, `slope ${exact.slope}`);
  // Falling times: no negative slope; the constant is a weighted mean.
  const falling = mt.fitLine([{ x: 1, y: 5 }, { x: 2, y: 4 }, { x: 3, y: 3 }]);
  assert.equal(falling.slope, 0);
  assert.ok(falling.perCall >= 3 && falling.perCall <= 5);
  // A negative intercept: refit through the origin.
  const steep = mt.fitLine([{ x: 1, y: 1 }, { x: 2, y: 3 }, { x: 3, y: 5 }]);
  assert.equal(steep.perCall, 0);
  assert.ok(steep.slope > 1 && steep.slope < 2);
  assert.deepEqual(mt.fitLine([{ x: 100, y: 7 }]), { perCall: 0, slope: 0.07 });
  assert.deepEqual(mt.fitLine([]), { perCall: 0, slope: 0 });
});

test('linearCost puts the slope on MACs or elements', () => {
  const pts = [{ macs: 10, elements: 1, ns: 20 }, { macs: 20, elements: 2, ns: 40 }];
  assert.deepEqual(mt.linearCost(pts, 'mac'), { per_call_ns: 0, per_mac_ns: 2, per_element_ns: 0 });
  assert.deepEqual(mt.linearCost(pts, 'element'), { per_call_ns: 0, per_mac_ns: 0, per_element_ns: 20 });
});

test('the unit classes are the ones qopt names, three shapes each', () => {
  assert.deepEqual(mt.CLASSES.map((c) => c.unitClass),
    ['conv-first', 'conv-depthwise', 'conv-pointwise', 'conv-dense', 'matmul', 'Add', 'Mul', 'MaxPool']);
  for (const c of mt.CLASSES) {
    assert.equal(c.shapes.length, 3, c.unitClass);
    const macs = c.shapes.map((s) => mt.describeShape(c, s).macs);
    const elements = c.shapes.map((s) => mt.describeShape(c, s).elements);
    const grows = (v) => v.every((x, i) => i === 0 || x >= v[i - 1]);
    assert.ok(grows(macs) && grows(elements), `${c.unitClass}: shapes from small to large`);
  }
});

test('every generated model converts, and qopt-opt counts the MACs the fit uses', () => {
  const kernels = { Conv: 'QLinearConv', MatMul: 'QLinearMatMul', Add: 'com.microsoft.QLinearAdd', Mul: 'com.microsoft.QLinearMul',
    MaxPool: 'MaxPool' };
  for (const [ci, c] of mt.CLASSES.entries()) {
    for (const [si, s] of c.shapes.entries()) {
      const shape = mt.describeShape(c, s);
      const consts = mt.constantsFor(shape, ci * 16 + si + 1);
      const models = { fp32: mt.fp32Model(c, shape, consts) };
      if (si === mt.QUICK_SHAPE) {
        for (const act of ['uint8', 'int8']) {
          models[`qdq-${act}`] = mt.qdqModel(c, shape, consts, act);
          models[`qdq-${act}-fan-out`] = mt.qdqModel(c, shape, consts, act, true);
          models[`qop-${act}`] = mt.qopModel(c, shape, consts, act, kernels[c.op]);
        }
      }
      for (const [kind, text] of Object.entries(models)) {
        const file = path.join(tmp, `${c.unitClass}.${si}.${kind}.onnxtxt`);
        fs.writeFileSync(file, text);
        // Shapes inferred from the inputs' (input-shape=), so that every op's MACs are known.
        const dims = shape.inputs.map((i) => `${i.name}:${i.dims.join('x')}`).join(',');
        const report = JSON.parse(qoptOpt([file, `--pass=op-count{input-shape=${dims}}`, '--report=json']));
        const counts = report.analyses['op-count'];
        const label = `${c.unitClass} ${shape.label} ${kind}`;
        if (kind.startsWith('qop')) {
          const op = kernels[c.op].replace(/^com\.microsoft\./, 'com.microsoft::');
          assert.equal(counts.by_op[op], 1, `${label}: ${JSON.stringify(counts.by_op)}`);
        } else {
          assert.equal(counts.by_op[c.op], 1, `${label}: ${JSON.stringify(counts.by_op)}`);
        }
        if (c.op === 'Conv' || c.op === 'MatMul') assert.equal(counts.macs.total, shape.macs, label);
      }
    }
  }
});

test('usage errors and a bad base profile exit 2 with one ERROR line', () => {
  let r = cli(['--runs=0']);
  assert.equal(r.code, 2);
  assert.match(r.last, /^measure_target: ERROR bad --runs=0/);
  r = cli(['--bogus']);
  assert.equal(r.code, 2);
  assert.match(r.last, /^measure_target: ERROR /);
  r = cli(['extra.onnx']);
  assert.equal(r.code, 2);
  assert.match(r.last, /^measure_target: ERROR unexpected argument 'extra.onnx'/);
  const base = path.join(tmp, 'not-a-target.json');
  fs.writeFileSync(base, '{"schema": "something-else"}');
  r = cli([`--base=${base}`]);
  assert.equal(r.code, 2);
  assert.match(r.last, /^measure_target: ERROR the base profile is not schema "qopt-target\/1"/);
  r = cli(['--qopt-opt=/nonexistent/qopt-opt']);
  assert.equal(r.code, 2);
  assert.match(r.last, /^measure_target: ERROR qopt-opt not found at '\/nonexistent\/qopt-opt'/);
});

test('--quick writes a profile from the built-in one, with every class measured', () => {
  const out = path.join(tmp, 'quick.json');
  const keep = path.join(tmp, 'kept');
  const r = cli(['--quick', '--runs=2', '--warmup=0', `--qopt-opt=${QOPT_OPT}`, `--out=${out}`, `--keep-dir=${keep}`]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, '');
  const p = JSON.parse(fs.readFileSync(out, 'utf8'));
  const base = JSON.parse(qoptOpt(['--print-target=ort-cpu']));
  assert.equal(p.schema, 'qopt-target/1');
  assert.equal(p.name, base.name);
  assert.deepEqual(p.kernels, base.kernels);
  assert.deepEqual(p.integer_types, base.integer_types);
  assert.match(p.source, /onnxruntime-node \d+\.\d+\.\d+, CPU EP, 1 intra-op thread/);
  assert.match(p.source, /--quick/);
  assert.equal(p.measurements.length, mt.CLASSES.length * 2);
  for (const m of p.measurements) {
    assert.ok(['uint8', 'int8'].includes(m.activation));
    assert.equal(typeof m.fused_by_runtime, 'boolean');
    assert.ok(m.note.startsWith('ORT '), m.note);
    for (const cost of [m.integer, m.float]) {
      for (const f of ['per_call_ns', 'per_mac_ns', 'per_element_ns']) assert.ok(cost[f] >= 0, `${m.unit_class} ${f}`);
    }
  }
  // ONNX Runtime fuses uint8 QDQ units on every CPU it runs on.
  assert.ok(p.fused_activation_types.includes('uint8'));
  for (const c of ['quantize', 'dequantize']) assert.ok(p[c].per_element_ns > 0 || p[c].per_call_ns > 0, c);
  // The table, one row per class x activation.
  assert.equal(r.stderr.split('\n').filter((l) => /^(conv-|matmul|Add|Mul|MaxPool)\S* +(uint8|int8) /.test(l)).length,
    mt.CLASSES.length * 2);
  // qopt-opt reads the file back.
  const back = JSON.parse(qoptOpt([`--print-target=${out}`]));
  assert.equal(back.measurements.length, p.measurements.length);
  // qopt's UnitClassOf puts each kept uint8 QDQ Conv/MatMul in the class the tool measured it
  // as: float-islands{float-units=auto} prices it with that class's costs.
  for (const c of mt.CLASSES.filter((x) => x.op === 'Conv' || x.op === 'MatMul')) {
    const model = path.join(keep, `${c.unitClass}.${mt.QUICK_SHAPE}.qdq-uint8.onnx`);
    const report = JSON.parse(qoptOpt([model, `--pass=float-islands{float-units=auto target=${out}}`, '--report=json']));
    const auto = report.analyses['float-islands'].auto;
    assert.equal(auto.length, 1, `${c.unitClass}: ${JSON.stringify(auto)}`);
    assert.ok(auto[0].estimate.startsWith(`${c.unitClass} + 0 taken in: integer `), `${c.unitClass}: ${auto[0].estimate}`);
  }
  // The kept models, the tool's temporary folder gone.
  assert.ok(fs.existsSync(path.join(keep, `conv-pointwise.${mt.QUICK_SHAPE}.qdq-uint8.onnx`)));
  const left = fs.readdirSync(childTmp).filter((f) => !/^(\.ses|mat-debug-\d+\.log)$/.test(f));
  assert.deepEqual(left, [], 'the tool left files in TMPDIR');
});
