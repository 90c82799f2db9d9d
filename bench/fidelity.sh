#!/usr/bin/env bash
# The fidelity table: how close each way of quantizing the three PaddleOCR
# models stays to FP32, and what it costs in latency, measured side by side in
# one ONNX Runtime run per model (bench/ort_bench.js). Calibration and
# evaluation use different rendered text images (seeds 101 and 202).
#
# Columns per model (each made from the canonicalized FP32 model by qopt):
#   fp32            the reference
#   per-tensor      quantize{calibration=C}
#   per-channel     quantize{calibration=C per-channel=true}
#   pc+percentile   ... range=percentile (99.99th percentile ranges)
#   pc+entropy, pc+mse, pc+choice   ... range=entropy|mse|choice (when qopt-calibrate has --methods)
#   cle+per-tensor  cle,dce on FP32, calibrated again, then quantize per tensor
#   sq+per-channel  smoothquant{calibration=C},quantize{per-channel=true} (when qopt-opt has smoothquant)
#   hs+per-channel  upgrade-opset{opset=14},fuse-hardswish, then per-channel
#   pc+fix-bias     per-channel, then fix-bias-overflow{bias-from=fp32.onnx}
#   int8-plain      int8{calibration=C target=T input-shape=...} (when qopt-opt has int8)
#   int8, int8-pt   int8{... sensitivity=S latency-budget=G} with per-channel=true / false,
#                   S = qopt-sensitivity on the calibration images (--sens=N of them) with the
#                   matching quantize (det, rec: --mode=prefix; cls: --mode=keep-float on its
#                   logits), measuring smoothquant{alpha=0.5} against none and each candidate's
#                   deployable latency; G = the latency goal (det, rec 0.75, cls 1.00)
# Rows: latency / FP32 (1 thread, interleaved rounds, ORT level all), output
# SQNR, rec CTC strings equal to FP32's and CER, cls top-1 agreement, det
# binarized-map IoU; then one summary table over the models with the goals of
# issue 14 for the int8 columns.
#
# Usage: bash bench/fidelity.sh [--models=det,rec,cls] [--rounds=N] [--calib=N] [--eval=N]
#          [--out-dir=build/bench/fidelity] [--skip-setup] [--target=ort-cpu|FILE.json]
#   --rounds=N   timing rounds (default det 40, rec 80, cls 400)
#   --calib=N, --eval=N   images per calibration / evaluation set (default det 16/16, rec 32/64, cls 32/64)
#   --sens=N     calibration images qopt-sensitivity measures on (default 16)
#   --skip-setup do not run scripts/install-deps.sh and scripts/build.sh
# Per-model files go to OUT_DIR/MODEL/ (prepare.log, results.json); the
# summary is OUT_DIR/summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."

