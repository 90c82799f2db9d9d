#!/usr/bin/env bash
# qop-to-qdq on the ONNX backend node tests of Debian's libonnx-testdata:
# for each QOperator test (QLinearConv, QLinearMatMul, ConvInteger,
# MatMulInteger) and DynamicQuantizeLinear, `qopt-opt --pass=PIPELINE` on
# model.onnx, then the result in ONNX Runtime (level all) on every
# test_data_set_N's inputs against the expected outputs and against the
# original model's outputs (tools/ort/backend_test.js): integer outputs
# exact. In these models every scale and zero point is a graph input, so the
# pipeline is qop-to-qdq{convert=all} (runtime parameters, int32 outputs).
# A converted file must no longer hold the integer op (else the test would
# pass on the untouched model); DynamicQuantizeLinear is no QOperator op and
# must come through unchanged.
#
# Usage: backend_node_tests.sh [QOPT_OPT [SOURCE_DIR]] [--data=DIR] [--pipeline=P]
# Exit: 0 all pass; 1 a test fails or libonnx-testdata is missing; 2 qopt-opt missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"

data=/usr/share/libonnx-testdata/data/node
pipeline='qop-to-qdq{convert=all}'
for arg in "${ort_args[@]}"; do
  case $arg in
    --data=*) data=${arg#*=} ;;
    --pipeline=*) pipeline=${arg#*=} ;;
    *) echo "backend_node_tests: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
if [[ ! -d $data/test_qlinearconv ]]; then
  echo "backend_node_tests: FAIL: no ONNX backend node tests in '$data': install libonnx-testdata" \
    "(scripts/install-deps.sh does)"
  exit 1
fi

# Test folder -> the op the conversion must remove ("" = none: the model
# must keep its ops).
declare -A removes=(
  [test_qlinearconv]=QLinearConv [test_qlinearmatmul_2D]=QLinearMatMul [test_qlinearmatmul_3D]=QLinearMatMul
  [test_convinteger_with_padding]=ConvInteger [test_convinteger_without_padding]=ConvInteger
  [test_basic_convinteger]=ConvInteger [test_matmulinteger]=MatMulInteger
  [test_dynamicquantizelinear]= [test_dynamicquantizelinear_max_adjusted]= [test_dynamicquantizelinear_min_adjusted]=
  [test_dynamicquantizelinear_expanded]= [test_dynamicquantizelinear_max_adjusted_expanded]=
  [test_dynamicquantizelinear_min_adjusted_expanded]=
)
# The ops of a model, one per line with its count (from the printed IR).
ops_of() {
  "$qopt" "$1" --emit=text --report=none | grep -oE '= *[A-Za-z.]+ *[(<]' | tr -d '=(< ' | sort | uniq -c
}

passed=0 failed=0
for name in $(printf '%s\n' "${!removes[@]}" | sort); do
  dir=$data/$name
  out=$work/$name.onnx
  if [[ ! -f $dir/model.onnx ]]; then
    echo "$name: FAIL: not in '$data'"
    failed=$((failed + 1))
    continue
  fi
  if ! "$qopt" "$dir/model.onnx" --pass="$pipeline" --report=text -o "$out" >"$work/report.txt" 2>&1; then
    echo "$name: FAIL: qopt-opt --pass='$pipeline': $(grep -m1 . "$work/report.txt")"
    failed=$((failed + 1))
    continue
  fi
  op=${removes[$name]}
  ok=1
  if [[ -n $op ]]; then
    if ops_of "$out" | grep -qw "$op"; then
      echo "$name: FAIL: $op still there: $(grep -m1 'left:' "$work/report.txt" || true)"
      ok=0
    fi
  elif [[ $(ops_of "$dir/model.onnx") != $(ops_of "$out") ]]; then
    echo "$name: FAIL: the model's ops changed: $(ops_of "$out" | tr '\n' ' ')"
    ok=0
  fi
  if ! node "$src/tools/ort/backend_test.js" "$out" "$dir" --reference="$dir/model.onnx" --label="$name"; then
    ok=0
  fi
  if ((ok)); then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "backend_node_tests: $passed passed, $failed failed (pipeline '$pipeline')"
((failed == 0))
