// libFuzzer target: "fuzzed but valid" models through the rewrite passes.
// The bytes drive the generator of small QDQ graphs of
// fuzz/qdq_model_generator.h (shared with qopt_generate_qdq_models, whose
// seeded models the CTest ort.generated_exactness runs in ONNX Runtime),
// then through one to three passes or named pipelines from the built-in registry with default
// options. A pass may refuse a model (a status); a pass that leaves the IR
// invalid (the pass manager's verifier: an InternalError), a crash, or a
// sanitizer report is a finding. Exactness against ONNX Runtime is checked
// by ort.generated_exactness on seeded models, not here (ORT runs in Node).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fuzz/qdq_model_generator.h"
#include "ir/serialization.h"
#include "pass/pass_manager.h"
#include "pass/pipeline.h"
#include "pass/registry.h"
#include "pass/report.h"
#include "passes/builtin_passes.h"

namespace {

// The generator's choices from the fuzzer's bytes (FuzzedDataProvider takes
// as many bytes as the range needs; none left gives the range's low end).
class FuzzedChoices : public qopt::fuzz::Choices {
 public:
  explicit FuzzedChoices(FuzzedDataProvider& bytes) : bytes_(bytes) {}
  int IntInRange(int lo, int hi) override { return bytes_.ConsumeIntegralInRange<int>(lo, hi); }
  bool Bool() override { return bytes_.ConsumeBool(); }
  bool Exhausted() const override { return bytes_.remaining_bytes() == 0; }

 private:
  FuzzedDataProvider& bytes_;
};

const qopt::PassRegistry& Registry() {
  static const qopt::PassRegistry* registry = [] {
    auto* r = new qopt::PassRegistry();
    qopt::RegisterBuiltinPasses(*r);
    return r;
  }();
  return *registry;
}

// Every pass and named pipeline; passes that read files or write them
// (calibration tables, sensitivity documents, exposed tensors) refuse with
// a status when their options name none.
const std::vector<std::string>& Choices() {
  static const std::vector<std::string> choices = [] {
    std::vector<std::string> names;
    for (const auto& pass : Registry().CreateAll()) names.emplace_back(pass->name());
    for (const auto& [name, pipeline] : Registry().pipelines()) names.push_back(name);
    return names;
  }();
  return choices;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider bytes(data, size);
  std::vector<std::string> pipeline;
  const int passes = bytes.ConsumeIntegralInRange<int>(1, 3);
  for (int i = 0; i < passes; ++i) {
    pipeline.push_back(Choices()[bytes.ConsumeIntegralInRange<size_t>(0, Choices().size() - 1)]);
  }
  FuzzedChoices choices(bytes);
  const std::string text = qopt::fuzz::GenerateQdqModelText(choices);
  auto model = qopt::ir::ParseModelText(text);
  if (!model.ok()) {
    std::fprintf(stderr, "the generator wrote a model qopt cannot parse: %s\n%s\n",
                 std::string(model.status().message()).c_str(), text.c_str());
    std::abort();
  }
  auto built = qopt::BuildPipeline(absl::StrJoin(pipeline, ","), Registry());
  if (!built.ok()) std::abort();
  qopt::PassManager manager;
  for (auto& pass : *built) manager.AddPass(std::move(pass));
  qopt::Report report;
  qopt::PassContext context{&report};
  absl::Status s = manager.Run(**model, context);
  if (s.code() == absl::StatusCode::kInternal) {
    std::fprintf(stderr, "pipeline '%s' broke the model: %s\n%s\n", absl::StrJoin(pipeline, ",").c_str(),
                 std::string(s.message()).c_str(), text.c_str());
    std::abort();
  }
  return 0;
}
