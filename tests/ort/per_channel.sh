#!/usr/bin/env bash
# per-channel on qopt's per-tensor (u8s8) QDQ files of the PaddleOCR models,
# in ONNX Runtime, with the canonicalized FP32 model as weights-from: the
# file loads and runs, every weight DequantizeLinear is now per channel (no
# layer left, and as many weights converted as quantize{per-channel=true}
# has per-channel weights), and the outputs are at least as close to FP32's
# as the per-tensor file's (mean SQNR over the outputs, seeded random
# inputs, 0.5 dB slack) and within 0.1 dB of quantize{per-channel=true}'s.
# Both use the same calibration, helpers and rounding, so they can differ
# only where a bias has no FP32 source (it is then made from its int32
# values); measured: every float tensor (expose-tensors) bit-identical on
# all three models.
# Usage: per_channel.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"
for name in det rec cls; do
  ort_prepare_fp32 "$name" "${shapes[$name]}"
  tensor=$work/$name.u8s8.onnx reference=$work/$name.per-channel.onnx out=$work/$name.converted.onnx
  ort_quantize "$name" u8s8 "$tensor" || { status=1; continue; }
  ort_quantize "$name" per-channel "$reference" || { status=1; continue; }
  if ! "$qopt" "$tensor" --pass="per-channel{weights-from=$work/$name.fp32.onnx}" --report=json \
    --report-file="$work/$name.report.json" -o "$out"; then
    echo "FAIL: $name: qopt-opt --pass=per-channel{weights-from=...}"
    status=1
    continue
  fi
  # Layers converted and left (from the report), and the weight DQs the
  # reference has per channel (counted on its printed IR).
  counts=$(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).analyses["per-channel"];
    console.log(`${r.converted.length} ${r.left.length} ${new Set(r.converted.map((c) => c.weight)).size}`);
    for (const l of r.left) console.error(`  left: ${l.node}: ${l.why}`);
  ' "$work/$name.report.json")
  read -r converted left weights <<<"$counts"
  expected=$("$qopt" "$reference" --emit=text --report=none | grep -c 'DequantizeLinear <axis = [01]> ([^ ]*_quantized,' || true)
  biases=$("$qopt" "$reference" --emit=text --report=none | grep -c '_quantized, [^ ]*_quantized_scale' || true)
  if [[ $left != 0 || $weights != $((expected - biases)) ]]; then
    echo "FAIL: $name: $converted layers converted ($weights weights), $left left; quantize{per-channel=true} has" \
      "$((expected - biases)) per-channel weights"
    status=1
    continue
  fi
  result=$(node "$src/tests/ort/tensor_sqnr.js" "$work/$name.fp32.onnx" per-tensor="$tensor" \
    per-channel-pass="$out" quantize-per-channel="$reference" --input-shape="${shapes[$name]}" --seeds=1,2 2>&1) ||
    { echo "FAIL: $name: tensor_sqnr.js"; echo "$result" | tail -n 3; status=1; continue; }
  mean=$(tail -n 1 <<<"$result")
  pt=$(sqnr_db per-tensor "$mean") pc=$(sqnr_db per-channel-pass "$mean") ref=$(sqnr_db quantize-per-channel "$mean")
  if [[ -n $pt && -n $pc && -n $ref ]] &&
    awk -v pc="$pc" -v pt="$pt" -v ref="$ref" 'BEGIN { d = pc - ref; if (d < 0) d = -d; exit !(pc >= pt - 0.5 && d <= 0.1) }'; then
    echo "ok: $name: $converted layers per channel; output SQNR against FP32 $pc dB (per-tensor $pt dB," \
      "quantize{per-channel=true} $ref dB)"
  else
    echo "FAIL: $name: output SQNR against FP32: per-channel pass '$pc' dB, per-tensor '$pt' dB," \
      "quantize{per-channel=true} '$ref' dB ($mean)"
    status=1
  fi
done
exit $status
