// Which QDQ units with weights are cheaper in float than in integer on a
// target, estimated from the target profile's measured costs
// (float-islands' `float-units=auto`; docs/targets.md).
//
// Per seed, over the island it would grow (its activation function,
// squeeze-excitation branch, ...): the members' integer kernel times against
// their float ops' plus what the island adds at its edges (a
// DequantizeLinear of its input, unless that is the graph's image, whose
// QuantizeLinear goes away instead; a QuantizeLinear per value read
// outside), each from the profile's linear fit at the member's MACs and
// element counts. Members whose class the profile has no costs for count
// as equal in both forms; an element-wise member with one activation input
// costs nothing in integer (qdq-lookup makes such chains one table lookup). Shapes must be static: on a model with
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

// A seed and the island float-islands would grow from it.
struct IslandCandidate {
  const ir::Node* seed = nullptr;
  std::vector<const ir::Node*> members;  // the seed first, then what it takes in
  std::vector<const ir::Value*> exits;   // island values read outside (each keeps a Q)
  bool reads_image = false;              // entered from a graph input: its Q goes away
};

struct UnitCostEstimate {
  const ir::Node* node = nullptr;  // the seed, in the model given (not the shaped copy)
  std::string unit_class;
  double integer_ns = 0;   // the members' integer kernels (those the profile prices)
  double float_ns = 0;     // the same members in float
  double boundary_ns = 0;  // Q/DQ the island adds (negative: removes)
  bool picked = false;
  std::string why;  // the estimate in words, or why there is none
};

// Estimates every candidate. `margin`: float must win by this fraction of
// the integer time (estimates are fits, and an island also changes what
// ONNX Runtime fuses around it).
absl::StatusOr<std::vector<UnitCostEstimate>> EstimateFloatUnits(const ir::Model& model,
                                                                 const std::vector<IslandCandidate>& candidates,
                                                                 const analysis::TargetProfile& profile,
                                                                 const std::string& input_shape, double margin);

}  // namespace qopt::fuse_qdq
