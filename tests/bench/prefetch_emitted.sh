#!/usr/bin/env bash
# The verifier's node walk asks for the lines it will read a few steps ahead
# (ir/prefetch.h). Written as __builtin_prefetch in a loop, GCC 12 at -O2
# deleted all of it and nothing failed: the walk was only slower on graphs
# beyond the cache. This checks the compiled verifier for the instruction.
#
# Usage: prefetch_emitted.sh LIBQOPT_IR_ARCHIVE
set -euo pipefail
archive=$1
# objdump prints "In archive ...", then for each member "NAME:  file format".
count=$(objdump -d --no-show-raw-insn "$archive" |
  awk '/^[^ \t].*:[ \t]+file format/ { member = $1 } member ~ /^verifier\.cc\.o:/ && /prefetcht0/ { ++n } END { print n + 0 }')
echo "prefetch_emitted: $count prefetcht0 in verifier.cc.o"
if ((count == 0)); then
  echo "prefetch_emitted: the verifier's walk asks for no line ahead; did the compiler delete ir/prefetch.h's code?" >&2
  exit 1
fi
