'use strict';
// Tests of tools/ort/profile.js: the summing of ORT profile events on
// hand-made events, and the CLI on the PaddleOCR classifier (few runs).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const lib = require('../lib');
const profile = require('../profile');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const PROFILE = path.join(ROOT, 'tools', 'ort', 'profile.js');
const CLS = path.join(ROOT, 'testdata', 'models', 'paddleocr-cls.onnx');
const CLS_SHAPE = 'x:1x3x48x192';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-ort-profile-test-'));
// The CLI runs with TMPDIR here, so the test sees what it leaves behind.
const childTmp = path.join(tmp, 'tmpdir');
fs.mkdirSync(childTmp);
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(args, env = {}) {
  const r = spawnSync(process.execPath, [PROFILE, ...args], {
    encoding: 'utf8',
    timeout: 60000,
    env: { ...process.env, TMPDIR: childTmp, ...env },
  });
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, lines, last: lines[lines.length - 1], stdout: r.stdout, stderr: r.stderr };
}

// Op types of the nodes of an ONNX model's main graph (ModelProto.graph = 7,
// GraphProto.node = 1, NodeProto.op_type = 4): a protobuf walk independent of
// ORT, to check the profile against. Returns Map op -> node count.
function modelOpCounts(file) {
  function fields(buf, visit) {
    let pos = 0;
    const varint = () => {
      let v = 0;
      let mul = 1;
      for (;;) {
        const b = buf[pos++];
        v += (b & 0x7f) * mul;
        if (!(b & 0x80)) return v;
        mul *= 128;
      }
    };
    while (pos < buf.length) {
      const key = varint();
      const field = Math.floor(key / 8);
      const wire = key % 8;
      if (wire === 0) varint();
      else if (wire === 1) pos += 8;
      else if (wire === 5) pos += 4;
      else if (wire === 2) {
        const len = varint();
        visit(field, buf.subarray(pos, pos + len));
        pos += len;
      } else throw new Error(`${file}: unexpected wire type ${wire}`);
    }
  }
  const counts = new Map();
  fields(fs.readFileSync(file), (f, graph) => {
    if (f !== 7) return;
    fields(graph, (g, node) => {
      if (g !== 1) return;
      fields(node, (n, v) => {
        if (n === 4) counts.set(v.toString('utf8'), (counts.get(v.toString('utf8')) || 0) + 1);
      });
    });
  });
  return counts;
}

const OP_ROW = /^(\S+)\s+(\d+\.\d{3})\s+(\d+\.\d)%\s+(\d+)$/;
const NODE_ROW = /^(\S+)\s+(\S+)\s+(\d+\.\d{3})\s+(\d+\.\d)%\s+(.*)$/;
const LAST = /^profile: total (\d+\.\d{3}) ms per run over (\d+) runs \((\d+) nodes timed\)$/;

function opRows(lines) {
  assert.match(lines[0], /^op\s+ms\/run\s+share\s+nodes$/);
  return lines.slice(1, -1).filter((l) => OP_ROW.test(l)).map((l) => {
    const [, op, ms, share, nodes] = OP_ROW.exec(l);
    return { op, ms, share, nodes: Number(nodes) };
  });
}

const fmt3 = (x) => x.toFixed(3);
const fmtPct = (s) => (100 * s).toFixed(1);

// ---------------------------------------------------------------------------
// summarizeProfile on hand-made events

function run(ts, dur) { return { cat: 'Session', name: 'model_run', ts, dur, ph: 'X', args: {} }; }
function kernel(name, op, ts, dur, index, inputs = [{ float: [1, 4] }]) {
  return {
    cat: 'Node', name: `${name}_kernel_time`, ts, dur, ph: 'X',
    args: { op_name: op, node_index: String(index), provider: 'CPUExecutionProvider', input_type_shape: inputs, output_type_shape: [{ float: [1, 4] }] },
  };
}

