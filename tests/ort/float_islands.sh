#!/usr/bin/env bash
# float-islands in ONNX Runtime. The rewrite is not exact: an island computes
# what the QDQ model computes without the rounding of the Q -> DQ pairs
# inside it. So the check makes that rounding negligible and then asks for
# the same numbers: per model, the FP32 model is quantized with 16-bit
# activations and weights (u16/s16, per tensor and per channel), calibrated
# on the very inputs it is then run on (so no saturation differs either),
# and with every float tensor exposed (expose-tensors), each tensor of
# `float-islands{float-units=UNITS},dce` must be within --min-db of the
# same tensor of the 16-bit QDQ model (tests/ort/tensor_sqnr.js; a tensor
# that is numerically zero is not judged). A misplaced weight, a lost bias,
# a dropped Relu/Clip or a wrong bypass shows as a tensor far below that.
# The 8-bit islands are measured by bench/quantized_variants.sh (latency
# and fidelity on images); here their fused form
# `fuse-qdq{float-units=UNITS}` must load and run in ONNX Runtime at levels
# disabled and all.
#
# Usage: float_islands.sh [QOPT_OPT [SOURCE_DIR]] [--models=det,rec,cls]
#          [--units=first-conv,depthwise,last-conv] [--min-db=40]
# Exit: 0 every row passes, 1 a row fails, 2 a model could not be made or run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"

models=det,rec,cls
units=first-conv,depthwise,last-conv
min_db=40
for arg in "${ort_args[@]}"; do
  case $arg in
    --models=*) models=${arg#*=} ;;
    --units=*) units=${arg#*=} ;;
    --min-db=*) min_db=${arg#*=} ;;
    *) echo "float_islands: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
IFS=, read -r -a model_list <<<"$models"
declare -A quantize16=(
  [per-tensor]="quantize{calibration=CALIB activation=u16 weight=s16}"
  [per-channel]="quantize{calibration=CALIB activation=u16 weight=s16 per-channel=true}"
)

printf '%-18s %8s %10s %11s  %s\n' model/variant islands "worst dB" "tensors" verdict
passed=0 failed=0 errors=0
for m in "${model_list[@]}"; do
  [[ -n ${shapes[$m]+set} ]] || { echo "float_islands: unknown model '$m'" >&2; exit 2; }
  fp32=$work/$m.fp32.onnx
  if ! "$qopt" "$(ort_model "$m")" --pass=canonicalize --report=none -o "$fp32" >"$work/step.log" 2>&1 ||
     ! node "$src/tools/ort/run.js" "$fp32" --input-shape="${shapes[$m]}" --seed=5 --out-dir="$work/$m.in" \
       >"$work/step.log" 2>&1 ||
     ! QOPT_OPT=$qopt "$src/tools/qopt-calibrate" "$fp32" --inputs="$work/$m.in/inputs" -o "$work/$m.calib.json" \
       >"$work/step.log" 2>&1; then
    echo "ERROR: $m: canonicalize, run or calibration failed: $(grep -m1 . "$work/step.log")"
    errors=$((errors + 1)); continue
  fi
  for v in per-tensor per-channel; do
    q16=$work/$m.$v.q16.onnx
    if ! "$qopt" "$fp32" --pass="${quantize16[$v]/CALIB/$work/$m.calib.json}" --report=none -o "$q16" \
         >"$work/step.log" 2>&1 ||
       ! "$qopt" "$q16" --pass=expose-tensors --report=none -o "$work/qdq.onnx" >"$work/step.log" 2>&1 ||
       ! "$qopt" "$q16" --pass="float-islands{float-units=$units},dce,expose-tensors" --stats --report=none \
         -o "$work/islands.onnx" >"$work/islands.log" 2>&1; then
      echo "ERROR: $m $v: $(cat "$work/step.log" "$work/islands.log" 2>/dev/null | grep -m1 -i error)"
      errors=$((errors + 1)); continue
    fi
    islands=$(awk '$2 == "float-islands" && $4 == "islands" {print $1}' "$work/islands.log")
    rc=0
    node "$src/tests/ort/tensor_sqnr.js" "$work/qdq.onnx" islands="$work/islands.onnx" --input-shape="${shapes[$m]}" \
      --seeds=5 --min-db="$min_db" >"$work/sqnr.log" 2>&1 || rc=$?
    if ((rc > 1)); then
      echo "ERROR: $m $v: $(tail -n 1 "$work/sqnr.log")"; errors=$((errors + 1)); continue
    fi
    worst=$(awk '$1 == "ok" || $1 == "FAIL" { sub("islands=", "", $3); if (w == "" || $3 + 0 < w) w = $3 + 0 }
                 END { print w }' "$work/sqnr.log")
    count=$(awk '$1 == "mean" { sub("tensors=", "", $3); print $3 }' "$work/sqnr.log")
    verdict=ok
    if ((rc != 0)) || [[ ${islands:-0} == 0 ]]; then verdict=FAIL; fi
    printf '%-18s %8s %10s %11s  %s\n' "$m $v" "${islands:-0}" "$worst" "$count" "$verdict"
    if [[ $verdict == ok ]]; then passed=$((passed + 1)); else
      failed=$((failed + 1)); grep '^FAIL' "$work/sqnr.log" | head -n 5
    fi
  done
  # The 8-bit fused form loads and runs.
  q8=$work/$m.u8s8.onnx
  if ! "$qopt" "$fp32" --pass="quantize{calibration=$work/$m.calib.json}" --report=none -o "$q8" >"$work/step.log" 2>&1 ||
     ! "$qopt" "$q8" --pass="fuse-qdq{float-units=$units}" --report=none -o "$work/fused.onnx" >"$work/step.log" 2>&1 ||
     ! node "$src/tools/ort/run.js" "$work/fused.onnx" --input-shape="${shapes[$m]}" --opt-level=disabled \
       >"$work/run.log" 2>&1 ||
     ! node "$src/tools/ort/run.js" "$work/fused.onnx" --input-shape="${shapes[$m]}" --opt-level=all >"$work/run.log" 2>&1
  then
    echo "ERROR: $m u8s8 fuse-qdq{float-units=$units}: $(tail -n 1 "$work/step.log" "$work/run.log" | grep -m1 .)"
    errors=$((errors + 1))
  fi
done
total=$((passed + failed + errors))
echo "float_islands: $passed passed, $failed failed, $errors errors of $total (min $min_db dB per tensor)"
if ((errors)); then exit 2; fi
((failed == 0))
