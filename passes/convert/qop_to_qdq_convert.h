// The qop-to-qdq conversions that need more than DQ -> float op -> Q, each
// returning "" when it rewrote the node and the reason when it left it.
#pragma once

#include <string>

#include "ir/node.h"
#include "passes/convert/qop_to_qdq_builder.h"

namespace qopt::qop_to_qdq {

// The reason every conversion gives for an op that reads the output of a
// DynamicQuantizeLinear: quantize_dynamic's layout, which other passes own.
inline constexpr char kDynamicReason[] =
    "dynamically quantized (DynamicQuantizeLinear input): see dynamic-to-static or dequantize-weights";

// Whether `v` is made by a DynamicQuantizeLinear.
inline bool FromDynamicQuantize(const ir::Value* v) {
  const ir::Node* p = v != nullptr ? v->producer() : nullptr;
  return p != nullptr && p->Is("DynamicQuantizeLinear");
}

// ConvInteger / MatMulInteger -> DQ(x, 1, x_zero_point), DQ(w, 1,
// w_zero_point) -> Conv / MatMul -> Cast(int32). int32_outputs: convert at
// all (ONNX Runtime keeps the float op and the Cast).
std::string ConvertIntegerMatMul(QdqBuilder& b, ir::Node& node, bool int32_outputs);

// com.microsoft MatMulIntegerToFloat -> DQ(A), DQ(B) -> MatMul (-> Add bias).
std::string ConvertMatMulIntegerToFloat(QdqBuilder& b, ir::Node& node);

// com.microsoft QGemm -> DQ(A), DQ(B), DQ(C, alpha * a_scale * b_scale) ->
// Gemm (-> Q when y_scale is given).
std::string ConvertQGemm(QdqBuilder& b, ir::Node& node);

}  // namespace qopt::qop_to_qdq
