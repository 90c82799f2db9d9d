#!/usr/bin/env bash
# Reading and writing a large model (issue 15): a ~1 GiB transformer-like FP32
# file written by qopt itself (bench/io_scale_gen.cc: 64 MatMul weights of
# 16 MiB and 320 small nodes), then, side by side in one run, wall time and
# peak RSS (GNU time) of
#   cp                                the floor: bytes in, bytes out
#   cp + sync FILE                    the same made durable
#   qopt-opt --pass=dce               the round trip users run (verification on)
#   qopt-opt --pass=dce --fsync       the same made durable: the output flushed
#                                     to disk before it is renamed into place
#   qopt-opt --pass=dce --noverify-each   without the verifier's shape check
#   qopt-opt --pass=canonicalize-constants{direction=to-nodes}
#                                     a rewrite that moves every weight to
#                                     another offset of the output (into a
#                                     Constant node), none of them changed
#   protobuf parse+serialize          bench/io_scale_protobuf.cc, no IR
#   python onnx load+save             when `import onnx` works
# with the ratios to cp and to protobuf and the goals of issue 15 beside them.
# The model and the outputs live in BUILD_DIR/bench/io (not committed).
#
# --external: a model past protobuf's 2 GiB limit (192 weights by default,
# 3 GiB) with its tensors in an external-data file beside it, as the
# generator's qopt SaveModel writes it. Every tool copies both files; qopt's
# output, written under the input's file name in another folder, must be
# byte-identical to the input in both. The protobuf program is skipped there
# (it would parse only the small model file).
#
# Each timed run starts after a `sync`, so no tool pays for the writeback of
# the one before. QOPT_OPT=path measures another qopt-opt binary (an older
# build, for before/after numbers).
#
# Usage: bench/io_scale.sh [BUILD_DIR] [--runs=N] [--layers=N] [--dim=N] [--external] [--regenerate]
set -euo pipefail
build=build
runs=3
layers=
dim=2048
external=0
regenerate=0
for arg in "$@"; do
  case $arg in
    --runs=*) runs=${arg#--runs=} ;;
    --layers=*) layers=${arg#--layers=} ;;
    --dim=*) dim=${arg#--dim=} ;;
    --regenerate) regenerate=1 ;;
    --external) external=1 ;;
    --*) echo "io_scale: unknown option $arg" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
[[ -n $layers ]] || layers=$((external ? 192 : 64))
qopt=${QOPT_OPT:-$build/tools/qopt-opt/qopt-opt}
gen=$build/bench/qopt_io_scale_gen
pb=$build/bench/qopt_io_scale_protobuf
for tool in "$qopt" "$gen" "$pb" /usr/bin/time; do
  [[ -x $tool ]] || { echo "io_scale: $tool is missing (run scripts/build.sh; GNU time is the 'time' package)" >&2; exit 2; }
done
work=$build/bench/io
mkdir -p "$work"
model=$work/big_${layers}x${dim}.onnx
data=$model.data  # written by the generator when the model passes 2 GiB
if [[ $regenerate == 1 || ! -f $model ]]; then
  rm -f "$model" "$data"
  "$gen" "$model" "$layers" "$dim"
