// dce: removes nodes none of whose outputs are used (by a node or a graph
// output), in the main graph and in sub-graphs, then constants nobody uses.
// ONNX operators have no side effects, so an unused node can always go.
// Graph inputs are the model's interface and are never removed.
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

class DeadCodeElimination : public Pass {
 public:
  absl::string_view name() const override { return "dce"; }
  absl::string_view summary() const override { return "Remove nodes whose outputs are unused, and unused constants"; }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    const int64_t before = nodes_removed_.value() + constants_removed_.value();
    Sweep(model.graph());
    return nodes_removed_.value() + constants_removed_.value() > before;
  }

 private:
  void Sweep(ir::Graph& graph) {
    // Reverse order: erasing a consumer first frees its producers' outputs,
    // so a dead chain goes in one sweep.
    std::vector<ir::Node*> nodes = graph.node_list();
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
      ir::Node* node = *it;
      if (node->outputs_unused()) {
        graph.EraseNode(node);
        ++nodes_removed_;
      } else {
        for (ir::Graph* sub : node->subgraphs()) Sweep(*sub);
      }
    }
    for (ir::Value* v : std::vector<ir::Value*>(graph.initializers())) {
      if (v->kind() == ir::Value::Kind::kInitializer && !v->has_uses()) {
        graph.EraseValue(v);
        ++constants_removed_;
      }
    }
  }

  Statistic nodes_removed_{this, "nodes-removed", "Dead nodes removed"};
  Statistic constants_removed_{this, "constants-removed", "Unused initializers removed"};
};

}  // namespace

std::unique_ptr<Pass> CreateDeadCodeEliminationPass() { return std::make_unique<DeadCodeElimination>(); }

}  // namespace qopt
