#!/usr/bin/env bash
# The test suite a second time under AddressSanitizer + UndefinedBehavior-
# Sanitizer (clang 14, -DQOPT_SANITIZE=ON -DQOPT_FUZZ=ON, into build-asan/),
# then every libFuzzer target of fuzz/ for a bounded time on seeds taken from
# the tests. Any sanitizer report, failed test or fuzz finding fails the run;
# a finding is kept as build-asan/fuzz/findings/TARGET-crash-HASH (rerun it:
# build-asan/fuzz/qopt_TARGET FILE) and belongs in the tests as a regression.
#
# Usage: scripts/sanitize.sh [--fuzz-seconds=N] [--no-ctest] [--no-fuzz]
#   --fuzz-seconds=N  per target (default 60); docs/fuzzing.md for longer runs
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${QOPT_SANITIZE_BUILD_DIR:-build-asan}
fuzz_seconds=60
run_ctest=1
run_fuzz=1
for arg in "$@"; do
  case $arg in
    --fuzz-seconds=*) fuzz_seconds=${arg#--fuzz-seconds=} ;;
    --no-ctest) run_ctest=0 ;;
    --no-fuzz) run_fuzz=0 ;;
    *) echo "sanitize.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

if [[ ! -f $build_dir/build.ninja ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
    -DQOPT_SANITIZE=ON -DQOPT_FUZZ=ON >/dev/null
fi
echo "sanitize: building $build_dir (clang 14, ASan + UBSan, libFuzzer)"
status=0
ninja -C "$build_dir" -j"$(nproc)" | { grep -vE '^\[[0-9]+/[0-9]+\] ' || true; } || status=$?
if [[ $status != 0 ]]; then
  echo "sanitize.sh: the build failed (ninja exited with $status)" >&2
  exit "$status"
fi

# Reports go to stderr and fail the process: ASan and UBSan stop at the first
# error; LeakSanitizer runs at exit (Graphviz's own process-lifetime caches
# are suppressed, nothing of qopt's).
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0
# Tests that time whole scripts (bench/test) give the instrumented build longer.
export QOPT_TEST_TIMEOUT_SCALE=4

if [[ $run_ctest == 1 ]]; then
  echo "sanitize: the test suite under the sanitizers"
  ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)"
fi

if [[ $run_fuzz == 1 ]]; then
  fuzz=$build_dir/fuzz
  seeds=$fuzz/seeds
  rm -rf "$seeds"
  mkdir -p "$seeds"/{load_model,parse_text,pipeline,rewrite_passes} "$fuzz/findings"
  # Seeds: the models the tests are written in (textual syntax, and the same
  # models as binary .onnx written by qopt-opt), and every pipeline text the
  # tests and the named pipelines use.
  mapfile -t texts < <(find tests/lit tests/ort/regressions tests/ort/qop_to_qdq -name '*.onnxtxt' | sort)
  for f in "${texts[@]}"; do
    name=$(echo "$f" | tr '/' '_')
    cp "$f" "$seeds/parse_text/$name"
    "$build_dir/tools/qopt-opt/qopt-opt" "$f" --noverify-each --report=none -o "$seeds/load_model/$name.onnx" \
      2>/dev/null || true
  done
  {
    grep -rhoE -- "--pass=[^ '\"]+" tests/lit tests/ort scripts bench 2>/dev/null | sed 's/^--pass=//'
    sed -n 's/^ *"\([a-z0-9{}=,. -]*\)")$/\1/p' passes/builtin_passes.def
  } | sort -u | awk '{ print > sprintf("'"$seeds"'/pipeline/%04d", NR) }'
  known=0
  for target in load_model parse_text pipeline rewrite_passes; do
    corpus=$fuzz/corpus/$target  # grows across runs; the seeds stay as they are
    mkdir -p "$corpus"
    echo "sanitize: fuzzing $target for ${fuzz_seconds}s ($(ls "$seeds/$target" | wc -l) seeds)"
    if ! "$fuzz/qopt_${target}_fuzzer" -seed=1 -max_total_time="$fuzz_seconds" -print_final_stats=1 \
      -artifact_prefix="$fuzz/findings/$target-" "$corpus" "$seeds/$target" >"$fuzz/$target.log" 2>&1; then
      summary=$(grep -m1 "^SUMMARY:" "$fuzz/$target.log" || true)
      if [[ -n $summary ]] && grep -qF -f <(grep -vE '^(#|$)' fuzz/known_findings.txt) <<<"$summary"; then
        echo "sanitize: !!! KNOWN FINDING in $target (fuzz/known_findings.txt; not failing): $summary"
        known=$((known + 1))
      else
        echo "sanitize: FINDING in $target (log: $fuzz/$target.log):" >&2
        grep -E "ERROR|SUMMARY|Test unit written|broke|does not" "$fuzz/$target.log" | head -n 20 >&2
        status=1
      fi
    else
      grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$fuzz/$target.log" | tr '\n' ' '
      echo
    fi
  done
  ((known == 0)) || echo "sanitize: !!! $known target(s) stopped at a known finding (fuzz/known_findings.txt) !!!"
fi
exit $status
