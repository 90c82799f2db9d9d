#include "render/graph_dot.h"

#include <functional>
#include <map>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"
#include "analysis/qdq_boundaries.h"
#include "analysis/qdq_params.h"

namespace qopt::analysis {
namespace {

// Integer kernels, and MatMulIntegerToFloat (integer inside, float out).
bool IsFusedIntegerOp(const ir::Node& node) {
  return IsIntegerKernel(node) || (node.domain() == "com.microsoft" && node.op_type() == "MatMulIntegerToFloat");
}

// Q/DQ, and casts between float and integer.
bool IsBoundary(const ir::Node& node) {
  if (IsQuantizationBoundary(node)) return true;
  if (node.Is("Cast") && node.input(0) && node.output()) {
    return ir::IsInteger(node.input(0)->elem_type()) != ir::IsInteger(node.output()->elem_type());
  }
  return false;
}

bool HasIntegerOutputs(const ir::Node& node) {
  bool any = false;
  for (const ir::Value* out : node.outputs()) {
    if (out == nullptr) continue;
    if (!ir::IsInteger(out->elem_type())) return false;
    any = true;
  }
  return any;
}

// One Q/DQ line: "scale 0.0123, zero point 128, uint8 (axis 0)".
std::string QdqSummary(const ir::Node& node) {
  auto p = ReadQdqParams(node);
  if (!p) return "";
  std::string out;
  if (p->scales.size() == 1) {
    absl::StrAppend(&out, "scale ", p->scales[0]);
  } else if (!p->scales.empty()) {
    absl::StrAppend(&out, p->scales.size(), " scales (axis ", p->axis, ")");
  }
  if (p->zero_points.size() == 1) absl::StrAppend(&out, ", zero point ", p->zero_points[0]);
  absl::StrAppend(&out, ", ", ir::ElementTypeName(p->quant_type));
  if (p->block_size > 0) absl::StrAppend(&out, ", block ", p->block_size);
  return out;
}

}  // namespace

// Nodes within `hops` edges (either direction) of a node matching `pattern`.
static absl::StatusOr<absl::flat_hash_set<const ir::Node*>> Neighbourhood(const ir::Graph& graph, const std::string& pattern,
                                                                  int hops) {
  RE2 re(pattern);
  if (!re.ok()) return absl::InvalidArgumentError(absl::StrCat("bad focus pattern '", pattern, "': ", re.error()));
  absl::flat_hash_set<const ir::Node*> seen;
  std::vector<const ir::Node*> frontier;
  for (const ir::Node* n : graph.node_list()) {
    bool match = RE2::PartialMatch(n->name(), re) || RE2::PartialMatch(n->op_type(), re);
    for (const ir::Value* out : n->outputs()) match |= out != nullptr && RE2::PartialMatch(out->name(), re);
    if (match && seen.insert(n).second) frontier.push_back(n);
  }
  for (int h = 0; h < hops && !frontier.empty(); ++h) {
    std::vector<const ir::Node*> next;
    auto visit = [&](const ir::Node* m) {
      if (m != nullptr && seen.insert(m).second) next.push_back(m);
    };
    for (const ir::Node* n : frontier) {
      for (const ir::Value* in : n->inputs()) {
        if (in != nullptr) visit(in->producer());
      }
      for (const ir::Value* out : n->outputs()) {
        if (out == nullptr) continue;
        for (const ir::Use& use : out->uses()) {
          if (!use.is_graph_output()) visit(use.user);
        }
      }
    }
    frontier = std::move(next);
  }
  return seen;
}

static std::string Scope(const ir::Node& node) {
  const size_t slash = node.name().rfind('/');
  return slash == std::string::npos || slash == 0 ? "" : node.name().substr(0, slash);
}

absl::StatusOr<ir::DotStyle> QuantizationDotStyle(const ir::Graph& graph, const TargetProfile& target,
                                                   const DotViewOptions& options) {
  if (options.cluster != "units" && options.cluster != "scope" && options.cluster != "none") {
    return absl::InvalidArgumentError(absl::StrCat("bad cluster mode '", options.cluster, "' (units, scope, none)"));
  }
  std::shared_ptr<absl::flat_hash_set<const ir::Node*>> focus;
  if (!options.focus.empty()) {
    auto nodes = Neighbourhood(graph, options.focus, options.focus_hops);
    if (!nodes.ok()) return nodes.status();
    if (nodes->empty()) return absl::InvalidArgumentError(absl::StrCat("focus pattern '", options.focus, "' names no node"));
    focus = std::make_shared<absl::flat_hash_set<const ir::Node*>>(*std::move(nodes));
  }
  // Units with any Q/DQ form clusters labelled with their verdict.
  struct Membership {
    std::string cluster;
    std::string label;
    std::string verdict;  // for the target itself
    bool integer = false;
  };
  auto members = std::make_shared<absl::flat_hash_map<const ir::Node*, Membership>>();
  for (const NodeUnit& unit : FindNodeUnits(graph)) {
    const bool has_qdq = unit.has_qdq();
    const std::string why = WhyNotInteger(unit, target);
    const std::string name = unit.target->name().empty() ? unit.target->Describe() : unit.target->name();
    Membership m;
    m.integer = why.empty();
    // A float model's units have no verdict worth printing.
    if (has_qdq) m.verdict = why.empty() ? absl::StrCat("integer on ", target.name) : absl::StrCat("float: ", why);
    if (has_qdq) {
      m.cluster = absl::StrCat("unit:", name);
      m.label = absl::StrCat(unit.target->op_type(), " unit");
    }
    (*members)[unit.target] = m;
    if (!has_qdq) continue;
    for (const ir::Node* q : unit.output_q) {
      if (q != nullptr) (*members)[q] = Membership{m.cluster, m.label, "", false};
    }
    for (const ir::Node* dq : unit.input_dq) {
      if (dq != nullptr && !members->contains(dq)) (*members)[dq] = Membership{m.cluster, m.label, "", false};
    }
  }
  ir::DotStyle style;
  style.title = options.title;
  if (focus) {
    style.hidden = [focus](const ir::Node& n) { return n.Is("Constant") || !focus->contains(&n); };
  }
  const std::string cluster_mode = options.cluster;
  style.node = [members, cluster_mode](const ir::Node& node) {
    ir::DotNodeStyle s;
    auto it = members->find(&node);
    const Membership* m = it == members->end() ? nullptr : &it->second;
    if (IsBoundary(node)) {
      s.fill = kDotBoundary;
      s.show_scalar_constants = false;  // the summary line says it
      if (std::string q = QdqSummary(node); !q.empty()) s.extra_lines.push_back(q);
    } else if (IsFusedIntegerOp(node)) {
      s.fill = kDotInteger;
      s.penwidth = 3;
      s.border = "#38761d";
      s.show_scalar_constants = false;  // its scales and zero points
      s.extra_lines.push_back("fused integer op");
    } else if ((m != nullptr && m->integer && !m->cluster.empty()) || HasIntegerOutputs(node)) {
      s.fill = kDotInteger;
    } else {
      s.fill = kDotFloat;
    }
    if (m != nullptr) {
      if (cluster_mode == "units") {
        s.cluster = m->cluster;
        s.cluster_label = m->label;
      }
      if (!m->verdict.empty() && !IsFusedIntegerOp(node)) s.extra_lines.push_back(m->verdict);
    }
    if (cluster_mode == "scope") {
      s.cluster = Scope(node);
      s.cluster_label = s.cluster;
    }
    return s;
  };
  return style;
}

std::string SummaryDot(const ir::Graph& graph, const TargetProfile& target, const std::string& title) {
  // Precision of each drawn node.
  absl::flat_hash_map<const ir::Node*, bool> integer;
  for (const NodeUnit& unit : FindNodeUnits(graph)) {
    const ir::Node& node = *unit.target;
    integer[&node] =
        IsFusedIntegerOp(node) || HasIntegerOutputs(node) || (unit.has_qdq() && WhyNotInteger(unit, target).empty());
  }
  std::vector<const ir::Node*> nodes;
  absl::flat_hash_map<const ir::Node*, int> index;
  for (const ir::Node* n : graph.node_list()) {
    if (!integer.contains(n)) continue;
    index[n] = static_cast<int>(nodes.size());
    nodes.push_back(n);
  }
  std::vector<int> parent(nodes.size());
  for (size_t i = 0; i < parent.size(); ++i) parent[i] = static_cast<int>(i);
  std::function<int(int)> find = [&](int i) { return parent[i] == i ? i : parent[i] = find(parent[i]); };
  // Successors of each node through Q/DQ, with the number of Q/DQ crossed.
  std::vector<std::vector<std::pair<int, int>>> next(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    WalkThroughQuantization(
        std::vector<const ir::Value*>(nodes[i]->outputs().begin(), nodes[i]->outputs().end()),
        [&](const ir::Node& user, int crossed) {
          if (auto it = index.find(&user); it != index.end()) next[i].emplace_back(it->second, crossed);
        });
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (auto [j, crossed] : next[i]) {
      if (integer[nodes[i]] == integer[nodes[j]]) parent[find(static_cast<int>(i))] = find(j);
    }
  }
  std::map<int, std::map<std::string, int>> ops;  // region -> op -> count
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ir::Node& n = *nodes[i];
    ++ops[find(static_cast<int>(i))][n.is_default_domain() ? n.op_type() : absl::StrCat(n.domain(), "::", n.op_type())];
  }
  std::string out = "digraph qopt_summary {\n";
  absl::StrAppend(&out, "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=10",
                  title.empty() ? "" : absl::StrCat(", label=\"", title, "\", labelloc=t"),
                  "];\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=9];\n");
  for (const auto& [root, counts] : ops) {
    const bool is_int = integer[nodes[root]];
    int total = 0;
    std::string lines;
    for (const auto& [op, n] : counts) {
      total += n;
      absl::StrAppend(&lines, "\\n", op, " x", n);
    }
    absl::StrAppend(&out, "  r", root, " [label=\"", is_int ? "integer" : "float", " region: ", total, " ops", lines,
                    "\", fillcolor=\"", is_int ? kDotInteger : kDotFloat, "\"];\n");
  }
  std::map<std::pair<int, int>, int> crossings;
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (auto [j, crossed] : next[i]) {
      const int a = find(static_cast<int>(i)), b = find(j);
      if (a != b) crossings[{a, b}] += std::max(crossed, 1);
    }
  }
  for (const auto& [edge, n] : crossings) {
    absl::StrAppend(&out, "  r", edge.first, " -> r", edge.second, " [label=\"", n, " Q/DQ\", color=\"", kDotBoundary,
                    "\", penwidth=2];\n");
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

}  // namespace qopt::analysis
