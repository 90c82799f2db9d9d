#include "analysis/op_count.h"

#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ir/op_traits.h"

namespace qopt::analysis {
namespace {

bool IsDefault(absl::string_view domain) { return domain.empty() || domain == "ai.onnx"; }

void Count(const ir::Graph& graph, OpCounts* counts) {
  counts->initializers += static_cast<int64_t>(graph.initializers().size());
  for (const ir::Node* node : graph.node_list()) {
    std::string key = IsDefault(node->domain()) ? node->op_type() : absl::StrCat(node->domain(), "::", node->op_type());
    ++counts->by_op[key];
    ++counts->by_category[CategorizeOp(node->domain(), node->op_type())];
    ++counts->total_nodes;
    for (const ir::Graph* sub : node->subgraphs()) Count(*sub, counts);
  }
}

// How many times the compared model's count this model has ("new" when the
// other model has none).
std::string Ratio(int64_t count, int64_t other) {
  if (other == 0) return count == 0 ? "-" : "new";
  return absl::StrFormat("%.2fx", static_cast<double>(count) / static_cast<double>(other));
}

constexpr OpCategory kAllCategories[] = {OpCategory::kCompute, OpCategory::kQuantization, OpCategory::kCast,
                                         OpCategory::kDataMovement, OpCategory::kConstant, OpCategory::kOther};

}  // namespace

const char* OpCategoryName(OpCategory category) {
  switch (category) {
    case OpCategory::kCompute: return "compute";
    case OpCategory::kQuantization: return "quantization";
    case OpCategory::kCast: return "cast";
    case OpCategory::kDataMovement: return "data-movement";
    case OpCategory::kConstant: return "constant";
    case OpCategory::kOther: return "other";
  }
  return "other";
}

OpCategory CategorizeOp(absl::string_view domain, absl::string_view op_type) {
  const ir::OpTraits* traits = ir::FindOpTraits(domain, op_type);
  if (traits == nullptr) return OpCategory::kOther;
  if (traits->Has(ir::kQuantization)) return OpCategory::kQuantization;
  if (traits->Has(ir::kCastOp)) return OpCategory::kCast;
  if (traits->Has(ir::kConstantOp)) return OpCategory::kConstant;
  // Shape and Size are counted with data movement: no arithmetic, no MACs.
  if (traits->Has(ir::kDataMovement) || traits->Has(ir::kShapeOnly)) return OpCategory::kDataMovement;
  if (traits->Has(ir::kCompute)) return OpCategory::kCompute;
  return OpCategory::kOther;
}

OpCounts CountOps(const ir::Graph& graph) {
  OpCounts counts;
  Count(graph, &counts);
  return counts;
}

nlohmann::json OpCountsToJson(const OpCounts& counts) {
  nlohmann::json j;
  j["total_nodes"] = counts.total_nodes;
  j["initializers"] = counts.initializers;
  j["by_op"] = nlohmann::json::object();
  for (const auto& [op, n] : counts.by_op) j["by_op"][op] = n;
  j["by_category"] = nlohmann::json::object();
  for (OpCategory c : kAllCategories) {
    auto it = counts.by_category.find(c);
    j["by_category"][OpCategoryName(c)] = it == counts.by_category.end() ? 0 : it->second;
  }
  return j;
}

std::string FormatOpCounts(const OpCounts& counts, const OpCounts* other, const std::string& label,
                           const std::string& other_label) {
  std::set<std::string> ops;
  for (const auto& [op, n] : counts.by_op) ops.insert(op);
  if (other) {
    for (const auto& [op, n] : other->by_op) ops.insert(op);
  }
  size_t width = 13;
  for (const std::string& op : ops) width = std::max(width, op.size());
  auto get = [](const std::map<std::string, int64_t>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? int64_t{0} : it->second;
  };
  std::string out = "op-count\n";
  auto row = [&](const std::string& name, int64_t a, int64_t b) {
    if (other) {
      absl::StrAppend(&out, absl::StrFormat("  %-*s %10d %10d %8s\n", width, name, a, b, Ratio(a, b)));
    } else {
      absl::StrAppend(&out, absl::StrFormat("  %-*s %10d\n", width, name, a));
    }
  };
  if (other) {
    absl::StrAppend(&out, absl::StrFormat("  %-*s %10s %10s %8s\n", width, "op", label.substr(0, 10),
                                          other_label.substr(0, 10), "ratio"));
  } else {
    absl::StrAppend(&out, absl::StrFormat("  %-*s %10s\n", width, "op", "count"));
  }
  for (const std::string& op : ops) row(op, get(counts.by_op, op), other ? get(other->by_op, op) : 0);
  absl::StrAppend(&out, "  ", std::string(width + (other ? 31 : 11), '-'), "\n");
  for (OpCategory c : kAllCategories) {
    auto a = counts.by_category.count(c) ? counts.by_category.at(c) : 0;
    auto b = other && other->by_category.count(c) ? other->by_category.at(c) : 0;
    if (a == 0 && b == 0) continue;
    row(absl::StrCat("[", OpCategoryName(c), "]"), a, b);
  }
  row("total nodes", counts.total_nodes, other ? other->total_nodes : 0);
  row("initializers", counts.initializers, other ? other->initializers : 0);
  return out;
}

}  // namespace qopt::analysis
