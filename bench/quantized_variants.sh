#!/usr/bin/env bash
# Builds FP32 / u8s8 QDQ / per-channel QDQ / s8s8 QDQ / s8 QOperator / dynamic
# variants of the three PaddleOCR models with qopt, and each of them after a
# qopt pipeline (default fuse-qdq) and after fuse-qdq{float-units=auto}, then
# measures them side by side in ONNX
# Runtime (bench/ort_bench.js): 1-thread median latency as ratios to FP32
# (interleaved rounds), node counts of the files and of ORT's optimized
# graphs, and fidelity against FP32 on rendered text images. See
# bench/README.md; the numbers of record are in docs/benchmarks.md.
#
# Usage: bash bench/quantized_variants.sh [--models=det,rec,cls] [--rounds=N]
#          [--samples=N] [--out-dir=build/bench/variants] [--skip-setup]
#          [--pipeline=fuse-qdq] [--pipeline-on=u8s8,per-channel,s8s8,qop-s8,dynamic]
#          [--auto=on|off] [--target=ort-cpu|FILE.json]
#   --rounds=N     interleaved timing rounds for every model (default: det 150, rec 150, cls 1000)
#   --samples=N    images per calibration set and per evaluation set (default: det 16/12, rec 32/32, cls 32/32)
#   --pipeline=P   qopt pipeline applied to the --pipeline-on variants, each giving a column
#                  VARIANT+PASS (PASS: the pipeline's first pass) beside VARIANT (default fuse-qdq;
#                  --pipeline=none: no such columns; a pass qopt-opt does not know: left out, with a message)
#   --pipeline-on=LIST  variants the pipeline is applied to (default u8s8,per-channel,s8s8,qop-s8,dynamic);
#                  qop-s8 is the QOperator layout with int8 activations (QLinearConv & co. on int8,
#                  as ONNX Runtime's quantizer writes it: quantize s8, then fuse-qdq-units{activations=all});
#                  qop-s8+fuse-qdq is QOperator -> QDQ -> integer units (fuse-qdq starts with qop-to-qdq)
#   --auto=on|off  also a column VARIANT+auto per --pipeline-on variant (dynamic excepted):
#                  qopt-opt VARIANT.onnx --pass='fuse-qdq{float-units=auto target=T input-shape=x:DIMS}'
#                  (default on)
#   --target=T     the target profile of the auto columns (default ort-cpu; a file from
#                  tools/ort/measure_target.js)
#   (with u8s8 among --pipeline-on, also a column u8s8+per-channel: qopt-opt u8s8.onnx
#    --pass='per-channel{weights-from=fp32.onnx},fuse-qdq{float-units=auto ...}', paired with u8s8;
#    with dynamic among --pipeline-on, also the columns dynamic+dequantize-weights:
#    qopt-opt dynamic.onnx --pass=dequantize-weights,dce, and dynamic+static:
#    qopt-calibrate dynamic.onnx on the calibration images, then qopt-opt dynamic.onnx
#    --pass='dynamic-to-static{calibration=...},fuse-qdq{float-units=auto ...}' (as the
#    auto columns); both paired with dynamic)
#   --islands=M:UNITS[;M:UNITS]  also a column VARIANT+islands per --pipeline-on variant of
#                  model M: qopt-opt VARIANT.onnx --pass='fuse-qdq{float-units=UNITS}' (default:
#                  the units measured fastest per model, det:first-conv;rec:first-conv;
#                  cls:first-conv,depthwise,last-conv; default none: no such columns)
#   --skip-setup   do not run scripts/install-deps.sh and scripts/build.sh; qopt-opt is
#                  $QOPT_OPT, else ${QOPT_BUILD_DIR:-build}/tools/qopt-opt/qopt-opt
# Tables go to stdout; progress to stderr; per-model files (variants, images,
# calib.json, results.json, prepare.log) to OUT_DIR/MODEL/.
set -euo pipefail
cd "$(dirname "$0")/.."

