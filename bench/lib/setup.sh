# Sourced by the bench scripts: the part they share after their arguments.
# bench_setup NAME SETUP OUT_DIR
#   SETUP 1: run scripts/install-deps.sh and scripts/build.sh first (to stderr);
#   then finds qopt-opt ($QOPT_OPT, else ${QOPT_BUILD_DIR:-build}/tools/qopt-opt/qopt-opt)
#   and copies it into OUT_DIR, so that a rebuild during a long run cannot
#   change the tool mid-way; sets and exports QOPT_OPT and `qopt` to the copy.
bench_setup() {
  local name=$1 setup=$2 out_dir=$3
  if ((setup)); then
    bash scripts/install-deps.sh >&2
    bash scripts/build.sh >&2
  fi
  local built=${QOPT_OPT:-${QOPT_BUILD_DIR:-build}/tools/qopt-opt/qopt-opt}
  if [ ! -x "$built" ]; then
    echo "$name: no qopt-opt at '$built' (run scripts/build.sh or set QOPT_OPT)" >&2
    exit 2
  fi
  mkdir -p "$out_dir"
  cp "$built" "$out_dir/qopt-opt"
  qopt=$(realpath "$out_dir/qopt-opt")
  export QOPT_OPT=$qopt
}
