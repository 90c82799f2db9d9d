#!/usr/bin/env bash
# tools/ort/measure_target.js --quick writes a target profile that qopt-opt
# takes: the file has a measurement for conv-pointwise with uint8
# activations (costs as numbers >= 0), `qopt-opt --print-target=FILE` reads
# it, and `fuse-qdq{target=FILE}` on the tool's own uint8 QDQ pointwise Conv
# runs and makes it a QLinearConv (ORT fuses uint8 units everywhere it runs).
# The figures of a --quick run are not a measurement; only the file's shape
# and its acceptance are checked.
#
# Usage: measure_target.sh [QOPT_OPT [SOURCE_DIR]] [--out=FILE.json]
# Exit: 0 pass, 1 a check failed, 2 the tool or qopt-opt could not run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"

out=$work/measured-quick.json
for arg in "${ort_args[@]}"; do
  case $arg in
    --out=*) out=${arg#*=} ;;
    *) echo "measure_target: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

if ! node "$src/tools/ort/measure_target.js" --quick --qopt-opt="$qopt" --out="$out" \
     --keep-dir="$work/models" >"$work/tool.out" 2>"$work/tool.err"; then
  echo "ERROR: measure_target.js --quick failed: $(tail -n 1 "$work/tool.out")" >&2
  exit 2
fi
cat "$work/tool.err"

# The file: schema, and a conv-pointwise uint8 measurement with numeric costs.
if ! node -e '
  const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const bad = (why) => { console.error(`FAIL: ${process.argv[1]}: ${why}`); process.exit(1); };
  if (p.schema !== "qopt-target/1") bad(`schema is ${JSON.stringify(p.schema)}`);
  const m = (p.measurements || []).find((x) => x.unit_class === "conv-pointwise" && x.activation === "uint8");
  if (!m) bad("no measurement for conv-pointwise uint8");
  for (const k of ["integer", "float"]) {
    for (const f of ["per_call_ns", "per_mac_ns", "per_element_ns"]) {
      if (!(typeof (m[k] || {})[f] === "number" && m[k][f] >= 0)) bad(`conv-pointwise uint8 ${k}.${f} is not a number >= 0`);
    }
  }
  if (!(m.integer.per_call_ns + m.integer.per_mac_ns > 0)) bad("conv-pointwise uint8 has no integer cost");
  if (typeof m.fused_by_runtime !== "boolean" || !m.note) bad("conv-pointwise uint8 lacks fused_by_runtime or note");
  console.log(`ok: ${p.measurements.length} measurements; fused activation types: ${(p.fused_activation_types || []).join(", ")}`);
' "$out"; then
  exit 1
fi

# qopt-opt reads it as a target.
if ! "$qopt" --print-target="$out" >"$work/print.out" 2>&1; then
  echo "FAIL: qopt-opt --print-target=$out: $(head -n 1 "$work/print.out")"
  exit 1
fi
echo "ok: qopt-opt --print-target=$out"

# A pipeline with target=FILE runs and fuses a uint8 unit.
shopt -s nullglob
models=("$work"/models/conv-pointwise.*.qdq-uint8.onnx)
if ((${#models[@]} == 0)); then
  echo "FAIL: measure_target.js --keep-dir left no conv-pointwise.*.qdq-uint8.onnx"
  exit 1
fi
model=${models[0]}
if ! "$qopt" "$model" --pass="fuse-qdq{target=$out},op-count" --report=json -o "$work/fused.onnx" \
     >"$work/fused.json" 2>"$work/fused.err"; then
  echo "FAIL: qopt-opt --pass='fuse-qdq{target=$out}': $(head -n 1 "$work/fused.err")"
  exit 1
fi
if ! node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const byOp = r.analyses["op-count"].by_op;
  if (!byOp.QLinearConv || byOp.Conv) {
    console.error(`FAIL: fuse-qdq{target=FILE} left ${JSON.stringify(byOp)}, want a QLinearConv and no Conv`);
    process.exit(1);
  }
' "$work/fused.json"; then
  exit 1
fi
echo "ok: fuse-qdq{target=$out} makes the uint8 pointwise unit a QLinearConv"
echo "measure_target: PASS"
