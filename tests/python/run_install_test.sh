#!/bin/sh
# Installs the build in BUILD_DIR into a scratch prefix and imports qopt from
# there with PYTHON, as docs/python.md tells users to.
#
#   run_install_test.sh BUILD_DIR PYTHON PACKAGE_DIR  (PACKAGE_DIR relative to the prefix)
set -eu
build_dir=$1
python=$2
package_dir=$3
scratch=$(mktemp -d "${TMPDIR:-/tmp}/qopt-python-install.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build_dir" --prefix "$scratch/prefix" >/dev/null
cd "$scratch"
PYTHONPATH="$scratch/prefix/$package_dir" "$python" -c '
import os, sys, qopt
assert qopt.__file__.startswith(sys.argv[1]), qopt.__file__
names = [p["name"] for p in qopt.list_passes()]
assert "fuse-qdq" in names and "dce" in names, names
print("imported", qopt.__file__, "with", len(names), "passes and pipelines")
' "$scratch/prefix"
