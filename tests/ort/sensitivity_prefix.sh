#!/usr/bin/env bash
# qopt-sensitivity --mode=prefix on the PaddleOCR classifier (canonicalized
# by ort_prepare_fp32), calibrated on 8 rendered text images and measured on
# 4 other ones (bench/lib/text_images.js), quantize per channel,
# --prefix-max=4. Checks: the sweep has 4 entries, with growing node counts
# and finite output SQNRs; the HTML has one bar per entry; keep_float.names
# is the chosen prefix (its node count and last node); and the printed
# option does what the tool recorded, measured apart from it: the model
# quantized with that exclude-nodes added has, on the same images as .npy,
# by tests/ort/tensor_sqnr.js (ONNX Runtime, opt level disabled), the
# output SQNR the tool wrote for that prefix, to 0.01 dB.
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
if ! "$src/tools/qopt-sensitivity" "$fp32" --mode=prefix --prefix-max=4 --min-gain=0 --quantize="$pipeline" \
  --inputs="$work/eval" "${images[@]}" --samples=4 -o "$work/sens.json" --html="$work/sens.html" \
  >"$work/table.txt" 2>"$work/progress.txt"; then
  echo "FAIL: qopt-sensitivity --mode=prefix"; cat "$work/progress.txt" "$work/table.txt"; exit 2
fi
cat "$work/table.txt"

fail() { echo "FAIL: $*"; status=1; }

# The sweep: 4 entries, node counts growing, every SQNR finite; the chosen one is keep_float.
read -r entries growing finite named chosen chosen_db base_db <<<"$(node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const s = d.prefix.sweep;
  const c = d.prefix.chosen === null ? null : s[d.prefix.chosen];
  const names = d.keep_float.names;
  console.log(s.length, s.every((e, k) => k === 0 || e.nodes > s[k - 1].nodes),
    s.every((e) => Number.isFinite(e.output_sqnr_db) && Number.isFinite(e.gain_db)),
    c ? names.length === c.nodes && names[names.length - 1] === c.last_node : names.length === 0,
    c ? c.nodes : "none", c ? c.output_sqnr_db : "none", d.baseline.output_sqnr_db);
' "$work/sens.json")"
if [[ $entries == 4 && $growing == true && $finite == true ]]; then
  echo "ok: sweep of $entries prefixes, node counts growing, output SQNRs finite"
else
  fail "sweep: $entries entries (want 4), growing=$growing, finite=$finite"
fi
if [[ $named == true ]]; then
  echo "ok: keep_float.names is the chosen prefix ($chosen nodes)"
else
  fail "keep_float.names is not the chosen prefix ($chosen nodes)"
fi
bars=$(grep -o 'class="prefix-bar"' "$work/sens.html" | wc -l)
if [[ $bars == 4 ]]; then echo "ok: HTML has $bars prefix bars"; else fail "HTML has $bars prefix bars, want 4"; fi

# The printed option, measured independently.
option=$(sed -n 's/^sensitivity: \(exclude-nodes=.*\)$/\1/p' "$work/table.txt")
if [[ -z $option || $chosen == none ]]; then
  fail "no prefix chosen (no 'sensitivity: exclude-nodes=...' line) with --min-gain=0"
  exit $status
fi
sqnr_with_option "$fp32" "$pipeline" "$option" "$work/eval" 48 192 || { fail "tensor_sqnr.js"; exit $status; }
if [[ -n $base && -n $keep ]] && awk -v b="$base" -v k="$keep" -v tb="$base_db" -v tk="$chosen_db" 'BEGIN {
    d1 = b - tb; d2 = k - tk; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2
    exit !(d1 <= 0.01 && d2 <= 0.01) }'; then
  echo "ok: first $chosen nodes float: output SQNR $keep dB (tool: $chosen_db), fully quantized $base dB (tool: $base_db)"
else
  fail "first $chosen nodes float: output SQNR '$keep' dB (tool: $chosen_db), fully quantized '$base' dB (tool: $base_db; $mean)"
fi
exit $status
