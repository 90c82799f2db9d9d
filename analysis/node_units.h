// The QDQ node unit, one definition for the boundary analysis and the fusion
// passes: a target node with the DequantizeLinear nodes that feed it and the
// QuantizeLinear nodes that take its outputs (ONNX Runtime's "node group"
// in its QDQ selectors). A unit whose float inputs all come from DQ and whose
// outputs all go only to Q can run in integer, if the target has a kernel.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "analysis/qdq_params.h"
#include "ir/model.h"
#include "ir/op_traits.h"

namespace qopt::analysis {

struct NodeUnit {
  const ir::Node* target = nullptr;
  std::vector<const ir::Node*> input_dq;   // per input: its DequantizeLinear, or null
  std::vector<const ir::Node*> output_q;   // per output: its only consumer if that is a QuantizeLinear, or null
  // The parameters of input_dq[i] / output_q[o], parsed once when the unit
  // is found (nullopt where there is no DQ / Q). Parameters that are not
  // constants are a state of QdqParams (params_constant()) that never
  // compares equal: read these instead of calling ReadQdqParams again.
  std::vector<std::optional<QdqParams>> input_params;
  std::vector<std::optional<QdqParams>> output_params;
  std::vector<std::string> float_inputs;   // float activations not from a DQ
  std::vector<std::string> float_outputs;  // outputs read in float (a non-Q consumer or a graph output)
  bool inputs_quantized() const { return float_inputs.empty(); }
  // Any DQ on an input or Q on an output (a unit of a QDQ model, as
  // opposed to an op of a float model or one already on integers).
  bool has_qdq() const {
    for (const ir::Node* n : input_dq) {
      if (n != nullptr) return true;
    }
    for (const ir::Node* n : output_q) {
      if (n != nullptr) return true;
    }
    return false;
  }
  bool outputs_quantized() const { return float_outputs.empty(); }
  // The parsed parameters of input i's DQ / output o's Q; null where there
  // is none.
  const QdqParams* input_qdq(size_t i) const {
    return i < input_params.size() && input_params[i] ? &*input_params[i] : nullptr;
  }
  const QdqParams* output_qdq(size_t o) const {
    return o < output_params.size() && output_params[o] ? &*output_params[o] : nullptr;
  }
};

// Follows data forward from `values` through Q/DQ/DynamicQuantizeLinear nodes
// (their data input only): `reached(node, crossed)` for every other node that
// reads it, with the number of Q/DQ nodes passed on the way, and
// `graph_output()` for a graph output. Each value is visited once.
void WalkThroughQuantization(std::vector<const ir::Value*> values,
                             const std::function<void(const ir::Node&, int crossed)>& reached,
                             const std::function<void()>& graph_output = nullptr);

// The unit around `target`: its DQs, its Qs and their parameters, whatever
// the node is (FindNodeUnits decides which nodes are units). What a
// selector calls on the node a rewrite is tried on.
NodeUnit MakeNodeUnit(const ir::Node& target);

// One unit per node that is not itself a Q/DQ/DynamicQuantizeLinear, nor a
// node that reads no tensor data (Constant, Shape, Size).
std::vector<NodeUnit> FindNodeUnits(const ir::Graph& graph);

}  // namespace qopt::analysis
