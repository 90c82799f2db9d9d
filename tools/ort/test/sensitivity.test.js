'use strict';
// Tests of tools/ort/sensitivity.js's pure parts: RE2 escaping of node names,
// the pipeline rewriting that adds exclude-nodes, ranking, the keep_float
// candidates, prefix mode's cut points and choice (with a latency budget), --equalize's list and choice, the
// document check, the table and the HTML (one bar per unit),
// and the CLI's one-line errors (exit 2). tests/ort/sensitivity.sh runs the
// tool on the PaddleOCR classifier.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const s = require('../sensitivity');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TOOL = path.join(ROOT, 'tools', 'qopt-sensitivity');

test('escapeRe2 quotes every RE2 metacharacter, and the pattern matches only the name', () => {
  const name = 'a.b(c)[d]{e}|f*g+h?i^j$k\\l';
  assert.equal(s.escapeRe2(name), 'a\\.b\\(c\\)\\[d\\]\\{e\\}\\|f\\*g\\+h\\?i\\^j\\$k\\\\l');
  assert.equal(s.escapeRe2('/backbone/conv1/Conv'), '/backbone/conv1/Conv');
  // These escapes mean the same in RE2 and JavaScript regular expressions.
  const re = new RegExp(s.exactNamesPattern([name, 'p2o.Conv.1']));
  assert.ok(re.test(name));
  assert.ok(re.test('p2o.Conv.1'));
  assert.ok(!re.test('p2o.Conv.10'));
  assert.ok(!re.test('p2oxConvx1'));
  assert.ok(!re.test(`x${name}`));
  assert.equal(s.exactNamesPattern(['a', 'b.c']), '^(a|b\\.c)$');
  assert.throws(() => s.exactNamesPattern([]));
});

test('parsePipeline reads what qopt-opt reads, and formatPipeline writes it back', () => {
  const specs = s.parsePipeline(" canonicalize , quantize{calibration=c.json per-channel=true exclude-nodes='^(a b)$'},dce");
  assert.deepEqual(specs, [
    { name: 'canonicalize', options: [] },
    { name: 'quantize', options: [['calibration', 'c.json'], ['per-channel', 'true'], ['exclude-nodes', '^(a b)$']] },
    { name: 'dce', options: [] },
  ]);
  assert.equal(s.formatPipeline(specs), "canonicalize,quantize{calibration=c.json per-channel=true exclude-nodes='^(a b)$'},dce");
  for (const bad of ['', 'quantize{calibration}', 'quantize{a=1', "quantize{a='x}", 'quantize{a=1 a=2}', 'a b']) {
    assert.throws(() => s.parsePipeline(bad), s.SensitivityError, bad);
  }
  assert.throws(() => s.parsePipeline('quantize{a=1'), /column 13: missing '\}'/);
});

