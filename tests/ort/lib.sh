# Shared by the ONNX Runtime test scripts in this folder (roundtrip.sh,
# quantized_variants.sh, pipeline_parity.sh); source it, do not run it.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   ort_test_init "$@"
#
# ort_test_init takes the scripts' common command line, `[QOPT_OPT
# [SOURCE_DIR]] [--options...]`: the first two words that do not start with
# '--' are qopt-opt and the source tree (defaults: $QOPT_OPT, else
# SOURCE_DIR/build/tools/qopt-opt/qopt-opt; the tree this file is in). It sets
#   qopt src     the two paths (absolute)
#   work         a fresh temporary folder, removed on exit
#   status       0; scripts set it to 1 on a failure and `exit $status`
#   ort_args     the remaining (--option) words, for the script to parse
# and exits 2 when qopt-opt is not there.

# Input shapes known to work for the PaddleOCR models (H, W of det multiples
# of 32; rec's H fixed to 48), and smaller ones for quick structure checks.
declare -A shapes=([det]=x:1x3x96x96 [rec]=x:1x3x48x160 [cls]=x:1x3x48x192)
declare -A small_shapes=([det]=x:1x3x64x64 [rec]=x:1x3x48x64 [cls]=x:1x3x48x192)

# The quantized variants qopt makes (CALIB stands for the calib.json path).
quantized_variants=(u8s8 per-channel s8s8 dynamic)
declare -A quantize_pipeline=(
  [u8s8]="quantize{calibration=CALIB}"
  [per-channel]="quantize{calibration=CALIB per-channel=true}"
  [s8s8]="quantize{calibration=CALIB activation=s8}"
  [dynamic]="quantize{mode=dynamic}"
)

