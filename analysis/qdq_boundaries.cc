#include "analysis/qdq_boundaries.h"

#include <algorithm>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "analysis/qdq_params.h"
#include "ir/op_traits.h"

namespace qopt::analysis {
namespace {

bool IsActivationDq(const ir::Node& dq) { return dq.input(0) != nullptr && dq.input(0)->constant() == nullptr; }

struct Verdict {
  std::string category;  // what the reason is, without names: for grouping
  std::string detail;    // with the tensor or axis
};

Verdict QuantizationFormReason(const NodeUnit& unit, const TargetProfile& target);

// What only units becoming an integer kernel (QLinearConv, QLinearAdd, ...)
// need, beyond the Q/DQ form: float32 scales (every QLinear op's scale
// inputs are tensor(float); opset 19 Q/DQ may carry float16 or bfloat16
// ones) and an activation type the runtime fuses (the profile's measured
// fact: ONNX Runtime on x86 leaves int8-activation units as Q/DQ).
Verdict IntegerKernelReason(const NodeUnit& unit, const TargetProfile& target) {
  auto check_scale = [&](const QdqParams* p) -> Verdict {
    if (p == nullptr || p->scale_type == ir::ElementType::kUndefined || p->scale_type == ir::ElementType::kFloat) {
      return {};
    }
    const std::string type = ir::ElementTypeName(p->scale_type);
    return {absl::StrCat(type, " scales"),
            absl::StrCat(p->node->Describe(), " has a ", type, " scale; integer kernels take float32 scales")};
  };
  for (size_t i = 0; i < unit.input_params.size(); ++i) {
    if (Verdict v = check_scale(unit.input_qdq(i)); !v.category.empty()) return v;
  }
  for (size_t o = 0; o < unit.output_params.size(); ++o) {
    if (Verdict v = check_scale(unit.output_qdq(o)); !v.category.empty()) return v;
  }
  const QdqParams* activation = unit.input_qdq(0);
  if (activation == nullptr) activation = unit.output_qdq(0);
  if (activation == nullptr || !ir::IsInteger(activation->quant_type)) return {};
  const std::string why = target.WhyActivationNotFused(*unit.target, activation->quant_type);
  if (why.empty()) return {};
  const std::string type = ir::ElementTypeName(activation->quant_type);
  return {absl::StrCat(type, " activations: not fused by ORT on this target"),
          absl::StrCat(type, " activations: not fused by ORT on this target: ", why)};
}

// Why a unit does not run in integer on `target`; empty when it does.
Verdict Reason(const NodeUnit& unit, const TargetProfile& target) {
  const ir::Node& node = *unit.target;
  const std::string& op = node.op_type();
  if (IsIntegerKernel(node)) return {};
  // A Cast between integer types (the index of a lookup table) moves
  // integers; it is no boundary.
  if (node.Is("Cast") && node.input(0) != nullptr && node.output() != nullptr &&
      ir::IsInteger(node.input(0)->elem_type()) && ir::IsInteger(node.output()->elem_type())) {
    return {};
  }
  auto verdict = [](std::string category, std::string detail) { return Verdict{category, detail}; };
  const bool integer_op = target.HasIntegerKernel(node);
  const bool passthrough = target.RunsOnIntegers(node);
  if (!integer_op && !passthrough) {
    std::string what = absl::StrCat("no integer kernel for ", op, " on ", target.name);
    return verdict(what, what);
  }
  if (passthrough && !ir::TakesEightBitData(node, ir::DefaultOpset(node))) {
    std::string what = absl::StrCat(op, ": no 8-bit data at this opset");
    return verdict(what, absl::StrCat(op, " takes no 8-bit data at opset ", ir::DefaultOpset(node),
                                      " (a newer opset of it may)"));
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
  if (Verdict form = QuantizationFormReason(unit, target); !form.category.empty()) return form;
  if (integer_op) {
    if (Verdict v = IntegerKernelReason(unit, target); !v.category.empty()) return v;
  }
  if (integer_op && ir::HasWeightInput(node) && unit.input_dq.size() > 1 && unit.input_dq[1]) {
    const QdqParams* w = unit.input_qdq(1);
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
  if (passthrough) {
    // The op moves integer data as it is: every quantized input must carry
    // the parameters of every output's Q (one input for Reshape & co., all
    // for Concat; every output for Split), as ONNX Runtime's selectors ask.
    const bool multi_input = node.inputs().size() > 1 && op == "Concat";
    for (size_t o = 0; o < unit.output_q.size(); ++o) {
      if (unit.output_q[o] == nullptr) continue;
      const QdqParams* out = unit.output_qdq(o);
      for (size_t i = 0; i < unit.input_dq.size(); ++i) {
        if (unit.input_dq[i] == nullptr) continue;
        const QdqParams* in = unit.input_qdq(i);
        if (in && out && SameQuantization(*in, *out)) continue;
        if (multi_input) {
          return verdict(absl::StrCat("mixed scales on ", op),
                         absl::StrCat("input ", i, " and the output are quantized with different parameters (", op,
                                      " on ", target.name, " needs one scale and zero point)"));
        }
        if (unit.output_q.size() > 1) {
          return verdict(absl::StrCat(op, ": outputs quantized differently"),
                         absl::StrCat("output ", o, " is quantized with other parameters than the input"));
        }
        return verdict(absl::StrCat(op, ": input and output quantized differently"),
                       "input and output quantized with different parameters");
      }
    }
  }
  return {};
}

// Q/DQ forms the target's kernels do not take: integer types other than its
// own (int16, int4, float8 of opsets 19-21) and block-wise scales.
Verdict QuantizationFormReason(const NodeUnit& unit, const TargetProfile& target) {
  std::vector<const std::optional<QdqParams>*> qdq;
  for (const auto& p : unit.input_params) qdq.push_back(&p);
  for (const auto& p : unit.output_params) qdq.push_back(&p);
  const ir::OpTraits* traits = ir::FindOpTraits(*unit.target);
  const bool has_bias_input = traits != nullptr && traits->bias_input >= 0;
  for (size_t i = 0; i < qdq.size(); ++i) {
    const std::optional<QdqParams>& p = *qdq[i];
    if (!p) continue;
    const ir::Node* n = p->node;
    if (!p->params_constant()) {
      return {"quantization parameters computed at run time",
              absl::StrCat(n->Describe(), " reads a scale or zero point that is not a constant; integer kernels are "
                                          "built from constant parameters")};
    }
    // An int32 bias behind its DQ is part of the kernel's signature.
    if (has_bias_input && i == 2 && p->quant_type == ir::ElementType::kInt32) continue;
    if (p->block_size > 0 && !target.block_wise_weights) {
      return {"block-wise quantization (block_size)",
              absl::StrCat(n->Describe(), " is block-wise (block_size ", p->block_size, "); ", target.name,
                           " kernels take per-tensor or per-channel scales")};
    }
    if (p->quant_type != ir::ElementType::kUndefined && !target.integer_types.contains(p->quant_type)) {
      const std::string type = ir::ElementTypeName(p->quant_type);
      return {absl::StrCat("no integer kernel for ", type, " data on ", target.name),
              absl::StrCat(n->Describe(), " quantizes to ", type, "; ", target.name, " kernels take ",
                           absl::StrJoin(target.integer_types, "/", [](std::string* out, ir::ElementType t) {
                             out->append(ir::ElementTypeName(t));
                           }))};
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

// The units a unit's outputs reach, looking through Q/DQ nodes (data that is
// quantized and dequantized on its way is still the same edge), and whether
// it reaches a graph output or is reached from a graph input that way.
struct UnitEdges {
  std::vector<int64_t> successors;
  std::vector<int64_t> predecessors;
  bool from_graph_input = false;
  bool to_graph_output = false;
};

std::vector<UnitEdges> FindUnitEdges(const ir::Graph& graph, const std::vector<NodeUnit>& units,
                                     const absl::flat_hash_map<const ir::Node*, int64_t>& unit_index) {
  std::vector<UnitEdges> edges(units.size());
  for (size_t i = 0; i < units.size(); ++i) {
    absl::flat_hash_set<int64_t> reached;
    WalkThroughQuantization(
        std::vector<const ir::Value*>(units[i].target->outputs().begin(), units[i].target->outputs().end()),
        [&](const ir::Node& user, int) {
          auto it = unit_index.find(&user);
          if (it == unit_index.end() || !reached.insert(it->second).second) return;
          edges[i].successors.push_back(it->second);
          edges[it->second].predecessors.push_back(static_cast<int64_t>(i));
        },
        [&] { edges[i].to_graph_output = true; });
  }
  // Graph inputs that reach a unit (through Q/DQ).
  for (const ir::Value* input : graph.inputs()) {
    WalkThroughQuantization({input}, [&](const ir::Node& user, int) {
      if (auto it = unit_index.find(&user); it != unit_index.end()) edges[it->second].from_graph_input = true;
    });
  }
  return edges;
}

// Names a region by its ops and the integer ops around it; long regions are
// cut after a few ops so that the pattern stays a readable key.
std::string RegionPattern(const FloatRegion& region) {
  constexpr size_t kMaxOps = 6;
  std::vector<std::string> ops(region.ops.begin(), region.ops.begin() + std::min(kMaxOps, region.ops.size()));
  std::string inside = absl::StrJoin(ops, ", ");
  if (region.ops.size() > kMaxOps) absl::StrAppend(&inside, ", ... (", region.ops.size(), " ops)");
  auto side = [](const std::set<std::string>& ops) { return ops.empty() ? std::string("-") : absl::StrJoin(ops, "|"); };
  return absl::StrCat(side(region.entered_from), " -> [", inside, "] -> ", side(region.exits_to));
}

std::vector<FloatRegion> CollectFloatRegions(const std::vector<NodeUnit>& units, const std::vector<UnitVerdict>& verdicts,
                                             const std::vector<UnitEdges>& edges, std::vector<int64_t>& region_parent) {
  std::vector<FloatRegion> regions;
  absl::flat_hash_map<int64_t, size_t> region_of_root;
  for (size_t i = 0; i < units.size(); ++i) {
    if (verdicts[i].fusable) continue;
    const int64_t root = Find(region_parent, static_cast<int64_t>(i));
    auto [it, inserted] = region_of_root.try_emplace(root, regions.size());
    if (inserted) regions.emplace_back();
    FloatRegion& region = regions[it->second];
    region.nodes.push_back(verdicts[i].node);
    region.ops.push_back(verdicts[i].op_type);
    for (int64_t p : edges[i].predecessors) {
      if (verdicts[p].fusable) region.entered_from.insert(verdicts[p].op_type);
    }
    for (int64_t s : edges[i].successors) {
      if (verdicts[s].fusable) region.exits_to.insert(verdicts[s].op_type);
    }
    if (edges[i].from_graph_input) region.entered_from.insert("input");
    if (edges[i].to_graph_output) region.exits_to.insert("output");
  }
  for (FloatRegion& region : regions) region.pattern = RegionPattern(region);
  return regions;
}

std::vector<GraphOutputQuantization> GraphOutputSteps(const ir::Graph& graph) {
  std::vector<GraphOutputQuantization> out;
  for (const ir::Value* v : graph.outputs()) {
    GraphOutputQuantization o;
    o.name = v->name();
    if (const ir::Node* dq = DequantizeProducer(v)) {
      auto p = ReadQdqParams(*dq);
      if (p && p->scales.size() == 1) {
        o.scale = p->scales[0];
        o.zero_point = p->zero_points.empty() ? 0 : p->zero_points[0];
        o.type = ir::ElementTypeName(p->quant_type);
      }
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

std::string WhyNotInteger(const NodeUnit& unit, const TargetProfile& target) { return Reason(unit, target).detail; }

std::string NoRewriteYet(const std::string& op, const std::string& kernel, const TargetProfile& target) {
  const std::string how = kernel == "=" ? std::string("on the integers as they are") : kernel;
  return absl::StrCat(target.name, " runs ", op, " in integer (", how, "); qopt has no rewrite for it yet");
}

BoundaryReport AnalyzeBoundaries(const ir::Graph& graph, const TargetProfile& target,
                                 const std::set<std::string>* rewritable_kernels) {
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
      if (rewritable_kernels != nullptr && unit.has_qdq()) {
        const std::string kernel(target.KernelFor(*unit.target));
        if (!kernel.empty() && !rewritable_kernels->contains(kernel)) {
          v.no_rewrite = NoRewriteYet(v.op_type, kernel, target);
          ++r.no_rewrite[v.no_rewrite];
        }
      }
    } else {
      ++r.reasons[verdict.category];
    }
    r.verdicts.push_back(std::move(v));
  }
  // Islands: integer units joined by an edge, directly (QOperator models)
  // or through Q -> DQ; float regions: the other units, joined the same way.
  const std::vector<UnitEdges> edges = FindUnitEdges(graph, units, unit_index);
  std::vector<int64_t> region_parent(units.size());
  std::iota(region_parent.begin(), region_parent.end(), 0);
  for (size_t i = 0; i < units.size(); ++i) {
    for (int64_t j : edges[i].successors) {
      if (r.verdicts[i].fusable && r.verdicts[j].fusable) {
        parent[Find(parent, static_cast<int64_t>(i))] = Find(parent, j);
      } else if (!r.verdicts[i].fusable && !r.verdicts[j].fusable) {
        region_parent[Find(region_parent, static_cast<int64_t>(i))] = Find(region_parent, j);
      }
    }
  }
  r.float_regions = CollectFloatRegions(units, r.verdicts, edges, region_parent);
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
  r.graph_outputs = GraphOutputSteps(graph);
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
  j["no_rewrite_yet"] = r.no_rewrite;
  j["units_left_float"] = nlohmann::json::array();
  for (const UnitVerdict& v : r.verdicts) {
    if (!v.fusable) j["units_left_float"].push_back({{"node", v.node}, {"op_type", v.op_type}, {"reason", v.reason}});
  }
  std::map<std::string, int64_t> pattern_counts;
  j["float_regions"] = nlohmann::json::array();
  for (const FloatRegion& region : r.float_regions) {
    ++pattern_counts[region.pattern];
    j["float_regions"].push_back({{"nodes", region.nodes},
                                  {"ops", region.ops},
                                  {"entered_from", region.entered_from},
                                  {"exits_to", region.exits_to},
                                  {"pattern", region.pattern}});
  }
  j["float_region_patterns"] = pattern_counts;
  j["graph_outputs"] = nlohmann::json::array();
  for (const GraphOutputQuantization& o : r.graph_outputs) {
    nlohmann::json entry = {{"name", o.name}, {"scale", nullptr}};
    if (o.scale) {
      entry["scale"] = *o.scale;
      entry["zero_point"] = o.zero_point;
      entry["type"] = o.type;
    }
    j["graph_outputs"].push_back(std::move(entry));
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
  if (!r.float_regions.empty()) {
    std::map<std::string, int64_t> pattern_counts;
    for (const FloatRegion& region : r.float_regions) ++pattern_counts[region.pattern];
    std::vector<std::pair<int64_t, std::string>> sorted;
    for (const auto& [pattern, n] : pattern_counts) sorted.emplace_back(n, pattern);
    std::sort(sorted.rbegin(), sorted.rend());
    absl::StrAppend(&out, "  float regions: ", r.float_regions.size(), " (integer op -> [float ops] -> integer op)\n");
    int rows = 0;
    for (const auto& [n, pattern] : sorted) {
      if (rows++ >= max_rows) break;
      absl::StrAppend(&out, absl::StrFormat("    %5d  %s\n", n, pattern));
    }
  }
  for (const auto& [what, n] : r.no_rewrite) {
    absl::StrAppend(&out, absl::StrFormat("  run in integer, no rewrite yet (%d): %s\n", n, what));
  }
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