// Two runs of a three-node graph (conv_a, conv_b: Conv; relu: Relu), the
// first a slow warm-up, plus events that are not kernel times.
function events(warmupDur = 1000) {
  const ev = [
    { cat: 'Session', name: 'model_loading_uri', ts: 0, dur: 50, ph: 'X', args: {} },
    { cat: 'Session', name: 'session_initialization', ts: 50, dur: 50, ph: 'X', args: {} },
  ];
  let t = 200;
  for (const scale of [warmupDur, 1, 1]) {
    const start = t;
    ev.push({ cat: 'Session', name: 'SequentialExecutor::Execute', ts: t, dur: 0, ph: 'X', args: {} });
    ev.push(kernel('conv_a', 'Conv', t + 1, 10 * scale, 0));
    ev.push({ cat: 'Node', name: 'conv_a_fence_before', ts: t + 1, dur: 7, ph: 'X', args: { op_name: 'Conv' } });
    ev.push(kernel('conv_b', 'Conv', t + 2 + 10 * scale, 20 * scale, 1, [{ float: [1, 4] }, { uint8: [] }]));
    ev.push(kernel('relu', 'Relu', t + 3 + 30 * scale, 5 * scale, 2));
    t += 10 + 35 * scale;
    ev.push(run(start, t - start));
    t += 100;
  }
  return ev;
}

test('summarizeProfile: sums kernel times per node and per op over the timed runs only', () => {
  const s = profile.summarizeProfile(events(), { runs: 2, warmup: 1 });
  assert.equal(s.totalUs, 2 * (10 + 20 + 5));
  assert.deepEqual(s.ops, [
    { op: 'Conv', us: 60, nodes: 2, calls: 4 },
    { op: 'Relu', us: 10, nodes: 1, calls: 2 },
  ]);
  assert.deepEqual(s.nodes.map((n) => [n.name, n.op, n.nodeIndex, n.us, n.calls]), [
    ['conv_b', 'Conv', 1, 40, 2],
    ['conv_a', 'Conv', 0, 20, 2],
    ['relu', 'Relu', 2, 10, 2],
  ]);
  assert.deepEqual(s.nodes[0].inputs, [{ type: 'float', dims: [1, 4] }, { type: 'uint8', dims: [] }]);
  assert.equal(profile.formatTypeShapes(s.nodes[0].inputs), 'f32[1x4] u8[]');
  // Counting the warm-up run as timed changes the numbers.
  const all = profile.summarizeProfile(events(), { runs: 3, warmup: 0 });
  assert.equal(all.totalUs, 35 * 1000 + 2 * 35);
});

test('summarizeProfile: the profile must hold exactly warmup + runs runs', () => {
  assert.throws(() => profile.summarizeProfile(events(), { runs: 3, warmup: 1 }), /3 model_run events, expected 4/);
  assert.throws(() => profile.summarizeProfile(events(), { runs: 1, warmup: 1 }), /expected 2/);
  const stray = events();
  stray.push(kernel('late', 'Relu', 1e9, 3, 9));
  assert.throws(() => profile.summarizeProfile(stray, { runs: 2, warmup: 1 }), /1 kernel events outside every model_run/);
  assert.throws(() => profile.summarizeProfile({}, { runs: 1 }), /not a JSON array/);
});

test('summaryToJson / formatTable: ms per run, shares, --top', () => {
  const json = profile.summaryToJson(profile.summarizeProfile(events(), { runs: 2, warmup: 1 }));
  assert.equal(json.totalMsPerRun, 0.035);
  assert.equal(json.nodesTimed, 3);
  assert.deepEqual(json.ops.map((o) => [o.op, o.msPerRun, o.nodes]), [['Conv', 0.03, 2], ['Relu', 0.005, 1]]);
  assert.ok(Math.abs(json.ops[0].share - 60 / 70) < 1e-12);
  assert.deepEqual(profile.formatTable(json, 'op'), [
    'op    ms/run  share  nodes',
    'Conv   0.030  85.7%      2',
    'Relu   0.005  14.3%      1',
  ]);
  assert.deepEqual(profile.formatTable(json, 'node', 2), [
    'node    op    ms/run  share  inputs',
    'conv_b  Conv   0.020  57.1%  f32[1x4] u8[]',
    'conv_a  Conv   0.010  28.6%  f32[1x4]',
    '(1 more nodes: 0.005 ms/run, 14.3%)',
  ]);
});