models=det,rec,cls
rounds=
samples=
out_root=build/bench/variants
setup=1
after_pipeline=fuse-qdq
pipeline_on=u8s8,per-channel,s8s8,qop-s8,dynamic
islands=none
auto=on
target=ort-cpu
for arg in "$@"; do
  case $arg in
    --models=*) models=${arg#*=} ;;
    --rounds=*) rounds=${arg#*=} ;;
    --samples=*) samples=${arg#*=} ;;
    --out-dir=*) out_root=${arg#*=} ;;
    --skip-setup) setup=0 ;;
    --pipeline=*) after_pipeline=${arg#*=} ;;
    --pipeline-on=*) pipeline_on=${arg#*=} ;;
    --islands=*) islands=${arg#*=} ;;
    --auto=on|--auto=off) auto=${arg#*=} ;;
    --target=*) target=${arg#*=} ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "quantized_variants: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

source bench/lib/setup.sh
bench_setup quantized_variants "$setup" "$out_root"

# Per model (input dims and normalization: bench/lib/setup.sh): image sets
# (calibration and evaluation are rendered from different seeds), rounds.
declare -A calib_count=([det]=16 [rec]=32 [cls]=32)
declare -A eval_count=([det]=12 [rec]=32 [cls]=32)
declare -A model_rounds=([det]=150 [rec]=150 [cls]=1000)
variants=(u8s8 per-channel s8s8 qop-s8 dynamic)
declare -A pipeline=(
  [u8s8]="quantize{calibration=CALIB}"
  [per-channel]="quantize{calibration=CALIB per-channel=true}"
  [s8s8]="quantize{calibration=CALIB activation=s8}"
  [qop-s8]="quantize{calibration=CALIB activation=s8},qdq-cleanup,fuse-qdq-units{activations=all},dce"
  [dynamic]="quantize{mode=dynamic}"
)

# The pipeline columns: VARIANT+PASS = VARIANT after the pipeline, unless
# qopt-opt does not know a pass of it (probed on the shipped cls model).
after_variants=()
if [[ -n $after_pipeline && $after_pipeline != none ]]; then
  IFS=, read -r -a after_variants <<<"$pipeline_on"
  for v in "${after_variants[@]}"; do
    [[ -n ${pipeline[$v]+set} ]] || { echo "quantized_variants: --pipeline-on names unknown variant '$v' (${variants[*]})" >&2; exit 2; }
  done
  after_tag=${after_pipeline%%[{,]*}
  probe=$("$qopt" testdata/models/paddleocr-cls.onnx --pass="$after_pipeline" --report=none 2>&1 >/dev/null) || true
  if grep -q "unknown pass" <<<"$probe"; then
    echo "quantized_variants: qopt-opt has no such pass ($(grep -m1 'unknown pass' <<<"$probe" | sed 's/^qopt-opt: error: //')):" \
      "no '+$after_tag' columns for --pipeline='$after_pipeline'" >&2
    after_variants=()
  fi
fi

# The float-islands columns: units per model.
declare -A island_units=()
if [[ $islands != none && -n $islands ]]; then
  IFS=';' read -r -a island_specs <<<"$islands"
  for spec in "${island_specs[@]}"; do
    [[ $spec == *:* ]] || { echo "quantized_variants: --islands entry '$spec' is not MODEL:UNITS" >&2; exit 2; }
    island_units[${spec%%:*}]=${spec#*:}
  done
fi

bench_header

# Runs a command, logging it first.
step() {
  echo "\$ $*"
  "$@"
}

# Makes the images and variants of model $1 in folder $2 (output: the log).
prepare() {
  local m=$1 dir=$2 h w v
  IFS=x read -r _ _ h w <<<"${dims[$m]}"
  step node bench/lib/text_images.js --task="$m" --count="$n_calib" --seed=101 --width="$w" --height="$h" \
    --out="$dir/calib-images" || return
  step node bench/lib/text_images.js --task="$m" --count="$n_eval" --seed=202 --width="$w" --height="$h" \
    --out="$dir/eval-images" || return
  step "$qopt" "testdata/models/paddleocr-$m.onnx" --pass=canonicalize --report=none -o "$dir/fp32.onnx" || return
  step tools/qopt-calibrate "$dir/fp32.onnx" --inputs="$dir/calib-images" --image-size="${h}x${w}" "${norm_args[@]}" \
    -o "$dir/calib.json" || return
  for v in "${variants[@]}"; do
    step "$qopt" "$dir/fp32.onnx" --pass="${pipeline[$v]/CALIB/$dir/calib.json}" --stats -o "$dir/$v.onnx" || return
  done
  for v in "${after_variants[@]}"; do
    step "$qopt" "$dir/$v.onnx" --pass="$after_pipeline" --stats -o "$dir/$v+$after_tag.onnx" || return
    if [[ -n ${island_units[$m]+set} ]]; then
      step "$qopt" "$dir/$v.onnx" --pass="fuse-qdq{float-units=${island_units[$m]}}" --stats \
        -o "$dir/$v+islands.onnx" || return
    fi
    if [[ $auto == on && $v != dynamic ]]; then
      step "$qopt" "$dir/$v.onnx" --pass="$(auto_pipeline "$m")" --stats -o "$dir/$v+auto.onnx" || return
    fi
    if [[ $v == u8s8 ]]; then
      # The per-tensor file requantized per channel from the FP32 weights.
      step "$qopt" "$dir/$v.onnx" --pass="per-channel{weights-from=$dir/fp32.onnx},$(auto_pipeline "$m")" --stats \
        -o "$dir/$v+per-channel.onnx" || return
    fi
    if [[ $v == dynamic ]]; then
      step "$qopt" "$dir/$v.onnx" --pass=dequantize-weights,dce --stats -o "$dir/$v+dequantize-weights.onnx" || return
      # The dynamic file calibrated as it is (its own float tensors), on the same images.
      step tools/qopt-calibrate "$dir/$v.onnx" --inputs="$dir/calib-images" --image-size="${h}x${w}" \
        "${norm_args[@]}" -o "$dir/$v.calib.json" || return
      step "$qopt" "$dir/$v.onnx" --pass="dynamic-to-static{calibration=$dir/$v.calib.json},$(auto_pipeline "$m")" --stats \
        -o "$dir/$v+static.onnx" || return
    fi
  done
}

auto_pipeline() {  # auto_pipeline MODEL
  echo "fuse-qdq{float-units=auto target=$target input-shape=x:${dims[$1]}}"
}

IFS=, read -r -a model_list <<<"$models"
for m in "${model_list[@]}"; do
  case $m in det|rec|cls) ;; *) echo "quantized_variants: unknown model '$m' (det, rec, cls)" >&2; exit 2 ;; esac
  src=testdata/models/paddleocr-$m.onnx
  dir=$out_root/$m
  rm -rf "$dir"
  mkdir -p "$dir"
  log=$dir/prepare.log
  read -r -a norm_args <<<"${norm[$m]}"
  n_calib=${samples:-${calib_count[$m]}}
  n_eval=${samples:-${eval_count[$m]}}
  echo "== $m: rendering images, canonicalize, calibrate ($n_calib images), quantize (log: $log)" >&2
  t0=$SECONDS
  if ! prepare "$m" "$dir" >"$log" 2>&1; then
    echo "quantized_variants: preparing $m failed; the end of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  echo "   prepared in $((SECONDS - t0)) s; measuring" >&2
  variant_args=(--variant=original="$src" --variant=fp32="$dir/fp32.onnx")
  for v in "${variants[@]}"; do
    variant_args+=(--variant="$v=$dir/$v.onnx")
    if [[ " ${after_variants[*]} " == *" $v "* ]]; then
      variant_args+=(--variant="$v+$after_tag=$dir/$v+$after_tag.onnx" --pair="$v=$v+$after_tag")
      if [[ -n ${island_units[$m]+set} ]]; then
        variant_args+=(--variant="$v+islands=$dir/$v+islands.onnx" --pair="$v+$after_tag=$v+islands")
      fi
      if [[ $auto == on && $v != dynamic ]]; then
        variant_args+=(--variant="$v+auto=$dir/$v+auto.onnx" --pair="$v=$v+auto")
      fi
      if [[ $v == u8s8 ]]; then
        variant_args+=(--variant="$v+per-channel=$dir/$v+per-channel.onnx" --pair="$v=$v+per-channel")
      fi
      if [[ $v == dynamic ]]; then
        variant_args+=(--variant="$v+dequantize-weights=$dir/$v+dequantize-weights.onnx"
          --pair="$v=$v+dequantize-weights" --variant="$v+static=$dir/$v+static.onnx" --pair="$v=$v+static")
      fi
    fi
  done
  if ((${#after_variants[@]})); then
    variant_args+=(--note="VARIANT+$after_tag = qopt-opt VARIANT.onnx --pass='$after_pipeline'")
    if [[ -n ${island_units[$m]+set} ]]; then
      variant_args+=(--note="VARIANT+islands = qopt-opt VARIANT.onnx --pass='fuse-qdq{float-units=${island_units[$m]}}' (not exact: see docs/passes.md)")
    fi
    if [[ $auto == on ]]; then
      variant_args+=(--note="VARIANT+auto = qopt-opt VARIANT.onnx --pass='$(auto_pipeline "$m")' (not exact where it picks units)")
    fi
    if [[ " ${after_variants[*]} " == *" u8s8 "* ]]; then
      variant_args+=(--note="u8s8+per-channel = qopt-opt u8s8.onnx --pass='per-channel{weights-from=fp32.onnx},$(auto_pipeline "$m")' (the per-tensor file requantized per channel)")
    fi
    if [[ " ${after_variants[*]} " == *" dynamic "* ]]; then
      variant_args+=(--note="dynamic+dequantize-weights = qopt-opt dynamic.onnx --pass='dequantize-weights,dce' (not exact: float activations)")
      variant_args+=(--note="dynamic+static = qopt-opt dynamic.onnx --pass='dynamic-to-static{calibration=dynamic.calib.json},$(auto_pipeline "$m")' (dynamic.onnx calibrated by qopt-calibrate on the calibration images)")
    fi
  fi
  echo
  node bench/ort_bench.js --task="$m" --input-shape="x:${dims[$m]}" --inputs="$dir/eval-images" "${norm_args[@]}" \
    --rounds="${rounds:-${model_rounds[$m]}}" --warmup=3 --qopt-opt="$qopt" --work-dir="$dir" --json="$dir/results.json" \
    --title="$m: $(basename "$(readlink -f "$src")") (original = the file as shipped)" "${variant_args[@]}"
done