test('withExcludedNodes adds or extends exclude-nodes of the one quantize pass', () => {
  const pat = s.exactNamesPattern(['p2o.Conv.0']);
  assert.equal(s.withExcludedNodes(s.parsePipeline('quantize{calibration=c.json}'), pat),
    'quantize{calibration=c.json exclude-nodes=^(p2o\\.Conv\\.0)$}');
  assert.equal(s.withExcludedNodes(s.parsePipeline('quantize{calibration=c.json exclude-nodes=^head}'), pat),
    'quantize{calibration=c.json exclude-nodes=(?:^head)|^(p2o\\.Conv\\.0)$}');
  // A name with '}' or a space makes the value quoted.
  assert.equal(s.withExcludedNodes(s.parsePipeline('quantize{calibration=c.json}'), s.exactNamesPattern(['a}b c'])),
    "quantize{calibration=c.json exclude-nodes='^(a\\}b c)$'}");
  // The input pipeline is not changed.
  const specs = s.parsePipeline('cle,quantize{calibration=c.json}');
  s.withExcludedNodes(specs, pat);
  assert.equal(s.formatPipeline(specs), 'cle,quantize{calibration=c.json}');
  assert.throws(() => s.withExcludedNodes(s.parsePipeline('dce'), pat), /exactly one quantize pass \(found 0/);
  assert.throws(() => s.quantizeSpec(s.parsePipeline('quantize,quantize')), /found 2/);
  assert.throws(() => s.quantizeSpec(s.parsePipeline('quantize{mode=dynamic}')), /only mode=static/);
});

function unit(name, gain, extra = {}) {
  return { name, op_type: 'Conv', quantized: gain !== null,
    keep_float: gain === null ? null : { output_sqnr_db: 30 + gain, gain_db: gain }, ...extra };
}

test('rankUnits: largest gain first, unmeasured last, graph order on ties', () => {
  const ranked = s.rankUnits([unit('a', 0.1), unit('b', null), unit('c', 3), unit('d', -1), unit('e', 3)]);
  assert.deepEqual(ranked.map((u) => u.name), ['c', 'e', 'a', 'd', 'b']);
  assert.deepEqual(ranked.map((u) => u.rank), [1, 2, 3, 4, 5]);
  // only-quantized alone: the lowest output SQNR is the most sensitive.
  const only = s.rankUnits([
    { name: 'x', op_type: 'Conv', quantized: true, only_quantized: { output_sqnr_db: 40 } },
    { name: 'y', op_type: 'Conv', quantized: true, only_quantized: { output_sqnr_db: 25 } },
  ]);
  assert.deepEqual(only.map((u) => u.name), ['y', 'x']);
});

test('rankTensors: worst SQNR first, tensors without a value last', () => {
  const t = (name, db) => ({ name, sqnr_db: db });
  assert.deepEqual(s.rankTensors([t('a', 30), t('b', null), t('c', 12), t('d', 30)]).map((x) => x.name),
    ['c', 'a', 'd', 'b']);
});

test('keepFloatCandidates: default threshold and count, --budget, only-quantized', () => {
  const ranked = s.rankUnits([unit('a', 5), unit('b', 0.6), unit('c', 0.4), unit('d', 2), unit('e', 1), unit('f', -2),
    unit('g', 0.7), unit('h', 0.55)]);
  const def = s.keepFloatCandidates(ranked);
  assert.equal(def.limit, 3);
  assert.deepEqual(def.candidates, ['a', 'd', 'e', 'g', 'b', 'h']);
  assert.match(def.rule, /up to 3 of the units with a gain of at least 0.5 dB/);
  const b1 = s.keepFloatCandidates(ranked, { budget: 1 });
  assert.deepEqual([b1.limit, b1.candidates], [1, ['a', 'd']]);
  const b9 = s.keepFloatCandidates(ranked, { budget: 9 });
  assert.deepEqual(b9.candidates, ['a', 'd', 'e', 'g', 'b', 'h', 'c']);  // gains above 0 only
  assert.deepEqual(s.keepFloatCandidates(ranked, { minGainDb: 1.5, maxUnits: 5 }).candidates, ['a', 'd']);
  assert.deepEqual(s.keepFloatCandidates(s.rankUnits([unit('z', -1), unit('y', null)])).candidates, []);
  const only = s.rankUnits([
    { name: 'x', op_type: 'Conv', quantized: true, only_quantized: { output_sqnr_db: 40 } },
    { name: 'y', op_type: 'Conv', quantized: true, only_quantized: { output_sqnr_db: 25 } },
  ]);
  assert.deepEqual(s.keepFloatCandidates(only, { budget: 1 }).candidates, ['y', 'x']);
  assert.equal(s.excludeOption([]), null);
  assert.equal(s.excludeOption(['p2o.Conv.12', 'p2o.Conv.3']), 'exclude-nodes=^(p2o\\.Conv\\.12|p2o\\.Conv\\.3)$');
});

test('nodesInOrder: one entry per node in list order, several outputs once, unnamed nodes by their first output', () => {
  const t = (node, op, i = 0, name = `${node || op}.out${i}`) => ({ node, name, op_type: op, output_index: i });
  const nodes = s.nodesInOrder([t('c0', 'Conv'), t('s', 'Split'), t('s', 'Split', 1), t('', 'Relu', 0, 'r1'),
    t('', 'Relu', 0, 'r2'), t('', 'TopK', 0, 'values'), t('', 'TopK', 1, 'indices'), t('c1', 'Conv')]);
  assert.deepEqual(nodes.map((n) => `${n.name}:${n.op_type}`),
    ['c0:Conv', 's:Split', 'r1:Relu', 'r2:Relu', 'values:TopK', 'c1:Conv']);
  assert.equal(s.firstUnnamed(nodes), -1);
});

test('prefixCutPoints: each prefix ends right before the next unit, the last one takes every node', () => {
  const nodes = ['Transpose', 'Conv', 'Mul', 'Add', 'Clip', 'Conv', 'Conv', 'Relu', 'MatMul', 'Add', 'Softmax']
    .map((op, k) => ({ name: `n${k}`, op_type: op }));
  assert.deepEqual(s.prefixCutPoints(nodes, ['Conv', 'MatMul']), [
    { units: 1, nodes: 5, last_node: 'n4' },   // Transpose, Conv and its Mul/Add/Clip
    { units: 2, nodes: 6, last_node: 'n5' },   // a unit followed right away by a unit
    { units: 3, nodes: 8, last_node: 'n7' },
  ]);  // the last unit's prefix would be the whole model (FP32): left out
  assert.deepEqual(s.prefixCutPoints(nodes, ['Gemm']), []);
  assert.deepEqual(s.prefixCutPoints(nodes.slice(0, 9), ['Conv', 'MatMul']).map((c) => c.nodes), [5, 6, 8]);
  assert.equal(s.firstUnnamed(nodes), -1);
  assert.equal(s.firstUnnamed([{ name: 'a' }, { name: '' }, { name: '' }]), 1);
});

test('prefixSweep: default max is 16 or half the units, step and max always measured', () => {
  assert.deepEqual(s.prefixSweep(0), []);
  assert.deepEqual(s.prefixSweep(1), [0]);
  assert.deepEqual(s.prefixSweep(7), [0, 1, 2, 3]);  // ceil(7 / 2)
  assert.equal(s.prefixSweep(64).length, 16);
  assert.deepEqual(s.prefixSweep(64, { max: 4 }), [0, 1, 2, 3]);
  assert.deepEqual(s.prefixSweep(64, { max: 10, step: 4 }), [3, 7, 9]);
  assert.deepEqual(s.prefixSweep(3, { max: 10 }), [0, 1, 2]);  // no more than there are
});

test('choosePrefix: fewest nodes with >= fraction of the best gain and >= min gain', () => {
  const sweep = [[1, 1, -0.01], [2, 10, -0.08], [3, 19, 3.2], [4, 22, 2.49], [9, 61, 4.46], [10, 70, 5.73],
    [12, 82, 7.46], [13, 91, 7.01], [16, 118, 6.94]].map(([units, nodes, gain]) => ({ units, nodes, gain_db: gain }));
  const c = s.choosePrefix(sweep);
  assert.equal(c.index, 6);  // 5.73 < 0.8 x 7.46 = 5.97 <= 7.46
  assert.equal(c.best_gain_db, 7.46);
  assert.match(c.rule, /^prefix: the fewest leading nodes whose gain is at least 0\.8 of the best measured gain \(\+7\.46 dB\) and at least 0\.5 dB$/);
  assert.equal(s.choosePrefix(sweep, { fraction: 0.75 }).index, 5);
  assert.equal(s.choosePrefix(sweep, { fraction: 0.4 }).index, 2);
  assert.equal(s.choosePrefix(sweep, { fraction: 1 }).index, 6);
  // The min-gain floor: with a small best gain nothing, else it raises the bar.
  assert.equal(s.choosePrefix(sweep, { minGainDb: 8 }).index, null);
  assert.equal(s.choosePrefix(sweep, { fraction: 0.1, minGainDb: 4 }).index, 4);
  // Unmeasured (null) gains never win; an all-negative sweep chooses none.
  assert.equal(s.choosePrefix([{ units: 1, nodes: 3, gain_db: null }, { units: 2, nodes: 5, gain_db: 1 }]).index, 1);
  assert.equal(s.choosePrefix([{ units: 1, nodes: 3, gain_db: -1 }]).index, null);
  assert.equal(s.choosePrefix([]).index, null);
});

function sampleDoc() {
  const units = s.rankUnits([unit('p2o.Conv.0', 1.25), unit('p2o.Conv.1', 4.5), unit('p2o.MatMul.0', null),
    unit('<b>&"x"', -0.5)]);
  return {
    schema: s.SCHEMA,
    producer: { name: 'qopt-sensitivity', onnxruntime: '1.30.0' },
    model: 'cls.fp32.onnx',
    model_sha256: '0'.repeat(64),
    pipeline: 'quantize{calibration=c.json per-channel=true}',
    inputs: { kind: 'files', path: 'eval', ids: ['eval/0.png'] },
    samples: 1,
    settings: {},
    baseline: { output_sqnr_db: 30, outputs: ['softmax_0.tmp_0'], nodes_quantized: 3 },
    tensors: s.rankTensors([
      { name: 'x', op_type: null, kind: 'input', dq_output: 'x_DequantizeLinear_Output', sqnr_db: 45, rms: 1 },
      { name: 'conv2d_53.tmp_0', op_type: 'Conv', kind: 'activation', dq_output: 'conv2d_53.tmp_0_DequantizeLinear_Output',
        sqnr_db: 21.5, rms: 2 },
    ]),
    units,
    keep_float: { names: ['p2o.Conv.1'], rule: 'default', option: s.excludeOption(['p2o.Conv.1']),
      pipeline: 'quantize{calibration=c.json per-channel=true exclude-nodes=^(p2o\\.Conv\\.1)$}', output_sqnr_db: 34.5,
      gain_db: 4.5, tried: [] },
  };
}

test('validateSensitivity accepts a well-formed document and names what is wrong', () => {
  const doc = sampleDoc();
  assert.equal(s.validateSensitivity(doc), doc);
  assert.throws(() => s.validateSensitivity({ ...doc, schema: 'qopt-sensitivity/0' }), /schema/);
  assert.throws(() => s.validateSensitivity({ ...doc, samples: 0 }), /samples/);
  assert.throws(() => s.validateSensitivity({ ...doc, units: [...doc.units].reverse() }), /rank/);
  const swapped = doc.units.map((u, k) => ({ ...u, rank: k + 1 }));
  [swapped[0], swapped[1]] = [{ ...swapped[1], rank: 1 }, { ...swapped[0], rank: 2 }];
  assert.throws(() => s.validateSensitivity({ ...doc, units: swapped }), /not ranked by gain/);
  assert.throws(() => s.validateSensitivity({ ...doc, keep_float: { ...doc.keep_float, names: ['nope'] } }), /keep_float/);
  assert.throws(() => s.validateSensitivity({ ...doc, keep_float: { ...doc.keep_float, option: null } }), /keep_float.option/);
  assert.throws(() => s.validateSensitivity({ ...doc, tensors: [{ name: 'x', sqnr_db: 'high' }] }), /tensor x/);
  // JSON round trip: no Infinity or NaN survives as a number.
  assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);
  assert.equal(s.dbValue(Infinity), null);
  assert.equal(s.dbValue(NaN), null);
  assert.equal(s.dbValue(12.345678), 12.3457);
});

