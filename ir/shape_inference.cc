#include "ir/shape_inference.h"

#include <algorithm>
#include <exception>

#include "absl/strings/str_cat.h"
#include "onnx/shape_inference/implementation.h"

namespace qopt::ir {

std::string WhyNoShapeInference(const Model& model) {
  const int64_t opset = model.OpsetVersion("").value_or(0);
  if (model.ir_version() <= kLastIrVersionOfLibOnnx && opset <= kLastOpsetOfLibOnnx) return "";
  return absl::StrCat("IR version ", model.ir_version(), " / opset ", opset, " is newer than libonnx 1.12 knows");
}

absl::Status RunShapeInference(onnx::ModelProto& proto, bool data_propagation) {
  RegisterContribShapeRules();
  try {
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/false, /*error_mode=*/0,
                                                                   data_propagation));
  } catch (const std::exception& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    return absl::InvalidArgumentError(absl::StrCat("ONNX shape inference failed: ", message));
  }
  return absl::OkStatus();
}

}  // namespace qopt::ir
