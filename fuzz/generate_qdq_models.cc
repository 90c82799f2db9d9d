// Writes seeded random QDQ models (fuzz/qdq_model_generator.h) as .onnx
// files, for tests/ort/generated_exactness.sh: the fuzzer's generator with
// a seed instead of fuzzer bytes, so that a failing model is named by its
// seed and comes back the same on every run. Each model is parsed, checked
// by qopt's verifier and written by qopt's serializer; the textual form
// goes beside it (SEED.onnxtxt) for reading a failure.
//
//   qopt_generate_qdq_models OUT_DIR --seeds=FIRST..LAST
#include <cstdint>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fuzz/qdq_model_generator.h"
#include "ir/serialization.h"
#include "ir/verifier.h"

namespace {

constexpr char kUsage[] = "usage: qopt_generate_qdq_models OUT_DIR --seeds=FIRST..LAST\n";

bool ParseSeeds(const std::string& arg, uint32_t& first, uint32_t& last) {
  absl::string_view value = arg;
  if (!absl::ConsumePrefix(&value, "--seeds=")) return false;
  std::vector<std::string> ends = absl::StrSplit(value, "..");
  return ends.size() == 2 && absl::SimpleAtoi(ends[0], &first) && absl::SimpleAtoi(ends[1], &last) && first <= last;
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t first = 0, last = 0;
  if (argc != 3 || !ParseSeeds(argv[2], first, last)) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string dir = argv[1];
  for (uint32_t seed = first;; ++seed) {
    qopt::fuzz::SeededChoices choices(seed);
    const std::string text = qopt::fuzz::GenerateQdqModelText(choices);
    const std::string stem = absl::StrCat(dir, "/", seed);
    std::ofstream(stem + ".onnxtxt") << text;
    auto model = qopt::ir::ParseModelText(text);
    absl::Status s = model.ok() ? qopt::ir::Verify(**model) : model.status();
    if (s.ok()) s = qopt::ir::SaveModel(**model, stem + ".onnx");
    if (!s.ok()) {
      std::cerr << "seed " << seed << ": " << s << "\n" << text;
      return 1;
    }
    if (seed == last) break;
  }
  return 0;
}
