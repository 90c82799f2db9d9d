#!/usr/bin/env bash
# Feeds qopt-opt the broken models that make_malformed writes, and checks
# that each is refused cleanly:
#   - exit code exactly 2 (bad input),
#   - stderr is one line, "qopt-opt: error: ...", naming the problem,
#   - the -o file does not exist afterwards, and no "*.tmp.*" file is left,
#   - the input (and every other file in the work folder) is unchanged.
#
# usage: run_malformed.sh QOPT_OPT MAKE_MALFORMED WORK_DIR
set -u

if [[ $# -ne 3 ]]; then
  echo "usage: $0 QOPT_OPT MAKE_MALFORMED WORK_DIR" >&2
  exit 2
fi
qopt=$1
make_malformed=$2
work=$3

rm -rf "$work"
mkdir -p "$work"
if ! "$make_malformed" "$work"; then
  echo "FAIL: make_malformed could not write the test models" >&2
  exit 1
fi
models=$work/models

failures=0
fail() {
  echo "FAIL [$case_name]: $*" >&2
  failures=$((failures + 1))
}

# A fingerprint of every file under the work folder (names and contents).
snapshot() {
  (cd "$work" && find . \( -type f -o -type l \) -print0 | sort -z | xargs -0 sha256sum)
}

# expect_error NAME INPUT OUTPUT PATTERN... [-- QOPT_ARGS...]
# Runs `qopt-opt INPUT -o OUTPUT --pass=dce QOPT_ARGS` and checks the
# contract above; every PATTERN (fixed string) must appear in the message.
expect_error() {
  case_name=$1
  local input=$2 output=$3
  shift 3
  local patterns=()
  while [[ $# -gt 0 && $1 != -- ]]; do
    patterns+=("$1")
    shift
  done
  [[ $# -gt 0 ]] && shift
  local before after stderr_file=$work/stderr.txt
  local input_sum="" failures_before=$failures
  [[ -e $input ]] && input_sum=$(sha256sum <"$input")
  before=$(snapshot)

  "$qopt" "$input" -o "$output" --pass=dce "$@" >/dev/null 2>"$stderr_file"
  local rc=$?
  local message
  message=$(cat "$stderr_file")
  rm -f "$stderr_file"

  [[ $rc -eq 2 ]] || fail "exit code $rc, expected 2 (stderr: $message)"
  local lines
  lines=$(printf '%s\n' "$message" | wc -l)
  [[ -n $message && $lines -eq 1 ]] || fail "stderr has $lines lines, expected one: $message"
  [[ $message == "qopt-opt: error: "* ]] || fail "stderr does not start with 'qopt-opt: error: ': $message"
  local p
  for p in "${patterns[@]}"; do
    [[ $message == *"$p"* ]] || fail "message does not mention '$p': $message"
  done
  # (When -o names the input, the input's checksum below is the check.)
  if [[ ! -e $input || ! $output -ef $input ]]; then
    [[ ! -e $output && ! -L $output ]] || fail "output '$output' exists"
  fi
  local leftovers
  leftovers=$(find "$work" -name '*.tmp.*')
  [[ -z $leftovers ]] || fail "temporary files left behind: $leftovers"
  if [[ -n $input_sum ]]; then
    [[ $(sha256sum <"$input") == "$input_sum" ]] || fail "the input file changed"
  fi
  after=$(snapshot)
  [[ $before == "$after" ]] || fail "files in the work folder changed: $(diff <(echo "$before") <(echo "$after"))"
  [[ $failures -eq $failures_before ]] && echo "ok [$case_name]: $message"
}

# expect_ok NAME INPUT: the reference models must load and save, or the
# rejections below prove nothing.
expect_ok() {
  case_name=$1
  local input=$2 output=$models/$1.out.onnx
  local message failures_before=$failures
  message=$("$qopt" "$input" -o "$output" --pass=dce 2>&1 >/dev/null)
  local rc=$?
  [[ $rc -eq 0 ]] || fail "exit code $rc, expected 0: $message"
  [[ -s $output ]] || fail "no output written"
  rm -f "$output" "$output.data"
  [[ $failures -eq $failures_before ]] && echo "ok [$case_name]"
}

expect_ok valid "$models/valid.onnx"
expect_ok valid_external "$models/valid_external.onnx"

# Each case: NAME | fixed strings the message must contain (';'-separated).
tested=()
while IFS='|' read -r name patterns; do
  [[ -z $name || $name == \#* ]] && continue
  name=${name// /}
  patterns=${patterns# }
  input=$models/$name.onnx
  [[ $name == *.onnxtxt ]] && input=$models/$name
  IFS=';' read -r -a list <<<"$patterns"
  tested+=("$(basename "$input")")
  expect_error "$name" "$input" "$models/${name%%.*}.out.onnx" "${list[@]}"
done <<'EOF'
truncated           | truncated.onnx;truncated
garbage             | garbage.onnx;not a valid ONNX protobuf
empty               | empty.onnx;is empty
no_graph            | no_graph.onnx;no graph
cycle               | cycle.onnx;a cycle;node 'node_
dangling_input      | dangling_input.onnx;'nowhere_defined' is not defined;scale
defined_twice       | defined_twice.onnx;'XW' is defined twice;second_writer
raw_data_size       | raw_data_size.onnx;initializer 'W';raw_data
huge_dims           | huge_dims.onnx;initializer 'HugeDims';dims too large
external_dotdot     | external_dotdot.onnx;'../outside.bin' escapes the model folder
external_absolute   | external_absolute.onnx;outside.bin' escapes the model folder
external_symlink    | external_symlink.onnx;'outside_link.bin' escapes the model folder
external_missing    | external_missing.onnx;missing external data file 'missing_weights.bin'
external_overrun    | external_overrun.onnx;'short.bin';offset 8 length 16 runs past the end
constant_raw_size   | constant_raw_size.onnx;bad_const;raw_data
constant_typed_size | constant_typed_size.onnx;bad_typed_const;typed data
bad_syntax.onnxtxt  | cannot parse ONNX text;line: 4
EOF

# A file that does not exist.
expect_error no_such_file "$models/no_such_file.onnx" "$models/no_such_file.out.onnx" "cannot open" \
  "no_such_file.onnx"

# -o naming the input itself, directly and through another spelling of the
# same path: refused, input untouched.
expect_error output_is_input "$models/valid.onnx" "$models/valid.onnx" "refusing to overwrite the input"
expect_error output_is_input_respelled "$models/valid.onnx" "$work/models/../models/./valid.onnx" \
  "refusing to overwrite the input"

# -o into a folder that does not exist: refused, and the folder is not made.
expect_error output_folder_missing "$models/valid.onnx" "$work/no_such_folder/out.onnx" "does not exist"
[[ ! -e $work/no_such_folder ]] || fail "the missing output folder was created"

# -o whose external-data file (clash.onnx.data) is the file the input reads
# its weights from.
expect_error output_data_clash "$models/reads_clash_data.onnx" "$models/clash.onnx" \
  "reads its external data" -- --external-data=auto

# Every model make_malformed writes is checked here: a new one needs a case.
case_name=coverage
for f in "$models"/*.onnx "$models"/*.onnxtxt; do
  f=$(basename "$f")
  case $f in
    valid.onnx | valid_external.onnx | reads_clash_data.onnx) continue ;;
  esac
  [[ " ${tested[*]} " == *" $f "* ]] || fail "$f has no case in this script"
done

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all malformed-input checks passed"
