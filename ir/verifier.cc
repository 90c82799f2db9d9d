#include "ir/verifier.h"

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/graph.h"
#include "ir/inferred_types.h"
#include "ir/op_types.h"
#include "ir/prefetch.h"
#include "ir/shape_inference.h"

namespace qopt::ir {
namespace {

std::string Where(const Graph& graph) {
  return graph.parent_node() ? absl::StrCat(" (in a sub-graph of node ", graph.parent_node()->Describe(), ")") : "";
}

absl::Status Error(const Graph& graph, absl::string_view message) {
  return absl::FailedPreconditionError(absl::StrCat("verifier: ", message, Where(graph)));
}

bool HasUse(const Value* v, const Use& use) {
  for (const Use& u : v->uses()) {
    if (u == use) return true;
  }
  return false;
}

// "'MaxPool_3' (MaxPool, opset 11)", "(com.microsoft::QLinearAdd #7, opset 1)".
std::string DescribeAt(const Node& node, int64_t opset) {
  std::string text = node.Describe();
  text.insert(text.size() - 1, absl::StrCat(", opset ", opset));
  return text;
}

// The element type of `v` as far as it is known without inference: declared
// or a constant's, else fixed by the Cast that makes it (`to`). Files often
// compute a float16 Q/DQ scale with Cast and declare nothing; without this
// a DequantizeLinear declared float beside such a scale went unnoticed
// (opset 19 types y as its scale, and ONNX Runtime refuses the file).
ElementType KnownElementType(const Value* v) {
  const ElementType declared = v->elem_type();
  if (declared != ElementType::kUndefined) return declared;
  const Node* producer = v->producer();
  if (producer != nullptr && producer->is_default_domain() && producer->op_type() == "Cast") {
    if (std::optional<int64_t> to = producer->GetInt("to")) return static_cast<ElementType>(*to);
  }
  return ElementType::kUndefined;
}

// Every input and output whose element type is known is one the op accepts,
// and the ones sharing a type constraint agree.
//
// The signature of each distinct (domain, op type) is looked up once per
// check, not once per node: FindOpSignature builds two key strings and takes
// a lock each time. The keys view the nodes' own strings, which outlive the
// check.
using SignatureByOp =
    absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, std::pair<const OpSignature*, int64_t>>;

// One node of `graph`, not its sub-graphs.
void CheckElementTypes(const Graph& graph, const Node* node, SignatureByOp& signatures,
                       std::vector<VerifierProblem>& out) {
  const Model* model = graph.model();
  if (model == nullptr) return;
  auto [found, inserted] = signatures.try_emplace({node->domain(), node->op_type()}, nullptr, 0);
  if (inserted) {
    const std::optional<int64_t> opset = model->OpsetVersion(node->is_default_domain() ? "" : node->domain());
    if (opset) found->second = {FindOpSignature(node->domain(), node->op_type(), *opset), *opset};
  }
  // Plain locals: the lambdas below use them, and clang 14 cannot capture
  // structured bindings.
  const OpSignature* signature = found->second.first;
  const int64_t opset = found->second.second;
  if (signature == nullptr) return;

  struct Binding {
    const std::string* constraint;
    ElementType type;
    bool is_input;
    int index;
  };
  absl::InlinedVector<Binding, 8> bound;
  auto value = [&](bool is_input, int index) { return is_input ? node->input(index) : node->output(index); };
  auto where = [&](bool is_input, int index) {
    return absl::StrCat(is_input ? "input " : "output ", index, " '", value(is_input, index)->name(), "'");
  };
  auto report = [&](bool is_input, int index, ElementType type, const std::string& text) {
    // The key leaves out the node's number, which a rewrite that rebuilds
    // an equal node changes.
    out.push_back(VerifierProblem{absl::StrCat("type|", node->domain(), "|", node->op_type(), "|",
                                               where(is_input, index), "|", ElementTypeName(type)),
                                  absl::StrCat("verifier: node ", DescribeAt(*node, opset), " ", where(is_input, index),
                                               ": ", text, Where(graph))});
  };
  auto check = [&](const FormalParam* param, bool is_input, int index) {
    const Value* v = value(is_input, index);
    if (v == nullptr || param == nullptr || param->accepted == 0) return;
    const ElementType type = KnownElementType(v);
    if (type == ElementType::kUndefined || !IsKnownElementType(type)) return;
    if (!param->Accepts(type)) {
      report(
          is_input, index, type,
          absl::StrCat(ElementTypeName(type), " is not accepted (",
                       param->constraint.empty() ? param->name : param->constraint, ": ", param->accepted_text, ")"));
      return;
    }
    if (param->constraint.empty()) return;
    for (const Binding& b : bound) {
      if (*b.constraint != param->constraint) continue;
      if (b.type != type) {
        report(is_input, index, type,
               absl::StrCat(ElementTypeName(type), " differs from ", ElementTypeName(b.type), " of ",
                            where(b.is_input, b.index), " (both ", param->constraint, ")"));
      }
      return;
    }
    bound.push_back(Binding{&param->constraint, type, is_input, index});
  };
  for (int i = 0; i < node->num_inputs(); ++i) check(signature->Input(i), true, i);
  for (int i = 0; i < node->num_outputs(); ++i) check(signature->Output(i), false, i);
}

// Each node's sub-graphs, then the node, in graph order.
void CollectElementTypeProblems(const Graph& graph, SignatureByOp& signatures, std::vector<VerifierProblem>& out) {
  for (const Node* node : graph.node_list()) {
    for (const Graph* sub : node->subgraphs()) CollectElementTypeProblems(*sub, signatures, out);
    CheckElementTypes(graph, node, signatures, out);
  }
}

void CollectElementTypeProblems(const Graph& graph, std::vector<VerifierProblem>& out) {
  SignatureByOp signatures;
  CollectElementTypeProblems(graph, signatures, out);
}

// Which values are defined so far, per graph in scope: a bit per creation
// index, so a look-up is an index, not a hash (one per node input and
// output; the hash set this replaces was most of the structural check's
// cost at 10^6 nodes, and was copied for every sub-graph). A graph leaves
// the table when its scope ends, so its values are not visible outside it.
// Nearly every look-up asks about the graph the last one did, so that
// graph's entry is kept at hand.
class Visibility {
 public:
  // `tallied`: the check defines this graph's values itself and counts the
  // node entries in their use lists (VerifyScope's graphs; not the enclosing
  // graphs of a sub-graph checked on its own, whose values are only marked).
  void Enter(const Graph& graph, bool tallied) {
    scopes_[&graph] = Scope{std::vector<bool>(graph.value_index_bound(), false), tallied};
    Forget();
  }
  void Leave(const Graph& graph) {
    scopes_.erase(&graph);
    Forget();
  }
  // Whether `v` was not defined before.
  bool Define(const Value* v) {
    Scope* scope = Find(v->graph());
    if (scope == nullptr || v->creation_index() >= static_cast<int64_t>(scope->defined.size()) ||
        scope->defined[v->creation_index()]) {
      return false;
    }
    scope->defined[v->creation_index()] = true;
    return true;
  }
  bool IsVisible(const Value* v) {
    const Scope* scope = Find(v->graph());
    return scope != nullptr && v->creation_index() < static_cast<int64_t>(scope->defined.size()) &&
           scope->defined[v->creation_index()] && !v->is_erased();
  }
  // Whether reads of `v` count against its graph's tally of uses.
  bool IsTallied(const Value* v) {
    const Scope* scope = Find(v->graph());
    return scope != nullptr && scope->tallied;
  }

