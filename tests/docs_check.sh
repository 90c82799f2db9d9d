#!/usr/bin/env bash
# docs/passes.md must describe every registered pass and each of its options,
# and name every named pipeline.
# Usage: docs_check.sh QOPT_OPT SOURCE_DIR
set -euo pipefail
listing=$("$1" --list-passes | sed '/^Named pipelines:/,$d')
pipelines=$("$1" --list-passes | sed -n '/^Named pipelines:/,$p' | grep -E '^  [a-z]' | awk '{print $1}')
doc=$2/docs/passes.md
status=0
while read -r name _; do
  grep -q "^## $name\$" "$doc" || { echo "docs/passes.md has no section '## $name'"; status=1; }
done < <(echo "$listing" | grep -E '^  [a-z]')
while read -r option _; do
  grep -q "\`${option}" "$doc" || { echo "docs/passes.md does not mention option '$option'"; status=1; }
done < <(echo "$listing" | grep -E '^      [a-z-]+=' | awk '{print $1}')
for name in $pipelines; do
  grep -q "^- \`$name\` = " "$doc" || { echo "docs/passes.md does not describe named pipeline '$name'"; status=1; }
done
[ $status -eq 0 ] && echo "docs/passes.md covers $(echo "$listing" | grep -cE '^  [a-z]') passes"
exit $status
