#!/usr/bin/env bash
# bench/pass_scale.sh end to end on tiny graphs (its timings are not judged
# here; benchmarks are not timed tests): every registered pass must run on
# the bench's models, except dynamic-to-static, which needs a dynamically
# quantized model and must say so.
#
# Usage: pass_scale_runs.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir=$1
build_dir=$2
out=$(bash "$source_dir/bench/pass_scale.sh" "$build_dir" --sizes=300,600)
echo "$out"
passes=$("$build_dir/tools/qopt-opt/qopt-opt" --list-passes | sed -n 's/^  \([a-z][a-z0-9-]*\)  .*/\1/p')
status=0
for pass in $passes; do
  for model in qdq float; do
    row=$(grep -E "^$pass +$model " <<<"$out" || true)
    if [[ -z $row ]]; then
      echo "pass_scale_runs: no row for $pass on the $model model" >&2
      status=1
    elif [[ $row == *error:* && $pass != dynamic-to-static ]]; then
      echo "pass_scale_runs: $pass failed on the $model model: $row" >&2
      status=1
    elif [[ $pass == dynamic-to-static && $row != *"needs calibration"* ]]; then
      echo "pass_scale_runs: dynamic-to-static should refuse the $model model for its missing calibration: $row" >&2
      status=1
    fi
  done
done
grep -q '^goal: every pass linear' <<<"$out" || { echo "pass_scale_runs: no goal line" >&2; status=1; }
exit $status
