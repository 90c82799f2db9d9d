// Where per-channel finds the float weights behind a per-tensor quantized
// weight: in the FP32 model the file was quantized from (weights-from=),
// matched by name and checked against the file's integers. Requantizing the
// integers themselves gains nothing (they are already rounded to the coarse
// per-tensor grid); only the float values carry the per-channel detail.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/quant_math.h"
#include "ir/model.h"
#include "ir/tensor.h"

namespace qopt::convert {

// How far per-tensor quantization of float values lands from a file's
// integers: elements off by one (rounding ties, float vs double division in
// the quantizer that wrote the file) and elements off by more.
struct QuantizedMismatch {
  int64_t off_by_one = 0;
  int64_t worse = 0;
  int64_t total() const { return off_by_one + worse; }
};
QuantizedMismatch CompareWithQuantized(const std::vector<double>& values, const std::vector<int64_t>& quantized,
                                       float scale, int64_t zero_point, analysis::IntRange clip);
// Whether the float values are the ones the integers were made from: none
// off by more than one, and at most 0.1% of the elements off by one.
bool SameSource(const QuantizedMismatch& m, size_t elements);

// Float weights (and the float bias of the same node, if any) found for a
// quantized node; `why_not` non-empty when a candidate was found but fails
// the structural check (dims, op type), `found` false when none was.
struct Fp32Weights {
  bool found = false;
  std::string why_not;
  std::string weight_name;  // the FP32 initializer's name
  const ir::Tensor* weights = nullptr;
  const ir::Tensor* bias = nullptr;  // null when the FP32 node has no constant bias
  std::string bias_name;
};

// The float weights of the FP32 model for `node`'s quantized weight
// `quantized` (an integer initializer called `quantized_name`): first the
// initializer named as the quantizers name theirs (`<name>_quantized` ->
// `<name>`, or the same name), read by a node of the same op type at the
// same input; else the weight input of the FP32 node with `node`'s name and
// op type. The dims must match.
Fp32Weights FindFp32Weights(const ir::Model& fp32, const ir::Node& node, int weight_input, int bias_input,
                            const ir::Tensor& quantized, const std::string& quantized_name);

// The FP32 model a pass option names (per-channel's weights-from=,
// fix-bias-overflow's bias-from=): null when `path` is empty; an error that
// names the pass and option when it cannot be read.
absl::StatusOr<std::unique_ptr<ir::Model>> LoadFp32Model(absl::string_view pass, absl::string_view option,
                                                         const std::string& path);

}  // namespace qopt::convert
