#!/usr/bin/env node
'use strict';
// Runs a model on the data sets of an ONNX backend node test (a folder with
// test_data_set_N/input_K.pb and output_K.pb, as Debian's libonnx-testdata
// ships them) and compares its outputs with the expected ones; with
// --reference=MODEL also with that model's outputs on the same inputs (the
// file a conversion started from). Integer outputs must be equal, or within
// --steps; float outputs within ONNX's own backend-test tolerance (rtol 1e-3,
// atol 1e-7) unless --atol/--rtol say otherwise. Exit 0: every data set
// matches; 1: some output differs; 2: usage error or a model failed.

const fs = require('node:fs');
const path = require('node:path');
const lib = require('./lib');
// The TensorProto decoder calibration inputs use (.pb files).
const { decodeTensorProto } = require('./calibration');

const USAGE = `usage: node tools/ort/backend_test.js MODEL.onnx TEST_DIR [options]
  --reference=MODEL.onnx      also compare with this model's outputs on the same inputs
  --steps=N                   integer outputs may differ by N (default 0: exact)
  --atol=X --rtol=X           float outputs (default 1e-7, 1e-3: ONNX's backend tests)
  --opt-level=LEVEL           disabled | basic | extended | layout | all (default all)
  --label=TEXT                the name printed on each line (default: TEST_DIR's)`;

function readProtos(dir, prefix) {
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.pb'));
  files.sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)));
  return files.map((f) => decodeTensorProto(fs.readFileSync(path.join(dir, f)), path.join(dir, f)).tensor);
}

// { pass, text }: integer outputs by steps, floats by tolerance.
function compare(got, want, opts) {
  const integer = lib.DTYPES[want.type] && ['int', 'bigint', 'bool'].includes(lib.DTYPES[want.type].kind);
  const r = lib.compareTensors(got, want, integer ? { atol: opts.steps, rtol: 0 } : { atol: opts.atol, rtol: opts.rtol });
  if (r.reason && !r.reason.includes('tolerance')) return { pass: false, text: r.reason };
  const text = r.bitwise ? 'exact' : `max |diff| ${lib.fmtNum(r.maxAbsDiff)} at ${r.differing} of ${r.elements}`;
  return { pass: r.pass, text };
}

async function outputsOf(model, feeds, opts) {
  const session = await lib.loadSession(model, { optLevel: opts.optLevel });
  try {
    return (await lib.runSession(session, feeds, model)).outputs;
  } finally {
    await session.release();
  }
}

async function main(argv) {
  const { values, positionals } = lib.parseCliArgs(argv, {
    reference: { type: 'string' },
    steps: { type: 'string' },
    atol: { type: 'string' },
    rtol: { type: 'string' },
    'opt-level': { type: 'string' },
    label: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 2) {
    throw Object.assign(new lib.UsageError(`want MODEL and TEST_DIR, got ${positionals.length} arguments`), { showUsage: true });
  }
  const [model, testDir] = positionals;
  const opts = {
    steps: lib.parseIntOpt('steps', values.steps) ?? 0,
    atol: lib.parseFloatOpt('atol', values.atol) ?? 1e-7,
    rtol: lib.parseFloatOpt('rtol', values.rtol) ?? 1e-3,
    optLevel: values['opt-level'] || 'all',
  };
  const label = values.label || path.basename(testDir);
  const sets = fs.readdirSync(testDir).filter((d) => d.startsWith('test_data_set_')).sort();
  if (sets.length === 0) throw new lib.UsageError(`no test_data_set_* in '${testDir}'`);
  let failed = 0;
  for (const set of sets) {
    const dir = path.join(testDir, set);
    const inputs = readProtos(dir, 'input_');
    const expected = readProtos(dir, 'output_');
    // Inputs by position, as the backend test runner feeds them.
    const session = await lib.loadSession(model, { optLevel: opts.optLevel });
    const names = session.inputNames;
    await session.release();
    if (names.length !== inputs.length) {
      throw new lib.ModelError(model, 'feed', new Error(`${names.length} inputs, ${inputs.length} in ${set}`));
    }
    const feeds = Object.fromEntries(names.map((n, i) => [n, inputs[i]]));
    const got = await outputsOf(model, feeds, opts);
    const reference = values.reference ? await outputsOf(values.reference, feeds, opts) : null;
    if (got.length !== expected.length) {
      console.log(`${label} ${set}: FAIL ${got.length} outputs, ${expected.length} expected`);
      failed++;
      continue;
    }
    got.forEach(({ name, tensor }, i) => {
      const e = compare(tensor, expected[i], opts);
      const parts = [`expected: ${e.text}`];
      let pass = e.pass;
      if (reference) {
        const f = compare(tensor, reference[i].tensor, opts);
        parts.push(`reference: ${f.text}`);
        pass = pass && f.pass;
      }
      console.log(`${label} ${set} ${name} (${tensor.type}): ${pass ? 'ok' : 'FAIL'} ${parts.join(', ')}`);
      if (!pass) failed++;
    });
  }
  return failed ? 1 : 0;
}

lib.runCli('backend_test', USAGE, main);
