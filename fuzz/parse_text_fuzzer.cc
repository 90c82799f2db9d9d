// libFuzzer target: bytes as ONNX textual syntax -> ParseModelText ->
// Verify -> PrintModel (every element) -> ParseModelText again. A model
// qopt parsed and printed without eliding anything must parse back (the
// printer elides what the syntax cannot hold: ir/printer.h); anything else
// may be refused with a status.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ir/printer.h"
#include "ir/serialization.h"
#include "ir/verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto model = qopt::ir::ParseModelText(text);
  if (!model.ok() || !qopt::ir::Verify(**model).ok()) return 0;
  qopt::ir::PrintOptions all;
  all.print_all_elements = true;
  const std::string printed = qopt::ir::PrintModel(**model, all);
  if (printed.find("# elided") != std::string::npos) return 0;
  auto again = qopt::ir::ParseModelText(printed);
  if (!again.ok()) {
    std::fprintf(stderr, "qopt's printout of a model it parsed does not parse: %s\n%s\n",
                 std::string(again.status().message()).c_str(), printed.c_str());
    std::abort();
  }
  return 0;
}
