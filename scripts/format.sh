#!/usr/bin/env bash
# Formats the C++ you changed with clang-format and the repository's
# .clang-format: the lines changed since BASE (committed on this branch,
# staged, unstaged) and the whole of new files. Lines you did not touch stay
# as they are, so formatting never spreads into other people's code.
#
#   scripts/format.sh [--check] [--whole-files] [BASE]
#
#   BASE           where the changes start: the merge base of BASE and HEAD
#                  (default: main, or origin/main in a clone without it)
#   --check        change nothing; print the diff clang-format would apply and
#                  exit 1 if there is one
#   --whole-files  format every changed file completely, not only its changed
#                  lines
#
# clang-format-14 is used (Debian's clang-format-14); CLANG_FORMAT=PATH
# picks another. Exit status: 0 clean (or formatted), 1 --check found
# differences, 2 usage or tool errors.
set -euo pipefail

usage() {
  sed -n '/^#   scripts/,/^# differences/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

check=0
whole_files=0
base=
base_given=0
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    --whole-files) whole_files=1 ;;
    -h | --help) usage ;;
    -*) echo "format.sh: unknown option $arg" >&2; usage ;;
    *)
      if ((base_given)); then echo "format.sh: more than one BASE" >&2; usage; fi
      base=$arg
      base_given=1
      ;;
  esac
done

cd "$(git rev-parse --show-toplevel)"
clang_format=${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format || true)}
if [ -z "$clang_format" ] || [ ! -x "$(command -v "$clang_format")" ]; then
  echo "format.sh: clang-format not found: install clang-format-14 or set CLANG_FORMAT=PATH" >&2
  exit 2
fi
if [ -z "$base" ]; then
  base=main
  git rev-parse --verify --quiet main^{commit} >/dev/null || base=origin/main
fi
if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
  echo "format.sh: '$base' is not a commit" >&2
  exit 2
fi
merge_base=$(git merge-base "$base" HEAD)

is_cxx() {
  case "$1" in
    *.cc | *.h | *.cpp | *.hpp) return 0 ;;
    *) return 1 ;;
  esac
}

# Changed files (against the merge base, working tree included) and new
# files git does not know yet; deleted files drop out.
files=()
new_files=()
while IFS= read -r f; do
  is_cxx "$f" && [ -f "$f" ] && files+=("$f")
done < <(git diff --name-only --diff-filter=ACMR "$merge_base" --)
while IFS= read -r f; do
  is_cxx "$f" && [ -f "$f" ] && new_files+=("$f")
done < <(git ls-files --others --exclude-standard)

# --lines=FIRST:LAST arguments for the lines of FILE changed since the merge
# base, from the `@@ -a,b +c,d @@` headers of a zero-context diff (d = 0 is
# a pure deletion: nothing to format).
changed_lines() {
  git diff -U0 --no-color "$merge_base" -- "$1" |
    sed -nE 's/^@@ -[0-9,]+ \+([0-9]+)(,([0-9]+))? @@.*/\1 \3/p' |
    while read -r first count; do
      count=${count:-1}
      if [ "$count" -gt 0 ]; then echo "--lines=$first:$((first + count - 1))"; fi
    done
}

status=0
format_one() {
  local file=$1
  shift
  if ((check)); then
    # diff exits 1 when the file would change.
    if ! "$clang_format" --style=file "$@" "$file" | diff -u --label "a/$file" --label "b/$file" "$file" -; then
      status=1
    fi
  else
    "$clang_format" --style=file -i "$@" "$file"
  fi
}

count=0
for f in ${files[@]+"${files[@]}"}; do
  if ((whole_files)); then
    format_one "$f"
  else
    mapfile -t ranges < <(changed_lines "$f")
    ((${#ranges[@]})) || continue
    format_one "$f" "${ranges[@]}"
  fi
  count=$((count + 1))
done
for f in ${new_files[@]+"${new_files[@]}"}; do
  format_one "$f"
  count=$((count + 1))
done

if ((check)); then
  if ((status)); then
    echo "format.sh: not formatted; the diff above is what scripts/format.sh $base would apply" >&2
  else
    echo "format.sh: $count changed file(s) since $base: nothing to format" >&2
  fi
else
  echo "format.sh: $count file(s) formatted (changes since $base)" >&2
fi
exit "$status"