test('formatTable ranks the units and prints the option to paste', () => {
  const text = s.formatTable(sampleDoc());
  const lines = text.split('\n');
  assert.match(lines[0], /^baseline output SQNR 30\.00 dB over 1 samples/);
  assert.match(lines[2], /^ +1 +p2o\.Conv\.1 +Conv +34\.50 +\+4\.50$/);
  assert.match(lines[5], /MatMul|p2o\.MatMul\.0/);
  assert.equal(lines[lines.length - 1], 'sensitivity: exclude-nodes=^(p2o\\.Conv\\.1)$');
  assert.match(text, /worst tensors \(dB\): conv2d_53\.tmp_0 21\.50, x 45\.00/);
});

test('renderHtml: one self-contained page, an SVG bar per unit and per tensor, names escaped', () => {
  const doc = sampleDoc();
  const html = s.renderHtml(doc);
  assert.match(html, /^<!DOCTYPE html>/);
  assert.equal((html.match(/<svg /g) || []).length, 2);
  assert.equal((html.match(/class="unit-bar"/g) || []).length, doc.units.length);
  assert.equal((html.match(/class="tensor-bar"/g) || []).length, doc.tensors.length);
  assert.ok(!/(src|href)=/.test(html), 'no external assets');
  assert.ok(!html.includes('<b>&"x"'), 'names are escaped');
  assert.ok(html.includes('&lt;b&gt;&amp;&quot;x&quot;'));
  // Bars in rank order, each with its name in a hover title.
  const titles = [...html.matchAll(/<g><title>([^<]*)<\/title>/g)].map((m) => m[1]);
  assert.equal(titles.length, doc.units.length + doc.tensors.length);
  assert.ok(titles[0].startsWith('p2o.Conv.1 (Conv): gain keeping it float +4.50 dB'), titles[0]);
  assert.ok(titles[3].includes('not quantized in the baseline'), titles[3]);
});

