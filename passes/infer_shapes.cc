// infer-shapes: attaches element types and shapes to values that have none,
// using ONNX's shape inference (libonnx). It runs only where libonnx knows
// the model's IR version and default-domain opset (<= 8 and <= 17 here);
// elsewhere it does nothing and says so in the report, since guessing from
// an older schema could attach wrong shapes. Inferred shapes never replace
// declared ones. Symbolic dims from the graph inputs propagate with data
// propagation on (Shape -> Gather -> Reshape chains).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ir/serialization.h"
#include "onnx/shape_inference/implementation.h"
#include "passes/builtin_passes.h"
#include "passes/shape_inference.h"

namespace qopt {

namespace {
constexpr int64_t kLastIrVersionKnown = 8;
constexpr int64_t kLastOpsetKnown = 17;
}  // namespace

absl::StatusOr<ShapeInferenceResult> AnnotateInferredShapes(ir::Model& model, bool include_outputs) {
  ShapeInferenceResult result;
  const int64_t opset = model.OpsetVersion("").value_or(0);
  if (model.ir_version() > kLastIrVersionKnown || opset > kLastOpsetKnown) {
    result.skipped = true;
    result.skip_reason = absl::StrCat("IR version ", model.ir_version(), " / opset ", opset,
                                      " is newer than libonnx 1.12 knows");
    return result;
  }
  onnx::ModelProto proto = ir::ExportModel(model, /*keep_external=*/true);
  try {
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/false, /*error_mode=*/0,
                                                                   /*data_prop=*/true));
  } catch (const std::exception& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    return absl::InvalidArgumentError(absl::StrCat("ONNX shape inference failed: ", message));
  }
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
