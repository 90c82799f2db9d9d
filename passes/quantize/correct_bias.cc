// correct-bias: subtracts measured per-channel output shifts from the float
// biases of Conv, Gemm and MatMul (+ bias Add) before quantization — the
// empirical bias correction of Nagel et al. (ICCV 2019, §4.2). The shifts
// come from tools/qopt-bias-correct, which runs the FP32 model and its
// quantized version in ONNX Runtime on calibration inputs (a C++ pass never
// runs a model). Units are found by the name of the output tensor the shift
// was measured on; one the file names but the model lacks, or whose bias
// cannot take the shift, is listed with the reason, not guessed.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

class CorrectBias : public Pass {
 public:
  absl::string_view name() const override { return "correct-bias"; }
  absl::string_view summary() const override {
    return "Subtract measured per-channel output shifts (qopt-bias-correct) from Conv/Gemm/MatMul biases";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    const std::string& path = corrections_.value();
    if (path.empty()) {
      return absl::InvalidArgumentError(
          "correct-bias: needs corrections=FILE (tools/qopt-bias-correct FP32.onnx --quantize=... -o FILE)");
    }
    std::ifstream in(path);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("correct-bias: cannot read '", path, "'"));
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.contains("units") || !doc["units"].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("correct-bias: '", path, "' is not a qopt-bias-corrections file"));
    }
    ir::Graph& graph = model.graph();
    nlohmann::json done = nlohmann::json::array();
    nlohmann::json left = nlohmann::json::array();
    bool changed = false;
    for (const auto& [unit, entry] : doc["units"].items()) {
      if (!entry.is_object() || !entry.contains("output") || !entry["output"].is_string() ||
          !entry.contains("shift") || !entry["shift"].is_array()) {
        return absl::InvalidArgumentError(absl::StrCat("correct-bias: '", path, "': unit '", unit, "' has no output/shift"));
      }
      std::vector<double> shift;
      for (const auto& v : entry["shift"]) {
        if (!v.is_number() || !std::isfinite(v.get<double>())) {
          return absl::InvalidArgumentError(
              absl::StrCat("correct-bias: '", path, "': unit '", unit, "' has a shift that is not a finite number"));
        }
        shift.push_back(v.get<double>());
      }
      const std::string output = entry["output"].get<std::string>();
      std::string why = Apply(graph, output, shift);
      if (why.empty()) {
        done.push_back({{"unit", unit}, {"output", output}, {"channels", shift.size()}, {"largest", Largest(shift)}});
        ++corrected_;
        changed = true;
      } else {
        left.push_back({{"unit", unit}, {"output", output}, {"why", why}});
        ++left_;
      }
    }
    if (context.report != nullptr) {
      std::string text = absl::StrCat("correct-bias: ", done.size(), " unit(s) corrected, ", left.size(), " left\n");
      for (const auto& l : left) {
        absl::StrAppend(&text, "  left: ", l["unit"].get<std::string>(), ": ", l["why"].get<std::string>(), "\n");
      }
      context.report->AddAnalysis("correct-bias", {{"corrected", done}, {"left", left}, {"file", path}}, text);
    }
    return changed;
  }

 private:
  static double Largest(const std::vector<double>& v) {
    double m = 0;
    for (double x : v) m = std::max(m, std::abs(x));
    return m;
  }

  // The float constant that adds one value per channel to `output`, and where
  // it sits: the Conv's or Gemm's bias input, or a MatMul's sole bias Add.
  // Returns "" when corrected, else why not.
  std::string Apply(ir::Graph& graph, const std::string& output, const std::vector<double>& shift) {
    ir::Value* value = graph.FindValue(output);
    ir::Node* unit = value != nullptr ? value->producer() : nullptr;
    if (unit == nullptr) return "no node writes this tensor in the model";
    const int64_t channels = static_cast<int64_t>(shift.size());
    ir::Node* owner = unit;
    int index = 2;
    if (unit->Is("MatMul")) {
      if (value->uses().size() != 1 || !value->uses()[0].user->Is("Add")) return "MatMul without a sole bias Add";
      owner = value->uses()[0].user;
      index = owner->input(0) == value ? 1 : 0;
    } else if (unit->Is("Gemm")) {
      if (unit->GetFloat("beta").value_or(1.0f) != 1.0f) return "Gemm with beta != 1";
    } else if (!unit->Is("Conv")) {
      return absl::StrCat(unit->op_type(), " is not Conv, Gemm or MatMul");
    }
    ir::Value* bias = owner->input(index);
    std::vector<double> values(channels, 0.0);
    std::vector<int64_t> dims = {channels};
    if (bias != nullptr) {
      const ir::Tensor* t = bias->constant();
      if (t == nullptr || t->type() != ir::ElementType::kFloat) return "the bias is not a float constant";
      absl::StatusOr<std::vector<double>> v = t->ToDoubles();
      if (!v.ok() || static_cast<int64_t>(v->size()) != channels) {
        return absl::StrCat("the bias has ", v.ok() ? v->size() : 0, " values for ", channels, " channels");
      }
      values = *v;
      dims = t->dims();
    } else if (!unit->Is("Conv")) {
      return "no bias to correct";
    }
    std::vector<float> corrected(values.size());
    for (int64_t c = 0; c < channels; ++c) corrected[c] = static_cast<float>(values[c] - shift[c]);
    const std::string name =
        graph.model()->UniqueName(absl::StrCat(bias != nullptr ? bias->name() : output + "_bias", "_corrected"));
    owner->SetInput(index, graph.AddInitializer(name, ir::Tensor::FromFloats(dims, corrected)));
    return "";
  }

  Option<std::string> corrections_{this, "corrections", "qopt-bias-correct's output (schema qopt-bias-corrections/1)",
                                   ""};
  Statistic corrected_{this, "units-corrected", "Biases corrected"};
  Statistic left_{this, "units-left", "Units named by the file and left as they are (see the report)"};
};

}  // namespace

std::unique_ptr<Pass> CreateCorrectBiasPass() { return std::make_unique<CorrectBias>(); }

}  // namespace qopt
