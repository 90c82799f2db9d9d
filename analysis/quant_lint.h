// quant-lint: checks of every QuantizeLinear/DequantizeLinear's parameters and
// of how quantized tensors meet: scales that are zero, negative, NaN, Inf or
// subnormal; per-channel axes out of range or scale lengths that do not match
// the channel count; a Q and the DQ reading it with different parameters
// (a silent rescale); asymmetric int8 weights where ONNX Runtime's CPU
// kernels want symmetric ones; uint8 weights with uint8 activations where
// the target runs u8s8.
#pragma once

#include <string>
#include <vector>

#include "analysis/severity.h"
#include "ir/model.h"

namespace qopt::analysis {

struct LintFinding {
  Severity severity = Severity::kWarning;
  std::string check;    // short id: "scale-zero", "axis-range", ...
  std::string subject;  // node or tensor
  std::string message;
};

std::vector<LintFinding> LintQuantization(const ir::Graph& graph);

}  // namespace qopt::analysis
