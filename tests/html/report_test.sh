#!/usr/bin/env bash
# The HTML report (--report=html) opened in headless Chromium: the page's
# script runs to the end without an error, and the page shows its sections
# (passes, analyses, findings) and both drawings (before, after) as SVG.
# Usage: report_test.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
qopt=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "report_test: FAIL: $*" >&2; exit 1; }

command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps.sh installs it)"
"$qopt" "$src/tests/lit/passes/fuse-qdq.onnxtxt" --pass='qdq-boundaries,quant-lint,fuse-qdq,op-count' \
  --report=html --report-file="$tmp/report.html" -o "$tmp/out.onnx"
# Self-contained: no external scripts, styles or images.
if grep -Eq '<(script|link|img)[^>]+(src|href)=' "$tmp/report.html"; then fail "the page loads external files"; fi

chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
  --dump-dom "file://$tmp/report.html" >"$tmp/dom.html" 2>"$tmp/console.log" || fail "chromium exited with $?"
if grep -Eq 'Uncaught|CONSOLE\([0-9]+\).*(Error|error)' "$tmp/console.log"; then
  grep -E 'Uncaught|CONSOLE' "$tmp/console.log" >&2
  fail "script errors in the page"
fi
grep -q 'data-ready="yes"' "$tmp/dom.html" || fail "the page's script did not run to the end"
for id in passes analyses findings graphs graph-before graph-after analysis-fuse-qdq-units analysis-qdq-boundaries; do
  grep -q "id=\"$id\"" "$tmp/dom.html" || fail "no element with id '$id'"
done
svgs=$(grep -o '<svg' "$tmp/dom.html" | wc -l)
[ "$svgs" -ge 2 ] || fail "expected 2 drawings, found $svgs"
# The script replaced the fixed size by a viewBox that pan and zoom change.
grep -q 'viewBox=' "$tmp/dom.html" || fail "no viewBox on the drawings"
grep -q 'QLinearConv' "$tmp/dom.html" || fail "the after-drawing does not show the fused QLinearConv"
echo "report_test: PASS ($svgs drawings, $(wc -c <"$tmp/report.html") bytes)"
