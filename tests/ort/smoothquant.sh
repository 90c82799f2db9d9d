#!/usr/bin/env bash
# smoothquant on the canonicalized FP32 PaddleOCR models, in ONNX Runtime: with
# alpha 0.5 and alpha=auto the smoothed model's outputs match the FP32 model's
# within |a - b| <= 1e-5 + 1e-4 |b| (smoothquant is exact up to float
# rounding); the activations smoothed and refused are printed per model. Fails
# when rec has no activation smoothed with alpha 0.5 (the comparison would then
# compare a model with itself). Then smoothquant,quantize{per-channel=true} on
# rec must run in ONNX Runtime; its output SQNR against FP32 is printed next to
# plain quantize's and only checked to be finite (accuracy is measured in
# bench, not asserted here).
# Usage: smoothquant.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"
compare=$src/tools/ort/compare.js
tolerance=(--atol=1e-5 --rtol=1e-4)
rec_smoothed=0
for name in det rec cls; do
  ort_prepare_fp32 "$name" "${shapes[$name]}"
  calib=$work/$name.calib.json
  for alpha in 0.5 auto; do
    out=$work/$name.sq-$alpha.onnx
    if ! "$qopt" "$work/$name.fp32.onnx" --pass="smoothquant{calibration=$calib alpha=$alpha},dce" --report=json \
      --report-file="$work/$name.sq-$alpha.json" -o "$out" >/dev/null; then
      echo "FAIL: $name: qopt-opt --pass=smoothquant{alpha=$alpha}"
      status=1
      continue
    fi
    summary=$(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).analyses.smoothquant;
      const reasons = {};
      for (const p of r.refused) {
        const why = p.reason.replace(/\x27[^\x27]*\x27/g, "T").replace(/\(group \d+\).*/, "").replace(/\S+ \(\w+\)/g, "N");
        reasons[why] = (reasons[why] || 0) + 1;
      }
      const folds = {};
      for (const s of r.smoothed) {
        const f = s.fold.replace(/ \x27[^\x27]*\x27/g, "").replace(/\S+ \((\w+)\)/g, "$1");
        folds[f] = (folds[f] || 0) + 1;
      }
      const alphas = r.smoothed.map((s) => s.alpha).join(",");
      const t = (o) => Object.entries(o).map(([k, n]) => `${n} x ${k}`).join("; ") || "-";
      console.log(`${r.smoothed.length}\t${r.refused.length}\t${t(folds)}\t${t(reasons)}\t${alphas || "-"}`);
    ' "$work/$name.sq-$alpha.json")
    IFS=$'\t' read -r smoothed refused folds reasons alphas <<<"$summary"
    if [[ $name == rec && $alpha == 0.5 ]]; then rec_smoothed=$smoothed; fi
    if ! result=$(node "$compare" "$work/$name.fp32.onnx" "$out" --input-shape="${shapes[$name]}" "${tolerance[@]}" 2>&1); then
      echo "FAIL: $name: smoothquant{alpha=$alpha} changed the outputs beyond ${tolerance[*]}"
      echo "$result" | tail -n 5
      status=1
      continue
    fi
    echo "ok: $name alpha=$alpha: $smoothed activations smoothed ($folds), $refused refused; outputs within" \
      "${tolerance[*]}; refused: $reasons"
    if [[ $alpha == auto ]]; then echo "    alphas chosen: $alphas"; fi
  done
done
if [[ $rec_smoothed -eq 0 ]]; then
  echo "FAIL: no activation of rec was smoothed with alpha 0.5: the comparisons compared a model with itself"
  status=1
fi

# smoothquant then quantize (the derived ranges reach quantize) on rec.
calib=$work/rec.calib.json
plain=$work/rec.q.onnx
smooth=$work/rec.sq-q.onnx
if "$qopt" "$work/rec.fp32.onnx" --pass="quantize{calibration=$calib per-channel=true}" --report=none -o "$plain" &&
  "$qopt" "$work/rec.fp32.onnx" --pass="smoothquant{calibration=$calib},quantize{calibration=$calib per-channel=true}" \
    --report=none -o "$smooth"; then
  if result=$(node "$src/tests/ort/tensor_sqnr.js" "$work/rec.fp32.onnx" quantize="$plain" smoothquant="$smooth" \
    --input-shape="${shapes[rec]}" --seeds=1,2 2>&1); then
    mean=$(tail -n 1 <<<"$result")
    q=$(sqnr_db quantize "$mean")
    s=$(sqnr_db smoothquant "$mean")
    if [[ -z $s || -z $q ]]; then
      echo "FAIL: rec: no finite SQNR for smoothquant,quantize ($mean)"
      status=1
    else
      echo "ok: rec quantize{per-channel=true} output SQNR vs FP32: $q dB; after smoothquant{alpha=0.5}: $s dB (random inputs; not asserted)"
    fi
  else
    echo "FAIL: rec: tensor_sqnr.js on smoothquant,quantize"
    echo "$result" | tail -n 3
    status=1
  fi
else
  echo "FAIL: rec: qopt-opt smoothquant,quantize{per-channel=true}"
  status=1
fi
exit $status
