# Sourced by the bench scripts: the part they share after their arguments.

# The PaddleOCR models' input dims in the benchmarks and their image
# normalization (PaddleOCR's: ImageNet mean/std for det, (x - 0.5) / 0.5 for
# rec and cls), as qopt-calibrate / ort_bench.js flags.
declare -A dims=([det]=1x3x320x320 [rec]=1x3x48x320 [cls]=1x3x48x192)
declare -A norm=(
  [det]="--mean=0.485,0.456,0.406 --std=0.229,0.224,0.225"
  [rec]="--mean=0.5 --std=0.5"
  [cls]="--mean=0.5 --std=0.5"
)

# The first line of a bench's output: commit (+changes when the tree is
# dirty), date, CPU, cores and the CPU's int8 dot-product flags.
bench_header() {
  local commit dirty= cpu vnni
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if git status --porcelain 2>/dev/null | grep -q .; then dirty=+changes; fi
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
  vnni=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx512_vnni|avx_vnni|amx_int8' | sort | paste -sd' ' - || true)
  echo "qopt ${commit}${dirty}, $(date -u +%Y-%m-%d), ${cpu:-unknown CPU}, $(nproc) cores, VNNI flags: ${vnni:-none}"
}
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
