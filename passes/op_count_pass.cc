// op-count as a pass: adds the histogram to the report, and the MACs of the
// compute ops with the share that runs in integer; with compare=FILE it loads
// a second model and reports both side by side with the ratio this/other
// (e.g. an INT8 model against its FP32 original). input-shape= fixes
// symbolic input dims (on a copy) so that shapes, and so MACs, are known.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "analysis/macs.h"
#include "analysis/op_count.h"
#include "ir/serialization.h"
#include "passes/builtin_passes.h"
#include "passes/shape_inference.h"

namespace qopt {
namespace {

// "x:1x3x224x224,y:1x8" -> {x: [1,3,224,224], y: [1,8]}.
absl::StatusOr<std::map<std::string, std::vector<int64_t>>> ParseInputShapes(const std::string& text) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> parts = absl::StrSplit(item, absl::MaxSplits(':', 1));
    std::vector<int64_t> dims;
    bool ok = parts.size() == 2 && !parts[0].empty();
    for (absl::string_view d : absl::StrSplit(parts.size() == 2 ? parts[1] : "", 'x')) {
      int64_t v;
      ok = ok && absl::SimpleAtoi(d, &v) && v > 0;
      dims.push_back(ok ? v : 0);
    }
    if (!ok) return absl::InvalidArgumentError(absl::StrCat("input-shape: expected NAME:1x3x224x224, got '", item, "'"));
    shapes[std::string(parts[0])] = dims;
  }
  return shapes;
}

// MACs of `model`, with the given input dims fixed on a copy first.
absl::StatusOr<analysis::MacCounts> CountMacsWithShapes(const ir::Model& model, const std::string& spec,
                                                        const analysis::TargetProfile& target) {
  if (spec.empty()) return analysis::CountMacs(model.graph(), target);
  auto shapes = ParseInputShapes(spec);
  if (!shapes.ok()) return shapes.status();
  onnx::ModelProto proto = ir::ExportModel(model, /*keep_external=*/true);
  proto.mutable_graph()->clear_value_info();  // re-inferred with the fixed dims
  for (const auto& [name, dims] : *shapes) {
    onnx::ValueInfoProto* input = nullptr;
    for (auto& in : *proto.mutable_graph()->mutable_input()) {
      if (in.name() == name) input = &in;
    }
    if (input == nullptr) return absl::InvalidArgumentError(absl::StrCat("input-shape: the model has no input '", name, "'"));
    auto* shape = input->mutable_type()->mutable_tensor_type()->mutable_shape();
    shape->clear_dim();
    for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
  }
  auto copy = ir::ImportModel(std::move(proto), model.base_dir());
  if (!copy.ok()) return copy.status();
  auto inferred = AnnotateInferredShapes(**copy, /*include_outputs=*/true);
  if (!inferred.ok()) return inferred.status();
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
    auto macs = CountMacsWithShapes(model, input_shape_.value(), *analysis::FindTargetProfile(target_.value()));
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
  Option<std::string> target_{this, "target", "Target profile deciding which MACs run in integer", "ort-cpu",
                              {"ort-cpu", "onnx-standard"}};
  Option<std::string> input_shape_{this, "input-shape",
                                   "Fix symbolic input dims for the MAC count, e.g. x:1x3x224x224[,y:...]", ""};
};

}  // namespace

std::unique_ptr<Pass> CreateOpCountPass() { return std::make_unique<OpCountPass>(); }

}  // namespace qopt
