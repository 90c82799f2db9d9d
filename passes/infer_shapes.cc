// infer-shapes: attaches element types and shapes to values that have none,
// using ONNX's shape inference (libonnx). It runs only where libonnx knows
// the model's IR version and default-domain opset (<= 8 and <= 17 here);
// elsewhere it does nothing and says so in the report, since guessing from
// an older schema could attach wrong shapes. Inferred shapes never replace
// declared ones. Symbolic dims from the graph inputs propagate with data
// propagation on (Shape -> Gather -> Reshape chains).
#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ir/serialization.h"
#include "ir/shape_inference.h"
#include "passes/builtin_passes.h"
#include "passes/shape_inference.h"

namespace qopt {

absl::StatusOr<ShapeInferenceResult> AnnotateInferredShapes(ir::Model& model, bool include_outputs) {
  ShapeInferenceResult result;
  if (std::string why = ir::WhyNoShapeInference(model); !why.empty()) {
    result.skipped = true;
    result.skip_reason = std::move(why);
    return result;
  }
  onnx::ModelProto proto = ir::ExportModelForShapeInference(model);
  if (absl::Status s = ir::RunShapeInference(proto, /*data_propagation=*/true); !s.ok()) return s;
  ir::Graph& graph = model.graph();
  auto annotate = [&](const onnx::ValueInfoProto& info) {
    ir::Value* v = graph.FindValue(info.name());
    if (v == nullptr || v->has_type_info() || !info.has_type()) return;
    v->set_type_info(info);
    ++result.annotated;
  };
  for (const onnx::ValueInfoProto& info : proto.graph().value_info()) annotate(info);
  if (include_outputs) {
    for (const onnx::ValueInfoProto& info : proto.graph().output()) annotate(info);
  }
  return result;
}

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

}  // namespace

absl::StatusOr<std::unique_ptr<ir::Model>> CopyWithInputShapes(const ir::Model& model, const std::string& spec) {
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
  return copy;
}

namespace {

class InferShapes : public Pass {
 public:
  absl::string_view name() const override { return "infer-shapes"; }
  absl::string_view summary() const override {
    return "Attach types and shapes from ONNX shape inference to values that lack them (opset <= 17)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    auto result = AnnotateInferredShapes(model);
    if (!result.ok()) return result.status();
    if (result->skipped) {
      if (context.report) {
        context.report->AddFinding({Severity::kInfo, std::string(name()), "",
                                    absl::StrCat("skipped: ", result->skip_reason)});
      }
      ++skipped_;
      return false;
    }
    annotated_ += result->annotated;
    return result->annotated > 0;
  }

 private:
  Statistic annotated_{this, "values-annotated", "Values given an inferred type and shape"};
  Statistic skipped_{this, "skipped", "1 when the model's opset is unknown to libonnx and nothing was inferred"};
};

}  // namespace

std::unique_ptr<Pass> CreateInferShapesPass() { return std::make_unique<InferShapes>(); }

}  // namespace qopt
