// qdq-boundaries: where a quantized model crosses between float and integer
// and why. Per QDQ node unit (analysis/node_units.h): whether the target
// profile runs it in integer, or the reason it stays float; the float<->int
// transitions and the integer islands they enclose; redundant pairs (DQ->Q
// with identical parameters, requantizing DQ->Q, Q of a constant, duplicate
// Q/DQ of one tensor); dynamic quantization sites and Cast chains; and the
// bytes the boundary ops move per inference where shapes are known.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "analysis/node_units.h"
#include "nlohmann/json.hpp"

namespace qopt::analysis {

struct UnitVerdict {
  std::string node;     // Describe()
  std::string op_type;
  bool fusable = false;
  std::string reason;   // empty when fusable
  int island = -1;      // integer island id, for fusable units
};

struct RedundantPair {
  std::string kind;     // "dq-q-identical", "requantize", "q-of-constant", "duplicate-q", "duplicate-dq"
  std::string subject;  // the node(s)
  std::string tensor;
};

struct BoundaryReport {
  std::string target;
  int64_t units = 0;
  int64_t fusable_units = 0;
  int64_t float_to_int = 0;  // QuantizeLinear of an activation
  int64_t int_to_float = 0;  // DequantizeLinear of an activation (not a stored weight)
  std::vector<int64_t> island_sizes;  // units per island, largest first
  std::map<std::string, int64_t> reasons;  // reason -> units
  std::vector<UnitVerdict> verdicts;
  std::vector<RedundantPair> redundant;
  std::vector<std::string> dynamic_quantize_sites;
  int64_t cast_chains = 0;
  int64_t boundary_bytes = 0;          // bytes read + written by Q/DQ of activations
  int64_t boundary_ops_unknown_size = 0;
};

BoundaryReport AnalyzeBoundaries(const ir::Graph& graph, const TargetProfile& target);
nlohmann::json BoundariesToJson(const BoundaryReport& report);
std::string FormatBoundaries(const BoundaryReport& report, int max_rows);

}  // namespace qopt::analysis
