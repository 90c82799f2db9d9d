#!/usr/bin/env node
'use strict';
// Many compare.js checks in one Node process (tests/ort/generated_exactness.sh
// runs hundreds of small models: starting Node and ONNX Runtime once per
// pair would take most of its time). Reads LIST, one check a line:
//
//   compare LABEL A.onnx B.onnx [compare.js options: --exact --opt-level=all --opt-level-b=disabled --atol=X ...]
//   run LABEL A.onnx [--opt-level=LEVEL]      A loads and runs (seeded inputs)
//
// A compare line with --else=A2.onnx@LEVEL (repeatable) gets more chances
// when it fails: A2 run at LEVEL in A's place (B unchanged); passing so
// prints `PASS LABEL (else A2.onnx@LEVEL)`. Prints `PASS LABEL` or `FAIL LABEL: why` for
// each line; exit 0 when every line passes, 1 otherwise, 2 on a malformed
// list.
//
//   node tests/ort/compare_list.js LIST
const fs = require('node:fs');
const path = require('node:path');
const lib = require(path.join(__dirname, '..', '..', 'tools', 'ort', 'lib.js'));

const OPTIONS = {
  ...lib.COMMON_CLI_OPTIONS,
  atol: { type: 'string' },
  rtol: { type: 'string' },
  exact: { type: 'boolean' },
  'opt-level-b': { type: 'string' },
  else: { type: 'string', multiple: true },
};

function optionsOf(words) {
  const { values, positionals } = lib.parseCliArgs(words, OPTIONS);
  return {
    positionals,
    opts: {
      ...lib.commonOptsFromCli(values),
      atol: lib.parseFloatOpt('atol', values.atol),
      rtol: lib.parseFloatOpt('rtol', values.rtol),
      exact: Boolean(values.exact),
      optLevelB: values['opt-level-b'],
    },
    alternatives: values.else || [],
  };
}

function whyDifferent(res) {
  const bad = res.results.map((r, i) => (r.pass ? '' : lib.formatCompareResult(r, i))).filter((t) => t !== '');
  for (const n of res.unmatchedA.concat(res.unmatchedB)) bad.push(`output ${n} only in one model`);
  return bad.join('; ');
}

// Why the check of one line fails ('' when it passes), and a note.
async function check(kind, words) {
  const { positionals, opts, alternatives } = optionsOf(words);
  if (kind === 'run') {
    await lib.runModel(positionals[0], opts);
    return { why: '' };
  }
  const res = await lib.compareModels(positionals[0], positionals[1], opts);
  if (res.pass) return { why: '' };
  const optLevelB = opts.optLevelB || opts.optLevel;
  for (const alternative of alternatives) {
    const at = alternative.lastIndexOf('@');
    if (at < 0) throw new lib.UsageError(`--else=${alternative}: want FILE@LEVEL`);
    const optLevel = alternative.slice(at + 1);
    const again = await lib.compareModels(alternative.slice(0, at), positionals[1], { ...opts, optLevel, optLevelB });
    if (again.pass) return { why: '', note: ` (else ${path.basename(alternative)})` };
  }
  return { why: whyDifferent(res) };
}

async function main(argv) {
  if (argv.length !== 1) throw new lib.UsageError('usage: node tests/ort/compare_list.js LIST');
  const lines = fs.readFileSync(argv[0], 'utf8').split('\n').filter((l) => l.trim() !== '');
  let failed = 0;
  for (const line of lines) {
    const [kind, label, ...words] = line.trim().split(/\s+/);
    if ((kind !== 'compare' && kind !== 'run') || label === undefined) {
      throw new lib.UsageError(`malformed line '${line}'`);
    }
    let why;
    let note = '';
    try {
      ({ why, note = '' } = await check(kind, words));
    } catch (err) {
      why = String(err && err.message ? err.message : err).split('\n')[0];
    }
    if (why) failed++;
    console.log(why ? `FAIL ${label}: ${why}` : `PASS ${label}${note}`);
  }
  return failed ? 1 : 0;
}

lib.runCli('compare_list', 'usage: node tests/ort/compare_list.js LIST', main);
