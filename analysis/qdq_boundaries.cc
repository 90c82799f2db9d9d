#include "analysis/qdq_boundaries.h"

#include <algorithm>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/qdq_params.h"

namespace qopt::analysis {
namespace {

bool IsActivationDq(const ir::Node& dq) { return dq.input(0) != nullptr && dq.input(0)->constant() == nullptr; }

// Ops that are integer by construction (already fused or dynamic).
bool IsIntegerOp(const ir::Node& node) {
  const std::string& op = node.op_type();
  if (node.is_default_domain()) {
    return op == "QLinearConv" || op == "QLinearMatMul" || op == "ConvInteger" || op == "MatMulInteger";
  }
  return node.domain() == "com.microsoft" && (op.rfind("QLinear", 0) == 0 || op == "QGemm");
}

struct Verdict {
  std::string category;  // what the reason is, without names: for grouping
  std::string detail;    // with the tensor or axis
};

// Why a unit does not run in integer on `target`; empty when it does.
Verdict Reason(const NodeUnit& unit, const TargetProfile& target) {
  const ir::Node& node = *unit.target;
  const std::string& op = node.op_type();
  if (IsIntegerOp(node)) return {};
  auto verdict = [](std::string category, std::string detail) { return Verdict{category, detail}; };
  const bool integer_op = node.is_default_domain() && target.integer_ops.contains(op);
  const bool passthrough = node.is_default_domain() && target.passthrough_ops.contains(op);
  if (!integer_op && !passthrough) {
    std::string what = absl::StrCat("no integer kernel for ", op, " on ", target.name);
    return verdict(what, what);
  }
  if (!unit.inputs_quantized()) {
    return verdict(absl::StrCat(op, ": a float input (no DequantizeLinear)"),
                   absl::StrCat("input '", unit.float_inputs[0], "' is float (no DequantizeLinear)"));
  }
  if (!unit.outputs_quantized()) {
    const ir::Value* out = node.output();
    if (out && out->is_graph_output()) {
      return verdict("float output needed by a graph output", "float output needed by a graph output");
    }
    return verdict(absl::StrCat(op, ": output read in float"),
                   absl::StrCat("output '", unit.float_outputs[0], "' is read in float"));
  }
  if (integer_op && (op == "Conv" || op == "MatMul" || op == "Gemm") && unit.input_dq.size() > 1 && unit.input_dq[1]) {
    auto w = ReadQdqParams(*unit.input_dq[1]);
    if (w && target.symmetric_int8_weights && w->quant_type == ir::ElementType::kInt8) {
      for (int64_t zp : w->zero_points) {
        if (zp != 0) {
          return verdict("asymmetric int8 weights", "asymmetric int8 weights (the kernel wants zero point 0)");
        }
      }
    }
    if (w && w->per_channel() && op == "Conv" && target.conv_per_channel_axis0_only) {
      const int64_t rank = w->node->input(0) && w->node->input(0)->constant()
                               ? static_cast<int64_t>(w->node->input(0)->constant()->dims().size())
                               : 4;
      if ((w->axis + rank) % rank != 0) {
        return verdict("per-channel weights on an axis other than 0",
                       absl::StrCat("per-channel weights on axis ", w->axis, " (kernel: axis 0)"));
      }
    }
  }
  if (passthrough && !unit.input_dq.empty() && unit.input_dq[0] && !unit.output_q.empty() && unit.output_q[0]) {
    auto in = ReadQdqParams(*unit.input_dq[0]);
    auto out = ReadQdqParams(*unit.output_q[0]);
    if (in && out && !SameQuantization(*in, *out)) {
      return verdict(absl::StrCat(op, ": input and output quantized differently"),
                     "input and output quantized with different parameters");
    }
  }
  return {};
}

int64_t ElementsOf(const ir::Value* v) {
  auto shape = v ? v->shape() : std::nullopt;
  if (!shape) return -1;
  int64_t n = 1;
  for (const ir::Dim& d : *shape) {
    if (!d.value || *d.value < 0) return -1;
    n *= *d.value;
  }
  return n;
}

int64_t Find(std::vector<int64_t>& parent, int64_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

}  // namespace

BoundaryReport AnalyzeBoundaries(const ir::Graph& graph, const TargetProfile& target) {
  BoundaryReport r;
  r.target = target.name;
  std::vector<NodeUnit> units = FindNodeUnits(graph);
  r.units = static_cast<int64_t>(units.size());
  absl::flat_hash_map<const ir::Node*, int64_t> unit_index;
  for (size_t i = 0; i < units.size(); ++i) unit_index[units[i].target] = static_cast<int64_t>(i);

  std::vector<int64_t> parent(units.size());
  std::iota(parent.begin(), parent.end(), 0);
  for (const NodeUnit& unit : units) {
    UnitVerdict v;
    v.node = unit.target->Describe();
    v.op_type = unit.target->op_type();
    Verdict verdict = Reason(unit, target);
    v.reason = verdict.detail;
    v.fusable = v.reason.empty();
    if (v.fusable) {
      ++r.fusable_units;
    } else {
      ++r.reasons[verdict.category];
    }
    r.verdicts.push_back(std::move(v));
  }
  // Islands: fusable units joined through Q -> DQ edges.
  for (size_t i = 0; i < units.size(); ++i) {
    if (!r.verdicts[i].fusable) continue;
    for (const ir::Node* q : units[i].output_q) {
      if (q == nullptr || q->output() == nullptr) continue;
      for (const ir::Use& use : q->output()->uses()) {
        if (use.is_graph_output() || !IsDequantizeLinear(*use.user) || !use.user->output()) continue;
        for (const ir::Use& next : use.user->output()->uses()) {
          if (next.is_graph_output()) continue;
          auto it = unit_index.find(next.user);
          if (it != unit_index.end() && r.verdicts[it->second].fusable) {
            parent[Find(parent, static_cast<int64_t>(i))] = Find(parent, it->second);
          }
        }
      }
    }
  }
  absl::flat_hash_map<int64_t, int64_t> island_size;
  for (size_t i = 0; i < units.size(); ++i) {
    if (r.verdicts[i].fusable) ++island_size[Find(parent, static_cast<int64_t>(i))];
  }
  absl::flat_hash_map<int64_t, int> island_id;
  for (size_t i = 0; i < units.size(); ++i) {
    if (!r.verdicts[i].fusable) continue;
    int64_t root = Find(parent, static_cast<int64_t>(i));
    auto [it, inserted] = island_id.try_emplace(root, static_cast<int>(island_id.size()));
    r.verdicts[i].island = it->second;
  }
  for (const auto& [root, size] : island_size) r.island_sizes.push_back(size);
  std::sort(r.island_sizes.rbegin(), r.island_sizes.rend());

  // Transitions, redundant pairs, dynamic sites, traffic.
  for (const ir::Node* node : graph.node_list()) {
    if (node->is_default_domain() && node->op_type() == "DynamicQuantizeLinear") {
      r.dynamic_quantize_sites.push_back(node->Describe());
      continue;
    }
    if (node->Is("Cast") && node->input(0) && node->input(0)->producer() && node->input(0)->producer()->Is("Cast")) {
      ++r.cast_chains;
    }
    auto p = ReadQdqParams(*node);
    if (!p) continue;
    const ir::Value* in = node->input(0);
    if (IsQuantizeLinear(*node)) {
      if (in && in->constant()) {
        r.redundant.push_back({"q-of-constant", node->Describe(), in->name()});
        continue;
      }
      ++r.float_to_int;
      if (const ir::Node* dq = DequantizeProducer(in)) {
        auto dp = ReadQdqParams(*dq);
        r.redundant.push_back({dp && SameQuantization(*dp, *p) ? "dq-q-identical" : "requantize",
                               absl::StrCat(dq->Describe(), " -> ", node->Describe()), in->name()});
      }
    } else {
      if (!IsActivationDq(*node)) continue;
      ++r.int_to_float;
    }
    const int64_t n = ElementsOf(in);
    if (n < 0) {
      ++r.boundary_ops_unknown_size;
    } else {
      const int bits = std::max(ElementTypeBits(p->quant_type), 8);
      r.boundary_bytes += n * (4 + bits / 8);  // float side + integer side
    }
  }
  // Duplicates: several Q of one tensor, or several DQ of one Q output, with
  // equal parameters.
  for (const ir::Value* v : graph.values()) {
    std::vector<const ir::Node*> qs, dqs;
    for (const ir::Use& use : v->uses()) {
      if (use.is_graph_output() || use.index != 0) continue;  // the data input, not a shared scale
      if (IsQuantizeLinear(*use.user)) qs.push_back(use.user);
      if (IsDequantizeLinear(*use.user)) dqs.push_back(use.user);
    }
    for (auto* list : {&qs, &dqs}) {
      for (size_t i = 1; i < list->size(); ++i) {
        auto a = ReadQdqParams(*(*list)[0]);
        auto b = ReadQdqParams(*(*list)[i]);
        if (a && b && SameQuantization(*a, *b)) {
          r.redundant.push_back({list == &qs ? "duplicate-q" : "duplicate-dq",
                                 absl::StrCat((*list)[0]->Describe(), ", ", (*list)[i]->Describe()), v->name()});
        }
      }
    }
  }
  return r;
}

nlohmann::json BoundariesToJson(const BoundaryReport& r) {
  nlohmann::json j;
  j["target"] = r.target;
  j["units"] = r.units;
  j["fusable_units"] = r.fusable_units;
  j["transitions"] = {{"float_to_int", r.float_to_int}, {"int_to_float", r.int_to_float}};
  j["islands"] = {{"count", r.island_sizes.size()}, {"sizes", r.island_sizes}};
  j["reasons"] = r.reasons;
  j["units_left_float"] = nlohmann::json::array();
  for (const UnitVerdict& v : r.verdicts) {
    if (!v.fusable) j["units_left_float"].push_back({{"node", v.node}, {"op_type", v.op_type}, {"reason", v.reason}});
  }
  std::map<std::string, int64_t> redundant_counts;
  j["redundant"] = nlohmann::json::array();
  for (const RedundantPair& p : r.redundant) {
    ++redundant_counts[p.kind];
    j["redundant"].push_back({{"kind", p.kind}, {"nodes", p.subject}, {"tensor", p.tensor}});
  }
  j["redundant_counts"] = redundant_counts;
  j["dynamic_quantize_sites"] = r.dynamic_quantize_sites;
  j["cast_chains"] = r.cast_chains;
  j["boundary_traffic"] = {{"bytes", r.boundary_bytes}, {"ops_with_unknown_size", r.boundary_ops_unknown_size}};
  return j;
}

std::string FormatBoundaries(const BoundaryReport& r, int max_rows) {
  std::string out = absl::StrFormat(
      "qdq-boundaries (target %s)\n  units: %d, run in integer: %d, left float: %d\n"
      "  transitions: %d float->int (Q), %d int->float (DQ of activations)\n"
      "  integer islands: %d",
      r.target, r.units, r.fusable_units, r.units - r.fusable_units, r.float_to_int, r.int_to_float,
      r.island_sizes.size());
  if (!r.island_sizes.empty()) {
    absl::StrAppend(&out, " (largest ", r.island_sizes.front(), " units, ",
                    std::count(r.island_sizes.begin(), r.island_sizes.end(), 1), " of a single unit)");
  }
  absl::StrAppend(&out, "\n  boundary traffic: ", r.boundary_bytes, " bytes per inference");
  if (r.boundary_ops_unknown_size) absl::StrAppend(&out, " (+", r.boundary_ops_unknown_size, " ops of unknown size)");
  absl::StrAppend(&out, "\n");
  if (!r.dynamic_quantize_sites.empty()) {
    absl::StrAppend(&out, "  dynamic quantization sites: ", r.dynamic_quantize_sites.size(),
                    " DynamicQuantizeLinear (each computes a range at run time)\n");
  }
  if (r.cast_chains) absl::StrAppend(&out, "  Cast chains: ", r.cast_chains, "\n");
  std::map<std::string, int64_t> redundant_counts;
  for (const RedundantPair& p : r.redundant) ++redundant_counts[p.kind];
  for (const auto& [kind, n] : redundant_counts) absl::StrAppend(&out, "  redundant ", kind, ": ", n, "\n");
  if (!r.reasons.empty()) {
    absl::StrAppend(&out, "  why units stay float:\n");
    std::vector<std::pair<int64_t, std::string>> sorted;
    for (const auto& [reason, n] : r.reasons) sorted.emplace_back(n, reason);
    std::sort(sorted.rbegin(), sorted.rend());
    int rows = 0;
    for (const auto& [n, reason] : sorted) {
      if (rows++ >= max_rows) break;
      absl::StrAppend(&out, absl::StrFormat("    %5d  %s\n", n, reason));
    }
  }
  return out;
}

}  // namespace qopt::analysis
