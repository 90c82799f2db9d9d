// op-count: how many nodes of each domain::op_type a model has, grouped into
// categories that explain INT8 slowdowns (compute vs quantization boundaries
// vs casts vs data movement).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "ir/model.h"
#include "nlohmann/json.hpp"

namespace qopt::analysis {

enum class OpCategory { kCompute, kQuantization, kCast, kDataMovement, kConstant, kOther };
const char* OpCategoryName(OpCategory category);
OpCategory CategorizeOp(absl::string_view domain, absl::string_view op_type);

struct OpCounts {
  // Keyed "Conv" for the default domain, "com.microsoft::QLinearAdd" else.
  std::map<std::string, int64_t> by_op;
  std::map<OpCategory, int64_t> by_category;
  int64_t total_nodes = 0;
  int64_t initializers = 0;  // constants stored as initializers (not nodes)
};

// Counts nodes of the graph and, recursively, of its sub-graphs.
OpCounts CountOps(const ir::Graph& graph);

// JSON: {"total_nodes", "initializers", "by_op": {key: n}, "by_category": {name: n}}
// (the op-count pass adds a "compare" object for a second model).
nlohmann::json OpCountsToJson(const OpCounts& counts);
// A table with one column, or two plus their ratio (this / other) when
// `other` is given.
std::string FormatOpCounts(const OpCounts& counts, const OpCounts* other = nullptr,
                           const std::string& label = "model", const std::string& other_label = "other");

}  // namespace qopt::analysis
