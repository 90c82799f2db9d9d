#!/usr/bin/env bash
# Every registered pass on growing graphs (issue 15: "every pass linear in
# nodes"): node_scale.sh times fuse-qdq's passes; this times all of them,
# each alone, so that a pass with a quadratic step shows up before a user's
# 10^5-node model finds it. Two synthetic models per size, both written by
# bench/node_scale_gen.cc:
#   qdq    the s8s8 QDQ model node_scale.sh uses (what the QDQ passes rewrite)
#   float  the float model it comes from, with a calibration table (what
#          quantize, smoothquant and int8 start from)
# Each pass runs once per model and size:
#   qopt-opt MODEL --pass=PASS --timing --noverify-each -o OUT
# and its time is the sum of the --timing rows that are passes (a named
# pipeline's steps included; import, export and verification left out).
# Printed per pass and model: seconds and microseconds per node at each
# size, and the per-node ratio from the first size at which the pass takes
# at least 20 ms to the largest size. A linear pass stays near 1x (memory
# effects on larger heaps add up to about 2x here, see docs/benchmarks.md);
# a pass that scans the graph once per node grows with the size ratio (10x
# from 10^4 to 10^5). The goal line names every pass over 3x.
# A pass that refuses a model (dynamic-to-static needs a dynamic one) is
# listed with its error and not judged.
#
# Models live in BUILD_DIR/bench/passes (not committed) and are reused.
#
# Usage: bench/pass_scale.sh [BUILD_DIR] [--sizes=10000,100000] [--passes=a,b]
set -euo pipefail
build=build
sizes=10000,100000
only=""
for arg in "$@"; do
  case $arg in
    --sizes=*) sizes=${arg#--sizes=} ;;
    --passes=*) only=${arg#--passes=} ;;
    --*) echo "pass_scale: unknown option $arg" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
qopt=${QOPT_OPT:-$build/tools/qopt-opt/qopt-opt}
gen=$build/bench/qopt_node_scale_gen
for tool in "$qopt" "$gen"; do
  [[ -x $tool ]] || { echo "pass_scale: $tool is missing (run scripts/build.sh)" >&2; exit 2; }
done
work=$build/bench/passes
mkdir -p "$work"
IFS=, read -r -a size_list <<<"$sizes"
if [[ -n $only ]]; then
  IFS=, read -r -a passes <<<"$only"
else
  mapfile -t passes < <("$qopt" --list-passes | sed -n 's/^  \([a-z][a-z0-9-]*\)  .*/\1/p')
fi
[[ ${#passes[@]} -gt 0 ]] || { echo "pass_scale: no passes listed by $qopt --list-passes" >&2; exit 2; }

# The options a pass cannot run without.
pass_text() {
  local pass=$1 calibration=$2
  case $pass in
    quantize | smoothquant | int8) echo "$pass{calibration=$calibration}" ;;
    *) echo "$pass" ;;
  esac
}

rows=$work/rows.tsv
: >"$rows"
for n in "${size_list[@]}"; do
  qdq=$work/qdq$n.onnx
  flt=$work/float$n.onnx
  [[ -f $qdq ]] || "$gen" "$qdq" "$n" 2>/dev/null
  [[ -f $flt ]] || "$gen" "$flt" "$n" "--float=$work/float$n.calib.json" 2>/dev/null
  for model in qdq float; do
    file=$work/$model$n.onnx
    nodes=$("$qopt" "$file" --pass=op-count --report=json 2>/dev/null | sed -n 's/.*"total_nodes": *\([0-9]*\).*/\1/p')
    [[ -n $nodes ]] || { echo "pass_scale: cannot count the nodes of $file" >&2; exit 1; }
    for pass in "${passes[@]}"; do
      text=$(pass_text "$pass" "$work/float$n.calib.json")
      if ! "$qopt" "$file" "--pass=$text" --timing --noverify-each --report=none -o "$work/out.onnx" \
          2>"$work/timing.txt"; then
        printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$nodes" "$pass" "$model" "error: $(grep -m 1 'error' "$work/timing.txt")" >>"$rows"
        continue
      fi
      awk -v n="$n" -v nodes="$nodes" -v pass="$pass" -v model="$model" '
        /^ +[0-9.]+ \( *[0-9.]+%\)  / {
          t = $1; sub(/^ +[0-9.]+ \( *[0-9.]+%\)  /, "")
          if ($0 != "Total" && $0 !~ /^\(/) sum += t
        }
        END { printf "%s\t%s\t%s\t%s\t%.4f\n", n, nodes, pass, model, sum }' "$work/timing.txt" >>"$rows"
    done
  done
done
rm -f "$work/out.onnx"

awk -F'\t' -v last="${size_list[${#size_list[@]}-1]}" '
  { key = $3 "\t" $4; t[$1 SUBSEP key] = $5; nodes[$1 SUBSEP $4] = $2
    if (!(key in known)) { known[key] = 1; order[++rows] = key }
    if (!($1 in size_seen)) { size_seen[$1] = 1; sizes[++nsizes] = $1 } }
  function per_node(s, k, m) { return 1e6 * t[s SUBSEP k] / nodes[s SUBSEP m] }
  END {
    printf "%-24s %-6s", "pass", "model"
    for (i = 1; i <= nsizes; ++i) printf " %14s", sizes[i] " s (us/n)"
    printf " %10s\n", "ratio"
    bad = ""; judged = 0
    for (r = 1; r <= rows; ++r) {
      split(order[r], kp, "\t"); k = order[r]; m = kp[2]
      printf "%-24s %-6s", kp[1], m
      err = ""; base = ""
      for (i = 1; i <= nsizes; ++i) {
        v = t[sizes[i] SUBSEP k]
        if (v ~ /^error/) { err = v; printf " %14s", "-"; continue }
        printf " %7.3f (%5.2f)", v, per_node(sizes[i], k, m)
        if (base == "" && i < nsizes && v >= 0.02) base = sizes[i]
      }
      if (err != "") { printf "  %s\n", substr(err, 1, 90); continue }
      if (base == "") { printf " %10s\n", "(< 20 ms)"; continue }
      ++judged; ratio = per_node(last, k, m) / per_node(base, k, m)
      printf " %9.2fx\n", ratio
      if (ratio > 3) bad = bad " " kp[1] "/" m sprintf("(%.2fx)", ratio)
    }
    printf "goal: every pass linear (per-node time at most 3x from the first size where it takes >= 20 ms to %s nodes); %d judged: %s%s\n",
           last, judged, (bad == "" ? "met" : "MISSED"), (bad == "" ? "" : "; over 3x:" bad)
  }' "$rows"
