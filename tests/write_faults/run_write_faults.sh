#!/usr/bin/env bash
# Faults while qopt-opt writes its output (issue 16). For each: the input is
# never modified (checked by checksum), and no partial output remains: either
# the run fails with a one-line error and leaves neither the output nor a
# temporary file, or (SIGKILL, which no process can catch) it leaves only its
# temporary file, which the next run to the same output removes and names.
#   - output folder not writable (run as nobody when the suite runs as root)
#   - file-size limit (ulimit -f) reached in the middle of the write
#   - SIGTERM, SIGHUP and SIGKILL while the output is being written (SIGINT
#     takes the same handler, but a script's background job ignores it)
#   - the input truncated by another process while qopt copies from it
#   - the flush to disk (--fsync) fails: fsync preloaded to fail with EIO
#     (FAILING_FSYNC_SO); without --fsync the same run succeeds, as it
#     does not flush
#   - output path = the input, = an external-data file the input reads,
#     = a symbolic link to the input; and a link to another file (written
#     through: the target replaced, the link kept)
# The model: 128 MiB from bench's generator (8 weights of 16 MiB), so that
# writing it takes long enough to be interrupted.
# Usage: run_write_faults.sh QOPT_OPT IO_SCALE_GEN FAILING_FSYNC_SO WORK_DIR
set -euo pipefail
qopt=$(realpath "$1")
gen=$(realpath "$2")
failing_fsync=$(realpath "$3")
work=$4
rm -rf "$work"
mkdir -p "$work"
cd "$work"

status=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  status=1
}

"$gen" model.onnx 8 2048
sum=$(md5sum model.onnx | cut -d' ' -f1)
input_unchanged() { [[ $(md5sum model.onnx | cut -d' ' -f1) == "$sum" ]]; }
temps() { compgen -G "$1.qopt-*" || true; }

# check_clean_failure NAME OUTPUT EXIT_CODE STDERR_FILE: the run failed, said
# at most one line, left no OUTPUT and no temporary file, and the input is
# intact.
check_clean_failure() {
  local name=$1 out=$2 code=$3 err=$4
  if [[ $code == 0 ]]; then
    fail "$name: qopt-opt succeeded"
  elif [[ -e $out && ! -L $out ]]; then
    fail "$name: $out exists after a failed run"
  elif [[ -n $(temps "$out") ]]; then
    fail "$name: temporary file left: $(temps "$out")"
  elif ! input_unchanged; then
    fail "$name: the input model changed"
  elif [[ $(wc -l <"$err") -gt 1 ]]; then
    fail "$name: more than one line of error: $(cat "$err")"
  else
    pass "$name (exit $code: $(cat "$err"))"
  fi
}

# 1. The output folder is not writable. root writes anywhere, so as root the
# run drops to nobody (setpriv, util-linux).
mkdir -p locked
chmod 555 locked
run_as=()
if [[ $(id -u) == 0 ]]; then
  chmod o+rx "$work"
  run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
code=0
"${run_as[@]}" "$qopt" model.onnx --pass=dce --report=none -o locked/out.onnx 2>err.txt || code=$?
check_clean_failure "unwritable folder" locked/out.onnx "$code" err.txt
grep -q "locked/out.onnx" err.txt || fail "unwritable folder: the message does not name the output"

# 2. A file-size limit of 1 MiB, hit after the first megabyte of 128.
code=0
(ulimit -f 1024 && exec "$qopt" model.onnx --pass=dce --report=none -o limited.onnx) 2>err.txt || code=$?
check_clean_failure "file-size limit" limited.onnx "$code" err.txt
grep -q "File too large" err.txt || fail "file-size limit: the message does not say why: $(cat err.txt)"

# interrupt SIGNAL OUTPUT: starts a run, waits for its temporary file to
# appear, sends SIGNAL while it is being written, and returns the exit code
# in `code`. A run that finished before it was caught is tried again (its
# output removed first), up to five times.
interrupt() {
  local signal=$1 out=$2 attempt pid
  for attempt in 1 2 3 4 5; do
    rm -f "$out"
    "$qopt" model.onnx --pass=dce --report=none -o "$out" 2>err.txt &
    pid=$!
    while kill -0 "$pid" 2>/dev/null && [[ -z $(temps "$out") ]]; do :; done
    if [[ -n $(temps "$out") ]]; then
      kill -s "$signal" "$pid" 2>/dev/null || true
      code=0
      wait "$pid" || code=$?
      return 0
    fi
    wait "$pid" || true
  done
  fail "$signal: the temporary file was never seen in 5 runs (the write was too quick to interrupt)"
  code=0
  return 1
}

# 3. SIGTERM and SIGHUP: the handler removes the temporary file and the
# process dies of the signal (exit 128 + signal number).
for signal in TERM HUP; do
  if interrupt "$signal" "sig$signal.onnx"; then
    expected=$((128 + $(kill -l "$signal")))
    [[ $code == "$expected" ]] || fail "SIG$signal: exit $code, expected $expected"
    : >err.txt
    check_clean_failure "SIG$signal while writing" "sig$signal.onnx" "$code" err.txt
  fi
done

