// Multiply-accumulates of the compute ops (Conv, ConvTranspose, MatMul, Gemm
// and their integer forms), from declared or inferred shapes, and how many
// of them run in integer on a target (an integer op, or a node whose data
// and weight inputs both come from DequantizeLinear and for which the
// target has an integer kernel).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "analysis/node_units.h"
#include "analysis/target_profile.h"
#include "ir/model.h"
#include "nlohmann/json.hpp"

namespace qopt::analysis {

struct MacCounts {
  int64_t total = 0;
  int64_t integer = 0;
  int64_t nodes_counted = 0;
  int64_t nodes_unknown = 0;  // compute nodes whose shapes are not static
  std::map<std::string, int64_t> by_op;
};

MacCounts CountMacs(const ir::Graph& graph, const TargetProfile& target);

// The multiply-accumulates of one compute node (Conv, ConvTranspose,
// MatMul, Gemm and their integer forms); -1 for other nodes or shapes that
// are not static.
int64_t NodeMacs(const ir::Node& node);
// Which input holds the weights for NodeMacs (3 for the QLinear forms).
int MacWeightInput(const ir::Node& node);
// Elements of a value whose shape is static; -1 otherwise.
int64_t StaticElements(const ir::Value* v);
nlohmann::json MacsToJson(const MacCounts& macs);

}  // namespace qopt::analysis
