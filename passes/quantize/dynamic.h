// The layout of ONNX Runtime's quantize_dynamic
// (docs/ort-quantizer-layout.md §6): activations quantized at run time by
// DynamicQuantizeLinear (uint8), MatMul -> MatMulInteger and Conv ->
// ConvInteger on integer weights, then Cast and Mul by the two scales (and
// Reshape + Add of the float bias for Conv). Only MatMuls with a constant B
// are converted, as ORT's MatMulConstBOnly default does.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "ir/model.h"
#include "re2/re2.h"

namespace qopt::quantize {

struct DynamicOptions {
  ir::ElementType weight_type = ir::ElementType::kInt8;
  bool per_channel = false;  // MatMul weights only, along the last axis
  bool reduce_range = false;
  std::set<std::string> op_types = {"Conv", "MatMul"};
  const RE2* exclude_nodes = nullptr;
};

struct DynamicStats {
  int64_t nodes_quantized = 0;
  int64_t nodes_excluded = 0;
  int64_t dynamic_quantize_nodes = 0;
  int64_t weights_quantized = 0;
};

absl::Status QuantizeDynamic(ir::Model& model, const DynamicOptions& options, DynamicStats* stats);

}  // namespace qopt::quantize