function prefixDoc() {
  const doc = sampleDoc();
  const names = ['c0', 'mul.0', 'c1', 'add.1'];
  const sweep = [{ units: 1, nodes: 2, last_node: 'mul.0', output_sqnr_db: 30.1, gain_db: 0.1, nodes_quantized: 5 },
    { units: 2, nodes: 4, last_node: 'add.1', output_sqnr_db: 33, gain_db: 3, nodes_quantized: 3 }];
  return {
    ...doc,
    units: [],
    prefix: { units_total: 5, nodes_total: 9, max_units: 2, step: 1, fraction: 0.8, min_gain_db: 0.5, best_gain_db: 3,
      chosen: 1, sweep },
    keep_float: { names, rule: 'prefix: ...', option: s.excludeOption(names), pipeline: 'x', output_sqnr_db: 33,
      gain_db: 3, nodes_float: 4, tried: [] },
  };
}

test('prefix mode: the document check, the sweep table and the sweep chart', () => {
  const doc = prefixDoc();
  assert.equal(s.validateSensitivity(doc), doc);
  assert.throws(() => s.validateSensitivity({ ...doc, keep_float: { ...doc.keep_float, names: ['c0', 'mul.0'] } }),
    /not the chosen prefix/);
  assert.throws(() => s.validateSensitivity({ ...doc, prefix: { ...doc.prefix, chosen: 5 } }), /prefix.chosen/);
  const noneChosen = { ...doc, prefix: { ...doc.prefix, chosen: null },
    keep_float: { ...doc.keep_float, names: [], option: null } };
  assert.equal(s.validateSensitivity(noneChosen), noneChosen);
  const text = s.formatTable(doc);
  assert.match(text, /^baseline output SQNR 30\.00 dB over 1 samples .*, 5 units, /);
  assert.match(text, /\n +1 +2 +mul\.0 +30\.10 +\+0\.10\n/);
  assert.match(text, /\n +2 +4 +add\.1 +33\.00 +\+3\.00 +\*\n/);
  assert.match(text, /keep float \(prefix: \.\.\.\): c0 \.\. add\.1 -> output SQNR 33\.00 dB/);
  assert.match(text, /kept float: 4 nodes \(of 9\)/);
  const html = s.renderHtml(doc);
  assert.equal((html.match(/class="prefix-bar"/g) || []).length, 2);
  assert.match(html, /first 4 nodes float \(2 units, up to add\.1\): output SQNR 33\.00 dB, gain \+3\.00 dB \(chosen\)/);
});

