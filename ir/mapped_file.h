// A read-only memory mapping of a whole file; shared by the tensors that view
// into it (the model file's payloads, external data), so the bytes stay mapped
// while any tensor lives.
#pragma once

#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace qopt::ir {

class MappedFile {
 public:
  static absl::StatusOr<std::shared_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  absl::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }
  const std::string& path() const { return path_; }
  // The open file (read-only), for copying ranges file to file.
  int fd() const { return fd_; }
  // Gives back the memory of the whole pages inside `range` (a view of
  // bytes()): they are read from the file again if touched later. Keeps the
  // resident size down while a large file is streamed through memory.
  void DropPages(absl::string_view range) const;

 private:
  MappedFile(std::string path, int fd, void* data, size_t size)
      : path_(std::move(path)), fd_(fd), data_(data), size_(size) {}
  std::string path_;
  int fd_;
  void* data_;
  size_t size_;
};

}  // namespace qopt::ir
