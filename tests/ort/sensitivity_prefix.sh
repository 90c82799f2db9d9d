#!/usr/bin/env bash
# qopt-sensitivity --mode=prefix on the PaddleOCR classifier (canonicalized
# by ort_prepare_fp32), calibrated on 8 rendered text images and measured on
# 4 other ones (bench/lib/text_images.js), quantize per channel,
# --prefix-max=4, --equalize=none,smoothquant{alpha=0.5} and
# --latency-budget=1 (no slower than FP32; 10 paired runs per file). Checks: the sweep has 4
# entries, with growing node counts, finite output SQNRs and finite latency
# ratios > 0; the HTML has one bar per entry; keep_float.names is the chosen
# prefix (its node count and last node, and prefix.nodes' start); the chosen
# prefix is within the budget with the highest SQNR of those within it, and
# was timed again before it was taken (latency_confirmed); the
# equalize candidates are 2 with finite SQNRs and the choice follows the
# rule; and the printed option does what the tool recorded, measured apart
# from it: the model quantized by measured_pipeline with that exclude-nodes
# added has, on the same images as .npy, by tests/ort/tensor_sqnr.js (ONNX
# Runtime, opt level disabled), the output SQNR the tool wrote for that
# prefix, to 0.01 dB. No check looks at absolute timings (a shared machine).
# Usage: sensitivity_prefix.sh [QOPT_OPT [SOURCE_DIR]]
# Exit: 0 all checks pass, 1 one fails, 2 a step could not run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"
export QOPT_OPT=$qopt

ort_prepare_fp32 cls "${shapes[cls]}" || exit 2
fp32=$work/cls.fp32.onnx
images=(--mean=0.5 --std=0.5 --image-size=48x192)
node "$src/bench/lib/text_images.js" --task=cls --count=8 --seed=1 --width=192 --height=48 --out="$work/calib" >/dev/null
node "$src/bench/lib/text_images.js" --task=cls --count=4 --seed=2 --width=192 --height=48 --out="$work/eval" >/dev/null
"$src/tools/qopt-calibrate" "$fp32" --inputs="$work/calib" "${images[@]}" -o "$work/calib.json" >/dev/null
pipeline="quantize{calibration=$work/calib.json per-channel=true}"
budget=1
if ! "$src/tools/qopt-sensitivity" "$fp32" --mode=prefix --prefix-max=4 --min-gain=0 --quantize="$pipeline" \
  --latency-budget=$budget --equalize='none,smoothquant{alpha=0.5}' \
  --inputs="$work/eval" "${images[@]}" --samples=4 -o "$work/sens.json" --html="$work/sens.html" \
  >"$work/table.txt" 2>"$work/progress.txt"; then
  echo "FAIL: qopt-sensitivity --mode=prefix"; cat "$work/progress.txt" "$work/table.txt"; exit 2
fi
cat "$work/table.txt"

fail() { echo "FAIL: $*"; status=1; }

# The sweep: 4 entries, node counts growing, every SQNR and latency ratio finite; the chosen one is keep_float.
read -r entries growing finite timed named chosen chosen_db base_db base_ratio in_budget eq_count eq_finite eq_rule \
  measured <<<"$(node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const budget = Number(process.argv[2]);
  const s = d.prefix.sweep;
  const c = d.prefix.chosen === null ? null : s[d.prefix.chosen];
  const names = d.keep_float.names;
  // Within the budget, with the highest SQNR of the entries within it (none chosen: none within it has a gain >= 0).
  const within = s.filter((e) => e.latency_ratio <= budget);
  const best = Math.max(...within.map((e) => e.output_sqnr_db));
  const budgetOk = d.settings.latency_budget === budget && (c ? c.latency_ratio <= budget && c.output_sqnr_db === best &&
    c.latency_confirmed === true
    : d.baseline.latency_ratio > budget || !within.some((e) => e.gain_db >= 0));
  // Equalize: none and smoothquant, finite SQNRs, the better one when it gains >= min_gain_db over none.
  const eq = d.equalize;
  const [none, sq] = [eq.candidates.find((x) => x.spec === "none"), eq.candidates.find((x) => x.spec !== "none")];
  const want = sq.output_sqnr_db - none.output_sqnr_db >= eq.min_gain_db ? sq.spec : "none";
  console.log(s.length, s.every((e, k) => k === 0 || e.nodes > s[k - 1].nodes),
    s.every((e) => Number.isFinite(e.output_sqnr_db) && Number.isFinite(e.gain_db)),
    s.every((e) => Number.isFinite(e.latency_ratio) && e.latency_ratio > 0),
    (c ? names.length === c.nodes && names[names.length - 1] === c.last_node : names.length === 0) &&
      d.prefix.nodes.slice(0, names.length).join("\n") === names.join("\n"),
    c ? c.nodes : "none", c ? c.output_sqnr_db : "none", d.baseline.output_sqnr_db, d.baseline.latency_ratio, budgetOk,
    eq.candidates.length, eq.candidates.every((x) => Number.isFinite(x.output_sqnr_db)), eq.chosen === want,
    JSON.stringify(d.measured_pipeline));