test('profileFile: the one PREFIX_*.json in the private directory, or the path ORT returns', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'pf-'));
  assert.throws(() => profile.profileFile(undefined, dir), /found 0/);
  fs.writeFileSync(path.join(dir, 'ort-profile_2026-01-01_00-00-00.json'), '[]');
  fs.writeFileSync(path.join(dir, 'other.json'), '[]');
  assert.equal(profile.profileFile(undefined, dir), path.join(dir, 'ort-profile_2026-01-01_00-00-00.json'));
  assert.equal(profile.profileFile(path.join(dir, 'x.json'), dir), path.join(dir, 'x.json'));
  assert.throws(() => profile.profileFile('/elsewhere/x.json', dir), /outside/);
  fs.writeFileSync(path.join(dir, 'ort-profile_2026-01-01_00-00-01.json'), '[]');
  assert.throws(() => profile.profileFile(undefined, dir), /found 2/);
});

// ---------------------------------------------------------------------------
// The CLI on the PaddleOCR classifier

test('the model is installed', () => {
  assert.ok(fs.existsSync(CLS), `${CLS} (run npm ci)`);
});

test('profile.js: without graph optimizations the op table lists the model\'s ops and node counts', () => {
  const model = modelOpCounts(CLS);
  // ORT turns Constant nodes into initializers when it loads a graph, at every level.
  assert.ok(model.delete('Constant'));
  assert.ok(model.size >= 5, [...model.keys()].join(' '));
  const json = path.join(tmp, 'disabled.json');
  const r = cli([CLS, `--input-shape=${CLS_SHAPE}`, '--opt-level=disabled', '--runs=2', '--warmup=1', `--json=${json}`]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const rows = opRows(r.lines);
  assert.equal(rows.length, r.lines.length - 2, r.stdout); // header, rows, last line: nothing else
  assert.deepEqual(new Map(rows.map((o) => [o.op, o.nodes])), model);
  const nodes = [...model.values()].reduce((a, b) => a + b, 0);
  const [, total, runs, timed] = LAST.exec(r.last) || assert.fail(r.last);
  assert.equal(Number(runs), 2);
  assert.equal(Number(timed), nodes);
  const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.equal(doc.optLevel, 'disabled');
  assert.equal(fmt3(doc.totalMsPerRun), total);
  assert.ok(doc.totalMsPerRun > 0);
  // Every node ran once per run.
  assert.ok(doc.nodes.every((n) => n.calls === 2), JSON.stringify(doc.nodes.find((n) => n.calls !== 2)));
});

test('profile.js --json: the same numbers as the op table; per-node sums equal the per-op rows', () => {
  const json = path.join(tmp, 'op.json');
  const r = cli([CLS, `--input-shape=${CLS_SHAPE}`, '--runs=3', '--warmup=1', `--json=${json}`]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.equal(doc.runs, 3);
  assert.equal(doc.warmup, 1);
  assert.deepEqual(doc.inputs, [{ name: 'x', type: 'float32', dims: [1, 3, 48, 192] }]);
  const rows = opRows(r.lines);
  assert.deepEqual(rows, doc.ops.map((o) => ({ op: o.op, ms: fmt3(o.msPerRun), share: fmtPct(o.share), nodes: o.nodes })));
  const [, total, runs, timed] = LAST.exec(r.last) || assert.fail(r.last);
  assert.equal(total, fmt3(doc.totalMsPerRun));
  assert.equal(Number(runs), 3);
  assert.equal(Number(timed), doc.nodes.length);
  assert.equal(doc.nodesTimed, doc.nodes.length);

  // Per node, grouped by op, gives the per-op rows; both sum to the total.
  const byOp = new Map();
  for (const n of doc.nodes) {
    const o = byOp.get(n.op) || { ms: 0, nodes: 0, calls: 0 };
    o.ms += n.msPerRun;
    o.nodes++;
    o.calls += n.calls;
    byOp.set(n.op, o);
  }
  assert.deepEqual([...byOp.keys()].sort(), doc.ops.map((o) => o.op).sort());
  for (const o of doc.ops) {
    const g = byOp.get(o.op);
    assert.ok(Math.abs(g.ms - o.msPerRun) <= 1e-9 * Math.max(1, o.msPerRun), `${o.op}: ${g.ms} vs ${o.msPerRun}`);
    assert.equal(g.nodes, o.nodes, o.op);
    assert.equal(g.calls, o.calls, o.op);
  }
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum(doc.nodes.map((n) => n.msPerRun)) - doc.totalMsPerRun) < 1e-9);
  assert.ok(Math.abs(sum(doc.ops.map((o) => o.share)) - 1) < 1e-9);
});

