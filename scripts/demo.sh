#!/usr/bin/env bash
# The main job on the bundled default model (PaddleOCR's text detector, as
# paddle2onnx wrote it: weights in Constant nodes, opset 11): install, build,
# then show what qopt does today — the op-count report before and after
# canonicalisation, a rewritten model written to build/demo/, and ONNX Runtime
# proving the rewritten model computes exactly the same outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
qopt=build/tools/qopt-opt/qopt-opt
model=${1:-testdata/models/paddleocr-det.onnx}
shape=${QOPT_DEMO_SHAPE:-x:1x3x96x96}
mkdir -p build/demo
out=build/demo/$(basename "${model%.onnx}").qopt.onnx

echo "== qopt-opt $model --pass=canonicalize-constants,dce,op-count{compare=<original>} -o $out"
"$qopt" "$model" --pass="canonicalize-constants,dce,op-count{compare=$model}" --stats --timing -o "$out"
echo
echo "== ONNX Runtime: original vs rewritten, bit for bit ($shape)"
node tools/ort/compare.js "$model" "$out" --exact --input-shape="$shape"
ls -lL "$model" "$out" | awk '{print $5, $NF}'
