#!/usr/bin/env bash
# The main job on the bundled default model (PaddleOCR's v4 text detector as
# paddle2onnx wrote it: weights in Constant nodes, opset 11): install, build,
# then show qopt's best so far on it:
#   1. canonicalize the FP32 model (constants -> initializers, opset 13,
#      BatchNormalization folded, shapes inferred) and prove in ONNX Runtime
#      that it computes the same outputs;
#   2. calibrate it in ONNX Runtime on rendered text images (ImageMagick,
#      bench/lib/text_images.js) and quantize it to INT8 QDQ the way ONNX
#      Runtime's quantize_static does, and show what that costs in nodes and
#      how far its outputs move;
#   3. fuse-qdq: turn the QDQ file into integer execution (QLinearConv,
#      com.microsoft QLinearAdd/Mul, ...), check in ONNX Runtime that it gives
#      the numbers ONNX Runtime's own fused run of the QDQ file gives, and
#      time FP32, QDQ and fused side by side (1 thread, interleaved);
#   4. fuse-qdq{float-units=auto}: the opt-in, not exact variant that runs in
#      float the units the measured ort-cpu profile says are cheaper there
#      (float-islands, analysis/profiles/ort-cpu.json), timed with the others;
#   5. the same model quantized with int8 activations (quantize_static's
#      default, which ONNX Runtime on x86 leaves unfused) through fuse-qdq:
#      s8-to-u8 makes it uint8, exactly, and it runs like the u8s8 one;
#   6. the model as quantize_dynamic lays it out (DynamicQuantizeLinear +
#      ConvInteger, several times slower than FP32 in ONNX Runtime),
#      calibrated as it is and turned into static QDQ by dynamic-to-static
#      (its integer weights kept), then fuse-qdq; timed before and after;
#   7. int8: the one pass from FP32 to the file qopt would deploy, with the
#      stages it chose and why: the equalization and the leading layers kept
#      float that qopt-sensitivity measured on the calibration images (output
#      SQNR of smoothquant against none; each prefix's accuracy and its
#      deployable file's latency against FP32), the most accurate within
#      0.75x FP32.
# The last table times every file side by side and measures its fidelity
# against FP32 (output SQNR, binarized-map IoU) on other rendered images than
# the calibration ones.
# Output models go to build/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
qopt=build/tools/qopt-opt/qopt-opt
model=${1:-testdata/models/paddleocr-det.onnx}
shape=${QOPT_DEMO_SHAPE:-x:1x3x320x320}
IFS=x read -r _ _ img_h img_w <<<"${shape#*:}"
det_norm=(--mean=0.485,0.456,0.406 --std=0.229,0.224,0.225)
out=build/demo
mkdir -p "$out"
base=$(basename "${model%.onnx}")

echo "== 1. qopt-opt $model --pass=canonicalize,op-count{compare=ORIGINAL} -o $out/$base.fp32.onnx"
"$qopt" "$model" --pass="canonicalize,op-count{compare=$model}" --stats -o "$out/$base.fp32.onnx"
echo
echo "== ONNX Runtime: original vs canonicalized (|a-b| <= 1e-6 + 1e-5|b|)"
node tools/ort/compare.js "$model" "$out/$base.fp32.onnx" --atol=1e-6 --rtol=1e-5 --input-shape="$shape" | tail -n 2

echo
echo "== 2. qopt-calibrate (ONNX Runtime, 8 rendered text images), quantize{per-channel=true}, then the qdq-boundaries, bias-overflow and quant-lint analyses of the result"
node bench/lib/text_images.js --task=det --count=8 --seed=101 --width="$img_w" --height="$img_h" --out="$out/calib-images" >/dev/null
node bench/lib/text_images.js --task=det --count=8 --seed=202 --width="$img_w" --height="$img_h" --out="$out/eval-images" >/dev/null
QOPT_OPT=$qopt tools/qopt-calibrate "$out/$base.fp32.onnx" --inputs="$out/calib-images" --image-size="${img_h}x${img_w}" \
  "${det_norm[@]}" --methods=entropy,mse --choose=auto -o "$out/$base.calib.json" | tail -n 1
"$qopt" "$out/$base.fp32.onnx" \
  --pass="quantize{calibration=$out/$base.calib.json per-channel=true},op-count{compare=$out/$base.fp32.onnx},qdq-boundaries,bias-overflow,quant-lint" \
  --stats -o "$out/$base.int8.onnx"
echo
echo "== ONNX Runtime: FP32 vs INT8 QDQ (quantization error, not a bug)"
node tools/ort/compare.js "$out/$base.fp32.onnx" "$out/$base.int8.onnx" --atol=1 --input-shape="$shape" | tail -n 2
ls -lL "$model" "$out/$base.fp32.onnx" "$out/$base.int8.onnx" | awk '{printf "%10d bytes  %s\n", $5, $NF}'

echo
echo "== 3. qopt-opt $out/$base.int8.onnx --pass=fuse-qdq,op-count{compare=FP32} -o $out/$base.fused.onnx"
"$qopt" "$out/$base.int8.onnx" --pass="fuse-qdq,op-count{compare=$out/$base.fp32.onnx input-shape=$shape}" \
  --dot-before="$out/$base.int8.svg" --dot-after="$out/$base.fused.svg" -o "$out/$base.fused.onnx"
