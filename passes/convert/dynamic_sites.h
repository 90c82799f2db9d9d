// The sites of a dynamically quantized model (ONNX Runtime's
// quantize_dynamic layout, and qopt's quantize{mode=dynamic}):
//
//   x -> DynamicQuantizeLinear -> ConvInteger(xq, wq, xz, wz) -> Cast(float)
//     -> Mul(., Mul(x_scale, w_scale)) [-> Add(bias or Reshape(bias))]
//
// (MatMulInteger likewise, its bias Add a separate float op). The older
// recipe adds the bias in int32 before the Cast:
//
//   ConvInteger -> Add(., Cast(int32, Floor(Div(bias, Mul(x_scale, w_scale)))))
//
// ONNX Runtime's optimizer fuses the MatMul site into com.microsoft
// MatMulIntegerToFloat(DynamicQuantizeLinear's outputs, B, scales, zero
// points, bias) or DynamicQuantizeMatMul(x, B, b_scale, b_zero_point, bias)
// at level extended, so files saved after optimization hold those: they are
// sites too, with the bias inside.
//
// One DynamicQuantizeLinear may feed several sites. dequantize-weights and
// dynamic-to-static both start from a matched site; they differ in what they
// put in its place.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/model.h"

namespace qopt::convert {

struct DynamicSite {
  ir::Node* integer_op = nullptr;  // ConvInteger or MatMulInteger
  bool conv = false;
  ir::Node* dynamic_quantize = nullptr;    // DynamicQuantizeLinear
  ir::Value* x = nullptr;                  // its float input
  ir::Value* weights = nullptr;            // integer constant
  ir::Value* weight_zero_point = nullptr;  // integer constant, or null
  ir::Value* weight_scale = nullptr;       // float constant
  // Output channels: Conv's axis 0, MatMul's last axis.
  int64_t channels = 0;
  std::optional<int64_t> channel_axis;  // set when the scale is per channel
  // The float bias per output channel: a Conv's, from either recipe, or the
  // bias input of MatMulIntegerToFloat / DynamicQuantizeMatMul.
  std::vector<float> bias;
  // The nodes from the integer op to `output`, in order (the int32 bias Add,
  // Cast, scale Mul, float bias Add as present).
  std::vector<ir::Node*> chain;
  ir::Value* output = nullptr;  // the float value the site computes
};

// Whether `node` is an op a site starts with.
bool StartsDynamicSite(const ir::Node& node);

// Matches the site that `integer_op` (see StartsDynamicSite) starts;
// otherwise an error whose message is the reason, for the pass's report.
absl::StatusOr<DynamicSite> MatchDynamicSite(ir::Node& integer_op);

// The float values the integer weights stand for: (wq - wz) * w_scale, per
// output channel where the scale is.
std::vector<float> FloatWeights(const DynamicSite& site);

// The float computation in the site's place, placed before its last node:
// Conv(x, weights[, bias]) or MatMul(x, weights)[ -> Add(bias)], `weights`
// being the float values or a DequantizeLinear of the integers. Returns the
// value to hand to ReplaceDynamicSite; `pre_bias` (if given) is set to the
// MatMul output a separate bias Add reads, else null.
ir::Value* AddFloatOp(ir::Graph& graph, const DynamicSite& site, ir::Value* weights, ir::Value** pre_bias = nullptr);

// Points every reader of the site's output (graph outputs too) at
// `replacement`, gives it the output's name, and erases the site's chain,
// then whatever fed only the chain (the scale products, the older recipe's
// bias arithmetic, the DynamicQuantizeLinear once no site reads it, the
// integer constants once nothing reads them).
void ReplaceDynamicSite(ir::Graph& graph, const DynamicSite& site, ir::Value* replacement);

}  // namespace qopt::convert
