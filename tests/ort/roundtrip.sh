#!/usr/bin/env bash
# Rewrites of the real PaddleOCR models, proven in ONNX Runtime with graph
# optimizations disabled and enabled, and accepted by the ONNX checker:
# - exact passes: outputs bit for bit equal to the original's;
# - canonicalize (folds BatchNormalization, so float rounding changes):
#   |a - b| <= 1e-6 + 1e-5 |b| per element (docs/passes.md).
# Usage: roundtrip.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"
for name in det rec cls; do
  model=$(ort_model "$name")
  for pipeline in dce canonicalize-constants,dce "canonicalize-constants,canonicalize-constants{direction=to-nodes}" \
                  canonicalize; do
    tolerance=(--exact)
    [[ $pipeline == canonicalize ]] && tolerance=(--atol=1e-6 --rtol=1e-5)
    out=$work/$name.onnx
    rm -f "$out"
    if ! "$qopt" "$model" --pass="$pipeline" --onnx-check --report=none -o "$out"; then
      echo "FAIL: qopt-opt --pass=$pipeline on $name"
      status=1
      continue
    fi
    for level in disabled all; do
      if result=$(node "$src/tools/ort/compare.js" "$model" "$out" "${tolerance[@]}" --opt-level=$level \
                  --input-shape="${shapes[$name]}" 2>&1 | tail -n 1) && [[ $result == "compare: PASS"* ]]; then
        echo "ok: $name --pass=$pipeline, ORT opt-level=$level: $result"
      else
        echo "FAIL: $name --pass=$pipeline, ORT opt-level=$level: $result"
        status=1
      fi
    done
  done
done
exit $status