fi
inputs=("$model")
[[ -f $data ]] && inputs+=("$data")
if [[ $external == 1 && ${#inputs[@]} == 1 ]]; then
  echo "io_scale: --external needs a model over 2 GiB (more --layers); $model has no external data" >&2
  exit 2
fi
size_mib=$(awk -v b="$(cat "${inputs[@]}" | wc -c)" 'BEGIN { printf "%.1f", b / 1048576 }')
# Outputs keep the input's file names (external-data locations included), in
# their own folder.
out_dir=$work/out
out=$out_dir/$(basename "$model")

# measure NAME CMD...: runs CMD `runs` times (the output file removed before
# each), records the median wall time and the median peak RSS.
declare -A wall rss
names=()
measure() {
  local name=$1
  shift
  local times=() peaks=() i
  for ((i = 0; i < runs; i++)); do
    rm -rf "$out_dir"
    mkdir -p "$out_dir"
    sync
    if ! /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >"$work/run.log" 2>&1; then
      echo "io_scale: '$name' failed:" >&2
      tail -n 5 "$work/run.log" >&2
      exit 1
    fi
    read -r t m <"$work/time.txt"
    times+=("$t")
    peaks+=("$m")
  done
  wall[$name]=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  rss[$name]=$(printf '%s\n' "${peaks[@]}" | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1024 }')
  names+=("$name")
}

cat "${inputs[@]}" >/dev/null  # warm the page cache, so the first tool pays no cold read
measure cp cp "${inputs[@]}" "$out_dir"
measure "cp + sync FILE" sh -c 'cp "$@" "$0" && sync "$0"/*' "$out_dir" "${inputs[@]}"
measure "qopt-opt --pass=dce" "$qopt" "$model" --pass=dce --report=none -o "$out"
same=yes
for f in "${inputs[@]}"; do
  cmp -s "$f" "$out_dir/$(basename "$f")" || same=no
done
measure "qopt-opt --pass=dce --fsync" "$qopt" "$model" --pass=dce --fsync --report=none -o "$out"
for f in "${inputs[@]}"; do
  cmp -s "$f" "$out_dir/$(basename "$f")" || same=no
done
measure "qopt-opt --pass=dce --noverify-each" "$qopt" "$model" --pass=dce --noverify-each --report=none -o "$out"
measure "qopt-opt, weights moved (to-nodes)" "$qopt" "$model" \
  --pass='canonicalize-constants{direction=to-nodes}' --report=none -o "$out"
[[ $external == 0 ]] && measure "protobuf parse+serialize" "$pb" "$model" "$out"
# The first Python that imports onnx: the one on PATH (a pyenv or venv may
# shadow Debian's), else Debian's own (package python3-onnx).
python=
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import onnx' 2>/dev/null; then
    python=$candidate
    break
  fi
done
python_note=
if [[ -n $python ]]; then
  # With external data: loaded into memory by onnx.load, written back out
  # into one data file as qopt does.
  measure "python onnx load+save" "$python" -c '
import os, sys, onnx
model = onnx.load(sys.argv[1])
external = sys.argv[3] == "1"
onnx.save(model, sys.argv[2], save_as_external_data=external, all_tensors_to_one_file=True,
          location=os.path.basename(sys.argv[2]) + ".data")' "$model" "$out" "$external"
else
  python_note="python onnx load+save: not installed (no python3 imports onnx; Debian: apt-get install python3-onnx)"
fi
rm -rf "$out_dir" "$work/time.txt" "$work/run.log"

nodes=$((layers * 6))
what="$layers weights of ${dim}x${dim} float, $nodes nodes"
[[ ${#inputs[@]} == 2 ]] && what="$what, tensors in external data $(basename "$data")"
echo "io_scale: $qopt on $model, $size_mib MiB ($what); median of $runs runs"
py_wall=${wall[python onnx load+save]:-0}
printf '%-38s %8s %14s %8s %12s %10s\n' tool "wall s" "peak RSS MiB" "/ cp" "/ protobuf" "/ python"
for name in "${names[@]}"; do
  awk -v n="$name" -v t="${wall[$name]}" -v m="${rss[$name]}" -v cp="${wall[cp]}" \
      -v pb="${wall[protobuf parse+serialize]:-0}" -v py="$py_wall" \
      'function ratio(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "-" }
       BEGIN { printf "%-38s %8.2f %14.1f %8s %12s %10s\n", n, t, m, ratio(t, cp), ratio(t, pb), ratio(t, py) }'
done
[[ -n $python_note ]] && echo "$python_note"
echo "qopt-opt --pass=dce output, with and without --fsync, byte-identical to its input (${#inputs[@]} files): $same"
awk -v t="${wall[qopt-opt --pass=dce]}" -v m="${rss[qopt-opt --pass=dce]}" -v cp="${wall[cp]}" \
  -v cps="${wall[cp + sync FILE]}" -v ts="${wall[qopt-opt --pass=dce --fsync]}" -v py="$py_wall" \
  'BEGIN { if (py > 0)
             printf "goal: qopt-opt --pass=dce <= 1/3 of python onnx load+save: %s (%.2fx)\n",
                    (t / py <= 1 / 3 ? "met" : "MISSED"), t / py
           else
             print "goal: qopt-opt --pass=dce <= 1/3 of python onnx load+save: not judged (python onnx not installed)"
           if (cp > 0)
             printf "goal: qopt-opt --pass=dce <= 1.5x cp: %s (%.2fx; with --fsync %.2fx cp + sync FILE)\n",
                    (t / cp <= 1.5 ? "met" : "MISSED"), t / cp, (cps > 0 ? ts / cps : 0)
           else
             print "goal: qopt-opt --pass=dce <= 1.5x cp: not judged (cp took under 0.01 s: use a larger model)"
           printf "goal: qopt-opt --pass=dce peak RSS <= 512 MiB: %s (%.1f MiB)\n", (m <= 512 ? "met" : "MISSED"), m }'
