#!/usr/bin/env bash
# fix-bias-overflow on a model with a planted bias overflow, in ONNX Runtime.
# The FP32 model: a 1x1 Conv 3->4 whose output channel 0 has weights ~1e-8
# and a bias of 0.5 (a channel that is all bias, as a BatchNormalization
# folded with a near-zero scale leaves), then a 1x1 Conv 4->2 that mixes the
# channels. quantize{per-channel=true adjust-weight-for-bias=false} gives
# channel 0 a weight scale ~1e-10, so its int32 bias (scale ~1e-12)
# saturates: bias-overflow reports it. After fix-bias-overflow (both
# strategies, the float bias from the FP32 model with bias-from=) the
# analysis reports nothing, and the output's SQNR against FP32 (seeded
# random inputs) is at least 3 dB better than the planted file's. Without
# bias-from= the clipped value cannot be recovered; that run only has to
# clear the findings.
# Usage: fix_bias_overflow.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"
shape=x:1x3x8x8
cat >"$work/fp32.onnxtxt" <<'MODEL'
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1,3,8,8] x) => (float[1,2,8,8] y)
<float[4,3,1,1] w1 = {2e-8, -1e-8, 3e-8, 0.5, -0.3, 0.2, 0.1, 0.4, -0.6, -0.2, 0.3, 0.5},
 float[4] b1 = {0.5, 0.1, -0.2, 0.3},
 float[2,4,1,1] w2 = {1.0, 0.5, -0.5, 0.25, -0.75, 0.5, 0.5, -0.25}, float[2] b2 = {0.05, -0.1}>
{
  h = Conv(x, w1, b1)
  y = Conv(h, w2, b2)
}
MODEL
fp32=$work/fp32.onnx planted=$work/planted.onnx
"$qopt" "$work/fp32.onnxtxt" --report=none -o "$fp32"
QOPT_OPT=$qopt "$src/tools/qopt-calibrate" "$fp32" --random=4 --input-shape="$shape" -o "$work/calib.json" >/dev/null
"$qopt" "$fp32" --pass="quantize{calibration=$work/calib.json per-channel=true adjust-weight-for-bias=false}" \
  --report=none -o "$planted"

# The number of bias-overflow findings (errors and warnings) on file $1.
findings() {
  "$qopt" "$1" --pass=bias-overflow --report=json --report-file="$work/check.json" >/dev/null
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.findings.filter((f) => f.pass === "bias-overflow").length);
  ' "$work/check.json"
}

before=$(findings "$planted")
if [[ $before == 0 ]]; then
  echo "FAIL: the planted model has no bias-overflow finding (nothing to fix)"
  exit 1
fi
variants=()
for pipeline in "fix-bias-overflow{bias-from=$fp32}" "fix-bias-overflow{strategy=prune bias-from=$fp32}" \
  "fix-bias-overflow"; do
  out=$work/fixed${#variants[@]}.onnx
  if ! "$qopt" "$planted" --pass="$pipeline" --report=none -o "$out"; then
    echo "FAIL: qopt-opt --pass=$pipeline"
    status=1
    continue
  fi
  after=$(findings "$out")
  if [[ $after != 0 ]]; then
    echo "FAIL: $pipeline: bias-overflow still has $after finding(s) (before: $before)"
    status=1
  fi
  variants+=("fixed${#variants[@]}=$out")
done
[[ $status == 0 ]] || exit 1

result=$(node "$src/tests/ort/tensor_sqnr.js" "$fp32" planted="$planted" "${variants[@]}" --input-shape="$shape" \
  --seeds=1,2 2>&1) || { echo "FAIL: tensor_sqnr.js"; echo "$result" | tail -n 3; exit 1; }
mean=$(tail -n 1 <<<"$result")
planted_db=$(sqnr_db planted "$mean") rescale_db=$(sqnr_db fixed0 "$mean") prune_db=$(sqnr_db fixed1 "$mean")
lost_db=$(sqnr_db fixed2 "$mean")
for v in "rescale $rescale_db" "prune $prune_db"; do
  read -r strategy got <<<"$v"
  if [[ -n $got && -n $planted_db ]] && awk -v a="$got" -v b="$planted_db" 'BEGIN { exit !(a >= b + 3) }'; then
    echo "ok: $strategy: bias-overflow findings $before -> 0; output SQNR against FP32 $planted_db -> $got dB"
  else
    echo "FAIL: $strategy: output SQNR against FP32 '$planted_db' -> '$got' dB, wanted +3 dB ($mean)"
    status=1
  fi
done
echo "ok: without bias-from: findings $before -> 0; SQNR $planted_db -> $lost_db dB (the clipped bias is lost)"
exit $status
