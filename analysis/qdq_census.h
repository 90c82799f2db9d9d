// A cheap count of what a quantization rewrite changes: nodes, Q and DQ
// nodes, and how many of them convert activations (float<->integer
// transitions; Q/DQ of constants are stored weights, not transitions). The
// pass manager records it before and after every pass.
#pragma once

#include <cstdint>

#include "ir/graph.h"
#include "nlohmann/json.hpp"

namespace qopt::analysis {

struct QdqCensus {
  int64_t nodes = 0;
  int64_t quantize = 0;           // QuantizeLinear and DynamicQuantizeLinear
  int64_t dequantize = 0;
  int64_t float_to_int = 0;       // Q of an activation
  int64_t int_to_float = 0;       // DQ of an activation
};

QdqCensus TakeQdqCensus(const ir::Graph& graph);
nlohmann::json CensusToJson(const QdqCensus& census);

}  // namespace qopt::analysis