' "$work/sens.json" "$budget")"
if [[ $entries == 4 && $growing == true && $finite == true && $timed == true ]]; then
  echo "ok: sweep of $entries prefixes, node counts growing, output SQNRs and latency ratios finite"
else
  fail "sweep: $entries entries (want 4), growing=$growing, finite=$finite, latency ratios finite and > 0=$timed"
fi
if [[ $named == true ]]; then
  echo "ok: keep_float.names is the chosen prefix ($chosen nodes) and prefix.nodes' start"
else
  fail "keep_float.names is not the chosen prefix ($chosen nodes) or not prefix.nodes' start"
fi
if [[ $in_budget == true ]]; then
  echo "ok: chosen prefix ($chosen nodes) within --latency-budget=$budget, best SQNR of those within it (baseline $base_ratio x FP32)"
else
  fail "chosen prefix ($chosen nodes) breaks the --latency-budget=$budget rule (baseline $base_ratio x FP32)"
fi
if [[ $eq_count == 2 && $eq_finite == true && $eq_rule == true ]]; then
  echo "ok: equalize: 2 candidates with finite SQNRs, the choice follows the rule (measured: $measured)"
else
  fail "equalize: $eq_count candidates (want 2), finite=$eq_finite, choice by the rule=$eq_rule"
fi
measured=$(node -p 'JSON.parse(process.argv[1])' "$measured")
bars=$(grep -o 'class="prefix-bar"' "$work/sens.html" | wc -l)
if [[ $bars == 4 ]]; then echo "ok: HTML has $bars prefix bars"; else fail "HTML has $bars prefix bars, want 4"; fi

# The printed option, measured independently.
option=$(sed -n 's/^sensitivity: \(exclude-nodes=.*\)$/\1/p' "$work/table.txt")
if [[ $chosen == none && $in_budget == true ]]; then
  # A noisy run can put the baseline or every prefix with a gain over the budget.
  echo "ok: no prefix chosen within --latency-budget=$budget (baseline $base_ratio x FP32); option not measured"
  exit $status
fi
if [[ -z $option || $chosen == none ]]; then
  fail "no prefix chosen (no 'sensitivity: exclude-nodes=...' line) with --min-gain=0"
  exit $status
fi
sqnr_with_option "$fp32" "$measured" "$option" "$work/eval" 48 192 || { fail "tensor_sqnr.js"; exit $status; }
if [[ -n $base && -n $keep ]] && awk -v b="$base" -v k="$keep" -v tb="$base_db" -v tk="$chosen_db" 'BEGIN {
    d1 = b - tb; d2 = k - tk; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2
    exit !(d1 <= 0.01 && d2 <= 0.01) }'; then
  echo "ok: first $chosen nodes float: output SQNR $keep dB (tool: $chosen_db), fully quantized $base dB (tool: $base_db)"
else
  fail "first $chosen nodes float: output SQNR '$keep' dB (tool: $chosen_db), fully quantized '$base' dB (tool: $base_db; $mean)"
fi
exit $status