# 4. SIGKILL: the temporary file stays; the next run to the same output
# removes it and says so.
if interrupt KILL killed.onnx; then
  left=$(temps killed.onnx)
  if [[ -z $left ]]; then
    fail "SIGKILL: no temporary file left to clean up (expected one)"
  elif [[ -e killed.onnx ]]; then
    fail "SIGKILL: killed.onnx exists after the killed run"
  else
    "$qopt" model.onnx --pass=dce --report=none -o killed.onnx 2>err.txt
    if [[ -n $(temps killed.onnx) ]]; then
      fail "SIGKILL: the next run left $(temps killed.onnx)"
    elif ! grep -q "removed '.*$(basename "$left")', left by an earlier run that was killed" err.txt; then
      fail "SIGKILL: the next run did not say it removed $left: $(cat err.txt)"
    elif ! cmp -s model.onnx killed.onnx; then
      fail "SIGKILL: the next run's output differs from the input (dce changes nothing here)"
    else
      pass "SIGKILL while writing: $(basename "$left") left, removed by the next run: $(cat err.txt)"
    fi
  fi
fi

# 5. Another process truncates the input while qopt copies from it: qopt's
# copy comes up short; it must fail cleanly, not write a short model.
cp model.onnx victim.onnx
code=0
"$qopt" victim.onnx --pass=dce --report=none -o truncated.onnx 2>err.txt &
pid=$!
while kill -0 "$pid" 2>/dev/null && [[ -z $(temps truncated.onnx) ]]; do :; done
truncate -s 4096 victim.onnx
wait "$pid" || code=$?
if [[ $code == 0 ]]; then
  # Finished before the truncation: the output must then be the whole model.
  cmp -s model.onnx truncated.onnx && pass "input truncated while writing (finished first; output complete)" ||
    fail "input truncated while writing: exit 0 but the output is not the whole model"
else
  check_clean_failure "input truncated while writing" truncated.onnx "$code" err.txt
fi

# 6. The flush to disk fails (--fsync): no output, no temporary file, for the
# model alone and for a model with its external-data file. Without --fsync
# nothing is flushed, so the same failing fsync does not matter.
for layout in inline external; do
  code=0
  LD_PRELOAD=$failing_fsync "$qopt" model.onnx --pass=dce --fsync --external-data=$layout --report=none \
    -o "flushed-$layout.onnx" 2>err.txt || code=$?
  check_clean_failure "fsync fails ($layout)" "flushed-$layout.onnx" "$code" err.txt
  grep -q "flushed-$layout.onnx.*Input/output error" err.txt ||
    fail "fsync fails ($layout): the message does not name the file and the error: $(cat err.txt)"
  [[ -e flushed-$layout.onnx.data || -n $(temps "flushed-$layout.onnx.data") ]] &&
    fail "fsync fails ($layout): an external-data file or its temporary file remains"
done
if LD_PRELOAD=$failing_fsync "$qopt" model.onnx --pass=dce --report=none -o unflushed.onnx 2>err.txt &&
  cmp -s model.onnx unflushed.onnx; then
  pass "without --fsync the output is not flushed (a failing fsync is never called)"
else
  fail "without --fsync: the run failed or its output differs: $(cat err.txt)"
fi

# 7. Outputs that would overwrite what the run reads.
code=0
"$qopt" model.onnx --pass=dce --report=none -o model.onnx 2>err.txt || code=$?
[[ $code == 2 ]] && grep -q "refusing to overwrite the input model" err.txt && input_unchanged &&
  pass "output = input refused" || fail "output = input: exit $code: $(cat err.txt)"

ln -sf model.onnx link-to-input.onnx
code=0
"$qopt" model.onnx --pass=dce --report=none -o link-to-input.onnx 2>err.txt || code=$?
[[ $code == 2 && -L link-to-input.onnx ]] && grep -q "refusing to overwrite the input model" err.txt &&
  input_unchanged && pass "output = a link to the input refused" ||
  fail "output = a link to the input: exit $code: $(cat err.txt)"

mkdir -p ext
"$qopt" model.onnx --external-data=external --report=none -o ext/model.onnx
ext_sum=$(cat ext/model.onnx ext/model.onnx.data | md5sum)
for out in ext/model.onnx.data ext/model.onnx; do
  code=0
  "$qopt" ext/model.onnx --pass=dce --report=none -o "$out" 2>err.txt || code=$?
  if [[ $code == 2 && $(cat ext/model.onnx ext/model.onnx.data | md5sum) == "$ext_sum" ]] &&
    grep -q "refusing to overwrite" err.txt; then
    pass "output = $out (the input or its external data) refused: $(cat err.txt)"
  else
    fail "output = $out: exit $code, input or its data changed or no refusal: $(cat err.txt)"
  fi
done

# 8. A link to another file: written through, the link kept.
echo "old" >target.onnx
ln -sf target.onnx link.onnx
"$qopt" model.onnx --pass=dce --report=none -o link.onnx
if [[ -L link.onnx ]] && cmp -s model.onnx target.onnx && [[ -z $(temps target.onnx) ]]; then
  pass "output through a link: the target replaced, the link kept"
else
  fail "output through a link: link kept=$([[ -L link.onnx ]] && echo yes || echo no), target = model: $(cmp -s model.onnx target.onnx && echo yes || echo no)"
fi

input_unchanged || fail "the input model changed during the tests"
exit $status
