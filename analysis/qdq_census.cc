#include "analysis/qdq_census.h"

#include "analysis/qdq_params.h"

namespace qopt::analysis {

QdqCensus TakeQdqCensus(const ir::Graph& graph) {
  QdqCensus c;
  for (const ir::Node* node : graph.node_list()) {
    ++c.nodes;
    const bool dynamic = node->is_default_domain() && node->op_type() == "DynamicQuantizeLinear";
    const bool q = IsQuantizeLinear(*node) || dynamic;
    const bool dq = IsDequantizeLinear(*node);
    if (!q && !dq) continue;
    const bool activation = node->input(0) != nullptr && node->input(0)->constant() == nullptr;
    if (q) {
      ++c.quantize;
      c.float_to_int += activation;
    } else {
      ++c.dequantize;
      c.int_to_float += activation;
    }
  }
  return c;
}

nlohmann::json CensusToJson(const QdqCensus& c) {
  return {{"nodes", c.nodes},
          {"quantize", c.quantize},
          {"dequantize", c.dequantize},
          {"float_to_int", c.float_to_int},
          {"int_to_float", c.int_to_float}};
}

}  // namespace qopt::analysis
