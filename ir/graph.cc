#include "ir/graph.h"

#include <algorithm>
#include <queue>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "ir/check.h"
#include "ir/model.h"

namespace qopt::ir {

Graph::Graph(Model* model, Node* parent_node) : model_(model), parent_node_(parent_node) {
  if (model_ != nullptr && parent_node_ != nullptr) ++model_->live_subgraphs_;
}

Graph::~Graph() {
  if (model_ != nullptr && parent_node_ != nullptr) --model_->live_subgraphs_;
}

Graph* Graph::parent_graph() const { return parent_node_ ? parent_node_->graph() : nullptr; }

Graph::NodeSnapshot Graph::nodes() const { return NodeSnapshot(node_list()); }

std::vector<Node*> Graph::node_list() const {
  if (!order_cache_valid_) {
    order_cache_.clear();
    order_cache_.reserve(nodes_.size());
    for (const auto& n : nodes_) order_cache_.push_back(n.get());
    order_cache_valid_ = true;
  }
  return order_cache_;
}

Value* Graph::NewValue(std::string name, Value::Kind kind) {
  values_.push_back(std::unique_ptr<Value>(new Value(this, name, kind)));
  Value* v = values_.back().get();
  v->creation_index_ = next_value_index_++;
  v->slot_ = values_.size() - 1;
  if (!name.empty()) {
    SetNameTableEntry(v);
    model_->ReserveName(name);
  }
  return v;
}

Node* Graph::NewNode(absl::string_view op_type, absl::string_view domain, absl::string_view name, Node* before) {
  auto node = std::unique_ptr<Node>(new Node(this, std::string(op_type), std::string(domain), std::string(name)));
  node->creation_index_ = next_node_index_++;
  Node* raw = node.get();
  auto pos = nodes_.end();
  if (before != nullptr) {
    QOPT_CHECK(before->graph() == this && !before->is_erased(), "insertion point is not a live node of this graph");
    pos = node_position_.at(before);
  }
  node_position_[raw] = nodes_.insert(pos, std::move(node));
  order_cache_valid_ = false;
  return raw;
}

Node* Graph::AddNode(absl::string_view op_type, const std::vector<Value*>& inputs, int num_outputs, Node* before,
                     absl::string_view domain, absl::string_view name) {
  std::vector<std::string> names;
  std::string base = name.empty() ? absl::StrCat(op_type, "_out") : absl::StrCat(name, "_out");
  for (int i = 0; i < num_outputs; ++i) names.push_back(model_->UniqueName(num_outputs == 1 ? base : absl::StrCat(base, i)));
  return AddNodeWithOutputNames(op_type, inputs, names, before, domain, name);
}

Node* Graph::AddNodeWithOutputNames(absl::string_view op_type, const std::vector<Value*>& inputs,
                                    const std::vector<std::string>& output_names, Node* before,
                                    absl::string_view domain, absl::string_view name) {
  Node* node = NewNode(op_type, domain, name, before);
  if (!name.empty()) model_->ReserveName(name);
  for (Value* in : inputs) node->AddInput(in);
  for (int i = 0; i < static_cast<int>(output_names.size()); ++i) {
    if (output_names[i].empty()) {
      node->outputs_.push_back(nullptr);
      continue;
    }
    QOPT_CHECK(FindValue(output_names[i]) == nullptr, "output name already defined in this graph");
    Value* out = NewValue(output_names[i], Value::Kind::kNodeOutput);
    out->SetProducer(node, i);
    node->outputs_.push_back(out);
  }
  return node;
}

void Graph::MoveBefore(Node* node, Node* before) {
  QOPT_CHECK(node->graph() == this && before->graph() == this, "MoveBefore across graphs");
  auto from = node_position_.at(node);
  auto to = node_position_.at(before);
  nodes_.splice(to, nodes_, from);
  order_cache_valid_ = false;
}

Node* Graph::NextNode(const Node* node) const {
  auto it = node_position_.at(node);
  ++it;
  return it == nodes_.end() ? nullptr : it->get();
}

void Graph::DropSubgraphUses(Node* node) {
  for (Graph* g : node->subgraphs()) {
    for (const auto& inner : g->nodes_) {
      for (int i = 0; i < inner->num_inputs(); ++i) {
        if (Value* v = inner->inputs_[i]) v->RemoveUse(Use{inner.get(), i});
      }
      DropSubgraphUses(inner.get());
    }
    for (int i = 0; i < static_cast<int>(g->outputs_.size()); ++i) {
      if (Value* v = g->outputs_[i]) v->RemoveUse(Use{nullptr, i, g});
    }
  }
}

void Graph::EraseNode(Node* node) {
  QOPT_CHECK(node->graph() == this && !node->is_erased(), "EraseNode of a node not live in this graph");
  for (Value* out : node->outputs_) {
    QOPT_CHECK(out == nullptr || !out->has_uses(), "EraseNode of a node whose outputs are still used");
  }
  for (int i = 0; i < node->num_inputs(); ++i) {
    if (Value* v = node->inputs_[i]) v->RemoveUse(Use{node, i});
  }
  DropSubgraphUses(node);
  for (Value* out : node->outputs_) {
    if (out) UnlinkValue(out);
  }
  node->erased_ = true;
  auto pos = node_position_.at(node);
  erased_nodes_.push_back(std::move(*pos));
  nodes_.erase(pos);
  node_position_.erase(node);
  order_cache_valid_ = false;
}

void Graph::UnlinkValue(Value* value) {
  value->erased_ = true;
  auto by_name = values_by_name_.find(value->name());
  if (by_name != values_by_name_.end() && by_name->second == value) values_by_name_.erase(by_name);
  if (value->slot_ < values_.size() && values_[value->slot_].get() == value) {
    erased_values_.push_back(std::move(values_[value->slot_]));
    ++null_value_slots_;
    if (null_value_slots_ > 64 && 2 * null_value_slots_ > values_.size()) CompactValueSlots();
  }
}

void Graph::CompactValueSlots() {
  size_t kept = 0;
  for (auto& v : values_) {
    if (v == nullptr) continue;
    v->slot_ = kept;
    values_[kept++] = std::move(v);
  }
  values_.resize(kept);
  null_value_slots_ = 0;
}

void Graph::CollectGarbage() {
  DropErasedValues();  // before the erased values are freed
  erased_nodes_.clear();
  erased_values_.clear();
  for (const auto& n : nodes_) {
    for (Graph* g : n->subgraphs()) g->CollectGarbage();
  }
}

Value* Graph::AddInput(std::string name, const onnx::ValueInfoProto& info) {
  Value* v = NewValue(std::move(name), Value::Kind::kGraphInput);
  v->set_type_info(info);
  inputs_.push_back(v);
  return v;
}

Value* Graph::AddInitializer(std::string name, Tensor tensor) {
  if (name.empty() || model_->IsNameUsed(name)) name = model_->UniqueName(name.empty() ? "const" : name);
  Value* v = NewValue(name, Value::Kind::kInitializer);
  tensor.set_name(name);
  v->SetInitializer(std::make_unique<Tensor>(std::move(tensor)));
  initializers_.push_back(v);
  return v;
}

void Graph::SetInputDefault(Value* input, Tensor tensor) {
  QOPT_CHECK(input->kind() == Value::Kind::kGraphInput, "SetInputDefault on a non-input");
  tensor.set_name(input->name());
  input->SetInitializer(std::make_unique<Tensor>(std::move(tensor)));
  initializers_.push_back(input);
}

void Graph::AddOutput(Value* value) {
  onnx::ValueInfoProto info;
  if (value->has_type_info()) info = value->type_info();
  info.set_name(value->name());
  outputs_.push_back(value);
  output_infos_.push_back(info);
  value->AddUse(Use{nullptr, static_cast<int>(outputs_.size()) - 1, this});
}

void Graph::SetOutput(int index, Value* value) {
  if (Value* old = outputs_[index]) old->RemoveUse(Use{nullptr, index, this});
  outputs_[index] = value;
  value->AddUse(Use{nullptr, index, this});
  output_infos_[index].set_name(value->name());
}

void Graph::EraseValue(Value* value) {
  QOPT_CHECK(value->graph() == this && !value->has_uses(), "EraseValue of a used value");
  QOPT_CHECK(value->kind() != Value::Kind::kNodeOutput, "EraseValue of a node output: erase the node");
  UnlinkValue(value);  // marks it erased; inputs() and initializers() drop it when next read
  ++erased_interface_values_;
}

void Graph::DropErasedValuesNow() const {
  auto erased = [](const Value* v) { return v->erased_; };
  inputs_.erase(std::remove_if(inputs_.begin(), inputs_.end(), erased), inputs_.end());
  initializers_.erase(std::remove_if(initializers_.begin(), initializers_.end(), erased), initializers_.end());
  erased_interface_values_ = 0;
}

void Graph::RenameValue(Value* value, absl::string_view new_name) {
  // The table's key for `value` views its name: a value of another graph, or
  // an erased one, would leave an entry viewing a reassigned (or, after
  // CollectGarbage, freed) string.
  QOPT_CHECK(value->graph_ == this && !value->erased_, "RenameValue of a value not live in this graph");
  auto by_name = values_by_name_.find(value->name());
  if (by_name != values_by_name_.end() && by_name->second == value) values_by_name_.erase(by_name);
  value->name_ = std::string(new_name);
  SetNameTableEntry(value);
  model_->ReserveName(new_name);
  if (value->initializer_) value->initializer_->set_name(value->name_);
  if (value->has_info_) value->info_.set_name(value->name_);
  for (const Use& use : value->uses_) {
    if (use.is_graph_output()) use.output_of->output_infos_[use.index].set_name(value->name_);
  }
}

void Graph::ReplaceAllUsesWith(Value* from, Value* to) {
  if (from == to) return;
  UseList uses = from->uses_;
  std::vector<Use> output_uses;
  for (const Use& use : uses) {
    if (use.is_graph_output()) {
      output_uses.push_back(use);
    } else {
      use.user->SetInput(use.index, to);
    }
  }
  for (const Use& use : output_uses) {
    Graph* g = use.output_of;
    from->RemoveUse(use);
    const std::string output_name = from->name();
    const bool to_can_take_name = to->graph() == g && to->kind() != Value::Kind::kGraphInput &&
                                  !to->is_graph_output() && !from->is_graph_output();
    if (to_can_take_name) {
      // `from` gives its name to `to`, so the graph's interface is unchanged.
      from->graph()->RenameValue(from, model_->UniqueName(absl::StrCat(output_name, "_replaced")));
      g->RenameValue(to, output_name);
      g->outputs_[use.index] = to;
      to->AddUse(use);
    } else {
      // Keep the output name with an Identity node; `from` is renamed first
      // unless it is still another output under that name.
      if (!from->is_graph_output()) {
        from->graph()->RenameValue(from, model_->UniqueName(absl::StrCat(output_name, "_replaced")));
      }
      std::string name = g->FindValue(output_name) ? model_->UniqueName(output_name) : output_name;
      Node* identity = g->AddNodeWithOutputNames("Identity", {to}, {name});
      g->outputs_[use.index] = identity->output();
      identity->output()->AddUse(use);
      g->output_infos_[use.index].set_name(name);
    }
  }
}

Value* Graph::FindValue(absl::string_view name) const {
  auto it = values_by_name_.find(name);
  return it == values_by_name_.end() ? nullptr : it->second;
}

void Graph::SetNameTableEntry(Value* value) {
  // Not operator[] or insert_or_assign: an entry's key must view the name
  // of the value it maps to, and assigning to an existing entry keeps the
  // old key. A new name (the usual case) is one hash lookup.
  auto [it, inserted] = values_by_name_.try_emplace(value->name_, value);
  if (!inserted) {
    values_by_name_.erase(it);
    values_by_name_.emplace(value->name_, value);
  }
}

absl::Status Graph::CheckNameTable() const {
  // Erasing a value empties its slot (UnlinkValue), so the live values are
  // the filled slots; no visit to each value to count them. Distinct entries
  // view distinct names, so as many good entries as live values means each
  // live value has one.
  const size_t live_values = values_.size() - null_value_slots_;
  bool consistent = live_values == values_by_name_.size();
  for (auto it = values_by_name_.begin(); consistent && it != values_by_name_.end(); ++it) {
    const Value* v = it->second;
    consistent = v != nullptr && v->graph_ == this && !v->erased_ && it->first.data() == v->name_.data() &&
                 it->first.size() == v->name_.size();
  }
  if (consistent) return absl::OkStatus();
  // Only a broken graph gets here: find a value to name.
  for (const auto& v : values_) {
    if (v == nullptr || v->erased_) continue;
    if (const Value* named = FindValue(v->name()); named != v.get()) {
      return absl::InternalError(named != nullptr
                                     ? absl::StrCat("value '", v->name(), "' is defined twice")
                                     : absl::StrCat("value '", v->name(), "' is missing from the graph's name table"));
    }
  }
  for (const auto& [name, v] : values_by_name_) {
    if (v == nullptr || v->graph_ != this || v->erased_ || name != v->name_) {
      return absl::InternalError(absl::StrCat("the name table's entry '", name, "' is stale"));
    }
  }
  return absl::InternalError(
      absl::StrCat("the name table has ", values_by_name_.size(), " entries for ", live_values, " values"));
}

Value* Graph::LookUp(absl::string_view name) const {
  for (const Graph* g = this; g != nullptr; g = g->parent_graph()) {
    if (Value* v = g->FindValue(name)) return v;
  }
  return nullptr;
}

std::vector<Value*> Graph::values() const {
  std::vector<Value*> out;
  out.reserve(values_.size() - null_value_slots_);
  for (const auto& v : values_) {
    if (v != nullptr) out.push_back(v.get());
  }
  return out;
}

namespace {

// Values of `graph` that `node` reads, directly or from inside its sub-graphs.
void CollectDependencies(const Node* node, const Graph* graph, std::vector<const Value*>* out) {
  for (const Value* v : node->inputs()) {
    if (v && v->graph() == graph) out->push_back(v);
  }
  for (const Graph* sub : node->subgraphs()) {
    for (const Node* inner : sub->node_list()) CollectDependencies(inner, graph, out);
    for (const Value* v : sub->outputs()) {
      if (v && v->graph() == graph) out->push_back(v);
    }
  }
}

}  // namespace

absl::Status Graph::TopologicalSort() {
  std::vector<Node*> order = node_list();
  absl::flat_hash_map<const Node*, int> index;
  for (int i = 0; i < static_cast<int>(order.size()); ++i) index[order[i]] = i;
  std::vector<int> pending(order.size(), 0);
  std::vector<std::vector<int>> dependents(order.size());
  for (int i = 0; i < static_cast<int>(order.size()); ++i) {
    std::vector<const Value*> deps;
    CollectDependencies(order[i], this, &deps);
    absl::flat_hash_set<int> producers;
    for (const Value* v : deps) {
      if (v->producer()) producers.insert(index.at(v->producer()));
    }
    for (int p : producers) {
      if (p == i) {
        return absl::InvalidArgumentError(absl::StrCat("node ", order[i]->Describe(), " uses its own output: a cycle"));
      }
      dependents[p].push_back(i);
      ++pending[i];
    }
  }
  // Kahn's algorithm, always taking the earliest ready node in the current
  // order, so an order that is already topological is kept as it is.
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < static_cast<int>(order.size()); ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<int> sorted;
  sorted.reserve(order.size());
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    sorted.push_back(i);
    for (int d : dependents[i]) {
      if (--pending[d] == 0) ready.push(d);
    }
  }
  if (sorted.size() != order.size()) {
    for (int i = 0; i < static_cast<int>(order.size()); ++i) {
      if (pending[i] > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(name().empty() ? std::string("the graph") : absl::StrCat("graph '", name(), "'"),
                         " has a cycle through node ", order[i]->Describe()));
      }
    }
  }
  std::list<std::unique_ptr<Node>> reordered;
  for (int i : sorted) {
    auto pos = node_position_.at(order[i]);
    reordered.splice(reordered.end(), nodes_, pos);
  }
  nodes_.swap(reordered);
  order_cache_valid_ = false;
  for (auto it = nodes_.begin(); it != nodes_.end(); ++it) node_position_[it->get()] = it;
  return absl::OkStatus();
}

}  // namespace qopt::ir