ort_test_init() {
  local here arg positional=()
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  ort_args=()
  for arg in "$@"; do
    if [[ $arg == --* || ${#positional[@]} -ge 2 ]]; then ort_args+=("$arg"); else positional+=("$arg"); fi
  done
  src=${positional[1]:-$(cd "$here/../.." && pwd)}
  qopt=${positional[0]:-${QOPT_OPT:-$src/build/tools/qopt-opt/qopt-opt}}
  if [[ ! -x $qopt ]]; then
    echo "$(basename "$0"): no qopt-opt at '$qopt' (give it as the first argument or set QOPT_OPT)" >&2
    exit 2
  fi
  qopt=$(realpath "$qopt")
  src=$(realpath "$src")
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  status=0
}

# The PaddleOCR model file of det, rec or cls.
ort_model() {
  echo "$src/testdata/models/paddleocr-$1.onnx"
}

# Canonicalizes model $1 into $work/$1.fp32.onnx and calibrates it on a few
# seeded random samples of shape $2 into $work/$1.calib.json (this checks
# structure, not accuracy: bench/quantized_variants.sh measures fidelity).
# Does nothing when both exist.
ort_prepare_fp32() {
  local name=$1 shape=$2
  [[ -f $work/$name.fp32.onnx && -f $work/$name.calib.json ]] && return 0
  "$qopt" "$(ort_model "$name")" --pass=canonicalize --report=none -o "$work/$name.fp32.onnx" || return
  QOPT_OPT=$qopt "$src/tools/qopt-calibrate" "$work/$name.fp32.onnx" --random=2 --input-shape="$shape" \
    -o "$work/$name.calib.json" >/dev/null
}

# Writes variant $2 of model $1 (after ort_prepare_fp32) to file $3; on
# failure prints a FAIL line naming the pipeline and returns 1.
ort_quantize() {
  local name=$1 variant=$2 out=$3 pipeline
  if [[ -z ${quantize_pipeline[$variant]+set} ]]; then
    echo "FAIL: $name: unknown variant '$variant' (${quantized_variants[*]})"
    return 1
  fi
  pipeline=${quantize_pipeline[$variant]/CALIB/$work/$name.calib.json}
  if ! "$qopt" "$work/$name.fp32.onnx" --pass="$pipeline" --report=none -o "$out"; then
    echo "FAIL: $name $variant: qopt-opt --pass=$pipeline"
    return 1
  fi
}

# The mean SQNR (dB) of model NAME in tensor_sqnr.js's last line, `mean
# A=dB B=dB ...` (given as $2); empty when NAME is not on it.
sqnr_db() {
  sed -n "s/.* $1=\(-\{0,1\}[0-9.]*\).*/\1/p" <<<"$2"
}

# The output SQNR (dB) against FP32 of FP32 quantized by PIPELINE, and of
# the same with OPTION added to PIPELINE's last pass (qopt-sensitivity's
# printed `exclude-nodes=...`), measured apart from the tool: the PNG images
# of DIR as .npy ((pixel/255 - 0.5) / 0.5, HxW, as rec and cls read them)
# through tests/ort/tensor_sqnr.js. Sets `base` and `keep` (empty when a
# model is missing from the result) and `mean` (tensor_sqnr's last line);
# returns 1, printing its output, when tensor_sqnr.js fails.
# Usage: sqnr_with_option FP32 PIPELINE OPTION DIR H W
sqnr_with_option() {
  local fp32=$1 pipeline=$2 option=$3 dir=$4 h=$5 w=$6 result
  "$qopt" "$fp32" --pass="$pipeline" --report=none -o "$work/base.onnx"
  "$qopt" "$fp32" --pass="${pipeline%\}} $option}" --report=none -o "$work/keep.onnx"
  mkdir -p "$work/npy"
  node -e '
    const path = require("path");
    const [src, dir, out, h, w] = process.argv.slice(1);
    const cal = require(path.join(src, "tools/ort/calibration.js"));
    const lib = require(path.join(src, "tools/ort/lib.js"));
    const files = require("fs").readdirSync(dir).filter((f) => f.endsWith(".png")).sort();
    for (const f of files) {
      const t = cal.imageToTensor(path.join(dir, f), { mean: [0.5], std: [0.5], height: Number(h), width: Number(w), channels: 3 });
      lib.writeNpy(path.join(out, f.replace(/\.png$/, ".npy")), t);
    }
  ' "$src" "$dir" "$work/npy" "$h" "$w"
  if ! result=$(node "$src/tests/ort/tensor_sqnr.js" "$fp32" base="$work/base.onnx" keep="$work/keep.onnx" \
    --npy-dir="$work/npy"); then
    echo "$result"
    return 1
  fi
  mean=$(tail -n 1 <<<"$result")
  base=$(sqnr_db base "$mean")
  keep=$(sqnr_db keep "$mean")
}

# Counts of op types in FILE from qopt-opt's op-count (one run), in the
# order asked, space-separated: an op type as op-count names it
# ("ConvInteger", "com.microsoft::QLinearAdd"), or "total" for every node.
ort_op_count() {
  local file=$1
  shift
  "$qopt" "$file" --pass=op-count --report=json | node -e '
    const c = JSON.parse(require("fs").readFileSync(0, "utf8")).analyses["op-count"];
    console.log(process.argv.slice(1).map((op) => (op === "total" ? c.total_nodes : c.by_op[op] || 0)).join(" "));
  ' "$@"
}

# The op types of dynamic quantization (quantize_dynamic's and ONNX
# Runtime's fused forms) left in FILE, comma-separated; "-" when none.
dynamic_quantize_ops=(DynamicQuantizeLinear ConvInteger MatMulInteger com.microsoft::DynamicQuantizeMatMul
  com.microsoft::MatMulIntegerToFloat)
ort_dynamic_ops_left() {
  local counts i left=()
  read -r -a counts <<<"$(ort_op_count "$1" "${dynamic_quantize_ops[@]}")"
  for i in "${!dynamic_quantize_ops[@]}"; do
    if ((counts[i] > 0)); then left+=("${dynamic_quantize_ops[i]}"); fi
  done
  local IFS=,
  echo "${left[*]:--}"
}
