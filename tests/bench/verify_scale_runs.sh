#!/usr/bin/env bash
# bench/verify_scale.cc end to end on two tiny generated models (its timings
# are not judged here): a row per check and size, the first size at 1.00x.
#
# Usage: verify_scale_runs.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in 500 1000; do
  "$build/bench/qopt_node_scale_gen" "$work/n$n.onnx" "$n" >/dev/null
done
out=$("$build/bench/qopt_verify_scale" --rounds=2 "$work/n500.onnx" "$work/n1000.onnx")
echo "$out"
rows=$(grep -cE '^[0-9]+ +[0-9]+ +structure' <<<"$out" || true)
if ((rows != 4)); then
  echo "verify_scale_runs: expected 4 rows (2 checks x 2 sizes), got $rows" >&2
  exit 1
fi
# --shapes adds the shape check and the inference under it both ways: three
# more rows per size.
out=$("$build/bench/qopt_verify_scale" --shapes --rounds=2 "$work/n500.onnx" "$work/n1000.onnx")
echo "$out"
rows=$(grep -cE '^[0-9]+ +[0-9]+ +(structure \+ shapes|types on the IR|types through an export) +[0-9.]+' <<<"$out" || true)
if ((rows != 6)); then
  echo "verify_scale_runs: expected 3 shape rows per size with --shapes, got $rows" >&2
  exit 1
fi
grep -qE '^[0-9]+ +[0-9]+ +structure \+ element types +[0-9.]+ +[0-9.]+ +[0-9.]+ +1\.00x$' <<<"$out" ||
  { echo "verify_scale_runs: the first size is not the 1.00x reference" >&2; exit 1; }