test('choosePrefix with a latency budget: the best SQNR within it, min gain, baseline over it', () => {
  const e = (units, nodes, gain, ratio) => ({ units, nodes, output_sqnr_db: 10 + gain, gain_db: gain, latency_ratio: ratio });
  const sweep = [e(1, 5, 1.0, 0.60), e(2, 9, 4.0, 0.72), e(3, 12, 6.0, 0.85), e(4, 20, 9.0, 0.95), e(5, 30, 4.0, 0.70)];
  // Without a budget the old rule (fewest nodes with >= 0.8 of the best gain) is unchanged.
  assert.equal(s.choosePrefix(sweep).index, 3);
  // Entries over the budget are skipped; the highest SQNR within it wins, not the fewest nodes.
  const c = s.choosePrefix(sweep, { budget: 0.9, baselineRatio: 0.55 });
  assert.equal(c.index, 2);
  assert.equal(c.best_gain_db, 9);
  assert.match(c.rule, /^prefix within latency budget 0\.9: the highest output SQNR among the prefixes at most 0\.9 x FP32, if its gain is at least 0\.5 dB$/);
  assert.equal(s.choosePrefix(sweep, { budget: 1, baselineRatio: 0.55 }).index, 3);
  assert.equal(s.choosePrefix(sweep, { budget: 0.75, baselineRatio: 0.55 }).index, 1);  // ties: fewer nodes (9 before 30)
  assert.equal(s.choosePrefix(sweep, { budget: 0.65, baselineRatio: 0.55 }).index, 0);
  // min-gain: the best within the budget is not good enough -> none.
  assert.equal(s.choosePrefix(sweep, { budget: 0.65, baselineRatio: 0.55, minGainDb: 2 }).index, null);
  // Nothing within the budget, or an unmeasured ratio.
  assert.equal(s.choosePrefix(sweep, { budget: 0.58, baselineRatio: 0.55 }).index, null);
  assert.equal(s.choosePrefix([e(1, 5, 3, null)], { budget: 2, baselineRatio: 0.5 }).index, null);
  // The fully quantized model over the budget: none, and the rule says why.
  const over = s.choosePrefix(sweep, { budget: 0.5, baselineRatio: 0.55 });
  assert.equal(over.index, null);
  assert.match(over.rule, /already at 0\.550 x FP32, and keeping nodes float only adds latency/);
  assert.ok(s.withinBudget(0.9, 0.9) && !s.withinBudget(0.91, 0.9) && !s.withinBudget(null, 0.9));
  assert.ok(s.withinBudget(undefined, undefined) && s.withinBudget(5, null));
  assert.equal(s.pairedRatio([2, 1, 3], [1.5, 1, 100]), 0.75);  // medians: 1.5 / 2
  assert.equal(s.pairedRatio([], [1]), null);
});

