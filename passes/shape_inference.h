// ONNX shape inference (libonnx) applied to the IR: values without a
// declared type get the inferred one. Shared by the infer-shapes pass and by
// passes that, like ONNX Runtime's quantizer, need element types to decide
// what to rewrite. The libonnx core and the rules of ONNX Runtime's
// com.microsoft ops are in ir/shape_inference.h (the verifier uses them too).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ir/model.h"

namespace qopt {

struct ShapeInferenceResult {
  int64_t annotated = 0;  // values given a type
  bool skipped = false;   // libonnx does not know the model's IR version/opset
  std::string skip_reason;
};

// With `include_outputs`, graph outputs without a value_info entry of their
// own also get the inferred type (written back as value_info, so this is for
// analysis copies rather than files).
absl::StatusOr<ShapeInferenceResult> AnnotateInferredShapes(ir::Model& model, bool include_outputs = false);

// A copy of `model` with symbolic input dims fixed ("x:1x3x224x224,y:1x8")
// and shapes inferred (graph outputs included), for analyses that need
// static shapes; the model itself is not changed. An unknown input name or a
// malformed spec is an error.
absl::StatusOr<std::unique_ptr<ir::Model>> CopyWithInputShapes(const ir::Model& model, const std::string& spec);

}  // namespace qopt
