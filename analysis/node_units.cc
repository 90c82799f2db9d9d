#include "analysis/node_units.h"

#include "absl/container/flat_hash_set.h"
#include "analysis/qdq_params.h"
#include "ir/op_traits.h"

namespace qopt::analysis {
namespace {

bool IsFloat(ir::ElementType t) { return t == ir::ElementType::kFloat || t == ir::ElementType::kFloat16; }

}  // namespace

void WalkThroughQuantization(std::vector<const ir::Value*> values,
                             const std::function<void(const ir::Node&, int crossed)>& reached,
                             const std::function<void()>& graph_output) {
  std::vector<std::pair<const ir::Value*, int>> work;
  for (const ir::Value* v : values) work.emplace_back(v, 0);
  absl::flat_hash_set<const ir::Value*> seen;
  while (!work.empty()) {
    auto [v, crossed] = work.back();
    work.pop_back();
    if (v == nullptr || !seen.insert(v).second) continue;
    for (const ir::Use& use : v->uses()) {
      if (use.is_graph_output()) {
        if (graph_output) graph_output();
      } else if (IsQuantizationBoundary(*use.user)) {
        if (use.index != 0) continue;  // a scale or zero point, not the data
        for (const ir::Value* out : use.user->outputs()) work.emplace_back(out, crossed + 1);
      } else {
        reached(*use.user, crossed);
      }
    }
  }
}

NodeUnit MakeNodeUnit(const ir::Node& target) {
  NodeUnit unit;
  unit.target = &target;
  for (const ir::Value* in : target.inputs()) {
    const ir::Node* dq = DequantizeProducer(in);
    unit.input_dq.push_back(dq);
    unit.input_params.push_back(dq ? ReadQdqParams(*dq) : std::nullopt);
    if (dq != nullptr || in == nullptr || in->constant() != nullptr) continue;
    // Shapes, indices and axes are integer already; only float data counts.
    if (IsFloat(in->elem_type()) || in->elem_type() == ir::ElementType::kUndefined) {
      unit.float_inputs.push_back(in->name());
    }
  }
  for (const ir::Value* out : target.outputs()) {
    const ir::Node* q = nullptr;
    bool float_use = out != nullptr && out->is_graph_output();
    if (out != nullptr) {
      for (const ir::Use& use : out->uses()) {
        if (use.is_graph_output()) continue;
        if (IsQuantizeLinear(*use.user) && out->uses().size() == 1) {
          q = use.user;
        } else {
          float_use = true;
        }
      }
    }
    unit.output_q.push_back(q);
    unit.output_params.push_back(q ? ReadQdqParams(*q) : std::nullopt);
    if (out != nullptr && (float_use || q == nullptr) && out->has_uses() &&
        (IsFloat(out->elem_type()) || out->elem_type() == ir::ElementType::kUndefined)) {
      unit.float_outputs.push_back(out->name());
    }
  }
  return unit;
}

std::vector<NodeUnit> FindNodeUnits(const ir::Graph& graph) {
  std::vector<NodeUnit> units;
  // Shape and constant arithmetic: values computed from Shape/Size outputs
  // and constants only (Cast, Slice, Concat, Gather of a shape; a Cast of a
  // constant). They carry no activation data, so they are not units and not
  // boundaries.
  absl::flat_hash_set<const ir::Value*> shape_values;
  for (const ir::Node* node : graph.node_list()) {
    bool from_shapes = ir::HasTrait(*node, ir::kShapeOnly);
    if (!from_shapes && !node->inputs().empty() && !IsQuantizationBoundary(*node)) {
      from_shapes = true;
      for (const ir::Value* in : node->inputs()) {
        if (in != nullptr && in->constant() == nullptr && !shape_values.contains(in)) from_shapes = false;
      }
    }
    if (from_shapes) shape_values.insert(node->outputs().begin(), node->outputs().end());
  }
  for (const ir::Node* node : graph.node_list()) {
    // Q/DQ are the boundaries themselves; Constant, Shape and Size read no
    // tensor data, so they are no unit either, nor is shape arithmetic.
    if (IsQuantizationBoundary(*node) || ir::HasTrait(*node, ir::kConstantOp) || ir::HasTrait(*node, ir::kShapeOnly)) {
      continue;
    }
    if (!node->outputs().empty() && shape_values.contains(node->output())) continue;
    units.push_back(MakeNodeUnit(*node));
  }
  return units;
}

}  // namespace qopt::analysis