test('parseEqualizeList: none and smoothquant only, none always measured, cle refused', () => {
  assert.deepEqual(s.parseEqualizeList('none,smoothquant{alpha=0.5},smoothquant{alpha=auto}'), [
    { spec: 'none', pass: null },
    { spec: 'smoothquant{alpha=0.5}', pass: { name: 'smoothquant', options: [['alpha', '0.5']] } },
    { spec: 'smoothquant{alpha=auto}', pass: { name: 'smoothquant', options: [['alpha', 'auto']] } },
  ]);
  assert.deepEqual(s.parseEqualizeList(' smoothquant , smoothquant ').map((c) => c.spec), ['none', 'smoothquant']);
  assert.deepEqual(s.parseEqualizeList('smoothquant{alpha=0.5},none').map((c) => c.spec), ['smoothquant{alpha=0.5}', 'none']);
  assert.throws(() => s.parseEqualizeList('none,cle'), /'cle' is not a candidate: .*cle changes the tensors whose ranges the calibration table holds, so it would need recalibration/);
  assert.throws(() => s.parseEqualizeList('none{x=1}'), /'none\{x=1\}' is not a candidate/);
  assert.throws(() => s.parseEqualizeList('smoothquant{alpha=0.5'), /bad --equalize list at column 22: missing '\}'/);
  for (const bad of ['cle', '', 'quantize']) assert.throws(() => s.parseEqualizeList(bad), (err) => err.name === 'UsageError', bad);
});

test('equalizedSpecs puts the candidate before the quantize pass, with its calibration', () => {
  const specs = s.parsePipeline('canonicalize,quantize{calibration=c.json per-channel=true}');
  const [none, sq, own] = s.parseEqualizeList('none,smoothquant{alpha=0.5},smoothquant{calibration=sq.json}');
  assert.equal(s.formatPipeline(s.equalizedSpecs(specs, none)), 'canonicalize,quantize{calibration=c.json per-channel=true}');
  assert.equal(s.formatPipeline(s.equalizedSpecs(specs, sq)),
    'canonicalize,smoothquant{alpha=0.5 calibration=c.json},quantize{calibration=c.json per-channel=true}');
  assert.equal(s.formatPipeline(s.equalizedSpecs(specs, own)),
    'canonicalize,smoothquant{calibration=sq.json},quantize{calibration=c.json per-channel=true}');
  assert.deepEqual(sq.pass.options, [['alpha', '0.5']], 'the candidate is not changed');
  assert.equal(s.deployWithInputShape('fix-bias-overflow,fuse-qdq{float-units=auto}', 'x:1x3x48x192'),
    'fix-bias-overflow,fuse-qdq{float-units=auto input-shape=x:1x3x48x192}');
  assert.equal(s.deployWithInputShape('fuse-qdq{input-shape=x:1x3x8x8}', 'x:1x3x48x192'), 'fuse-qdq{input-shape=x:1x3x8x8}');
});

test('chooseEqualize: the best SQNR if it beats none by --min-gain, else none', () => {
  const c = (spec, db) => ({ spec, output_sqnr_db: db });
  const three = [c('none', 20), c('smoothquant{alpha=0.5}', 20.8), c('smoothquant{alpha=auto}', 20.6)];
  const a = s.chooseEqualize(three, { samples: 8 });
  assert.equal(a.chosen, 'smoothquant{alpha=0.5}');
  assert.deepEqual(a.gains, [0, 0.8, 0.6]);
  assert.equal(a.why, 'smoothquant{alpha=0.5}: +0.80 dB over none on 8 samples');
  const b = s.chooseEqualize(three, { minGainDb: 1, samples: 8 });
  assert.equal(b.chosen, 'none');
  assert.match(b.why, /^none: the best, smoothquant\{alpha=0\.5\}, gains \+0\.80 dB over none on 8 samples, less than 1 dB$/);
  assert.equal(s.chooseEqualize([c('none', 20), c('smoothquant', 19)]).chosen, 'none');
  assert.equal(s.chooseEqualize([c('none', 20), c('smoothquant', null)]).chosen, 'none');
  assert.equal(s.chooseEqualize([c('none', 20)]).chosen, 'none');
});

