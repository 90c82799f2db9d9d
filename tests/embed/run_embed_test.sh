#!/bin/sh
# Installs the qopt build in BUILD_DIR into a scratch prefix, builds
# examples/embed from SOURCE_DIR against that prefix as an out-of-tree
# project, and checks what the program prints.
#
#   run_embed_test.sh BUILD_DIR SOURCE_DIR [extra cmake configure args...]
set -eu

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR [cmake args...]" >&2
  exit 2
fi
build_dir=$1
source_dir=$2
shift 2

scratch=$(mktemp -d "${TMPDIR:-/tmp}/qopt-embed-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix
example_build=$scratch/build
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# expect_line FILE REGEX: some line of FILE matches the extended regex.
expect_line() {
  grep -Eq -- "$2" "$1" || fail "$1: no line matching '$2'"
}
expect_no_line() {
  if grep -Eq -- "$2" "$1"; then fail "$1: unexpected line matching '$2'"; fi
}

echo "== install $build_dir -> $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$scratch/install.log" 2>&1 || {
  cat "$scratch/install.log" >&2
  echo "FAIL: cmake --install" >&2
  exit 1
}
for f in include/qopt/pass/pass.h include/qopt/passes/builtin_passes.def include/qopt/ir/graph.h \
         include/qopt/pass/report.h include/qopt/render/dot.h; do
  [ -f "$prefix/$f" ] || fail "not installed: $f"
done
config=$(find "$prefix" -name qoptConfig.cmake | head -n 1)
[ -n "$config" ] || fail "not installed: qoptConfig.cmake"

echo "== configure and build examples/embed against the installed package"
cmake -S "$source_dir/examples/embed" -B "$example_build" -DCMAKE_PREFIX_PATH="$prefix" "$@" \
  >"$scratch/configure.log" 2>&1 || {
  cat "$scratch/configure.log" >&2
  echo "FAIL: configuring examples/embed" >&2
  exit 1
}
cmake --build "$example_build" >"$scratch/build.log" 2>&1 || {
  cat "$scratch/build.log" >&2
  echo "FAIL: building examples/embed" >&2
  exit 1
}
# The package must come from the install prefix, not the build tree.
qopt_dir=$(sed -n 's/^qopt_DIR:[A-Z]*=//p' "$example_build/CMakeCache.txt")
case "$qopt_dir" in
  "$prefix"/*) ;;
  *) fail "qopt_DIR is '$qopt_dir', not inside $prefix" ;;
esac
exe=$example_build/qopt-embed-example
[ -x "$exe" ] || { echo "FAIL: $exe was not built" >&2; exit 1; }

# 1. The built-in model: Relu(Relu(X)) collapses, dce removes the dead Relu
#    and the unused Neg, op-count sees Relu and Abs once each. Saved as .onnx.
echo "== run on the built-in model"
out1=$scratch/run1.txt
if "$exe" - "$scratch/out.onnx" >"$out1" 2>&1; then :; else fail "run 1 exited non-zero"; fi
cat "$out1"
expect_line "$out1" '^stat collapse-idempotent\.collapsed = 1$'
expect_line "$out1" '^stat dce\.nodes-removed = 2$'
expect_line "$out1" '^op-count$'
expect_line "$out1" '^ +Relu +1$'
expect_line "$out1" '^ +Abs +1$'
expect_line "$out1" '^ +total nodes +2$'
expect_no_line "$out1" 'Neg'
expect_line "$out1" "^wrote $scratch/out.onnx\$"
[ -s "$scratch/out.onnx" ] || fail "out.onnx was not written"

# 2. The saved binary model reads back; there is nothing left to collapse.
echo "== run on the saved binary model"
out2=$scratch/run2.txt
if "$exe" "$scratch/out.onnx" >"$out2" 2>&1; then :; else fail "run 2 exited non-zero"; fi
cat "$out2"
expect_line "$out2" '^stat collapse-idempotent\.collapsed = 0$'
expect_line "$out2" '^stat dce\.nodes-removed = 0$'
expect_line "$out2" '^ +Relu +1$'
expect_line "$out2" '^ +total nodes +2$'

# 3. A model file in textual syntax and the pass's option set from the
#    pipeline text: a chain of three Abs becomes one.
echo "== run on a text model with op=Abs"
cat >"$scratch/abs.onnxtxt" <<'MODEL'
<ir_version: 8, opset_import: ["" : 13]>
abs_chain (float[4] X) => (float[4] Y) {
  A = Abs(X)
  B = Abs(A)
  Y = Abs(B)
}
MODEL
out3=$scratch/run3.txt
if "$exe" '--pipeline=collapse-idempotent{op=Abs},dce,op-count' "$scratch/abs.onnxtxt" >"$out3" 2>&1; then :; else
  fail "run 3 exited non-zero"
fi
cat "$out3"
expect_line "$out3" '^stat collapse-idempotent\.collapsed = 2$'
expect_line "$out3" '^stat dce\.nodes-removed = 2$'
expect_line "$out3" '^ +Abs +1$'

# 4. Errors exit non-zero with a message: a value the option does not allow,
#    an unknown pass, a missing file.
echo "== error cases"
check_error() {
  label=$1
  pattern=$2
  shift 2
  if "$exe" "$@" >"$scratch/err.txt" 2>&1; then
    fail "$label: exited 0"
  fi
  cat "$scratch/err.txt"
  expect_line "$scratch/err.txt" "$pattern"
}
check_error "bad option value" 'error: .*Exp' '--pipeline=collapse-idempotent{op=Exp}'
check_error "unknown pass" 'error: pipeline:1:' '--pipeline=dce,no-such-pass'
check_error "missing input" 'error: ' "$scratch/does-not-exist.onnx"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "PASS"
