#!/usr/bin/env bash
# sink-depth-to-space in ONNX Runtime, on small models shaped like
# PaddleOCR's detection head (DepthToSpace(2) -> 1x1 Conv, 8 -> 3 channels,
# on a [1, 32, 5, 7] input):
#   dcr-per-channel  the QDQ form as propagate-qdq leaves it: Q -> DepthToSpace
#                    (DCR) -> DQ -> Conv(DQ(int8 weights, per channel), DQ(int32
#                    bias)) -> Q -> DQ
#   crd-uint8        the same with mode CRD and per-tensor uint8 weights whose
#                    zero point is 100 (the entries off the blocks are 100)
#   float            the float form (float weights and bias), CRD
# Each model IN is rewritten by `--pass=sink-depth-to-space` into OUT (the
# pass must fire once and leave a DepthToSpace after the Conv); IN and OUT run
# in ONNX Runtime on the same seeded inputs (seeds 1-3) at graph optimization
# levels disabled and all. The QDQ models must be bit for bit equal; so must
# both after fuse-qdq-units (integer QLinearConv). The float model is held to
# atol 1e-6 (a GEMM may add the zeros' partial sums in another order).
# Self-test: the model with the other DepthToSpace mode (the channels in
# another order), rewritten, must FAIL the same comparison with IN.
# Usage: sink_depth_to_space.sh [QOPT_OPT [SOURCE_DIR]]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"

header='<ir_version: 8, opset_import: ["" : 13]>'
declare -A models
models[dcr-per-channel]="$header
head (float[1,32,5,7] X) => (float[1,3,10,14] Y)
<float xs = {0.0078740157}, uint8 xz = {128},
 int8[3,8,1,1] Wq = {-45, 115, -89, -26, 39, -115, -109, 83, 10, -103, -34, 22, -113, 105, 2, -73,
                     -118, -105, -16, -20, -110, -66, -104, 14},
 float[3] ws = {0.01, 0.02, 0.005}, int8[3] wz = {0, 0, 0},
 int32[3] Bq = {477, -2516, 1632}, float[3] bs = {7.8740157e-05, 1.5748031e-04, 3.9370079e-05}, int32[3] bz = {0, 0, 0},
 float ys = {0.03}, uint8 yz = {128}>
{
  Xq = QuantizeLinear(X, xs, xz)
  Dq = DepthToSpace <blocksize = 2, mode = \"DCR\"> (Xq)
  D = DequantizeLinear(Dq, xs, xz)
  W = DequantizeLinear <axis = 0> (Wq, ws, wz)
  B = DequantizeLinear <axis = 0> (Bq, bs, bz)
  Z = Conv <kernel_shape = [1, 1]> (D, W, B)
  Zq = QuantizeLinear(Z, ys, yz)
  Y = DequantizeLinear(Zq, ys, yz)
}"
models[crd-uint8]="$header
head (float[1,32,5,7] X) => (float[1,3,10,14] Y)
<float xs = {0.0078740157}, uint8 xz = {128},
 uint8[3,8,1,1] Wq = {63, 114, 31, 203, 25, 113, 23, 68, 148, 214, 73, 60, 157, 92, 52, 96,
                      190, 49, 32, 30, 105, 254, 218, 160},
 float ws = {0.01}, uint8 wz = {100},
 int32[3] Bq = {814, 1796, 712}, float bs = {7.8740157e-05}, int32 bz = {0},
 float ys = {0.02}, uint8 yz = {128}>
{
  Xq = QuantizeLinear(X, xs, xz)
  Dq = DepthToSpace <blocksize = 2, mode = \"CRD\"> (Xq)
  D = DequantizeLinear(Dq, xs, xz)
  W = DequantizeLinear(Wq, ws, wz)
  B = DequantizeLinear(Bq, bs, bz)
  Z = Conv <kernel_shape = [1, 1]> (D, W, B)
  Zq = QuantizeLinear(Z, ys, yz)
  Y = DequantizeLinear(Zq, ys, yz)
}"
models[float]="$header
head (float[1,32,5,7] X) => (float[1,3,10,14] Y)
<float[3,8,1,1] W = {-0.277, -0.503, -0.640, 0.560, -0.836, -0.400, -0.010, -0.313, -0.102, 0.218, -0.854, 0.024,
                     -0.670, -0.316, 0.867, -0.157, 0.924, -0.845, 0.116, 0.578, 0.637, -0.320, -0.300, -0.007},
 float[3] B = {0.594, -0.862, -0.813}>
{
  D = DepthToSpace <blocksize = 2, mode = \"CRD\"> (X)
  Y = Conv <kernel_shape = [1, 1]> (D, W, B)
}"

