#!/usr/bin/env bash
# Every quantized variant of the PaddleOCR models that qopt makes loads and
# runs in ONNX Runtime (graph optimizations disabled and enabled), with finite
# outputs: canonicalize -> qopt-calibrate (a few seeded random samples: this
# checks structure, not accuracy; bench/quantized_variants.sh measures
# fidelity) -> quantize as u8s8, per-channel, s8s8 and dynamic.
# Usage: quantized_variants.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"
for name in det rec cls; do
  ort_prepare_fp32 "$name" "${small_shapes[$name]}"
  for variant in "${quantized_variants[@]}"; do
    out=$work/$name.$variant.onnx
    ort_quantize "$name" "$variant" "$out" || { status=1; continue; }
    for level in disabled all; do
      result=$(node "$src/tools/ort/run.js" "$out" --input-shape="${small_shapes[$name]}" --opt-level=$level 2>&1) || true
      if [[ $(tail -n 1 <<<"$result") == "run: OK"* ]] && ! grep -qE '^output .* (nan|inf)=[1-9]' <<<"$result"; then
        echo "ok: $name $variant opt-level=$level: $(grep -c '^output' <<<"$result") finite output(s)"
      else
        echo "FAIL: $name $variant opt-level=$level:"
        echo "$result" | tail -n 3
        status=1
      fi
    done
  done
done
exit $status
