#!/usr/bin/env bash
# Configures and builds qopt into build/ (Release with debug info).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${QOPT_BUILD_DIR:-build}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$build_dir" -j"$(nproc)" | grep -vE '^\[[0-9]+/[0-9]+\] ' || true
test -x "$build_dir/tools/qopt-opt/qopt-opt"
