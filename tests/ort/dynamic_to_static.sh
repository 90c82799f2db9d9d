#!/usr/bin/env bash
# dynamic-to-static on quantize_dynamic's layout of the PaddleOCR models, in
# ONNX Runtime. Per model: the dynamic file is calibrated by qopt-calibrate
# itself (seeded random samples), converted, and then:
#   - no DynamicQuantizeLinear, ConvInteger or MatMulInteger is left;
#   - after fuse-qdq it has the node count of the FP32 model quantized
#     statically (u8s8) and fused, within 1% (+1): the same units; which
#     Q -> op -> Q sites fold-qdq-identity can fold depends on the calibrated
#     scales, and the two files are calibrated apart (rec: one Mul more);
#   - fuse-qdq on it is exact against ONNX Runtime's own optimized run of it
#     (0 steps; tools/ort/parity.js);
#   - it is the FP32 model quantized statically with the same table: the
#     integer weights are the ones quantize computes (per-tensor symmetric
#     int8), so both run to the same outputs in ONNX Runtime (0 steps, levels
#     disabled and all).
#   - rec only (it has the MatMuls): the dynamic file as ONNX Runtime saves
#     it after its level-extended optimizations (MatMul sites fused into
#     com.microsoft DynamicQuantizeMatMul with the bias inside) converts with
#     the same table: no dynamic op left, and its outputs within 0.5 dB of the
#     unoptimized file's conversion (SQNR against FP32).
# The output SQNR against FP32 of the dynamic, static and u8s8 files is
# printed, not held: the tables differ (the dynamic file's activations carry
# its quantization error), and det's probability map on random inputs is
# ~1e-6 everywhere.
# Usage: dynamic_to_static.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"

for name in det rec cls; do
  shape=${shapes[$name]}
  ort_prepare_fp32 "$name" "$shape"
  dynamic=$work/$name.dynamic.onnx calib=$work/$name.dynamic.calib.json
  static=$work/$name.static.onnx fused=$work/$name.static.fused.onnx
  u8s8=$work/$name.u8s8.onnx u8s8_fused=$work/$name.u8s8.fused.onnx
  ort_quantize "$name" dynamic "$dynamic" || { status=1; continue; }
  ort_quantize "$name" u8s8 "$u8s8" || { status=1; continue; }
  if ! QOPT_OPT=$qopt "$src/tools/qopt-calibrate" "$dynamic" --random=2 --input-shape="$shape" -o "$calib" >/dev/null; then
    echo "FAIL: $name: qopt-calibrate on the dynamic file"
    status=1
    continue
  fi
  if ! "$qopt" "$dynamic" --pass="dynamic-to-static{calibration=$calib}" --report=none -o "$static" ||
     ! "$qopt" "$static" --pass=fuse-qdq --report=none -o "$fused" ||
     ! "$qopt" "$u8s8" --pass=fuse-qdq --report=none -o "$u8s8_fused"; then
    echo "FAIL: $name: qopt-opt dynamic-to-static or fuse-qdq"
    status=1
    continue
  fi
  static_nodes=$(ort_op_count "$static" total) left=$(ort_dynamic_ops_left "$static")
  fused_nodes=$(ort_op_count "$fused" total) u8s8_fused_nodes=$(ort_op_count "$u8s8_fused" total)
  if [[ $left != - ]] || (( fused_nodes > u8s8_fused_nodes + u8s8_fused_nodes / 100 + 1 )); then
    echo "FAIL: $name: integer ops left: $left; fused $fused_nodes nodes against u8s8 fused $u8s8_fused_nodes"
    status=1
    continue
  fi
  if ! parity=$(node "$src/tools/ort/parity.js" "$static" "$fused" --qopt-opt="$qopt" --input-shape="$shape" \
      --seeds=1,2 --opt-levels=all --in-opt-level=all --steps=0 --label="$name" 2>&1); then
    echo "FAIL: $name: fuse-qdq after dynamic-to-static is not ORT's own run"
    echo "$parity" | tail -n 3
    status=1
    continue
  fi
  same=$work/$name.fp32-same-table.onnx
  "$qopt" "$work/$name.fp32.onnx" --pass="quantize{calibration=$calib}" --report=none -o "$same"
  if ! parity=$(node "$src/tools/ort/parity.js" "$same" "$static" --qopt-opt="$qopt" --input-shape="$shape" \
      --seeds=1,2 --opt-levels=disabled,all --steps=0 --label="$name" 2>&1); then
    echo "FAIL: $name: dynamic-to-static differs from quantize{calibration=the same table} of the FP32 model"
    echo "$parity" | tail -n 3
    status=1
    continue
  fi
  result=$(node "$src/tests/ort/tensor_sqnr.js" "$work/$name.fp32.onnx" dynamic="$dynamic" static="$static" \
    u8s8="$u8s8" --input-shape="$shape" --seeds=1,2 2>&1) || { echo "FAIL: $name: tensor_sqnr.js"; echo "$result" | tail -n 3; status=1; continue; }
  if [[ $name == rec ]]; then
    ortopt=$work/$name.dynamic.ort-extended.onnx
    node -e 'require(process.argv[1]).loadSession(process.argv[2], { optLevel: "extended", optimizedModelFilePath: process.argv[3] })
      .catch((e) => { console.error(e.message); process.exit(1); })' "$src/tools/ort/lib.js" "$dynamic" "$ortopt"
    fused_sites=$(ort_op_count "$ortopt" com.microsoft::DynamicQuantizeMatMul)
    "$qopt" "$ortopt" --pass="dynamic-to-static{calibration=$calib}" --report=none -o "$work/$name.ort-extended.static.onnx"
    left=$(ort_dynamic_ops_left "$work/$name.ort-extended.static.onnx")
    both=$(node "$src/tests/ort/tensor_sqnr.js" "$work/$name.fp32.onnx" static="$static" \
      ort_extended="$work/$name.ort-extended.static.onnx" --input-shape="$shape" --seeds=1,2 2>&1 | tail -n 1)
    a=$(sqnr_db static "$both") b=$(sqnr_db ort_extended "$both")
    if [[ $fused_sites == 0 || $left != - || -z $a || -z $b ]] || ! awk -v a="$a" -v b="$b" 'BEGIN { exit !(b >= a - 0.5 && b <= a + 0.5) }'; then
      echo "FAIL: $name: ORT-optimized dynamic file ($fused_sites DynamicQuantizeMatMul): left $left; SQNR $both"
      status=1
      continue
    fi
    echo "ok: $name: ORT's level-extended dynamic file ($fused_sites DynamicQuantizeMatMul) converts too: $both"
  fi
  echo "ok: $name: $static_nodes nodes, $fused_nodes fused (u8s8: $u8s8_fused_nodes); fuse-qdq 0 steps from ORT's run;" \
    "0 steps from the FP32 model quantized with the same table; SQNR vs FP32 (dB): $(tail -n 1 <<<"$result")"
done
exit $status