test('profile.js --by=node --top: rows are the slowest nodes of the JSON, the rest summed', () => {
  const json = path.join(tmp, 'node.json');
  const r = cli([CLS, `--input-shape=${CLS_SHAPE}`, '--runs=2', '--warmup=0', '--by=node', '--top=4', `--json=${json}`]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.match(r.lines[0], /^node\s+op\s+ms\/run\s+share\s+inputs$/);
  assert.equal(r.lines.length, 1 + 4 + 1 + 1, r.stdout);
  for (let i = 0; i < 4; i++) {
    const [, name, op, ms, share, inputs] = NODE_ROW.exec(r.lines[1 + i]) || assert.fail(r.lines[1 + i]);
    const n = doc.nodes[i];
    assert.deepEqual([name, op, ms, share, inputs], [n.name, n.op, fmt3(n.msPerRun), fmtPct(n.share), profile.formatTypeShapes(n.inputs)]);
  }
  assert.ok(doc.nodes[0].msPerRun >= doc.nodes[3].msPerRun);
  const rest = doc.nodes.slice(4);
  assert.equal(r.lines[5], `(${rest.length} more nodes: ${fmt3(rest.reduce((a, n) => a + n.msPerRun, 0))} ms/run, ` +
    `${fmtPct(rest.reduce((a, n) => a + n.share, 0))}%)`);
  assert.match(r.lines[1], /\bf32\[/);
});

test('profile.js: exit 2 with a one-line error for a missing model and bad usage', () => {
  let r = cli([path.join(tmp, 'missing.onnx')]);
  assert.equal(r.code, 2);
  assert.match(r.last, /^profile: ERROR cannot load model '.*missing\.onnx': no such file$/);
  assert.equal(r.lines.length, 1);
  const bad = path.join(tmp, 'broken.onnx');
  fs.writeFileSync(bad, 'this is not an onnx model');
  r = cli([bad]);
  assert.equal(r.code, 2);
  assert.match(r.last, /^profile: ERROR cannot load model '.*broken\.onnx': \S/);
  for (const args of [[], [CLS, CLS], [CLS, '--by=graph'], [CLS, '--runs=0'], [CLS, '--top=0'], [CLS, '--warmup=-1'],
    [CLS, '--bogus'], [CLS, '--input-shape=y:1x3x48x192']]) {
    r = cli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.last, /^profile: ERROR /, args.join(' '));
  }
});

test('profile.js: an error after the profiler started (input of the wrong type) exits 2', () => {
  const npy = path.join(tmp, 'x_int32.npy');
  lib.writeNpy(npy, new lib.ort.Tensor('int32', new Int32Array(3 * 48 * 192), [1, 3, 48, 192]));
  const r = cli([CLS, `--input=x:${npy}`, '--runs=1']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.last, /^profile: ERROR .*input 'x' is float32, the given file holds int32$/);
});

test('profile.js: the profile goes under TMPDIR, and nothing of it remains', () => {
  // A TMPDIR that does not exist makes the tool fail: it does write there.
  const r = cli([CLS, `--input-shape=${CLS_SHAPE}`, '--runs=1', '--warmup=0'], { TMPDIR: path.join(tmp, 'no-such-dir') });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.last, /^profile: ERROR .*ENOENT.*mkdtemp/);
  // Every CLI run above used childTmp (ORT itself drops `.ses` and
  // `mat-debug-<pid>.log` into TMPDIR whenever it loads a model; those are
  // not the profiler's).
  const left = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) { left.push(p); walk(p); } else if (!/^(\.ses|mat-debug-\d+\.log)$/.test(e.name)) left.push(p);
    }
  };
  walk(childTmp);
  assert.deepEqual(left, []);
});