models=det,rec,cls
rounds=
n_calib_arg=
n_eval_arg=
n_sens=16
out_root=build/bench/fidelity
setup=1
target=ort-cpu
for arg in "$@"; do
  case $arg in
    --models=*) models=${arg#*=} ;;
    --rounds=*) rounds=${arg#*=} ;;
    --calib=*) n_calib_arg=${arg#*=} ;;
    --eval=*) n_eval_arg=${arg#*=} ;;
    --sens=*) n_sens=${arg#*=} ;;
    --out-dir=*) out_root=${arg#*=} ;;
    --skip-setup) setup=0 ;;
    --target=*) target=${arg#*=} ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "fidelity: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

source bench/lib/setup.sh
bench_setup fidelity "$setup" "$out_root"

declare -A calib_count=([det]=16 [rec]=32 [cls]=32)
declare -A eval_count=([det]=16 [rec]=64 [cls]=64)
declare -A model_rounds=([det]=40 [rec]=80 [cls]=400)
declare -A latency_goal=([det]=0.75 [rec]=0.75 [cls]=1.00)  # issue 14's goals, latency / FP32

# Read once: `qopt-opt --list-passes | grep -q` would fail under pipefail
# when grep stops reading early.
pass_list=$("$qopt" --list-passes 2>/dev/null || true)
has_pass() {  # has_pass NAME: qopt-opt knows the pass
  grep -qE "^ *$1( |$)" <<<"$pass_list"
}
has_methods=0
if tools/qopt-calibrate --help 2>&1 | grep -q -- '--methods'; then has_methods=1; fi

bench_header

step() {
  echo "\$ $*"
  "$@"
}

# Makes images, FP32, calibration and every variant of model $1 in $2; sets
# the global arrays names[] and files[] (the columns, in order).
prepare() {
  local m=$1 dir=$2 h w c="$2/calib.json" pc shape
  IFS=x read -r _ _ h w <<<"${dims[$m]}"
  shape="x:${dims[$m]}"
  step node bench/lib/text_images.js --task="$m" --count="$n_calib" --seed=101 --width="$w" --height="$h" \
    --out="$dir/calib-images" || return
  step node bench/lib/text_images.js --task="$m" --count="$n_eval" --seed=202 --width="$w" --height="$h" \
    --out="$dir/eval-images" || return
  # What qopt-sensitivity measures. det and rec: --mode=prefix (keeping one
  # conv float gains < 1 dB there, the leading high-resolution layers together
  # several dB; docs/sensitivity.md). cls: one unit at a time, on its logits
  # (its output, a 2-class softmax, is too coarse to rank units on).
  sens_args=(--mode=prefix --prefix-max=32)
  [[ $m == cls ]] && sens_args=(--mode=keep-float --objective=Flatten_out)
  # Each candidate's deployable file (what int8 makes of it) is timed against
  # FP32, so int8 can keep float the most accurate one within the goal.
  sens_args+=(--latency-budget="${latency_goal[$m]}" --latency-runs=20 --equalize='none,smoothquant{alpha=0.5}'
    --deploy="fix-bias-overflow,fuse-qdq{float-units=auto target=$target input-shape=$shape}")
  step "$qopt" "testdata/models/paddleocr-$m.onnx" --pass=canonicalize --report=none -o "$dir/fp32.onnx" || return
  local methods=()
  ((has_methods)) && methods=(--methods=entropy,mse --choose=auto)
  calibrate() {  # calibrate MODEL OUT
    step tools/qopt-calibrate "$1" --inputs="$dir/calib-images" --image-size="${h}x${w}" "${norm_args[@]}" \
      --percentile=99.99 "${methods[@]}" -o "$2"
  }
  calibrate "$dir/fp32.onnx" "$c" || return
  variant() {  # variant NAME INPUT PIPELINE
    step "$qopt" "$2" --pass="$3" --stats -o "$dir/$1.onnx" || return
    names+=("$1")
    files+=("$dir/$1.onnx")
  }
  pc="quantize{calibration=$c per-channel=true"
  variant per-tensor "$dir/fp32.onnx" "quantize{calibration=$c}" || return
  variant per-channel "$dir/fp32.onnx" "$pc}" || return
  variant pc+percentile "$dir/fp32.onnx" "$pc range=percentile}" || return
  if ((has_methods)); then
    for r in entropy mse choice; do variant "pc+$r" "$dir/fp32.onnx" "$pc range=$r}" || return; done
  fi
  # cle changes the tensors between the pairs it equalizes: calibrate again.
  step "$qopt" "$dir/fp32.onnx" --pass=cle,dce --report=none -o "$dir/fp32+cle.onnx" || return
  calibrate "$dir/fp32+cle.onnx" "$dir/calib+cle.json" || return
  variant cle+per-tensor "$dir/fp32+cle.onnx" "quantize{calibration=$dir/calib+cle.json}" || return
  if has_pass smoothquant; then
    variant sq+per-channel "$dir/fp32.onnx" "smoothquant{calibration=$c},$pc}" || return
  fi
  variant hs+per-channel "$dir/fp32.onnx" "upgrade-opset{opset=14},fuse-hardswish,$pc}" || return
  variant pc+fix-bias "$dir/fp32.onnx" "$pc},fix-bias-overflow{bias-from=$dir/fp32.onnx}" || return
  if has_pass int8; then
    local i8="int8{calibration=$c target=$target input-shape=$shape"
    variant int8-plain "$dir/fp32.onnx" "$i8}" || return
    # The units to keep float, measured on the calibration images (qopt-sensitivity).
    sensitivity "$pc}" "$dir/sensitivity.json" || return
    i8+=" latency-budget=${latency_goal[$m]}"
    variant int8 "$dir/fp32.onnx" "$i8 sensitivity=$dir/sensitivity.json}" || return
    sensitivity "quantize{calibration=$c}" "$dir/sensitivity-pt.json" || return
    variant int8-pt "$dir/fp32.onnx" "$i8 per-channel=false sensitivity=$dir/sensitivity-pt.json}" || return
  fi
}

sensitivity() {  # sensitivity QUANTIZE-PIPELINE OUT
  step tools/qopt-sensitivity "$dir/fp32.onnx" --quantize="$1" --inputs="$dir/calib-images" --image-size="${h}x${w}" \
    "${norm_args[@]}" --samples="$n_sens" "${sens_args[@]}" -o "$2" --html="${2%.json}.html"
}

IFS=, read -r -a model_list <<<"$models"
results=()
for m in "${model_list[@]}"; do
  case $m in det|rec|cls) ;; *) echo "fidelity: unknown model '$m' (det, rec, cls)" >&2; exit 2 ;; esac
  dir=$out_root/$m
  rm -rf "$dir"
  mkdir -p "$dir"
  read -r -a norm_args <<<"${norm[$m]}"
  n_calib=${n_calib_arg:-${calib_count[$m]}}
  n_eval=${n_eval_arg:-${eval_count[$m]}}
  names=()
  files=()
  echo "== $m: images, canonicalize, calibrate ($n_calib images), variants (log: $dir/prepare.log)" >&2
  t0=$SECONDS
  if ! prepare "$m" "$dir" >"$dir/prepare.log" 2>&1; then
    echo "fidelity: preparing $m failed; the end of $dir/prepare.log:" >&2
    tail -n 20 "$dir/prepare.log" >&2
    exit 1
  fi
  echo "   prepared in $((SECONDS - t0)) s; measuring on $n_eval other images" >&2
  variant_args=(--variant=fp32="$dir/fp32.onnx")
  for i in "${!names[@]}"; do variant_args+=(--variant="${names[$i]}=${files[$i]}"); done
  echo
  node bench/ort_bench.js --task="$m" --input-shape="x:${dims[$m]}" --inputs="$dir/eval-images" "${norm_args[@]}" \
    --rounds="${rounds:-${model_rounds[$m]}}" --warmup=3 --qopt-opt="$qopt" --work-dir="$dir" --json="$dir/results.json" \
    --title="$m: fidelity against FP32 on $n_eval evaluation images (calibrated on $n_calib others)" "${variant_args[@]}"
  results+=("$m=$dir/results.json")
done
echo
node bench/lib/fidelity_table.js --json="$out_root/summary.json" "${results[@]}"
