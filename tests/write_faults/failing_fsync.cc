// Preloaded (LD_PRELOAD) into qopt-opt by run_write_faults.sh: every flush to
// disk fails with EIO, as on a disk that lost the write. It shows which runs
// flush (--fsync) and that a failed flush leaves no output behind.
#include <cerrno>

extern "C" int fsync(int /*fd*/) {
  errno = EIO;
  return -1;
}

extern "C" int fdatasync(int /*fd*/) {
  errno = EIO;
  return -1;
}
