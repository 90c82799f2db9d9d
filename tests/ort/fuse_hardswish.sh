#!/usr/bin/env bash
# fuse-hardswish on the canonicalized FP32 PaddleOCR models, in ONNX Runtime:
# upgrade-opset{opset=14},fuse-hardswish,dce keeps the outputs within
# |a - b| <= 1e-5 + 1e-4 |b| and leaves no written-out hard-swish (every
# `Div` by 6 that ends one is gone), with at least one chain fused per model
# (else the comparison would compare a model with itself).
# Usage: fuse_hardswish.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"
compare=$src/tools/ort/compare.js
tolerance=(--atol=1e-5 --rtol=1e-4)
for name in det rec cls; do
  ort_prepare_fp32 "$name" "${shapes[$name]}"
  out=$work/$name.hs.onnx
  if ! stats=$("$qopt" "$work/$name.fp32.onnx" --pass='upgrade-opset{opset=14},fuse-hardswish,dce' --stats \
    --report=none -o "$out" 2>&1 >/dev/null); then
    echo "FAIL: $name: qopt-opt --pass=upgrade-opset{opset=14},fuse-hardswish,dce: $stats"
    status=1
    continue
  fi
  fused=$(sed -n 's/^ *\([0-9]*\) fuse-hardswish - hard-swish-fused.*/\1/p' <<<"$stats")
  hardswish=$(ort_op_count "$out" HardSwish)
  if [[ -z $fused || $fused -eq 0 || $hardswish -ne $fused ]]; then
    echo "FAIL: $name: ${fused:-no} chains fused, $hardswish HardSwish ops in the file"
    status=1
    continue
  fi
  if ! result=$(node "$compare" "$work/$name.fp32.onnx" "$out" --input-shape="${shapes[$name]}" "${tolerance[@]}" 2>&1); then
    echo "FAIL: $name: fuse-hardswish changed the outputs beyond ${tolerance[*]}"
    echo "$result" | tail -n 5
    status=1
    continue
  fi
  echo "ok: $name: $fused hard-swish chains now HardSwish; outputs within ${tolerance[*]}"
done
exit $status
