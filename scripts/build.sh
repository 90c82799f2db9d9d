#!/usr/bin/env bash
# Configures and builds qopt into build/ (Release with debug info).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${QOPT_BUILD_DIR:-build}
# Configured once; again when the Python module (QOPT_PYTHON, `import qopt`)
# is not on yet in a build directory made before it existed.
if [ ! -f "$build_dir/build.ninja" ] || ! grep -q '^QOPT_PYTHON:BOOL=ON$' "$build_dir/CMakeCache.txt"; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQOPT_PYTHON=ON >/dev/null
fi
# Quiet: ninja's progress lines are dropped, compiler messages and failures
# kept. The filter always succeeds (it selects nothing on a clean build), so
# with pipefail the pipeline's status is ninja's: a failed build fails here,
# even when an old qopt-opt from an earlier build is still on disk.
status=0
ninja -C "$build_dir" -j"$(nproc)" | { grep -vE '^\[[0-9]+/[0-9]+\] ' || true; } || status=$?
if [ "$status" -ne 0 ]; then
  echo "build.sh: the build failed (ninja exited with $status)" >&2
  exit "$status"
fi
test -x "$build_dir/tools/qopt-opt/qopt-opt"
