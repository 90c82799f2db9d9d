#!/usr/bin/env bash
# A YOLO-class detector (bench/lib/yolo_like_model.js: SiLU = Sigmoid * x,
# C3 blocks, SPPF, Resize + Concat, concatenated heads; seeded weights) made
# by qopt from text, quantized dynamically by qopt (quantize{mode=dynamic}),
# then converted both ways, in ONNX Runtime:
#   - dequantize-weights: no dynamic op left, the FP32 model's node count,
#     output SQNR against FP32 at least the dynamic file's (within 0.5 dB);
#   - dynamic-to-static (the dynamic file calibrated by qopt-calibrate on
#     seeded random inputs) then fuse-qdq: no dynamic op left, QLinearConv
#     units, exact against ONNX Runtime's own optimized run of the static file.
# Speed is measured by bench/yolo_dynamic.sh, not here.
# Usage: yolo_dynamic.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"
shape=images:1x3x160x160

node "$src/bench/lib/yolo_like_model.js" --size=160 --width=8 --classes=4 -o "$work/yolo.onnxtxt"
"$qopt" "$work/yolo.onnxtxt" --pass=canonicalize --report=none -o "$work/fp32.onnx"
"$qopt" "$work/fp32.onnx" --pass='quantize{mode=dynamic}' --report=none -o "$work/dynamic.onnx"
fp32_nodes=$(ort_op_count "$work/fp32.onnx" total)
dql=$(ort_op_count "$work/dynamic.onnx" DynamicQuantizeLinear)
if (( dql < 10 )); then
  echo "FAIL: the dynamic file has $dql DynamicQuantizeLinear nodes (a conv net this size should have one per conv input)"
  exit 1
fi

"$qopt" "$work/dynamic.onnx" --pass=dequantize-weights,dce --report=none -o "$work/dequantized.onnx"
left=$(ort_dynamic_ops_left "$work/dequantized.onnx") nodes=$(ort_op_count "$work/dequantized.onnx" total)
if [[ $left != - || $nodes != "$fp32_nodes" ]]; then
  echo "FAIL: dequantize-weights: dynamic ops left: $left; $nodes nodes against FP32's $fp32_nodes"
  status=1
fi

QOPT_OPT=$qopt "$src/tools/qopt-calibrate" "$work/dynamic.onnx" --random=2 --input-shape="$shape" \
  -o "$work/dynamic.calib.json" >/dev/null
"$qopt" "$work/dynamic.onnx" --pass="dynamic-to-static{calibration=$work/dynamic.calib.json}" --report=none \
  -o "$work/static.onnx"
"$qopt" "$work/static.onnx" --pass=fuse-qdq --report=none -o "$work/fused.onnx"
left=$(ort_dynamic_ops_left "$work/static.onnx") units=$(ort_op_count "$work/fused.onnx" QLinearConv)
if [[ $left != - || $units -lt $dql ]]; then
  echo "FAIL: dynamic-to-static: dynamic ops left: $left; $units QLinearConv after fuse-qdq (the dynamic file had $dql DynamicQuantizeLinear)"
  status=1
fi
if ! parity=$(node "$src/tools/ort/parity.js" "$work/static.onnx" "$work/fused.onnx" --qopt-opt="$qopt" \
    --input-shape="$shape" --seeds=1,2 --opt-levels=all --in-opt-level=all --steps=0 --label=yolo 2>&1); then
  echo "FAIL: fuse-qdq after dynamic-to-static is not ORT's own run of the static file"
  echo "$parity" | tail -n 3
  status=1
fi

result=$(node "$src/tests/ort/tensor_sqnr.js" "$work/fp32.onnx" dynamic="$work/dynamic.onnx" \
  dequantized="$work/dequantized.onnx" static="$work/static.onnx" --input-shape="$shape" --seeds=3 2>&1) ||
  { echo "FAIL: tensor_sqnr.js"; echo "$result" | tail -n 3; exit 1; }
mean=$(tail -n 1 <<<"$result")
dyn=$(sqnr_db dynamic "$mean") deq=$(sqnr_db dequantized "$mean") sta=$(sqnr_db static "$mean")
if ! awk -v a="$deq" -v b="$dyn" 'BEGIN { exit !(a >= b - 0.5) }'; then
  echo "FAIL: dequantize-weights output SQNR against FP32 $deq dB, below the dynamic file's $dyn dB"
  status=1
fi
if (( status == 0 )); then
  echo "ok: yolo-like: $dql DynamicQuantizeLinear; dequantize-weights $nodes nodes (as FP32); static+fuse-qdq $units QLinearConv, parity 0 steps; SQNR vs FP32: dynamic $dyn dB, dequantized $deq dB, static $sta dB"
fi
exit $status
