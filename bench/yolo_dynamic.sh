#!/usr/bin/env bash
# A dynamically quantized YOLO-class detector, before and after qopt's
# conversions, side by side in ONNX Runtime (bench/ort_bench.js: 1 thread,
# interleaved rounds, ratios to FP32 and paired after/before ratios).
# The model is made by qopt from bench/lib/yolo_like_model.js's text
# (YOLOv5n-shaped: SiLU, C3, SPPF, Resize + Concat, concatenated heads;
# seeded weights), quantized by qopt's quantize{mode=dynamic} (ONNX
# Runtime's quantize_dynamic layout); the columns:
#   fp32                        the canonicalized FP32 model
#   dynamic                     quantize{mode=dynamic}
#   dynamic+static              dynamic-to-static{calibration=...},fuse-qdq, the dynamic file
#                               calibrated by qopt-calibrate on seeded random inputs
#   dynamic+dequantize-weights  dequantize-weights,dce
# Inputs are seeded uniform [-1, 1) tensors (other seeds than calibration's).
#
# Usage: bash bench/yolo_dynamic.sh [--size=320] [--rounds=60] [--out-dir=build/bench/yolo] [--skip-setup]
set -euo pipefail
cd "$(dirname "$0")/.."
size=320
rounds=60
out=build/bench/yolo
setup=1
for arg in "$@"; do
  case $arg in
    --size=*) size=${arg#*=} ;;
    --rounds=*) rounds=${arg#*=} ;;
    --out-dir=*) out=${arg#*=} ;;
    --skip-setup) setup=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "yolo_dynamic: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
source bench/lib/setup.sh
bench_setup yolo_dynamic "$setup" "$out"
shape=images:1x3x${size}x${size}
step() { echo "\$ $*" >&2; "$@" >&2; }

step node bench/lib/yolo_like_model.js --size="$size" -o "$out/yolo.onnxtxt"
step "$qopt" "$out/yolo.onnxtxt" --pass=canonicalize --report=none -o "$out/fp32.onnx"
step "$qopt" "$out/fp32.onnx" --pass='quantize{mode=dynamic}' --report=none -o "$out/dynamic.onnx"
step tools/qopt-calibrate "$out/dynamic.onnx" --random=8 --seed=11 --input-shape="$shape" -o "$out/dynamic.calib.json"
step "$qopt" "$out/dynamic.onnx" --pass="dynamic-to-static{calibration=$out/dynamic.calib.json},fuse-qdq" \
  --report=none -o "$out/dynamic+static.onnx"
step "$qopt" "$out/dynamic.onnx" --pass=dequantize-weights,dce --report=none -o "$out/dynamic+dequantize-weights.onnx"

node bench/ort_bench.js --task=generic --input-shape="$shape" --random=4 --seed=29 --rounds="$rounds" --warmup=3 \
  --qopt-opt="$qopt" --work-dir="$out" --json="$out/results.json" \
  --title="yolo-like ${size}x${size} (bench/lib/yolo_like_model.js), dynamically quantized by qopt" \
  --note="dynamic+static = qopt-opt dynamic.onnx --pass='dynamic-to-static{calibration=dynamic.calib.json},fuse-qdq'" \
  --note="dynamic+dequantize-weights = qopt-opt dynamic.onnx --pass='dequantize-weights,dce' (not exact: float activations)" \
  --variant=fp32="$out/fp32.onnx" --variant=dynamic="$out/dynamic.onnx" \
  --variant=dynamic+static="$out/dynamic+static.onnx" \
  --variant=dynamic+dequantize-weights="$out/dynamic+dequantize-weights.onnx" \
  --pair=dynamic=dynamic+static --pair=dynamic=dynamic+dequantize-weights
