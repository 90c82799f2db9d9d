#!/usr/bin/env bash
# Range methods end to end: PaddleOCR rec calibrated on 8 rendered text lines
# with `--percentile=99.99 --methods=entropy,mse --choose=auto` records an
# entropy, mse and choice range for every tensor (a choice with a reason for
# every one, the tensors quantize reads included: quantize{range=choice}
# refuses a file without one); quantize{range=R per-channel=true} for each R
# in minmax, percentile, entropy, mse, choice loads and runs in ONNX Runtime
# on 4 other rendered lines with a finite output SQNR against FP32 (printed,
# with the decoded strings equal to FP32's; bench/ort_bench.js measures
# them). Per channel: rec's per-tensor weights cost it so much (about 3 dB
# whatever the ranges) that the activation ranges would not show.
# Usage: calibration_methods.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"
ranges=(minmax percentile entropy mse choice)
fp32=$work/rec.fp32.onnx calib=$work/rec.calib.json
norm=(--mean=0.5 --std=0.5)
"$qopt" "$(ort_model rec)" --pass=canonicalize --report=none -o "$fp32"
node "$src/bench/lib/text_images.js" --task=rec --count=8 --seed=1 --width=320 --height=48 --out="$work/calib" >/dev/null
node "$src/bench/lib/text_images.js" --task=rec --count=4 --seed=2 --width=320 --height=48 --out="$work/eval" >/dev/null
QOPT_OPT=$qopt "$src/tools/qopt-calibrate" "$fp32" --inputs="$work/calib" "${norm[@]}" --size-multiple=8 \
  --percentile=99.99 --methods=entropy,mse --choose=auto -o "$calib"

# Every tensor: entropy, mse and a choice with a reason; count the methods chosen.
if ! summary=$(node -e '
  const doc = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const by = {};
  const bad = [];
  for (const [name, t] of Object.entries(doc.tensors)) {
    const c = t.choice;
    if (!t.entropy || !t.mse || !c || typeof c.reason !== "string" || !(c.min <= c.max)) bad.push(name);
    else by[c.method] = (by[c.method] || 0) + 1;
  }
  if (bad.length) { console.log(`${bad.length} tensors without a full choice: ${bad.slice(0, 5).join(", ")}`); process.exit(1); }
  console.log(`${Object.keys(doc.tensors).length} tensors chose ` +
    Object.entries(by).map(([m, n]) => `${m} ${n}`).join(", "));
' "$calib"); then
  echo "FAIL: rec: $summary"
  exit 1
fi
echo "ok: rec: $summary"

variants=(--variant=fp32="$fp32")
for range in "${ranges[@]}"; do
  if ! "$qopt" "$fp32" --pass="quantize{calibration=$calib range=$range per-channel=true}" --report=none -o "$work/rec.$range.onnx"; then
    echo "FAIL: rec: quantize{range=$range per-channel=true}"
    status=1
    continue
  fi
  variants+=(--variant="$range=$work/rec.$range.onnx")
done
if ! node "$src/bench/ort_bench.js" --task=rec --input-shape=x:1x3x48x320 --inputs="$work/eval" "${norm[@]}" \
  --rounds=1 --warmup=0 --opt-level=disabled --qopt-opt="$qopt" "${variants[@]}" --json="$work/bench.json" \
  >"$work/bench.txt" 2>&1; then
  echo "FAIL: rec: bench/ort_bench.js"
  tail -n 5 "$work/bench.txt"
  exit 1
fi
if ! node -e '
  const doc = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  let ok = true;
  for (const v of doc.variants.slice(1)) {
    const f = v.fidelity;
    const db = f.sqnr_db[0];
    const finite = typeof db === "number" && Number.isFinite(db);
    if (!finite) ok = false;
    console.log(`${finite ? "ok" : "FAIL"}: rec range=${v.name}: output SQNR against FP32 ${finite ? db.toFixed(2) : db} dB,` +
      ` ${f.agreement}/${f.samples} strings equal to FP32`);
  }
  process.exit(ok ? 0 : 1);
' "$work/bench.json"; then
  status=1
fi
exit $status
