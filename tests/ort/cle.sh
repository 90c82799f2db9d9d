#!/usr/bin/env bash
# cle on the canonicalized FP32 PaddleOCR models, in ONNX Runtime: the
# equalized model's outputs match the un-equalized model's within
# |a - b| <= 1e-5 + 1e-4 |b| (cle is exact up to float rounding), and the
# number of pairs equalized and refused (with the refusal reasons) is printed
# per model. Fails when no model has a pair equalized (the comparison would
# then compare a model with itself), and checks that the comparison notices a
# difference: the same two models on differently seeded inputs must fail it.
# Usage: cle.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"
compare=$src/tools/ort/compare.js
tolerance=(--atol=1e-5 --rtol=1e-4)
total_equalized=0
for name in det rec cls; do
  ort_prepare_fp32 "$name" "${shapes[$name]}"
  out=$work/$name.cle.onnx
  if ! "$qopt" "$work/$name.fp32.onnx" --pass=cle,dce --report=json --report-file="$work/$name.cle.json" \
    -o "$out" >/dev/null; then
    echo "FAIL: $name: qopt-opt --pass=cle,dce"
    status=1
    continue
  fi
  summary=$(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).analyses.cle;
    const reasons = {};
    for (const p of r.refused) {
      const why = p.reason.replace(/\x27[^\x27]*\x27/g, "T").replace(/Clip\([^)]*\)/, "Clip(..)");
      reasons[why] = (reasons[why] || 0) + 1;
    }
    const text = Object.entries(reasons).map(([why, n]) => `${n} x ${why}`).join("; ");
    console.log(`${r.equalized.length} ${r.refused.length} ${r.rounds} ${r.converged} ${text || "-"}`);
  ' "$work/$name.cle.json")
  read -r equalized refused rounds converged reasons <<<"$summary"
  total_equalized=$((total_equalized + equalized))
  if ! result=$(node "$compare" "$work/$name.fp32.onnx" "$out" --input-shape="${shapes[$name]}" "${tolerance[@]}" 2>&1); then
    echo "FAIL: $name: cle changed the outputs beyond ${tolerance[*]}"
    echo "$result" | tail -n 5
    status=1
    continue
  fi
  echo "ok: $name: $equalized pairs equalized, $refused refused ($rounds rounds, converged: $converged);" \
    "outputs within ${tolerance[*]}; refused: $reasons"
done
if [[ $total_equalized -eq 0 ]]; then
  echo "FAIL: no pair was equalized on any model: the comparisons compared a model with itself"
  status=1
fi
# The comparison can fail: other inputs for the second model must be noticed.
if node "$compare" "$work/rec.fp32.onnx" "$work/rec.cle.onnx" --input-shape="${shapes[rec]}" "${tolerance[@]}" \
  --seed-b=7 >/dev/null 2>&1; then
  echo "FAIL: compare.js passed rec against itself on other inputs: the check above proves nothing"
  status=1
fi
exit $status
