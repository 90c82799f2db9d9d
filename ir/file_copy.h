// Copying byte ranges of one file onto the end of another inside the kernel,
// so that a large model's weights never pass through this process's memory
// (SaveModel's payloads, issue 15).
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"

namespace qopt::ir {

// Copies through a pipe of its own (splice: file -> pipe -> file), made on
// first use as large as the system allows (up to 1 MiB).
//
// Why not copy_file_range: the kernel copies that through a per-task pipe of
// 16 pages, in batches that end on the input's page-cache folios. When the
// range sits at another offset in the output than in the input (any rewrite
// that changes a byte before it), every batch then starts mid-folio in the
// output, and ext4 (Linux 6.18) builds the output's page cache of small
// folios: the 1 GiB round trip of bench/io_scale.sh took 1.5x `cp`'s time.
// A larger pipe, its batches ended on the output's 64 KiB boundaries, makes
// every write after the first start on a folio boundary, at any offsets.
class PipeCopier {
 public:
  PipeCopier() = default;
  PipeCopier(const PipeCopier&) = delete;
  PipeCopier& operator=(const PipeCopier&) = delete;
  ~PipeCopier();

  // Copies `size` bytes of file `in` from `offset` to the current position
  // of file `out`, which is `out_position` bytes into it (batches are cut on
  // its boundaries). Returns the bytes copied, fewer than `size` when `in`
  // ends first or when the kernel cannot splice between these files; then
  // usable() is false and the caller copies the rest another way. An error
  // carries strerror's text.
  absl::StatusOr<size_t> Copy(int in, int64_t offset, size_t size, int out, int64_t out_position);
  bool usable() const { return !unusable_; }

 private:
  bool OpenPipe();
  // After the output side refused to splice: what waits in the pipe is
  // read back and written.
  absl::Status WriteQueued(int out, size_t queued);

  int read_end_ = -1;
  int write_end_ = -1;
  size_t capacity_ = 0;
  bool unusable_ = false;
};

}  // namespace qopt::ir
