#!/usr/bin/env bash
# Generated QDQ models through the rewrite passes in ONNX Runtime (issue 16):
# qopt_generate_qdq_models writes one small random QDQ model per seed
# (fuzz/qdq_model_generator.h, the generator of the rewrite-pass fuzzer),
# and each model goes through
#   - every pass docs/passes.md calls exact, alone (EXACT_PASSES below): the
#     output must equal the input bit for bit in ONNX Runtime, both run at
#     level disabled (what the model computes; at level all ONNX Runtime's
#     own fusions depend on how many users a value has and on its integer
#     type, which dce and s8-to-u8 change on purpose);
#   - fuse-qdq and fuse-qdq-units, whose claim is ONNX Runtime's own
#     optimized run: the output at levels all and disabled must equal, bit
#     for bit, the input at level all (for fuse-qdq, the input after its
#     first steps qop-to-qdq,s8-to-u8: ONNX Runtime on x86 fuses no int8
#     activations, so an int8 input's optimized run is not the reference).
#     At level all ONNX Runtime also makes float rewrites that are not
#     exact and that hang on the graph's shape: it folds a Q -> DQ -> Q ->
#     DQ requantization into one pair (qdq-cleanup declines to) only where
#     nothing else reads the middle values, dead nodes included. The
#     generated models have many dead nodes, fuse-qdq's output none, so the
#     input after dce at level all is a reference too. Where ONNX Runtime
#     folds a requantization before it fuses (seeds 133, 242, 256), the
#     fused file keeps it and computes what the QDQ input computes without
#     ONNX Runtime's optimizations: so the input at level disabled is the
#     last reference (the summary counts the checks passed on another
#     reference than the first);
#   - the passes that claim only validity (VALID_PASSES): the output must
#     read back in qopt-opt and load and run in ONNX Runtime at level all.
# A pass may refuse a model (qopt-opt fails with a message, not a crash):
# that is counted, not a failure. Inputs are seeded (compare.js, seed 1);
# all checks run in one Node process (compare_list.js).
# A failing (seed, pass) fails the test unless KNOWN_FAILURES lists it with
# its reason (printed as KNOWN-FAIL; XPASS, a failure, once it passes).
# Usage: generated_exactness.sh [QOPT_OPT [SOURCE_DIR]] --generator=PATH [--seeds=FIRST..LAST] [--keep=DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_test_init "$@"

generator= seeds=1..60 keep=
for arg in "${ort_args[@]}"; do
  case $arg in
    --generator=*) generator=${arg#--generator=} ;;
    --seeds=*) seeds=${arg#--seeds=} ;;
    --keep=*) keep=${arg#--keep=} ;;
    *) echo "generated_exactness.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done
if [[ ! -x $generator ]]; then
  echo "generated_exactness.sh: no qopt_generate_qdq_models at '$generator' (--generator=PATH)" >&2
  exit 2
fi

EXACT_PASSES=(dce canonicalize-constants infer-shapes qdq-cleanup propagate-qdq fold-qdq-identity qdq-lookup
  's8-to-u8{when=always}')
FUSED_PASSES=(fuse-qdq fuse-qdq-units)
VALID_PASSES=(per-channel fix-bias-overflow dequantize-weights sink-depth-to-space 'fuse-qdq{float-units=auto}'
  'fuse-qdq{target=onnx-standard}')
# "SEED PASS" -> reason, for understood qopt bugs not fixed yet.
declare -A KNOWN_FAILURES=()

