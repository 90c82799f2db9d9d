// Helpers of the passes that requantize a QDQ file's weights and biases
// (per-channel, fix-bias-overflow), shared so that both read the channel
// axis and keep the quantizer's initializer names the same way.
#pragma once

#include <string>

#include "ir/graph.h"
#include "ir/node.h"
#include "ir/tensor.h"

namespace qopt::convert {

// The output-channel axis of `node`'s weight: the op table's, except that
// Gemm with transB reads its weight as [N, K].
int WeightChannelAxis(const ir::Node& node);

// Gives input `index` of `node` the constant `tensor`. An initializer only
// `node` reads is rewritten in place, so the file keeps the quantizer's
// names (a model never frees a name, so a new initializer could not take
// it); otherwise a new initializer is called `name`.
void ReplaceConstantInput(ir::Graph& graph, ir::Node& node, int index, ir::Tensor tensor, const std::string& name);

// Erases `v` when it is an initializer nothing reads any more.
void EraseIfUnused(ir::Graph& graph, ir::Value* v);

}  // namespace qopt::convert
