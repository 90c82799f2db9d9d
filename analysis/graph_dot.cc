#include "analysis/graph_dot.h"

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "analysis/qdq_boundaries.h"
#include "analysis/qdq_params.h"

namespace qopt::analysis {
namespace {

bool IsFusedIntegerOp(const ir::Node& node) {
  const std::string& op = node.op_type();
  if (node.is_default_domain()) {
    return op == "QLinearConv" || op == "QLinearMatMul" || op == "ConvInteger" || op == "MatMulInteger";
  }
  return node.domain() == "com.microsoft" &&
         (op.rfind("QLinear", 0) == 0 || op == "QGemm" || op == "MatMulIntegerToFloat");
}

bool IsBoundary(const ir::Node& node) {
  if (IsQuantizeLinear(node) || IsDequantizeLinear(node)) return true;
  if (node.is_default_domain() && node.op_type() == "DynamicQuantizeLinear") return true;
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

ir::DotStyle QuantizationDotStyle(const ir::Graph& graph, const TargetProfile& target, std::string title) {
  // Units with any Q/DQ form clusters labelled with their verdict.
  struct Membership {
    std::string cluster;
    std::string label;
    std::string verdict;  // for the target itself
    bool integer = false;
  };
  auto members = std::make_shared<absl::flat_hash_map<const ir::Node*, Membership>>();
  for (const NodeUnit& unit : FindNodeUnits(graph)) {
    bool has_qdq = false;
    for (const ir::Node* n : unit.input_dq) has_qdq |= n != nullptr;
    for (const ir::Node* n : unit.output_q) has_qdq |= n != nullptr;
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
  style.title = std::move(title);
  style.node = [members](const ir::Node& node) {
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
      s.cluster = m->cluster;
      s.cluster_label = m->label;
      if (!m->verdict.empty() && !IsFusedIntegerOp(node)) s.extra_lines.push_back(m->verdict);
    }
    return s;
  };
  return style;
}

}  // namespace qopt::analysis
