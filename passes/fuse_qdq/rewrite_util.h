// Small helpers the fuse-qdq passes share: reading a constant as a number,
// giving a rewritten value its integer type, and sweeping the Q/DQ nodes a
// rewrite left without users.
#pragma once

#include <optional>

#include "ir/graph.h"

namespace qopt::fuse_qdq {

// The single float value of a one-element constant, looking through a
// DequantizeLinear of a constant (a quantized constant operand); nullopt
// otherwise.
std::optional<double> ScalarConstant(const ir::Value* v);

// Declares `v` as a tensor of `type` with the dims of `like` (when known):
// the output of an op that now runs on integers instead of floats.
void SetIntegerType(ir::Value* v, ir::ElementType type, const ir::Value* like);

// Erases the Q/DQ nodes whose outputs lost every user, last first so that a
// Q -> DQ chain goes in one sweep; returns how many went.
int64_t EraseDeadQdq(ir::Graph& graph);

}  // namespace qopt::fuse_qdq
