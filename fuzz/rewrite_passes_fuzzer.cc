// libFuzzer target: "fuzzed but valid" models through the rewrite passes.
// The bytes drive a small generator of QDQ graphs of the shapes ONNX
// Runtime's quantizer and other tools emit (Q -> DQ pairs with uint8 or int8
// zero points, per-tensor and per-channel int8 weights, Conv with and
// without bias, activations that stay float, data movement between Q and
// DQ, parameters as Constant nodes or initializers), then through one to
// three passes or named pipelines from the built-in registry with default
// options. A pass may refuse a model (a status); a pass that leaves the IR
// invalid (the pass manager's verifier: an InternalError), a crash, or a
// sanitizer report is a finding. Exactness against ONNX Runtime is checked
// by the ORT tests, not here (ORT runs in Node).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/serialization.h"
#include "pass/pass_manager.h"
#include "pass/pipeline.h"
#include "pass/registry.h"
#include "pass/report.h"
#include "passes/builtin_passes.h"

namespace {

// Writes a model in ONNX textual syntax: every activation is float[1,C,4,4].
class ModelWriter {
 public:
  ModelWriter(FuzzedDataProvider& bytes) : bytes_(bytes) {
    channels_ = bytes_.ConsumeIntegralInRange<int>(1, 3);
    params_as_initializers_ = bytes_.ConsumeBool();
  }

  std::string Write() {
    std::vector<std::string> values = {"X"};
    const int steps = bytes_.ConsumeIntegralInRange<int>(1, 12);
    for (int i = 0; i < steps && bytes_.remaining_bytes() > 0; ++i) {
      const std::string& v = values[bytes_.ConsumeIntegralInRange<size_t>(0, values.size() - 1)];
      values.push_back(Step(v, values));
    }
    std::vector<std::string> outputs = {values.back()};
    if (values.size() > 2 && bytes_.ConsumeBool()) outputs.push_back(values[values.size() / 2]);
    std::vector<std::string> output_decls;
    for (const std::string& o : outputs) output_decls.push_back(absl::StrCat(Type(), " ", o, "_out"));
    for (const std::string& o : outputs) body_ += absl::StrCat("  ", o, "_out = Identity(", o, ")\n");
    std::string inits = initializers_.empty() ? "" : absl::StrCat("<", absl::StrJoin(initializers_, ", "), ">");
    return absl::StrCat("<ir_version: 8, opset_import: [\"\" : 14]>\n", "fuzzed (", Type(), " X) => (",
                        absl::StrJoin(output_decls, ", "), ") ", inits, " {\n", body_, "}\n");
  }

 private:
  std::string Type() const { return absl::StrCat("float[1,", channels_, ",4,4]"); }
  std::string Fresh(const char* stem) { return absl::StrCat(stem, counter_++); }

  // A constant parameter, as an initializer or a Constant node.
  std::string Param(const std::string& type, const std::string& dims, const std::string& values) {
    const std::string name = Fresh("p");
    const std::string shaped = dims.empty() ? type : absl::StrCat(type, "[", dims, "]");
    if (params_as_initializers_) {
      initializers_.push_back(absl::StrCat(shaped, " ", name, " = {", values, "}"));
    } else {
      body_ += absl::StrCat("  ", name, " = Constant <value = ", shaped, " {", values, "}> ()\n");
    }
    return name;
  }

  std::string Scale() {
    static const char* kScales[] = {"0.0078125", "0.05", "0.1", "0.25", "1e-8", "0.0039215"};
    return kScales[bytes_.ConsumeIntegralInRange<int>(0, 5)];
  }

  std::string Node(const std::string& op, const std::vector<std::string>& inputs, const std::string& attrs = "") {
    const std::string out = Fresh("v");
    body_ += absl::StrCat("  ", out, " = ", op, attrs, "(", absl::StrJoin(inputs, ", "), ")\n");
    return out;
  }

  std::string QuantDequant(const std::string& v) {
    const bool signed_zp = bytes_.ConsumeBool();
    const std::string s = Param("float", "", Scale());
    const std::string z = signed_zp ? Param("int8", "", absl::StrCat(bytes_.ConsumeIntegralInRange<int>(-128, 127)))
                                    : Param("uint8", "", absl::StrCat(bytes_.ConsumeIntegral<uint8_t>()));
    std::string q = Node("QuantizeLinear", {v, s, z});
    if (bytes_.ConsumeBool()) {  // data movement between Q and DQ
      q = bytes_.ConsumeBool() ? Node("Transpose", {q}, " <perm = [0, 1, 3, 2]> ")
                               : Node("Reshape", {q, Param("int64", "4", absl::StrCat("1, ", channels_, ", 4, 4"))});
    }
    return Node("DequantizeLinear", {q, s, z});
  }

  std::string Weights(int count) {
    std::vector<std::string> w;
    for (int i = 0; i < count; ++i) w.push_back(absl::StrCat(bytes_.ConsumeIntegralInRange<int>(-127, 127)));
    return absl::StrJoin(w, ", ");
  }

  std::string QuantizedConv(const std::string& v) {
    const int c = channels_;
    const std::string w = Param("int8", absl::StrCat(c, ",", c, ",1,1"), Weights(c * c));
    std::string wd;
    if (bytes_.ConsumeBool()) {  // per-channel
      std::vector<std::string> scales(c, Scale());
      const std::string s = Param("float", absl::StrCat(c), absl::StrJoin(scales, ", "));
      const std::string z = Param("int8", absl::StrCat(c), absl::StrJoin(std::vector<std::string>(c, "0"), ", "));
      wd = Node("DequantizeLinear", {w, s, z}, " <axis = 0> ");
    } else {
      wd = Node("DequantizeLinear", {w, Param("float", "", Scale()), Param("int8", "", "0")});
    }
    std::vector<std::string> inputs = {QuantDequant(v), wd};
    if (bytes_.ConsumeBool()) inputs.push_back(Param("float", absl::StrCat(c), Weights(c)));
    return QuantDequant(Node("Conv", inputs));
  }

  std::string Step(const std::string& v, const std::vector<std::string>& values) {
    const std::string& other = values[bytes_.ConsumeIntegralInRange<size_t>(0, values.size() - 1)];
    switch (bytes_.ConsumeIntegralInRange<int>(0, 9)) {
      case 0: return QuantDequant(v);
      case 1: return QuantizedConv(v);
      case 2: return Node("Relu", {v});
      case 3: return Node("Sigmoid", {v});
      case 4: return Node("HardSwish", {v});
      case 5: return Node("Add", {v, other});
      case 6: return Node("Mul", {v, other});
      case 7: return Node("MaxPool", {v}, " <kernel_shape = [1, 1]> ");
      case 8: return Node("Clip", {v, Param("float", "", "0"), Param("float", "", "6")});
      default: return QuantDequant(Node("Add", {QuantDequant(v), QuantDequant(other)}));
    }
  }

  FuzzedDataProvider& bytes_;
  int channels_ = 1;
  bool params_as_initializers_ = false;
  int counter_ = 0;
  std::string body_;
  std::vector<std::string> initializers_;
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
  const std::string text = ModelWriter(bytes).Write();
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
