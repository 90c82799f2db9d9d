// Small helpers the fuse-qdq passes share: reading a constant as a number
// or a clamp's bounds, and giving a rewritten value its integer type.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace qopt::fuse_qdq {

// The single float value of a one-element constant, looking through a
// DequantizeLinear of a constant (a quantized constant operand); nullopt
// otherwise.
std::optional<double> ScalarConstant(const ir::Value* v);

// The name a report uses for a node: OP 'name', or OP of 'output' when it
// has no name.
std::string NodeLabel(const ir::Node& n);

// Declares `v` as a tensor of `type` with `dims` (when known; no shape
// otherwise), replacing its type information.
void SetTensorType(ir::Value* v, ir::ElementType type, const std::optional<std::vector<ir::Dim>>& dims);

// Declares `v` as a tensor of `type` with the dims of `like` (when known):
// the output of an op that now runs on integers instead of floats.
void SetIntegerType(ir::Value* v, ir::ElementType type, const ir::Value* like);

// The clamp of a Relu ([0, inf)) or a Clip (its min/max attributes before
// opset 11, its constant inputs since; a missing bound is infinite); nullopt
// for other ops or a bound that is not a constant.
struct ClampBounds {
  double lo;
  double hi;
};
std::optional<ClampBounds> ReadClampBounds(const ir::Node& op);

}  // namespace qopt::fuse_qdq