function latencyDoc() {
  const doc = prefixDoc();
  return {
    ...doc,
    measured_pipeline: 'smoothquant{alpha=0.5 calibration=c.json},quantize{calibration=c.json per-channel=true}',
    settings: { latency_budget: 0.9 },
    baseline: { ...doc.baseline, latency_ratio: 0.62 },
    latency: { deploy: 'fix-bias-overflow,fuse-qdq{float-units=auto}', runs: 10, opt_level: 'all', threads: 1, fp32_ms: 3.21 },
    equalize: {
      candidates: [{ spec: 'none', pipeline: 'quantize{calibration=c.json per-channel=true}', output_sqnr_db: 29.2, gain_db: 0 },
        { spec: 'smoothquant{alpha=0.5}', pipeline: 'smoothquant{alpha=0.5 calibration=c.json},quantize{calibration=c.json per-channel=true}',
          output_sqnr_db: 30, gain_db: 0.8 }],
      chosen: 'smoothquant{alpha=0.5}', chosen_pass: { name: 'smoothquant', options: [['alpha', '0.5']] }, min_gain_db: 0.5,
      why: 'smoothquant{alpha=0.5}: +0.80 dB over none on 1 samples',
    },
    prefix: { ...doc.prefix, nodes: ['c0', 'mul.0', 'c1', 'add.1'],
      sweep: doc.prefix.sweep.map((e, k) => ({ ...e, latency_ratio: [0.7, 0.85][k] })) },
    keep_float: { ...doc.keep_float, latency_ratio: 0.85 },
  };
}

