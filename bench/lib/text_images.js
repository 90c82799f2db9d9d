'use strict';
// Rendered text images for the quantized-variants benchmark: printed Latin
// text (words, numbers, prices, dates) drawn with ImageMagick's `convert` on
// light backgrounds, shaped like what each PaddleOCR model sees:
//   det — a page crop with several lines at random places and sizes;
//   rec — one tight text line;
//   cls — one text line, half of them upside down (cls's class 1).
// Deterministic for a seed (same texts, places, colours). Each set folder gets
// labels.tsv: `file<TAB>text<TAB>rotation` (det: the lines joined by ' | ').
//
// CLI: node bench/lib/text_images.js --task=det|rec|cls --count=N --seed=S
//        --width=W --height=H --out=DIR

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { spawnSync } = require('node:child_process');
const { mulberry32 } = require('../../tools/ort/lib');

const FONT_DIR = '/usr/share/fonts/truetype/dejavu';
const FONTS = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSerif.ttf', 'DejaVuSansMono.ttf']
  .map((f) => path.join(FONT_DIR, f));

// Every character here is in ppocr_keys_v1.txt (ASCII letters, digits and
// common punctuation), so the recognizer can in principle read them all.
const WORDS = [
  'invoice', 'total', 'amount', 'date', 'street', 'station', 'coffee', 'bread', 'market', 'north',
  'river', 'garden', 'ticket', 'platform', 'exit', 'open', 'closed', 'daily', 'price', 'sale',
  'order', 'number', 'phone', 'email', 'office', 'floor', 'room', 'hotel', 'bank', 'school',
  'Model', 'Quantize', 'Runtime', 'Paper', 'Window', 'Table', 'Report', 'Summer', 'Winter', 'Green',
  'TAXI', 'STOP', 'PARKING', 'SALE', 'OCR', 'INT8', 'QDQ', 'ONNX', 'CPU', 'FP32',
];

function pick(rng, list) {
  return list[rng() % list.length];
}

/** A short printed string: words, a number, a price, a date or a code. */
function randomText(rng, maxChars) {
  const kinds = [
    () => `${pick(rng, WORDS)} ${pick(rng, WORDS)}`,
    () => `${pick(rng, WORDS)} ${rng() % 1000}`,
    () => `$${rng() % 500}.${String(rng() % 100).padStart(2, '0')}`,
    () => `${2000 + (rng() % 30)}-${String(1 + (rng() % 12)).padStart(2, '0')}-${String(1 + (rng() % 28)).padStart(2, '0')}`,
    () => `No.${rng() % 100000}`,
    () => pick(rng, WORDS),
    () => `${pick(rng, WORDS)}: ${rng() % 100}%`,
  ];
  let text = kinds[rng() % kinds.length]();
  if (text.length > maxChars) text = text.slice(0, maxChars).trim();
  return text;
}

function grey(rng, lo, hi) {
  const v = lo + (rng() % (hi - lo + 1));
  return `rgb(${v},${v},${Math.min(255, v + (rng() % 8))})`;
}

function existingFont(rng) {
  const have = FONTS.filter((f) => fs.existsSync(f));
  if (!have.length) throw new Error(`no DejaVu fonts in ${FONT_DIR} (apt-get install fonts-dejavu-core)`);
  return pick(rng, have);
}

// DejaVu Sans averages about 0.6 em per character of mixed text.
const EM_PER_CHAR = 0.62;

