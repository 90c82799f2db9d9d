#include "ir/verifier.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ir/graph.h"

namespace qopt::ir {
namespace {

absl::Status Error(const Graph& graph, absl::string_view message) {
  std::string where = graph.parent_node() ? absl::StrCat(" (in a sub-graph of node ", graph.parent_node()->Describe(), ")") : "";
  return absl::FailedPreconditionError(absl::StrCat("verifier: ", message, where));
}

bool HasUse(const Value* v, const Use& use) {
  for (const Use& u : v->uses()) {
    if (u == use) return true;
  }
  return false;
}

// `visible` holds the values of enclosing graphs defined before the node that
// owns this graph; values of this graph join it as they become defined.
absl::Status VerifyScope(const Graph& graph, absl::flat_hash_set<const Value*> visible) {
  absl::flat_hash_set<std::string> names;
  absl::flat_hash_set<const Value*> own;
  for (const Value* v : graph.values()) {
    own.insert(v);
    if (!names.insert(v->name()).second) {
      return Error(graph, absl::StrCat("value '", v->name(), "' is defined twice"));
    }
    if (graph.FindValue(v->name()) != v) {
      return Error(graph, absl::StrCat("value '", v->name(), "' is missing from the graph's name table"));
    }
    for (const Use& use : v->uses()) {
      if (use.is_graph_output()) {
        const auto& outs = use.output_of->outputs();
        if (use.index >= static_cast<int>(outs.size()) || outs[use.index] != v) {
          return Error(graph, absl::StrCat("value '", v->name(), "' lists a stale graph-output use #", use.index));
        }
      } else if (use.user->is_erased() || use.user->input(use.index) != v) {
        return Error(graph, absl::StrCat("value '", v->name(), "' lists a stale use by node ", use.user->Describe(),
                                         " input ", use.index));
      }
    }
    if (const Tensor* t = v->initializer()) {
      if (absl::Status s = t->CheckDataSize(absl::StrCat("initializer '", v->name(), "'")); !s.ok()) {
        return Error(graph, s.message());
      }
      ElementType declared = v->has_type_info() && v->type_info().type().has_tensor_type()
                                 ? static_cast<ElementType>(v->type_info().type().tensor_type().elem_type())
                                 : ElementType::kUndefined;
      if (declared != ElementType::kUndefined && declared != t->type()) {
        return Error(graph, absl::StrCat("value '", v->name(), "' is declared ", ElementTypeName(declared),
                                         " but its initializer is ", ElementTypeName(t->type())));
      }
    }
  }
  for (const Value* v : graph.inputs()) visible.insert(v);
  for (const Value* v : graph.initializers()) visible.insert(v);

  for (const Node* node : graph.node_list()) {
    if (node->is_erased() || node->graph() != &graph) {
      return Error(graph, absl::StrCat("node ", node->Describe(), " is erased or belongs to another graph"));
    }
    for (int i = 0; i < node->num_inputs(); ++i) {
      const Value* v = node->input(i);
      if (v == nullptr) continue;
      if (!visible.contains(v)) {
        bool later = own.contains(v);
        return Error(graph, absl::StrCat("node ", node->Describe(), " input ", i, " '", v->name(), "' ",
                                         later ? "is used before it is defined (cycle or unsorted nodes)"
                                               : "is not defined in this graph or an enclosing one"));
      }
      if (!HasUse(v, Use{const_cast<Node*>(node), i})) {
        return Error(graph, absl::StrCat("value '", v->name(), "' does not list its use by node ", node->Describe()));
      }
    }
    for (const Graph* sub : node->subgraphs()) {
      if (absl::Status s = VerifyScope(*sub, visible); !s.ok()) return s;
    }
    for (int i = 0; i < node->num_outputs(); ++i) {
      const Value* v = node->output(i);
      if (v == nullptr) continue;
      if (v->producer() != node || v->output_index() != i || !own.contains(v)) {
        return Error(graph, absl::StrCat("output ", i, " '", v->name(), "' of node ", node->Describe(),
                                         " does not name the node as its producer"));
      }
      visible.insert(v);
    }
  }
  for (int i = 0; i < static_cast<int>(graph.outputs().size()); ++i) {
    const Value* v = graph.outputs()[i];
    if (v == nullptr || !visible.contains(v)) {
      return Error(graph, absl::StrCat("graph output ", i, " is not defined"));
    }
    if (!HasUse(v, Use{nullptr, i, const_cast<Graph*>(&graph)})) {
      return Error(graph, absl::StrCat("value '", v->name(), "' does not list its use as graph output ", i));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status VerifyGraph(const Graph& graph) {
  absl::flat_hash_set<const Value*> visible;
  for (const Graph* g = graph.parent_graph(); g != nullptr; g = g->parent_graph()) {
    for (const Value* v : g->values()) visible.insert(v);
  }
  return VerifyScope(graph, std::move(visible));
}

absl::Status Verify(const Model& model) { return VerifyGraph(model.graph()); }

}  // namespace qopt::ir
