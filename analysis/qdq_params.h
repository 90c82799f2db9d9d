// Reading the quantization parameters of QuantizeLinear/DequantizeLinear
// nodes (default domain or com.microsoft; opsets 10-21: `axis`,
// `block_size`, int4/int16/float8 types), for analyses that check them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/node.h"

namespace qopt::analysis {

bool IsQuantizeLinear(const ir::Node& node);
bool IsDequantizeLinear(const ir::Node& node);
// QuantizeLinear, DequantizeLinear or DynamicQuantizeLinear: where data
// crosses between float and integer.
bool IsQuantizationBoundary(const ir::Node& node);
// Ops that compute on integers by construction: QLinearConv, QLinearMatMul,
// ConvInteger, MatMulInteger, com.microsoft QLinear* and QGemm.
bool IsIntegerKernel(const ir::Node& node);

struct QdqParams {
  const ir::Node* node = nullptr;
  std::vector<double> scales;         // empty when the scale is not a constant
  std::vector<int64_t> zero_points;   // empty when absent (zero) or not constant
  // Whether the scale and the zero point (when present) are constants.
  // Parameters computed at run time are unknown: they never compare equal
  // to anything, not even to themselves.
  bool scale_constant = false;
  bool zero_point_constant = true;
  bool params_constant() const { return scale_constant && zero_point_constant; }
  ir::ElementType quant_type = ir::ElementType::kUndefined;  // the integer side
  int64_t axis = 1;                   // as the node says (default 1)
  int64_t block_size = 0;
  // The scale tensor's element type (float, float16, bfloat16: the float
  // side's type) and dims ([] or [1] per tensor, [C] per axis, the input's
  // rank when blocked); kUndefined and empty when the scale is not a constant.
  ir::ElementType scale_type = ir::ElementType::kUndefined;
  std::vector<int64_t> scale_dims;
  bool per_channel() const { return scales.size() > 1; }
};

// Parameters of a Q or DQ node; nullopt for other nodes.
std::optional<QdqParams> ReadQdqParams(const ir::Node& node);

// Whether two Q/DQ nodes quantize the same way, i.e. apply the same function
// to the same input: constant parameters (a scale or zero point computed at
// run time is never the same as anything), equal scales (NaN equal to NaN,
// so a broken scale is not also reported as a mismatch) of one element type,
// zero points (an absent one equals explicit zeros), integer type, axis where
// per channel, and block size (with axis and the layout of the scales where
// blocked). The one comparison the boundary analysis, qdq-cleanup and the
// fuse-qdq passes share.
bool SameQuantization(const QdqParams& a, const QdqParams& b);

// The DequantizeLinear that defines `v`, if any.
const ir::Node* DequantizeProducer(const ir::Value* v);

}  // namespace qopt::analysis