# compare.js over seeds 1-3 and both levels; prints one line per run and
# returns 1 unless every run passes.
compare_all() {
  local a=$1 b=$2 label=$3 rc=0 seed level result
  shift 3
  for level in disabled all; do
    for seed in 1 2 3; do
      result=$(node "$src/tools/ort/compare.js" "$a" "$b" "$@" --opt-level=$level --seed=$seed 2>&1 | tail -n 1)
      echo "  $label opt-level=$level seed=$seed: $result"
      [[ $result == "compare: PASS"* ]] || rc=1
    done
  done
  return $rc
}

for name in dcr-per-channel crd-uint8 float; do
  in=$work/$name.in.onnx
  out=$work/$name.out.onnx
  printf '%s\n' "${models[$name]}" >"$work/$name.onnxtxt"
  if ! "$qopt" "$work/$name.onnxtxt" --report=none -o "$in" ||
     ! "$qopt" "$in" --pass=sink-depth-to-space --stats --report=none -o "$out" 2>"$work/$name.stats"; then
    echo "FAIL: $name: qopt-opt could not make the models"
    status=1
    continue
  fi
  form=sunk-qdq
  tolerance=(--exact)
  if [[ $name == float ]]; then form=sunk-float; tolerance=(--atol=1e-6 --rtol=0); fi
  # The pass fired once and the DepthToSpace now follows the Conv.
  ops=$("$qopt" "$out" --emit=text --report=none | grep -oE '= (Conv|DepthToSpace|QuantizeLinear)' |
        tr -d '= ' | tr '\n' ' ')
  if ! grep -qE "^ *1 sink-depth-to-space - $form\$" "$work/$name.stats" || [[ $ops != *"Conv "*"DepthToSpace"* ]]; then
    echo "FAIL: $name: the pass did not rewrite the site ($form; ops after: $ops)"
    cat "$work/$name.stats"
    status=1
    continue
  fi
  echo "ok: $name rewritten ($form): ${ops% }"
  compare_all "$in" "$out" "$name" "${tolerance[@]}" || { echo "FAIL: $name: outputs differ"; status=1; }

  if [[ $name != float ]]; then
    # Integer kernels on both sides (qopt's own fusion).
    "$qopt" "$in" --pass=fuse-qdq-units,dce --report=none -o "$work/$name.in.fused.onnx"
    "$qopt" "$out" --pass=fuse-qdq-units,dce --report=none -o "$work/$name.out.fused.onnx"
    compare_all "$work/$name.in.fused.onnx" "$work/$name.out.fused.onnx" "$name+fuse-qdq-units" --exact ||
      { echo "FAIL: $name+fuse-qdq-units: outputs differ"; status=1; }
  fi

  # Self-test: the same model with the other mode (the channels in another
  # order), rewritten, must fail the comparison with IN in every run.
  sed -E '/= DepthToSpace/{s/"DCR"/"TMP"/; s/"CRD"/"DCR"/; s/"TMP"/"CRD"/}' "$work/$name.onnxtxt" \
    >"$work/$name.swapped.onnxtxt"
  "$qopt" "$work/$name.swapped.onnxtxt" --pass=sink-depth-to-space --report=none -o "$work/$name.swapped.onnx"
  compare_all "$in" "$work/$name.swapped.onnx" "$name (mode swapped)" "${tolerance[@]}" >"$work/self.log" || true
  if grep -q 'compare: PASS' "$work/self.log" || [[ $(grep -c 'compare: FAIL' "$work/self.log") != 6 ]]; then
    cat "$work/self.log"
    echo "FAIL: $name: the comparison did not catch the other channel order in every run"
    status=1
  else
    echo "ok: $name: the other channel order fails the comparison in every run, as it must"
  fi
done
if ((status == 0)); then echo "sink_depth_to_space: PASS"; else echo "sink_depth_to_space: FAIL"; fi
exit $status
