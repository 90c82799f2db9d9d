#!/usr/bin/env bash
# The foreign-layout corpus (issue 16): each tests/foreign/*.onnxtxt is a
# small model in a layout some other quantizer or runtime writes (Vitis-AI,
# opset 10 QDQ, QOperator, float16 scales, int16/int4, com.microsoft Q/DQ,
# TensorRT, attention, multi-output, If/Loop). Its header lists the pass
# families to run on it, one line each:
#   # RUN: PIPELINE :: COMPARE     compare.js options (--exact, --atol=...),
#                                  or `none` (type validity and reloading only)
#   # XFAIL: PIPELINE :: COMPARE -- REASON   a known failure on this layout:
#                                  checked as RUN is, printed as KNOWN-FAIL with
#                                  REASON (XPASS, a failure, once it passes)
#   # ONNX-CHECK: no               skip --onnx-check (opsets libonnx 1.12 lacks)
#   # ORT: no REASON               ONNX Runtime cannot run the layout: every RUN
#                                  checks type validity and reloading only
# CALIB in a pipeline stands for a calib.json of IN.onnx (tools/qopt-calibrate
# on 2 seeded random samples: structure, not accuracy), made on first use.
# The model is written as it is to IN.onnx (qopt's verifier runs on it), then
# each pipeline writes OUT.onnx (verifier after every pass, plus --onnx-check
# unless disabled); OUT is read back by qopt-opt, and IN and OUT run in ONNX
# Runtime at levels disabled and all on seeded inputs (seed 1).
# Usage: foreign.sh [QOPT_OPT [SOURCE_DIR]] [--only=NAME]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"

only=
for arg in "${ort_args[@]}"; do
  case $arg in
    --only=*) only=${arg#--only=} ;;
    *) echo "foreign.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

header_field() {  # header_field FILE FIELD: the value of the first '# FIELD: value'
  sed -n "s/^# $2: *//p" "$1" | head -n 1
}

count=0 runs=0 passed=0 known=0 failed=0
for model in "$src"/tests/foreign/*.onnxtxt; do
  name=$(basename "$model" .onnxtxt)
  [[ -n $only && $name != "$only" ]] && continue
  count=$((count + 1))
  check=(--onnx-check)
  [[ $(header_field "$model" ONNX-CHECK) == no* ]] && check=()
  ort=yes
  [[ $(header_field "$model" ORT) == no* ]] && ort=no
  in=$work/$name.in.onnx
  if ! "$qopt" "$model" "${check[@]}" --report=none -o "$in"; then
    echo "FAIL: $name: qopt-opt could not write the model as it is"
    status=1 failed=$((failed + 1))
    continue
  fi
  mapfile -t lines < <(sed -n 's/^# \(RUN\|XFAIL\): */\1 /p' "$model")
  if ((${#lines[@]} == 0)); then
    echo "FAIL: $name: no '# RUN:' line"
    status=1 failed=$((failed + 1))
    continue
  fi
  i=0
  for line in "${lines[@]}"; do
    i=$((i + 1))
    kind=${line%% *} rest=${line#* }
    pipeline=${rest%% :: *} arg=${rest#* :: }
    [[ $rest != *" :: "* ]] && arg=none
    reason=
    if [[ $kind == XFAIL ]]; then
      reason=${arg#* -- }
      arg=${arg%% -- *}
    fi
    runs=$((runs + 1))
    out=$work/$name.$i.onnx
    why=
    if [[ $pipeline == *CALIB* && ! -f $work/$name.calib.json ]]; then
      QOPT_OPT=$qopt "$src/tools/qopt-calibrate" "$in" --random=2 -o "$work/$name.calib.json" >/dev/null 2>&1 ||
        echo "note: $name: qopt-calibrate failed"
    fi
    pipeline=${pipeline//CALIB/$work/$name.calib.json}
    if ! log=$("$qopt" "$in" --pass="$pipeline" "${check[@]}" --report=none -o "$out" 2>&1); then
      why="qopt-opt --pass=$pipeline failed: $(tail -n 3 <<<"$log")"
    elif ! log=$("$qopt" "$out" --report=none -o "$work/reread.onnx" 2>&1); then
      why="the result does not read back: $(tail -n 3 <<<"$log")"
    elif [[ $arg != none && $ort == yes ]]; then
      read -r -a compare_args <<<"$arg"
      for level in disabled all; do
        if ! result=$(node "$src/tools/ort/compare.js" "$in" "$out" "${compare_args[@]}" --opt-level=$level \
          --seed=1 2>&1); then
          why="ORT at level $level ($arg): $(tail -n 4 <<<"$result")"
          break
        fi
      done
    fi
    what="types+reload"
    [[ $arg != none && $ort == yes ]] && what="ORT $arg"
    if [[ $kind == XFAIL ]]; then
      if [[ -n $why ]]; then
        echo "KNOWN-FAIL: $name (${pipeline//$work\//}): $reason"
        sed 's/^/    /' <<<"$why"
        known=$((known + 1))
      else
        echo "XPASS: $name ($pipeline) passes now: drop its XFAIL line"
        status=1 failed=$((failed + 1))
      fi
    elif [[ -n $why ]]; then
      echo "FAIL: $name (${pipeline//$work\//}):"
      sed 's/^/    /' <<<"$why"
      status=1 failed=$((failed + 1))
    else
      echo "PASS: $name (${pipeline//$work\//}) $what"
      passed=$((passed + 1))
    fi
  done
done
if ((count == 0)); then
  echo "FAIL: no foreign-layout model ran${only:+ (--only=$only)}"
  status=1
fi
echo "foreign layouts: $count models, $runs runs: $passed passed, $failed failed, $known KNOWN FAILURES"
((known > 0)) && echo "!!! $known known failure(s) above (KNOWN-FAIL lines): qopt bugs still open !!!"
exit $status