test('latency and equalize: the document check and the table lines', () => {
  const doc = latencyDoc();
  assert.equal(s.validateSensitivity(doc), doc);
  const bad = (patch, re) => assert.throws(() => s.validateSensitivity({ ...doc, ...patch }), re);
  bad({ latency: { ...doc.latency, runs: 0 } }, /latency \{deploy/);
  bad({ baseline: { ...doc.baseline, latency_ratio: null } }, /baseline.latency_ratio/);
  bad({ settings: { latency_budget: -1 } }, /latency_budget/);
  bad({ latency: undefined, baseline: { ...doc.baseline, latency_ratio: undefined } }, /latency_budget without latency/);
  bad({ keep_float: { ...doc.keep_float, latency_ratio: 'fast' } }, /keep_float.latency_ratio/);
  bad({ prefix: { ...doc.prefix, sweep: [doc.prefix.sweep[0], { ...doc.prefix.sweep[1], latency_ratio: 0 }] } },
    /prefix.sweep\[1\].latency_ratio/);
  bad({ prefix: { ...doc.prefix, nodes: ['c0', 'mul.0', 'c1'] } }, /prefix.nodes/);
  bad({ prefix: { ...doc.prefix, nodes: ['c0', 'x', 'c1', 'add.1'] } }, /prefix.nodes' start/);
  bad({ equalize: { ...doc.equalize, chosen: 'cle' } }, /equalize.chosen is not a candidate/);
  bad({ equalize: { ...doc.equalize, chosen_pass: null } }, /equalize.chosen_pass/);
  bad({ equalize: { ...doc.equalize, candidates: doc.equalize.candidates.slice(1) } }, /equalize.candidates has none/);
  bad({ measured_pipeline: 3 }, /measured_pipeline/);
  const text = s.formatTable(doc);
  const lines = text.split('\n');
  assert.deepEqual(lines.slice(0, 3), [
    'equalize none: output SQNR 29.20 dB',
    'equalize smoothquant{alpha=0.5}: output SQNR 30.00 dB (+0.80 over none)',
    'equalize: chose smoothquant{alpha=0.5} (smoothquant{alpha=0.5}: +0.80 dB over none on 1 samples)',
  ]);
  assert.match(lines[3], /^baseline output SQNR 30\.00 dB/);
  assert.equal(lines[4], 'latency (+fix-bias-overflow,fuse-qdq{float-units=auto}, opt level all, 1 thread(s), median of 10 ' +
    'runs paired with FP32): FP32 3.210 ms, baseline 0.620 x FP32, budget 0.9 x FP32');
  assert.match(text, /\nunits +nodes +last node +output dB +gain dB +x FP32\n/);
  assert.match(text, /\n +1 +2 +mul\.0 +30\.10 +\+0\.10 +0\.700\n/);
  assert.match(text, /\n +2 +4 +add\.1 +33\.00 +\+3\.00 +0\.850 +\*\n/);
  assert.match(text, /-> output SQNR 33\.00 dB, 0\.850 x FP32\n/);
  const html = s.renderHtml(doc);
  assert.match(html, /gain \+3\.00 dB, latency 0\.850 x FP32 \(chosen\)/);
  assert.match(html, /<th>equalize<\/th><td>smoothquant\{alpha=0\.5\}: \+0\.80 dB over none/);
  assert.match(html, /<th>latency<\/th><td>\(\+fix-bias-overflow,fuse-qdq\{float-units=auto\}, .*FP32 3\.210 ms/);
  // keep-float mode: the tried steps with their latency.
  const kf = { ...sampleDoc(), settings: {}, baseline: { ...sampleDoc().baseline, latency_ratio: 0.6 }, latency: doc.latency };
  kf.keep_float = { ...kf.keep_float, latency_ratio: 0.7, tried: [
    { names: ['p2o.Conv.1'], output_sqnr_db: 34.5, kept: true, latency_ratio: 0.7 },
    { names: ['p2o.Conv.1', 'p2o.Conv.0'], output_sqnr_db: 35, kept: false, latency_ratio: 0.95 }] };
  assert.equal(s.validateSensitivity(kf), kf);
  const kt = s.formatTable(kf);
  assert.match(kt, /\nkeep float tried p2o\.Conv\.1: output SQNR 34\.50 dB, 0\.700 x FP32 -> kept\n/);
  assert.match(kt, /\nkeep float tried p2o\.Conv\.1, p2o\.Conv\.0: output SQNR 35\.00 dB, 0\.950 x FP32 -> dropped\n/);
  // Without latency, no latency column or lines.
  assert.ok(!/x FP32|latency/.test(s.formatTable(prefixDoc())));
});

function cli(args) {
  return spawnSync(TOOL, args, { encoding: 'utf8', env: { ...process.env, QOPT_OPT: process.env.QOPT_OPT || '/nonexistent' } });
}

test('CLI: bad input is one line naming the file or option, exit 2', () => {
  const model = path.join(ROOT, 'testdata', 'models', 'paddleocr-cls.onnx');
  const cases = [
    [['missing.onnx', '--quantize=quantize{calibration=c.json}', '--inputs=.'], /cannot read model 'missing\.onnx': no such file/],
    [[model, '--inputs=.'], /give --quantize=/],
    [[model, '--quantize=quantize{calibration=c.json}'], /give --inputs=DIR or --random=N/],
    [[model, '--quantize=quantize{calibration', '--inputs=.'], /bad --quantize pipeline at column 21: expected '=' after option 'calibration'/],
    [[model, '--quantize=dce', '--inputs=.'], /exactly one quantize pass/],
    [[model, '--quantize=quantize', '--inputs=.', '--mode=fast'], /bad --mode=fast/],
    [[model, '--quantize=quantize', '--inputs=.', '--budget=0'], /bad --budget=0/],
    [[model, '--quantize=quantize', '--inputs=.', '--std=0'], /bad --std=0/],
    [[model, '--quantize=quantize', '--inputs=.', '--objective=,'], /bad --objective=,/],
    [[model, '--quantize=quantize', '--inputs=.', '--mode=prefix', '--prefix-max=0'], /bad --prefix-max=0/],
    [[model, '--quantize=quantize', '--inputs=.', '--mode=prefix', '--prefix-fraction=1.5'], /bad --prefix-fraction=1\.5/],
    [[model, '--quantize=quantize', '--inputs=.', '--equalize=none,cle'], /--equalize: 'cle' is not a candidate/],
    [[model, '--quantize=quantize', '--inputs=.', '--latency-budget=0'], /bad --latency-budget=0/],
    [[model, '--quantize=quantize', '--inputs=.', '--latency-budget=1', '--latency-runs=0'], /needs --latency-runs/],
    [[model, '--quantize=quantize', '--inputs=.', '--deploy=fuse-qdq{'], /bad --deploy pipeline at column 10/],
    [[model, '--bogus'], /Unknown option '--bogus'/],
  ];
  for (const [args, want] of cases) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^qopt-sensitivity: error: /);
    assert.match(lines[0], want);
  }
  assert.equal(cli(['--help']).status, 0);
});
