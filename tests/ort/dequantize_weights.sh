#!/usr/bin/env bash
# dequantize-weights on quantize_dynamic's layout of the PaddleOCR models, in
# ONNX Runtime: the file loads and runs, has no DynamicQuantizeLinear,
# ConvInteger or MatMulInteger left and exactly the FP32 model's node count,
# and its outputs are at least as close to FP32's as the dynamic file's (the
# weights' quantization error only: mean SQNR over the outputs, seeded
# random inputs, within 0.5 dB).
# Usage: dequantize_weights.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"
for name in det rec cls; do
  ort_prepare_fp32 "$name" "${shapes[$name]}"
  dynamic=$work/$name.dynamic.onnx out=$work/$name.dequantized.onnx
  ort_quantize "$name" dynamic "$dynamic" || { status=1; continue; }
  if ! "$qopt" "$dynamic" --pass=dequantize-weights,dce --report=none -o "$out"; then
    echo "FAIL: $name: qopt-opt --pass=dequantize-weights,dce"
    status=1
    continue
  fi
  fp32_nodes=$(ort_op_count "$work/$name.fp32.onnx" total) out_nodes=$(ort_op_count "$out" total)
  left=$(ort_dynamic_ops_left "$out")
  if [[ $left != - || $fp32_nodes != "$out_nodes" ]]; then
    echo "FAIL: $name: $out_nodes nodes against FP32's $fp32_nodes; integer ops left: $left"
    status=1
    continue
  fi
  result=$(node "$src/tests/ort/tensor_sqnr.js" "$work/$name.fp32.onnx" dynamic="$dynamic" dequantized="$out" \
    --input-shape="${shapes[$name]}" --seeds=1,2 2>&1) || { echo "FAIL: $name: tensor_sqnr.js"; echo "$result" | tail -n 3; status=1; continue; }
  mean=$(tail -n 1 <<<"$result")
  dyn=$(sqnr_db dynamic "$mean") deq=$(sqnr_db dequantized "$mean")
  if [[ -n $dyn && -n $deq ]] && awk -v a="$deq" -v b="$dyn" 'BEGIN { exit !(a >= b - 0.5) }'; then
    echo "ok: $name: $out_nodes nodes (as FP32), output SQNR against FP32 $deq dB (dynamic: $dyn dB)"
  else
    echo "FAIL: $name: output SQNR against FP32: dequantized '$deq' dB, dynamic '$dyn' dB ($mean)"
    status=1
  fi
done
exit $status
