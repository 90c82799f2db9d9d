#!/usr/bin/env bash
# Regression models in ONNX Runtime: each tests/ort/regressions/*.onnxtxt is a
# small model that once made a qopt rewrite change its outputs or write a
# file ONNX Runtime refuses. Its header names the pipeline and the tolerance:
#   # PIPELINE: fuse-qdq
#   # COMPARE: --atol=0.051 --rtol=0      (compare.js options)
# The model is written to IN.onnx as it is, rewritten by the pipeline into
# OUT.onnx, and both run in ONNX Runtime on the same seeded inputs (seeds 1-2)
# at graph optimization levels disabled and all: OUT must load, and every
# output must have IN's dims and values within the tolerance (one
# quantization step: fused integer kernels round once per op).
# Usage: regressions.sh [QOPT_OPT [SOURCE_DIR]] [--only=NAME] [--dir=DIR]
#   --dir=DIR   run DIR/*.onnxtxt instead (same headers; e.g. tests/ort/qop_to_qdq)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"

only=
dir=
for arg in "${ort_args[@]}"; do
  case $arg in
    --only=*) only=${arg#--only=} ;;
    --dir=*) dir=${arg#--dir=} ;;
    *) echo "regressions.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

header_field() {  # header_field FILE FIELD: the value of '# FIELD: value'
  sed -n "s/^# $2: *//p" "$1" | head -n 1
}

count=0
for model in "${dir:-$src/tests/ort/regressions}"/*.onnxtxt; do
  name=$(basename "$model" .onnxtxt)
  [[ -n $only && $name != "$only" ]] && continue
  count=$((count + 1))
  pipeline=$(header_field "$model" PIPELINE)
  read -r -a compare_args <<<"$(header_field "$model" COMPARE)"
  if [[ -z $pipeline ]]; then
    echo "FAIL: $name: no '# PIPELINE:' line"
    status=1
    continue
  fi
  in=$work/$name.in.onnx out=$work/$name.out.onnx
  if ! "$qopt" "$model" --report=none -o "$in"; then
    echo "FAIL: $name: qopt-opt could not write the model as it is"
    status=1
    continue
  fi
  if ! "$qopt" "$in" --pass="$pipeline" --report=none -o "$out"; then
    echo "FAIL: $name: qopt-opt --pass=$pipeline"
    status=1
    continue
  fi
  for level in disabled all; do
    for seed in 1 2; do
      if result=$(node "$src/tools/ort/compare.js" "$in" "$out" "${compare_args[@]}" --opt-level=$level \
        --seed=$seed 2>&1); then
        echo "PASS: $name ($pipeline) opt-level=$level seed=$seed: $(tail -n 1 <<<"$result")"
      else
        echo "FAIL: $name ($pipeline) opt-level=$level seed=$seed:"
        sed 's/^/    /' <<<"$result"
        status=1
      fi
    done
  done
done
if ((count == 0)); then
  echo "FAIL: no regression model ran${only:+ (--only=$only)}"
  status=1
fi
exit $status
