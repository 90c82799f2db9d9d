#!/usr/bin/env bash
# The whole test suite: install, build, then every CTest test (GoogleTest
# unit tests, lit/FileCheck tests, malformed inputs, the embedding example,
# real PaddleOCR models through ONNX Runtime, the Node runner's own tests),
# then the same suite again under ASan + UBSan and a bounded run of every
# fuzz target (scripts/sanitize.sh, docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir "${QOPT_BUILD_DIR:-build}" --output-on-failure -j"$(nproc)"
bash scripts/sanitize.sh
