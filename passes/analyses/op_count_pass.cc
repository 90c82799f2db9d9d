// op-count as a pass: adds the histogram to the report, and the MACs of the
// compute ops with the share that runs in integer; with compare=FILE it loads
// a second model and reports both side by side with the ratio this/other
// (e.g. an INT8 model against its FP32 original). input-shape= fixes
// symbolic input dims (on a copy) so that shapes, and so MACs, are known.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/macs.h"
#include "analysis/op_count.h"
#include "ir/serialization.h"
#include "passes/builtin_passes.h"
#include "passes/shape_inference.h"

namespace qopt {
namespace {

// MACs of `model`, with the given input dims fixed on a copy first.
absl::StatusOr<analysis::MacCounts> CountMacsWithShapes(const ir::Model& model, const std::string& spec,
                                                        const analysis::TargetProfile& target) {
  if (spec.empty()) return analysis::CountMacs(model.graph(), target);
  auto copy = CopyWithInputShapes(model, spec);
  if (!copy.ok()) return copy.status();
  return analysis::CountMacs((*copy)->graph(), target);
}

std::string MacsText(const analysis::MacCounts& m) {
  if (m.nodes_counted == 0 && m.nodes_unknown == 0) return "";
  std::string out = absl::StrFormat("  MACs: %.4g (%.1f%% in integer on the target) over %d compute nodes",
                                    static_cast<double>(m.total),
                                    m.total ? 100.0 * m.integer / m.total : 0.0, m.nodes_counted);
  if (m.nodes_unknown) absl::StrAppend(&out, "; ", m.nodes_unknown, " with unknown shapes (try input-shape=)");
  return out + "\n";
}

class OpCountPass : public Pass {
 public:
  absl::string_view name() const override { return "op-count"; }
  absl::string_view summary() const override {
    return "Report node counts by domain::op_type and category, and MACs (analysis; compare=OTHER.onnx for side by side)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    analysis::OpCounts counts = analysis::CountOps(model.graph());
    nlohmann::json data = analysis::OpCountsToJson(counts);
    absl::StatusOr<const analysis::TargetProfile*> profile = analysis::ResolveTargetProfile(target_.value());
    if (!profile.ok()) return profile.status();
    auto macs = CountMacsWithShapes(model, input_shape_.value(), **profile);
    if (!macs.ok()) return macs.status();
    data["macs"] = analysis::MacsToJson(*macs);
    std::string text;
    if (compare_.value().empty()) {
      text = analysis::FormatOpCounts(counts) + MacsText(*macs);
    } else {
      auto other = ir::LoadModel(compare_.value());
      if (!other.ok()) return other.status();
      analysis::OpCounts other_counts = analysis::CountOps((*other)->graph());
      text = analysis::FormatOpCounts(counts, &other_counts, "current", "compare") + MacsText(*macs);
      data["compare"] = {{"path", compare_.value()}, {"counts", analysis::OpCountsToJson(other_counts)}};
      data["compare"]["node_ratio"] =
          other_counts.total_nodes ? static_cast<double>(counts.total_nodes) / other_counts.total_nodes : 0.0;
    }
    if (context.report) context.report->AddAnalysis("op-count", std::move(data), std::move(text));
    return false;
  }

 private:
  Option<std::string> compare_{this, "compare", "Another .onnx file to print side by side, with the ratio", ""};
  Option<std::string> target_{this, "target",
                              "Target profile deciding which MACs run in integer: ort-cpu, onnx-standard, or a "
                              "profile file (qopt-target/1 JSON, docs/targets.md)",
                              "ort-cpu"};
  Option<std::string> input_shape_{this, "input-shape",
                                   "Fix symbolic input dims for the MAC count, e.g. x:1x3x224x224[,y:...]", ""};
};

}  // namespace

std::unique_ptr<Pass> CreateOpCountPass() { return std::make_unique<OpCountPass>(); }

}  // namespace qopt