 private:
  struct Scope {
    std::vector<bool> defined;
    bool tallied = false;
  };
  Scope* Find(const Graph* graph) {
    if (graph != last_graph_) {
      auto it = scopes_.find(graph);
      last_graph_ = graph;
      last_scope_ = it == scopes_.end() ? nullptr : &it->second;
    }
    return last_scope_;
  }
  // An insertion may move the entries; an erasure may free the one at hand.
  void Forget() {
    last_graph_ = nullptr;
    last_scope_ = nullptr;
  }

  absl::flat_hash_map<const Graph*, Scope> scopes_;
  const Graph* last_graph_ = nullptr;
  Scope* last_scope_ = nullptr;
};

// The node inputs the use lists of the checked graphs hold, counted from
// both sides. Each input is checked to be listed by its value, so equal
// counts mean no list holds an entry beyond those: nothing stale, nothing
// twice. The lists are not checked entry by entry, which would visit the
// reading node of every entry in the order of the values, a cache miss per
// use on a graph too large for the cache (most of the check's time at 10^5
// nodes, perf); FindUseListError does that only when the counts differ.
struct UseTally {
  int64_t listed = 0;  // entries naming a node, over the checked graphs' values
  int64_t read = 0;    // inputs reading those values, over the checked graphs' nodes
};

// The element-type check when it runs inside the structural walk: a node's
// operands are in the cache right after the walk has checked them, and on a
// graph too large for the cache a second walk fetched them all again.
struct ElementTypeCheck {
  SignatureByOp signatures;
  std::vector<VerifierProblem> problems;
};

// `visible` has the values of enclosing graphs defined before the node that
// owns this graph; values of this graph join it as they become defined.
// With `types`, each node's element-type problems are collected too (after
// its sub-graphs', the order CollectElementTypeProblems finds them in).
absl::Status VerifyScope(const Graph& graph, Visibility& visible, UseTally& tally, ElementTypeCheck* types) {
  // A value of this graph: graph() says so for every live value.
  auto own = [&](const Value* v) { return v->graph() == &graph && !v->is_erased(); };
  // Whether a value lists a use: a scan of its uses, or for a value with
  // many uses (a shape constant read by every Reshape of a large model has
  // tens of thousands) a look-up in a set of the uses such values list.
  // Most values have one or two uses; hashing all of them cost more than
  // the scans on a graph of 10^6 nodes.
  constexpr size_t kScanLimit = 16;
  absl::flat_hash_set<std::tuple<const Value*, const Node*, int, const Graph*>> listed;
  auto lists = [&](const Value* v, const Use& use) {
    return v->uses().size() > kScanLimit && own(v) ? listed.contains({v, use.user, use.index, use.output_of})
                                                   : HasUse(v, use);
  };
  // Every live value is in the name table under its own name, and nothing
  // else is: this also finds a name defined twice.
  if (absl::Status s = graph.CheckNameTable(); !s.ok()) return Error(graph, s.message());
  visible.Enter(graph, /*tallied=*/true);
  // A value's own checks, when it becomes defined (as a graph input or
  // initializer, or as a node's output, right after the walk has read the
  // node): no separate walk over the values, which on a graph too large
  // for the cache fetched every value once more.
  int64_t defined = 0;
  auto define = [&](const Value* v) -> absl::Status {
    if (!own(v)) {
      return Error(graph, absl::StrCat("value '", v->name(), "' is defined here but belongs to another graph"));
    }
    if (!visible.Define(v)) return absl::OkStatus();  // a graph input with a default is an initializer too
    ++defined;
    const bool many_uses = v->uses().size() > kScanLimit;
    for (const Use& use : v->uses()) {
      if (many_uses) listed.insert({v, use.user, use.index, use.output_of});
      if (!use.is_graph_output()) {
        ++tally.listed;
        continue;
      }
      const auto& outs = use.output_of->outputs();
      if (use.index >= static_cast<int>(outs.size()) || outs[use.index] != v) {
        return Error(graph, absl::StrCat("value '", v->name(), "' lists a stale graph-output use #", use.index));
      }
    }
    // The data size from the value's copy: the tensor is visited only when
    // it is wrong (for the message) or when the value declares a type.
    if (!v->initializer_data_size_ok()) {
      if (absl::Status s = v->initializer()->CheckDataSize(absl::StrCat("initializer '", v->name(), "'")); !s.ok()) {
        return Error(graph, s.message());
      }
    }
    if (v->initializer() != nullptr && v->has_type_info()) {
      const Tensor* t = v->initializer();
      ElementType declared = v->type_info().type().has_tensor_type()
                                 ? static_cast<ElementType>(v->type_info().type().tensor_type().elem_type())
                                 : ElementType::kUndefined;
      if (declared != ElementType::kUndefined && declared != t->type()) {
        return Error(graph, absl::StrCat("value '", v->name(), "' is declared ", ElementTypeName(declared),
                                         " but its initializer is ", ElementTypeName(t->type())));
      }
    }
    return absl::OkStatus();
  };
  for (const Value* v : graph.inputs()) {
    if (absl::Status s = define(v); !s.ok()) return s;
  }
  for (const Value* v : graph.initializers()) {
    if (absl::Status s = define(v); !s.ok()) return s;
  }

  const std::vector<Node*> order = graph.node_list();
  for (size_t k = 0; k < order.size(); ++k) {
    PrefetchForNodeWalk(order, k);
    const Node* node = order[k];
    if (node->is_erased() || node->graph() != &graph) {
      return Error(graph, absl::StrCat("node ", node->Describe(), " is erased or belongs to another graph"));
    }
    for (int i = 0; i < node->num_inputs(); ++i) {
      const Value* v = node->input(i);
      if (v == nullptr) continue;
      if (!visible.IsVisible(v)) {
        bool later = own(v);
        return Error(graph, absl::StrCat("node ", node->Describe(), " input ", i, " '", v->name(), "' ",
                                         later ? "is used before it is defined (cycle or unsorted nodes)"
                                               : "is not defined in this graph or an enclosing one"));
      }
      if (!lists(v, Use{const_cast<Node*>(node), i})) {
        return Error(graph, absl::StrCat("value '", v->name(), "' does not list its use by node ", node->Describe()));
      }
      if (visible.IsTallied(v)) ++tally.read;
    }
    for (const Graph* sub : node->subgraphs()) {
      if (absl::Status s = VerifyScope(*sub, visible, tally, types); !s.ok()) return s;
    }
    if (types != nullptr) CheckElementTypes(graph, node, types->signatures, types->problems);
    for (int i = 0; i < node->num_outputs(); ++i) {
      const Value* v = node->output(i);
      if (v == nullptr) continue;
      if (v->producer() != node || v->output_index() != i || !own(v)) {
        return Error(graph, absl::StrCat("output ", i, " '", v->name(), "' of node ", node->Describe(),
                                         " does not name the node as its producer"));
      }
      if (absl::Status s = define(v); !s.ok()) return s;
    }
  }
  // Each value defined once above is a live value of this graph; as many as
  // there are means none is left that nothing defines.
  if (defined != graph.num_values()) {
    for (const Value* v : graph.values()) {
      if (!visible.IsVisible(v)) {
        return Error(graph, absl::StrCat("value '", v->name(),
                                         "' is neither a graph input nor an initializer, and no node makes it"));
      }
    }
    return Error(graph, absl::StrCat(defined, " values are defined, but the graph has ", graph.num_values()));
  }
  for (int i = 0; i < static_cast<int>(graph.outputs().size()); ++i) {
    const Value* v = graph.outputs()[i];
    if (v == nullptr || !visible.IsVisible(v)) {
      return Error(graph, absl::StrCat("graph output ", i, " is not defined"));
    }
    if (!lists(v, Use{nullptr, i, const_cast<Graph*>(&graph)})) {
      return Error(graph, absl::StrCat("value '", v->name(), "' does not list its use as graph output ", i));
    }
  }
  visible.Leave(graph);
  return absl::OkStatus();
}

// Why the tally of a valid-looking graph does not balance: an entry that
// names an erased node or one whose input is another value, or a use listed
// twice. Slow (a visit to the node of every entry); only on a broken graph.
absl::Status FindUseListError(const Graph& graph) {
  for (const Value* v : graph.values()) {
    const UseList& uses = v->uses();
    for (size_t k = 0; k < uses.size(); ++k) {
      const Use& use = uses[k];
      if (use.is_graph_output()) continue;
      if (use.user->is_erased() || use.user->input(use.index) != v) {
        return Error(graph, absl::StrCat("value '", v->name(), "' lists a stale use by node ", use.user->Describe(),
                                         " input ", use.index));
      }
      if (std::find(uses.begin(), uses.begin() + k, use) != uses.begin() + k) {
        return Error(graph, absl::StrCat("value '", v->name(), "' lists its use by node ", use.user->Describe(),
                                         " input ", use.index, " twice"));
      }
    }
  }
  for (const Node* node : graph.node_list()) {
    for (const Graph* sub : node->subgraphs()) {
      if (absl::Status s = FindUseListError(*sub); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// "int8[1,1,4]", "float[N,?]", "float[]" (a scalar), "float" (rank unknown).
std::string TypeText(const onnx::TypeProto& type) {
  const auto& tensor = type.tensor_type();
  std::string text = ElementTypeName(static_cast<ElementType>(tensor.elem_type()));
  if (!tensor.has_shape()) return text;
  std::vector<std::string> dims;
  for (const auto& d : tensor.shape().dim()) {
    dims.push_back(d.has_dim_value() ? absl::StrCat(d.dim_value()) : d.has_dim_param() ? d.dim_param() : "?");
  }
  return absl::StrCat(text, "[", absl::StrJoin(dims, ","), "]");
}

// A definite contradiction between a declared and an inferred tensor type:
// different element types, ranks, or known sizes of one dim.
bool Contradicts(const onnx::TypeProto& declared, const onnx::TypeProto& inferred) {
  if (!declared.has_tensor_type() || !inferred.has_tensor_type()) return false;
  const auto& d = declared.tensor_type();
  const auto& i = inferred.tensor_type();
  if (d.elem_type() != 0 && i.elem_type() != 0 && d.elem_type() != i.elem_type()) return true;
  if (!d.has_shape() || !i.has_shape()) return false;
  if (d.shape().dim_size() != i.shape().dim_size()) return true;
  for (int k = 0; k < d.shape().dim_size(); ++k) {
    const auto& dd = d.shape().dim(k);
    const auto& id = i.shape().dim(k);
    if (dd.has_dim_value() && id.has_dim_value() && dd.dim_value() != id.dim_value()) return true;
  }
  return false;
}

// Declared types of node outputs and graph outputs against ONNX shape
// inference run without them (ir/inferred_types.h).
void CollectShapeProblems(const Model& model, std::vector<VerifierProblem>& out) {
  if (!WhyNoShapeInference(model).empty()) return;
  const InferredTypes inferred = InferTypes(model);
  auto check = [&](const std::string& what, const Value* v, const onnx::TypeProto& declared) {
    const onnx::TypeProto* type = inferred.Find(*v);
    if (type == nullptr || !Contradicts(declared, *type)) return;
    const std::string declared_text = TypeText(declared);
    const std::string inferred_text = TypeText(*type);
    std::string producer = v->producer() ? absl::StrCat(" (output of node ", v->producer()->Describe(), ")") : "";
    out.push_back(VerifierProblem{
        absl::StrCat("shape|", what, "|", v->name(), "|", declared_text, "|", inferred_text),
        absl::StrCat("verifier: ", what, " '", v->name(), "'", producer, " is declared ", declared_text,
                     " but ONNX shape inference gives ", inferred_text)});
  };
  const Graph& graph = model.graph();
  for (const Value* v : graph.values()) {
    if (v->kind() == Value::Kind::kNodeOutput && v->has_type_info()) check("value", v, v->type_info().type());
  }
  for (int i = 0; i < static_cast<int>(graph.outputs().size()); ++i) {
    check(absl::StrCat("graph output ", i), graph.outputs()[i], graph.output_info(i).type());
  }
}

absl::Status FirstNotTolerated(const std::vector<VerifierProblem>& problems, const VerifyOptions& options) {
  for (const VerifierProblem& p : problems) {
    if (options.tolerated == nullptr || !options.tolerated->contains(p.key)) {
      return absl::FailedPreconditionError(p.message);
    }
  }
  return absl::OkStatus();
}

absl::Status VerifyStructure(const Graph& graph, ElementTypeCheck* types = nullptr) {
  Visibility visible;
  for (const Graph* g = graph.parent_graph(); g != nullptr; g = g->parent_graph()) {
    visible.Enter(*g, /*tallied=*/false);
    for (const Value* v : g->values()) visible.Define(v);
  }
  UseTally tally;
  if (absl::Status s = VerifyScope(graph, visible, tally, types); !s.ok()) return s;
  if (tally.listed == tally.read) return absl::OkStatus();
  if (absl::Status s = FindUseListError(graph); !s.ok()) return s;
  return Error(graph, absl::StrCat("the use lists hold ", tally.listed, " node inputs, but ", tally.read,
                                   " inputs read the values"));
}

}  // namespace

std::vector<VerifierProblem> FindProblems(const Model& model, const VerifyOptions& options) {
  std::vector<VerifierProblem> problems;
  if (options.element_types) CollectElementTypeProblems(model.graph(), problems);
  if (options.shapes) CollectShapeProblems(model, problems);
  return problems;
}

absl::Status VerifyGraph(const Graph& graph, const VerifyOptions& options) {
  ElementTypeCheck types;
  if (absl::Status s = VerifyStructure(graph, options.element_types ? &types : nullptr); !s.ok()) return s;
  return FirstNotTolerated(types.problems, options);
}

absl::Status VerifyShapes(const Model& model) {
  std::vector<VerifierProblem> problems;
  CollectShapeProblems(model, problems);
  return FirstNotTolerated(problems, VerifyOptions{});
}

absl::Status Verify(const Model& model, const VerifyOptions& options) {
  // The problems in the order FindProblems lists them: element types, then
  // shapes (which only a valid structure can be exported for).
  ElementTypeCheck types;
  if (absl::Status s = VerifyStructure(model.graph(), options.element_types ? &types : nullptr); !s.ok()) return s;
  if (options.shapes) CollectShapeProblems(model, types.problems);
  return FirstNotTolerated(types.problems, options);
}

}  // namespace qopt::ir
