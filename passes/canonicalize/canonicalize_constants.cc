// canonicalize-constants: stores every constant tensor one way. paddle2onnx
// and torch exporters write weights as Constant nodes, other tools as
// initializers; the IR already treats both as constants, and this pass turns
// the file into one form (initializers by default, which ONNX Runtime and
// most tools expect; Constant nodes on request). Tensor bytes are shared,
// not copied, and value names are kept.
#include "absl/strings/str_cat.h"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

class CanonicalizeConstants : public Pass {
 public:
  absl::string_view name() const override { return "canonicalize-constants"; }
  absl::string_view summary() const override {
    return "Store constants uniformly: Constant nodes as initializers, or the reverse";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    if (direction_.value() == "to-initializers") {
      if (model.ir_version() < 4) {
        return absl::FailedPreconditionError(absl::StrCat(
            "IR version ", model.ir_version(), " needs initializers listed as graph inputs; use direction=to-nodes"));
      }
      ToInitializers(model.graph());
    } else {
      ToNodes(model.graph());
    }
    return moved_.value() > 0;
  }

 private:
  void ToInitializers(ir::Graph& graph) {
    for (ir::Node* node : graph.nodes()) {
      for (ir::Graph* sub : node->subgraphs()) ToInitializers(*sub);
      if (!node->Is("Constant") || node->output() == nullptr) continue;
      ir::Value* out = node->output();
      const ir::Tensor* tensor = out->constant();
      if (tensor == nullptr) {
        ++skipped_;  // sparse_value or string forms: left as nodes
        continue;
      }
      const std::string name = out->name();
      ir::Value* init = graph.AddInitializer(absl::StrCat(name, "__init"), *tensor);
      if (out->has_type_info()) init->set_type_info(out->type_info());
      graph.ReplaceAllUsesWith(out, init);
      graph.EraseNode(node);
      graph.RenameValue(init, name);
      ++moved_;
    }
  }

  void ToNodes(ir::Graph& graph) {
    for (ir::Node* node : graph.nodes()) {
      for (ir::Graph* sub : node->subgraphs()) ToNodes(*sub);
    }
    ir::Node* first = graph.num_nodes() > 0 ? graph.node_list().front() : nullptr;
    for (ir::Value* init : std::vector<ir::Value*>(graph.initializers())) {
      if (init->kind() != ir::Value::Kind::kInitializer) continue;  // graph-input defaults stay
      const std::string name = init->name();
      graph.RenameValue(init, graph.model()->UniqueName(absl::StrCat(name, "__old")));
      ir::Node* constant = graph.AddNodeWithOutputNames("Constant", {}, {name}, first);
      ir::Tensor tensor = *init->initializer();  // shares the bytes
      tensor.set_name(name);
      constant->SetTensor("value", std::move(tensor));
      if (init->has_type_info()) constant->output()->set_type_info(init->type_info());
      graph.ReplaceAllUsesWith(init, constant->output());
      graph.EraseValue(init);
      ++moved_;
    }
  }

  Option<std::string> direction_{this, "direction", "Which form to keep", "to-initializers",
                                 {"to-initializers", "to-nodes"}};
  Statistic moved_{this, "constants-moved", "Constants converted to the other form"};
  Statistic skipped_{this, "constants-skipped", "Constant nodes left as they were (sparse or string values)"};
};

}  // namespace

std::unique_ptr<Pass> CreateCanonicalizeConstantsPass() { return std::make_unique<CanonicalizeConstants>(); }

}  // namespace qopt