models=$work/models
mkdir -p "$models"
"$generator" "$models" --seeds="$seeds"
list=$work/checks.txt
: >"$list"
refused=()
for model in "$models"/*.onnx; do
  seed=$(basename "$model" .onnx)
  for pass in "${EXACT_PASSES[@]}" "${FUSED_PASSES[@]}" "${VALID_PASSES[@]}"; do
    out=$work/$seed.${pass//[^a-z0-9-]/_}.onnx
    code=0
    log=$("$qopt" "$model" --pass="$pass" --report=none -o "$out" 2>&1) || code=$?
    if ((code >= 128)); then  # a signal: a crash, not a refusal
      echo "FAIL: seed $seed $pass: qopt-opt died (exit $code): $(tail -n 3 <<<"$log")"
      status=1
      continue
    elif ((code != 0)); then
      refused+=("$seed $pass: $(tail -n 1 <<<"$log")")
      continue
    fi
    if [[ " ${VALID_PASSES[*]} " == *" $pass "* ]] && ! "$qopt" "$out" --report=none -o "$work/reread.onnx" >/dev/null 2>&1; then
      echo "FAIL: seed $seed $pass: the output does not read back"
      status=1
      continue
    fi
    label="$seed|$pass"
    case " ${EXACT_PASSES[*]} " in
      *" $pass "*)
        echo "compare $label $model $out --exact --opt-level=disabled" >>"$list"
        continue ;;
    esac
    case " ${FUSED_PASSES[*]} " in
      *" $pass "*)
        if [[ $pass == fuse-qdq ]]; then
          reference=$work/$seed.converted.onnx
          "$qopt" "$model" --pass=qop-to-qdq,s8-to-u8 --report=none -o "$reference"
        else
          reference=$model
        fi
        without_dead=$work/$seed.${pass}.reference-dce.onnx
        "$qopt" "$reference" --pass=dce --report=none -o "$without_dead"
        echo "compare $label $reference $out --exact --opt-level=all --else=$without_dead@all" \
          "--else=$reference@disabled" >>"$list"
        echo "compare $label $reference $out --exact --opt-level=all --opt-level-b=disabled" \
          "--else=$without_dead@all --else=$reference@disabled" >>"$list" ;;
      *) echo "run $label $out --opt-level=all" >>"$list" ;;
    esac
  done
done

results=$(node "$src/tests/ort/compare_list.js" "$list" || true)
declare -A failed_why=()
while read -r verdict label why; do
  [[ $verdict == FAIL ]] && failed_why[$label]+="${why%:} "
done < <(sed -n 's/^\(FAIL\) \([^:]*\): \(.*\)$/\1 \2 \3/p' <<<"$results")
if (($(grep -cE '^(PASS|FAIL) ' <<<"$results" || true) != $(grep -c '' "$list" || true))); then
  echo "FAIL: compare_list.js did not judge every check:"
  tail -n 5 <<<"$results"
  status=1
fi

declare -A failed_pairs=()
for label in "${!failed_why[@]}"; do failed_pairs[${label/|/ }]=${failed_why[$label]}; done
model_count=$(find "$models" -name '*.onnx' | wc -l)
exact_models=0 known=0 failures=0
for model in "$models"/*.onnx; do
  seed=$(basename "$model" .onnx)
  bad=0
  for pair in "${!failed_pairs[@]}"; do [[ ${pair%% *} == "$seed" ]] && bad=1; done
  ((bad == 0)) && exact_models=$((exact_models + 1))
done
for pair in "${!failed_pairs[@]}"; do
  if [[ -n ${KNOWN_FAILURES[$pair]+set} ]]; then
    echo "KNOWN-FAIL: seed $pair: ${KNOWN_FAILURES[$pair]}"
    known=$((known + 1))
  else
    echo "FAIL: seed $pair: ${failed_pairs[$pair]}"
    failures=$((failures + 1))
    status=1
  fi
done
for pair in "${!KNOWN_FAILURES[@]}"; do
  if [[ -z ${failed_pairs[$pair]+set} ]]; then
    echo "XPASS: seed $pair passes now: drop it from KNOWN_FAILURES"
    status=1
  fi
done
checks=$(grep -c '' "$list" || true)
alternative=$(grep -c '^PASS .*(else ' <<<"$results" || true)
echo "refused by a pass (not failures): ${#refused[@]}"
for r in "${refused[@]:0:5}"; do echo "  $r"; done
[[ -n $keep ]] && mkdir -p "$keep" && cp "$models"/* "$keep"/
echo "generated exactness: $model_count models (seeds $seeds), $checks ORT checks ($alternative fused ones equal to the input after dce or at level disabled): $exact_models models with every check passing, $failures failures, $known KNOWN FAILURES"
((known > 0)) && echo "!!! $known known failure(s) above (KNOWN-FAIL lines): qopt bugs still open !!!"
exit $status
