#!/usr/bin/env bash
# qopt-sensitivity on the PaddleOCR classifier (canonicalized by
# ort_prepare_fp32), calibrated on 8 rendered text images and measured on 4
# other ones (bench/lib/text_images.js, ImageMagick), quantize per channel,
# --budget=1. Checks: every Conv node of the model is a unit, the baseline
# output SQNR is a finite number, the HTML has one bar per unit, and the
# printed option does what it says, measured apart from the tool: the model
# quantized with `exclude-nodes=...` added is at least as close to FP32 as
# the fully quantized one, on the same images as .npy, by
# tests/ort/tensor_sqnr.js (ONNX Runtime, opt level disabled; its SQNR over
# the one output must also agree with the tool's to 0.01 dB).
# Usage: sensitivity.sh [QOPT_OPT [SOURCE_DIR]]
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
if ! "$src/tools/qopt-sensitivity" "$fp32" --quantize="$pipeline" --inputs="$work/eval" "${images[@]}" --samples=4 \
  --budget=1 -o "$work/sens.json" --html="$work/sens.html" >"$work/table.txt" 2>"$work/progress.txt"; then
  echo "FAIL: qopt-sensitivity"; cat "$work/progress.txt" "$work/table.txt"; exit 2
fi
cat "$work/table.txt"

fail() { echo "FAIL: $*"; status=1; }

# Every Conv node is a unit, once.
read -r convs <<<"$(ort_op_count "$fp32" Conv)"
read -r units conv_units distinct baseline <<<"$(node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const conv = d.units.filter((u) => u.op_type === "Conv");
  console.log(d.units.length, conv.length, new Set(conv.map((u) => u.name)).size, d.baseline.output_sqnr_db);
' "$work/sens.json")"
if [[ $conv_units == "$convs" && $distinct == "$convs" && $convs -gt 0 ]]; then
  echo "ok: $convs Conv nodes, $conv_units Conv units ($units units)"
else
  fail "$convs Conv nodes in the model, $conv_units Conv units ($distinct distinct) in sensitivity.json"
fi
if awk -v b="$baseline" 'BEGIN { exit !(b ~ /^-?[0-9.]+$/) }'; then
  echo "ok: baseline output SQNR $baseline dB"
else
  fail "baseline output SQNR '$baseline' is not a finite number"
fi

# One bar per unit in the HTML.
bars=$(grep -o 'class="unit-bar"' "$work/sens.html" | wc -l)
if [[ $bars == "$units" ]] && grep -q '<svg ' "$work/sens.html"; then
  echo "ok: HTML has $bars unit bars"
else
  fail "HTML has $bars unit bars for $units units"
fi

# The printed option, measured independently.
option=$(sed -n 's/^sensitivity: \(exclude-nodes=.*\)$/\1/p' "$work/table.txt")
if [[ -z $option ]]; then
  fail "no 'sensitivity: exclude-nodes=...' line (nothing to keep float?)"
  exit $status
fi
sqnr_with_option "$fp32" "$pipeline" "$option" "$work/eval" 48 192 || { fail "tensor_sqnr.js"; exit $status; }
tool=$(node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(d.baseline.output_sqnr_db, d.keep_float.output_sqnr_db);
' "$work/sens.json")
read -r tool_base tool_keep <<<"$tool"
if [[ -n $base && -n $keep ]] && awk -v b="$base" -v k="$keep" -v tb="$tool_base" -v tk="$tool_keep" 'BEGIN {
    d1 = b - tb; d2 = k - tk; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2
    exit !(k >= b && d1 <= 0.01 && d2 <= 0.01) }'; then
  echo "ok: $option: output SQNR $keep dB >= $base dB fully quantized (tool: $tool_keep, $tool_base)"
else
  fail "$option: output SQNR '$keep' dB, fully quantized '$base' dB (tool: $tool_keep, $tool_base; $mean)"
fi
exit $status