echo "   drawn: $out/$base.int8.svg (before) and $out/$base.fused.svg (after)"
echo
echo "== ONNX Runtime: fused file (no ORT optimization) vs ORT's own optimized run of the QDQ file (must be identical)"
node tools/ort/compare.js "$out/$base.int8.onnx" "$out/$base.fused.onnx" --exact --opt-level=all --opt-level-b=disabled \
  --input-shape="$shape" | tail -n 2
echo
echo "== 4. qopt-opt $out/$base.int8.onnx --pass='fuse-qdq{float-units=auto input-shape=$shape}' -o $out/$base.auto.onnx (opt-in, not exact)"
"$qopt" "$out/$base.int8.onnx" --pass="fuse-qdq{float-units=auto input-shape=$shape}" -o "$out/$base.auto.onnx" 2>&1 |
  grep -E '^float-islands|-> float' | head -n 6
echo
echo "== 5. int8 activations (quantize_static's default): quantize{activation=s8}, then fuse-qdq (s8-to-u8 first, exact)"
"$qopt" "$out/$base.fp32.onnx" --pass="quantize{calibration=$out/$base.calib.json per-channel=true activation=s8},qdq-boundaries" \
  -o "$out/$base.s8s8.onnx" | grep -E 'units:|int8 activations' | head -n 2
"$qopt" "$out/$base.s8s8.onnx" --pass=fuse-qdq -o "$out/$base.s8s8.fused.onnx" | grep -E '^s8-to-u8|nodes ' | head -n 2
echo
echo "== 6. a dynamically quantized file (quantize_dynamic's layout): calibrated as it is, then dynamic-to-static,fuse-qdq"
"$qopt" "$out/$base.fp32.onnx" --pass='quantize{mode=dynamic},op-count' -o "$out/$base.dynamic.onnx" | grep -E '^op-count|DynamicQuantizeLinear' | head -n 2
QOPT_OPT=$qopt tools/qopt-calibrate "$out/$base.dynamic.onnx" --inputs="$out/calib-images" --image-size="${img_h}x${img_w}" \
  "${det_norm[@]}" -o "$out/$base.dynamic.calib.json" | tail -n 1
"$qopt" "$out/$base.dynamic.onnx" --pass="dynamic-to-static{calibration=$out/$base.dynamic.calib.json},fuse-qdq" \
  -o "$out/$base.dynamic.static.onnx" | grep -E '^dynamic-to-static|nodes ' | head -n 2
echo
echo "== 7. qopt-sensitivity --mode=prefix --equalize=... --latency-budget=0.75 (measured in ONNX Runtime on the calibration images), then"
echo "      qopt-opt $out/$base.fp32.onnx --pass='int8{calibration=... sensitivity=... latency-budget=0.75 input-shape=$shape}': FP32 to the file qopt would deploy"
QOPT_OPT=$qopt tools/qopt-sensitivity "$out/$base.fp32.onnx" --mode=prefix --prefix-max=24 \
  --equalize='none,smoothquant{alpha=0.5}' --latency-budget=0.75 --latency-runs=10 \
  --quantize="quantize{calibration=$out/$base.calib.json per-channel=true}" --inputs="$out/calib-images" \
  --image-size="${img_h}x${img_w}" "${det_norm[@]}" -o "$out/$base.sensitivity.json" --html="$out/$base.sensitivity.html" 2>&1 |
  grep -vE '^sensitivity: (activations|baseline|prefix \[)'
echo "   the sweep, drawn: $out/$base.sensitivity.html"
"$qopt" "$out/$base.fp32.onnx" \
  --pass="int8{calibration=$out/$base.calib.json sensitivity=$out/$base.sensitivity.json latency-budget=0.75 input-shape=$shape}" \
  -o "$out/$base.int8-pipeline.onnx" | sed -n '/^int8 runs:/,/^[^ ]/p' | sed '$d'
echo
echo "== ONNX Runtime: latency and fidelity against FP32 on 8 other rendered images, FP32 vs INT8 QDQ vs fuse-qdq vs auto islands, the s8s8 and dynamic files before/after, int8 (1 thread, interleaved rounds)"
node bench/ort_bench.js --task=det --inputs="$out/eval-images" "${det_norm[@]}" --rounds=${QOPT_DEMO_ROUNDS:-40} --input-shape="$shape" \
  --qopt-opt="$qopt" --variant=fp32="$out/$base.fp32.onnx" --variant=qdq="$out/$base.int8.onnx" \
  --variant=fused="$out/$base.fused.onnx" --variant=auto="$out/$base.auto.onnx" \
  --variant=s8s8="$out/$base.s8s8.onnx" --variant=s8s8+fused="$out/$base.s8s8.fused.onnx" \
  --variant=dynamic="$out/$base.dynamic.onnx" --variant=dynamic+static="$out/$base.dynamic.static.onnx" \
  --variant=int8="$out/$base.int8-pipeline.onnx" --pair=qdq=fused \
  --pair=fused=auto --pair=s8s8=s8s8+fused --pair=dynamic=dynamic+static
ls -lL "$out/$base.fused.onnx" "$out/$base.auto.onnx" "$out/$base.s8s8.fused.onnx" | awk '{printf "%10d bytes  %s\n", $5, $NF}'
