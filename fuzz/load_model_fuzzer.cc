// libFuzzer target: bytes as an .onnx file -> LoadModel (the mapped-file
// path with its wire-format payload scan) -> Verify -> SaveModel (payload
// splicing) -> LoadModel again. Any input may be refused with a status; a
// crash, a sanitizer report, or a saved model that does not load back is a
// finding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "ir/serialization.h"
#include "ir/verifier.h"

namespace {

// A private folder for the input and output files, removed at exit.
// Never destroyed, so the exit handler can still read it.
const std::string& WorkDir() {
  static const std::string* dir = [] {
    auto* tmpl = new std::string((std::filesystem::temp_directory_path() / "qopt-fuzz-load.XXXXXX").string());
    if (::mkdtemp(tmpl->data()) == nullptr) std::abort();
    std::atexit([] { std::filesystem::remove_all(WorkDir()); });
    return tmpl;
  }();
  return *dir;
}

bool WriteAll(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in = absl::StrCat(WorkDir(), "/in.onnx");
  const std::string out = absl::StrCat(WorkDir(), "/out.onnx");
  if (!WriteAll(in, data, size)) std::abort();
  auto model = qopt::ir::LoadModel(in);
  if (!model.ok()) return 0;
  if (!qopt::ir::Verify(**model).ok()) return 0;
  if (!qopt::ir::SaveModel(**model, out).ok()) return 0;  // e.g. an external tensor's file is missing
  auto again = qopt::ir::LoadModel(out);
  if (!again.ok()) {
    std::fprintf(stderr, "a model qopt loaded and saved does not load back: %s\n",
                 std::string(again.status().message()).c_str());
    std::abort();
  }
  std::filesystem::remove(out);
  return 0;
}
