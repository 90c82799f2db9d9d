#!/usr/bin/env bash
# Every quantized variant of the PaddleOCR models that qopt makes loads and
# runs in ONNX Runtime (graph optimizations disabled and enabled), with finite
# outputs: canonicalize -> qopt-calibrate (a few seeded random samples: this
# checks structure, not accuracy; bench/quantized_variants.sh measures
# fidelity) -> quantize as u8s8, per-channel, s8s8 and dynamic.
# Usage: quantized_variants.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
qopt=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
declare -A shapes=([det]=x:1x3x64x64 [rec]=x:1x3x48x64 [cls]=x:1x3x48x192)
declare -A variants=(
  [u8s8]="quantize{calibration=CALIB}"
  [per-channel]="quantize{calibration=CALIB per-channel=true}"
  [s8s8]="quantize{calibration=CALIB activation=s8}"
  [dynamic]="quantize{mode=dynamic}"
)
for name in det rec cls; do
  fp32=$work/$name.fp32.onnx
  calib=$work/$name.calib.json
  "$qopt" "$src/testdata/models/paddleocr-$name.onnx" --pass=canonicalize --report=none -o "$fp32"
  QOPT_OPT=$qopt "$src/tools/qopt-calibrate" "$fp32" --random=2 --input-shape="${shapes[$name]}" -o "$calib" >/dev/null
  for variant in u8s8 per-channel s8s8 dynamic; do
    out=$work/$name.$variant.onnx
    pipeline=${variants[$variant]/CALIB/$calib}
    if ! "$qopt" "$fp32" --pass="$pipeline" --report=none -o "$out"; then
      echo "FAIL: $name $variant: qopt-opt --pass=$pipeline"
      status=1
      continue
    fi
    for level in disabled all; do
      result=$(node "$src/tools/ort/run.js" "$out" --input-shape="${shapes[$name]}" --opt-level=$level 2>&1) || true
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
