// libFuzzer target: bytes as a --pass pipeline text -> BuildPipeline against
// the built-in registry. Errors are statuses with a column; a crash or a
// sanitizer report is a finding.
#include <cstdint>
#include <string>

#include "pass/pipeline.h"
#include "pass/registry.h"
#include "passes/builtin_passes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const qopt::PassRegistry* registry = [] {
    auto* r = new qopt::PassRegistry();
    qopt::RegisterBuiltinPasses(*r);
    return r;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)qopt::ParsePipeline(text);
  (void)qopt::BuildPipeline(text, *registry);
  return 0;
}