/** The `convert` arguments and label of one image. */
function imagePlan(task, index, rng, width, height) {
  const fontArgs = ['-font', existingFont(rng)];
  const bg = grey(rng, 225, 255);
  const fg = grey(rng, 0, 70);
  const args = ['-size', `${width}x${height}`, `xc:${bg}`, ...fontArgs, '-fill', fg];
  let label;
  let rotation = 0;
  if (task === 'det') {
    const lines = [];
    const count = 3 + (rng() % 4);
    let y = 4 + (rng() % 12);
    for (let i = 0; i < count && y < height - 16; i++) {
      const size = 14 + (rng() % 15);
      const maxChars = Math.max(4, Math.floor((width - 16) / (size * EM_PER_CHAR)));
      const text = randomText(rng, maxChars);
      const room = Math.max(1, width - 8 - Math.ceil(text.length * size * EM_PER_CHAR));
      const x = 4 + (rng() % room);
      args.push('-gravity', 'NorthWest', '-pointsize', String(size), '-annotate', `+${x}+${y}`, text);
      lines.push(text);
      y += Math.round(size * 1.4) + (rng() % Math.max(1, Math.round(height / count - size)));
    }
    label = lines.join(' | ');
  } else {
    const size = Math.round(height * (0.42 + (rng() % 20) / 100));
    const maxChars = Math.max(3, Math.floor((width - 8) / (size * EM_PER_CHAR)));
    label = randomText(rng, maxChars);
    const room = Math.max(1, width - 6 - Math.ceil(label.length * size * EM_PER_CHAR));
    const x = 3 + (task === 'rec' ? rng() % Math.min(room, 12) : rng() % room);
    const y = (rng() % 5) - 2;
    args.push('-gravity', 'West', '-pointsize', String(size), '-annotate', `+${x}+${y}`, label);
    if (task === 'cls' && index % 2 === 1) {
      rotation = 180;
      args.push('-rotate', '180');
    }
  }
  if (rng() % 2) args.push('-blur', '0x0.6');
  return { args, label, rotation };
}

/**
 * Writes `count` images for `task` into `dir` (created) with labels.tsv.
 * Returns [{file, label, rotation}].
 */
function renderSet({ task, count, seed, width, height, dir }) {
  if (!['det', 'rec', 'cls'].includes(task)) throw new Error(`unknown task '${task}' (det, rec, cls)`);
  fs.mkdirSync(dir, { recursive: true });
  const rng = mulberry32(seed >>> 0);
  const out = [];
  // One `convert` for the whole set: each image is a parenthesized sequence
  // written out and dropped (starting ImageMagick costs more than drawing).
  const args = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `${task}_${String(i).padStart(3, '0')}.png`);
    const plan = imagePlan(task, i, rng, width, height);
    args.push('(', ...plan.args, '-strip', '-define', 'png:exclude-chunks=date,time', '-write', file, '+delete', ')');
    out.push({ file, label: plan.label, rotation: plan.rotation });
  }
  const r = spawnSync('convert', [...args, 'xc:white', 'null:'], { encoding: 'utf8' });
  const missing = out.find((s) => !fs.existsSync(s.file));
  if (r.error || r.status !== 0 || missing) {
    const why = r.error ? r.error.message : (r.stderr.trim() || `${missing.file} not written`);
    throw new Error(`ImageMagick 'convert' failed (apt-get install imagemagick fonts-dejavu-core): ${why}`);
  }
  const tsv = out.map((s) => `${path.basename(s.file)}\t${s.label}\t${s.rotation}\n`).join('');
  fs.writeFileSync(path.join(dir, 'labels.tsv'), tsv);
  return out;
}

/** Reads labels.tsv of a set folder: Map file basename -> {label, rotation}; empty if absent. */
function readLabels(dir) {
  const file = path.join(dir, 'labels.tsv');
  const labels = new Map();
  if (!fs.existsSync(file)) return labels;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [name, label, rotation] = line.split('\t');
    labels.set(name, { label, rotation: Number(rotation) || 0 });
  }
  return labels;
}

function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      task: { type: 'string' },
      count: { type: 'string' },
      seed: { type: 'string', default: '1' },
      width: { type: 'string' },
      height: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const num = (k) => {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`bad or missing --${k}=${values[k]}`);
    return v;
  };
  if (!values.out) throw new Error('missing --out=DIR');
  const set = renderSet({
    task: values.task, count: num('count'), seed: num('seed'), width: num('width'), height: num('height'), dir: values.out,
  });
  console.log(`rendered ${set.length} ${values.task} images ${values.width}x${values.height} -> ${values.out}`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`text_images: error: ${err.message}`);
    process.exitCode = 2;
  }
}

module.exports = { renderSet, readLabels, randomText };
