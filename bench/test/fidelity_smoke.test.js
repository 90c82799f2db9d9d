'use strict';
// Keeps bench/fidelity.sh from rotting: the whole chain on the small
// PaddleOCR classifier with 4 calibration and 4 evaluation images, 2 timing
// rounds and qopt-sensitivity on 2 images, checking that the summary table
// has a row per variant with finite cls numbers and a goal line per int8
// goal; plus the goal checks of bench/lib/fidelity_table.js on hand-made
// numbers. Needs a built qopt-opt ($QOPT_OPT, else build/tools/qopt-opt/qopt-opt),
// ImageMagick and the DejaVu fonts. Run: node --test bench/test/

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
// scripts/sanitize.sh runs qopt-opt built with ASan, several times slower.
const TIMEOUT_SCALE = Number(process.env.QOPT_TEST_TIMEOUT_SCALE || 1);
const table = require('../lib/fidelity_table');

const ROOT = path.resolve(__dirname, '..', '..');
const QOPT = process.env.QOPT_OPT || path.join(ROOT, 'build', 'tools', 'qopt-opt', 'qopt-opt');

test('fidelity_table: goals are met or missed on the right side of each bound', () => {
  const cells = {
    rec: { strings: 0.96, cer: 0.02, latency: 0.7, sqnr: 20 },
    cls: { top1: 1, latency: 1.2, sqnr: 30 },
    det: { iou: 0.969, latency: 0.5, sqnr: 15 },
  };
  const byKey = Object.fromEntries(table.checkGoals('int8', cells).map((g) => [`${g.model} ${g.metric}`, g.met]));
  assert.deepEqual(byKey, {
    'rec strings': true, 'rec cer': false, 'rec latency': true,
    'cls top1': true, 'cls latency': false,
    'det iou': false, 'det latency': true,
  });
  assert.deepEqual(table.checkGoals('per-channel', cells), []);
  assert.equal(table.checkGoals('int8-pt', { rec: { strings: 0.75 } })[0].met, true);
});

test('fidelity.sh: cls with a few images, every column in the summary with finite numbers', () => {
  assert.ok(fs.existsSync(QOPT), `no qopt-opt at ${QOPT}: build qopt (scripts/build.sh) or set QOPT_OPT`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'qopt-fidelity-smoke-'));
  try {
    const r = spawnSync('bash', [path.join(ROOT, 'bench', 'fidelity.sh'), '--skip-setup', '--models=cls', '--rounds=2',
      '--calib=4', '--eval=4', '--sens=2', `--out-dir=${out}`], {
      cwd: ROOT, encoding: 'utf8', timeout: 240000 * TIMEOUT_SCALE, env: { ...process.env, QOPT_OPT: QOPT },
    });
    assert.equal(r.status, 0, `fidelity.sh failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    for (const name of ['per-tensor', 'per-channel', 'pc+percentile', 'pc+entropy', 'pc+mse', 'pc+choice',
      'cle+per-tensor', 'sq+per-channel', 'hs+per-channel', 'pc+fix-bias', 'int8-plain', 'int8', 'int8-pt']) {
      const c = summary.variants[name] && summary.variants[name].cls;
      assert.ok(c, `no cls cell for ${name} in the summary`);
      assert.ok(Number.isFinite(c.latency) && c.latency > 0, `${name}: latency ${c.latency}`);
      assert.ok(c.top1 >= 0 && c.top1 <= 1, `${name}: top-1 ${c.top1}`);
    }
    assert.deepEqual(summary.goals.map((g) => `${g.variant} ${g.metric}`).sort(), ['int8 latency', 'int8 top1']);
    assert.match(r.stdout, /^goal (met   |MISSED) int8 cls top1 /m);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
