// ONNX shape inference (libonnx 1.12) on exported models: the core the
// verifier's shape check and the infer-shapes pass share, with the
// type-and-shape rules of ONNX Runtime's com.microsoft QLinear* ops that
// libonnx lacks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ir/model.h"
#include "onnx/onnx_pb.h"

namespace qopt::ir {

// The newest IR version and default-domain opset libonnx 1.12 knows; newer
// models are not inferred (guessing from an older schema could give wrong
// shapes).
inline constexpr int64_t kLastIrVersionOfLibOnnx = 8;
inline constexpr int64_t kLastOpsetOfLibOnnx = 17;

// Why libonnx cannot infer shapes for `model` ("IR version 10 / opset 21 is
// newer than libonnx 1.12 knows"); empty when it can.
std::string WhyNoShapeInference(const Model& model);

// Runs ONNX shape inference on `proto` in place (errors of single nodes
// leave their outputs unknown; types are not checked). An exception from
// libonnx becomes an error with its message on one line. libonnx's conv and
// pool shape rules run behind a check of the input and weight ranks
// inference has reached, without which libonnx 1.12 crashed (a node-level
// error instead; this wraps the rules in libonnx's process-wide registry).
// On opset 19 and later, DequantizeLinear outputs take their scale's
// element type (as the ONNX schema says; libonnx 1.12's own schema stops at
// opset 13's float).
absl::Status RunShapeInference(onnx::ModelProto& proto, bool data_propagation);

// Refuses (an error naming the node) the inputs on which libonnx 1.12's
// shape inference crashes instead of failing: conv and pool nodes with a
// zero or negative stride, dilation or kernel size, negative pads, an input
// of rank under 3, or input and weight ranks that differ (where the file
// declares them). Found by fuzzing (docs/fuzzing.md). RunShapeInference
// calls it: run libonnx's inference only through RunShapeInference.
absl::Status CheckShapeInferenceSafe(const onnx::ModelProto& proto);

// CheckShapeInferenceSafe's checks of one node, for a caller that walks its
// own graph (ir/inferred_types.cc): `rank_of_input(i)` is the rank input i
// is declared with, -1 where unknown. OK for ops that are not conv or pool.
absl::Status CheckConvPoolNodeSafe(absl::string_view op, absl::string_view name,
                                   absl::Span<const onnx::AttributeProto* const> attributes,
                                   const std::function<int(int)>& rank_of_input);
// The input of a conv or pool op holding its weight (-1: none), -2 for
// other ops.
int ConvPoolWeightInput(absl::string_view op);

// Registers the contrib rules below and puts libonnx's conv and pool rules
// behind their rank checks (see RunShapeInference), once per process: call
// before running libonnx's per-op rules directly.
void PrepareShapeRules();

// Registers with libonnx the type-and-shape rules of ONNX Runtime's
// com.microsoft QLinear* ops (QLinearAdd, QLinearMul, QLinearSigmoid,
// QLinearLeakyRelu, QLinearSoftmax, QLinear(Global)AveragePool,
// QLinearConcat), so that inference continues through fused models. Called
// by RunShapeInference; idempotent.
void RegisterContribShapeRules();

}  // namespace qopt::ir
