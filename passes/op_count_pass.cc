// op-count as a pass: adds the histogram to the report; with compare=FILE it
// loads a second model and reports both side by side with the ratio
// this/other
// (e.g. an FP32 model against its INT8 version).
#include "analysis/op_count.h"
#include "ir/serialization.h"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

class OpCountPass : public Pass {
 public:
  absl::string_view name() const override { return "op-count"; }
  absl::string_view summary() const override {
    return "Report node counts by domain::op_type and category (analysis; compare=OTHER.onnx for side by side)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    analysis::OpCounts counts = analysis::CountOps(model.graph());
    nlohmann::json data = analysis::OpCountsToJson(counts);
    std::string text;
    if (compare_.value().empty()) {
      text = analysis::FormatOpCounts(counts);
    } else {
      auto other = ir::LoadModel(compare_.value());
      if (!other.ok()) return other.status();
      analysis::OpCounts other_counts = analysis::CountOps((*other)->graph());
      text = analysis::FormatOpCounts(counts, &other_counts, "current", "compare");
      data["compare"] = {{"path", compare_.value()}, {"counts", analysis::OpCountsToJson(other_counts)}};
      data["compare"]["node_ratio"] =
          other_counts.total_nodes ? static_cast<double>(counts.total_nodes) / other_counts.total_nodes : 0.0;
    }
    if (context.report) context.report->AddAnalysis("op-count", std::move(data), std::move(text));
    return false;
  }

 private:
  Option<std::string> compare_{this, "compare", "Another .onnx file to print side by side, with the ratio", ""};
};

}  // namespace

std::unique_ptr<Pass> CreateOpCountPass() { return std::make_unique<OpCountPass>(); }

}  // namespace qopt
