#include "ir/file_copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"

namespace qopt::ir {
namespace {

// Batches end on the output's multiples of this, so that each write after
// the first starts where the kernel may place a large folio (a folio starts
// at a multiple of its own size). With `cp`'s 64 KiB batches ext4 (Linux
// 6.18) made folios of 64 KiB; with this copier's, up to 1 MiB.
constexpr int64_t kFolioBytes = int64_t{64} << 10;
constexpr int kPipeBytes = 1 << 20;

// errno values that mean "these files cannot be spliced", not a failure.
bool SpliceUnsupported(int error) {
  return error == EINVAL || error == ENOSYS || error == EOPNOTSUPP || error == EBADF;
}

absl::Status ErrnoError(int error) { return absl::DataLossError(std::strerror(error)); }

}  // namespace

PipeCopier::~PipeCopier() {
  if (read_end_ >= 0) ::close(read_end_);
  if (write_end_ >= 0) ::close(write_end_);
}

bool PipeCopier::OpenPipe() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return false;
  read_end_ = ends[0];
  write_end_ = ends[1];
  // As large as allowed: fs.pipe-max-size caps it (1 MiB by default), and an
  // unprivileged user past its pipe quota keeps the default 64 KiB.
  ::fcntl(write_end_, F_SETPIPE_SZ, kPipeBytes);
  const int size = ::fcntl(write_end_, F_GETPIPE_SZ);
  capacity_ = size > 0 ? static_cast<size_t>(size) : 0;
  return capacity_ > 0;
}

absl::Status PipeCopier::WriteQueued(int out, size_t queued) {
  std::string buffer(queued, '\0');
  size_t have = 0;
  while (have < queued) {
    ssize_t n = ::read(read_end_, buffer.data() + have, queued - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError(n < 0 ? errno : EIO);
    have += static_cast<size_t>(n);
  }
  for (size_t done = 0; done < queued;) {
    ssize_t n = ::write(out, buffer.data() + done, queued - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> PipeCopier::Copy(int in, int64_t offset, size_t size, int out, int64_t out_position) {
  if (unusable_ || (read_end_ < 0 && !OpenPipe())) {
    unusable_ = true;
    return 0;
  }
  auto in_offset = static_cast<loff_t>(offset);
  size_t done = 0;
  while (done < size) {
    size_t want = std::min(size - done, capacity_);
    // A full batch ends on a folio boundary of the output (see the class).
    const auto past_boundary = static_cast<size_t>((out_position + static_cast<int64_t>(done + want)) % kFolioBytes);
    if (want == capacity_ && past_boundary < want) want -= past_boundary;
    ssize_t queued = ::splice(in, &in_offset, write_end_, nullptr, want, SPLICE_F_MOVE);
    if (queued < 0) {
      if (errno == EINTR) continue;
      if (SpliceUnsupported(errno)) {
        unusable_ = true;
        return done;
      }
      return ErrnoError(errno);
    }
    if (queued == 0) break;  // `in` ended
    size_t left = static_cast<size_t>(queued);
    while (left > 0) {
      ssize_t n = ::splice(read_end_, nullptr, out, nullptr, left, SPLICE_F_MOVE);
      if (n > 0) {
        left -= static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && SpliceUnsupported(errno)) {
        // The output takes no splice: this batch is written from memory,
        // later copies go another way.
        unusable_ = true;
        if (absl::Status s = WriteQueued(out, left); !s.ok()) return s;
        return done + static_cast<size_t>(queued);
      } else {
        return ErrnoError(n < 0 ? errno : EIO);
      }
    }
    done += static_cast<size_t>(queued);
  }
  return done;
}

}  // namespace qopt::ir
