#!/usr/bin/env bash
# ONNX Runtime parity of a qopt pipeline on quantized (QDQ) PaddleOCR models,
# in quantization steps. Per model and variant: canonicalize -> qopt-calibrate
# (seeded random samples) -> quantize (as tests/ort/quantized_variants.sh) =
# IN; `qopt-opt --pass=PIPELINE IN -o OUT`; then IN and OUT run in ONNX
# Runtime on the same seeded inputs at graph optimization levels disabled and
# all (each model at the same level), and every output element of OUT must be
# within N steps of IN's, the step being the scale of the DequantizeLinear
# producing that output in IN (qopt-opt's qdq-boundaries report); an output
# not produced by one is held to an absolute+relative tolerance, and the
# table says so. Where ONNX Runtime does not fuse the same units of IN and
# OUT (int8 activations on x86), the row says DIST: OUT is not ORT's own run of
# IN, and the steps are a distance, not an exact match. Prints one table row per model/variant (tools/ort/parity.js).
#
# Usage: pipeline_parity.sh [QOPT_OPT [SOURCE_DIR]] --pipeline=PIPELINE [options]
#   --in-pipeline=P                 make IN by applying pipeline P to the quantized file first
#                                   (e.g. s8-to-u8: then fuse-qdq is held to ORT's run of the converted file)
#   --models=det,rec,cls            (default: all three)
#   --variants=u8s8,per-channel,s8s8  quantized variants to start from (default: these; also dynamic)
#   --steps=N                       allowed difference in quantization steps (default 1)
#   --seeds=1,2,3                   one ONNX Runtime run per seed and level
#   --opt-levels=disabled,all       ONNX Runtime graph optimization levels
#   --atol=X --rtol=X               for outputs without a DequantizeLinear scale (parity.js defaults)
#   --in-opt-level=LEVEL            run IN at LEVEL whatever OUT's level (all: against ORT's own QDQ fusion)
#   --out-opt-level=LEVEL           run OUT at LEVEL whatever IN's level: ORT's own QDQ fusion
#                                   then changes the numbers (to check that this check can fail)
#   --expect-failure                exit 0 only if every model/variant fails on its numbers
#   --keep=DIR                      keep the IN/OUT models in DIR
# Exit: 0 every row passes; 1 some row fails (numbers or outputs differ); 2 qopt-opt or
# ONNX Runtime could not make or run a model (e.g. the pipeline names an unknown pass).
set -euo pipefail
for arg in "$@"; do
  if [[ $arg == -h || $arg == --help ]]; then sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; fi
done
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"

pipeline=
in_pipeline=
models=det,rec,cls
variants=u8s8,per-channel,s8s8
expect_failure=0
keep=
parity_args=()
for arg in "${ort_args[@]}"; do
  case $arg in
    --pipeline=*) pipeline=${arg#*=} ;;
    --in-pipeline=*) in_pipeline=${arg#*=} ;;
    --models=*) models=${arg#*=} ;;
    --variants=*) variants=${arg#*=} ;;
    --steps=*|--seeds=*|--opt-levels=*|--atol=*|--rtol=*|--out-opt-level=*|--in-opt-level=*) parity_args+=("$arg") ;;
    --expect-failure) expect_failure=1 ;;
    --keep=*) keep=${arg#*=} ;;
    *) echo "pipeline_parity: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z $pipeline ]]; then
  echo "pipeline_parity: give --pipeline=PIPELINE (e.g. --pipeline=fuse-qdq)" >&2
  exit 2
fi
IFS=, read -r -a model_list <<<"$models"
IFS=, read -r -a variant_list <<<"$variants"
for m in "${model_list[@]}"; do
  [[ -n ${shapes[$m]+set} ]] || { echo "pipeline_parity: unknown model '$m' (det, rec, cls)" >&2; exit 2; }
done
for v in "${variant_list[@]}"; do
  [[ -n ${quantize_pipeline[$v]+set} ]] || { echo "pipeline_parity: unknown variant '$v' (${quantized_variants[*]})" >&2; exit 2; }
done
if [[ -n $keep ]]; then mkdir -p "$keep"; fi

parity=(node "$src/tools/ort/parity.js" --qopt-opt="$qopt")
echo "pipeline '$pipeline' on quantized PaddleOCR models${in_pipeline:+ after '$in_pipeline'}; qopt-opt $qopt"
"${parity[@]}" --header
passed=0 failed=0 errors=0 distances=0
for name in "${model_list[@]}"; do
  if ! ort_prepare_fp32 "$name" "${shapes[$name]}" >"$work/prepare.log" 2>&1; then
    echo "ERROR: $name: canonicalize or calibration failed:"
    tail -n 5 "$work/prepare.log"
    errors=$((errors + ${#variant_list[@]}))
    continue
  fi
  for variant in "${variant_list[@]}"; do
    label="$name $variant"
    in=$work/$name.$variant.onnx
    out=$work/$name.$variant.out.onnx
    if ! ort_quantize "$name" "$variant" "$in" >"$work/step.log" 2>&1; then
      echo "ERROR: $label: $(head -n 1 "$work/step.log")"
      errors=$((errors + 1))
      continue
    fi
    if [[ -n $in_pipeline ]]; then
      if ! "$qopt" "$in" --pass="$in_pipeline" --report=none -o "$in.pre.onnx" >"$work/step.log" 2>&1; then
        echo "ERROR: $label: qopt-opt --pass='$in_pipeline' failed: $(grep -m1 . "$work/step.log")"
        errors=$((errors + 1))
        continue
      fi
      mv "$in.pre.onnx" "$in"
    fi
    if ! "$qopt" "$in" --pass="$pipeline" --report=none -o "$out" >"$work/step.log" 2>&1; then
      echo "ERROR: $label: qopt-opt --pass='$pipeline' failed: $(grep -m1 . "$work/step.log")"
      errors=$((errors + 1))
      continue
    fi
    if [[ -n $keep ]]; then cp "$in" "$keep/$name.$variant.in.onnx"; cp "$out" "$keep/$name.$variant.out.onnx"; fi
    rc=0
    result=$("${parity[@]}" "$in" "$out" --input-shape="${shapes[$name]}" --label="$label" "${parity_args[@]}" 2>&1) || rc=$?
    case $rc in
      0) passed=$((passed + 1)); sed '$d' <<<"$result"
         if grep -q 'a distance: ONNX Runtime does not fuse' <<<"$(tail -n 1 <<<"$result")"; then
           distances=$((distances + 1))
         fi ;;
      1) failed=$((failed + 1)); echo "$result" ;;
      *) errors=$((errors + 1)); echo "ERROR: $label: $(tail -n 1 <<<"$result")" ;;
    esac
  done
done
total=$((passed + failed + errors))
# A distance: ONNX Runtime leaves units of IN unfused that OUT fuses, so
# OUT is not ORT's own computation of IN (parity.js says so per row).
echo "pipeline_parity: $passed passed ($distances of them distances, not exact), $failed failed, $errors errors" \
  "of $total (pipeline '$pipeline')"
if ((expect_failure)); then
  if ((failed == total && total > 0)); then
    echo "pipeline_parity: ok: every model/variant failed on its numbers, as expected"
    exit 0
  fi
  echo "pipeline_parity: FAIL: expected every model/variant to fail on its numbers"
  exit 1
fi
if ((errors)); then exit 2; fi
if ((failed)); then exit 1; fi
exit 0
