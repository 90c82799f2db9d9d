// Which QDQ units with weights are cheaper in float than in integer on a
// target, estimated from the target profile's measured costs
// (float-islands' `float-units=auto`; docs/targets.md).
//
// Per unit: the integer kernel's time against the float op's plus what the
// island adds at its edges (a DequantizeLinear of its input, unless that is
// the graph's image, whose QuantizeLinear goes away instead; a
// QuantizeLinear of its output), each from the profile's linear fit at the
// unit's MACs and element counts. Shapes must be static: on a model with
// symbolic dims give `input-shape=` (the estimate runs on a copy with those
// dims fixed). A unit whose class or shapes the profile cannot price is not
// picked and says why.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/target_profile.h"
#include "ir/model.h"

namespace qopt::fuse_qdq {

struct UnitCostEstimate {
  const ir::Node* node = nullptr;  // in the model given (not the shaped copy)
  std::string unit_class;
  double integer_ns = 0;
  double float_ns = 0;
  double boundary_ns = 0;  // Q/DQ the island adds (negative: removes)
  bool picked = false;
  std::string why;  // the estimate in words, or why there is none
};

// Estimates every candidate (in `candidates`, nodes of `model`). `margin`:
// float must win by this fraction of the integer time (estimates are
// fits, and an island also changes what ONNX Runtime fuses around it).
absl::StatusOr<std::vector<UnitCostEstimate>> EstimateFloatUnits(const ir::Model& model,
                                                                 const std::vector<const ir::Node*>& candidates,
                                                                 const analysis::TargetProfile& profile,
                                                                 const std::string& input_shape, double margin);

}  // namespace qopt::fuse_qdq
