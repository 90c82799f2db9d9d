// A graph: nodes kept in topological order, the values they define and use,
// graph inputs, initializers and outputs. Every mutation goes through this
// class or Node so that use lists stay exact.
//
// Walking while mutating: nodes() returns a snapshot of the current order
// that skips nodes erased during the walk. Erased nodes are unlinked at once
// but their memory is kept until CollectGarbage(), which the pass manager
// calls after each pass, so pointers held by a running pass stay valid.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "ir/node.h"
#include "ir/tensor.h"
#include "ir/value.h"
#include "onnx/onnx_pb.h"

namespace qopt::ir {

class Model;

class Graph {
 public:
  Graph(Model* model, Node* parent_node);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  Model* model() const { return model_; }
  // For a sub-graph: the node whose attribute holds it, else null.
  Node* parent_node() const { return parent_node_; }
  Graph* parent_graph() const;
  const std::string& name() const { return proto_shell_.name(); }

  // ---- nodes -------------------------------------------------------------
  class NodeSnapshot {
   public:
    class iterator {
     public:
      iterator(const std::vector<Node*>* nodes, size_t i) : nodes_(nodes), i_(i) { Skip(); }
      Node* operator*() const { return (*nodes_)[i_]; }
      iterator& operator++() { ++i_; Skip(); return *this; }
      bool operator!=(const iterator& other) const { return i_ != other.i_; }
     private:
      void Skip() { while (i_ < nodes_->size() && (*nodes_)[i_]->is_erased()) ++i_; }
      const std::vector<Node*>* nodes_;
      size_t i_;
    };
    explicit NodeSnapshot(std::vector<Node*> nodes) : nodes_(std::move(nodes)) {}
    iterator begin() const { return iterator(&nodes_, 0); }
    iterator end() const { return iterator(&nodes_, nodes_.size()); }
   private:
    std::vector<Node*> nodes_;
  };
  NodeSnapshot nodes() const;
  std::vector<Node*> node_list() const;  // current order, as a plain vector
  int64_t num_nodes() const { return static_cast<int64_t>(nodes_.size()); }

  // Creates a node with `num_outputs` fresh, uniquely named outputs and
  // inserts it before `before` (at the end when null). Inputs may be null
  // (omitted optional inputs).
  Node* AddNode(absl::string_view op_type, const std::vector<Value*>& inputs, int num_outputs,
                Node* before = nullptr, absl::string_view domain = "", absl::string_view name = "");
  // Same, with the outputs' names given ("" makes an omitted output).
  Node* AddNodeWithOutputNames(absl::string_view op_type, const std::vector<Value*>& inputs,
                               const std::vector<std::string>& output_names, Node* before = nullptr,
                               absl::string_view domain = "", absl::string_view name = "");
  void MoveBefore(Node* node, Node* before);
  // The node after `node` in the current order (null at the end): the
  // insertion point for "right after `node`".
  Node* NextNode(const Node* node) const;
  // The first node (null for an empty graph).
  Node* FirstNode() const { return nodes_.empty() ? nullptr : nodes_.front().get(); }
  // Erases a node whose outputs have no uses; its inputs lose those uses and
  // its sub-graphs are erased with it.
  void EraseNode(Node* node);
  void CollectGarbage();

  // ---- values ------------------------------------------------------------
  // Erasing an input or initializer only marks it; these lists drop the
  // erased ones when next read (or at CollectGarbage), so erasing k of n
  // costs O(n) once, not O(n) each.
  const std::vector<Value*>& inputs() const {
    DropErasedValues();
    return inputs_;
  }
  const std::vector<Value*>& outputs() const { return outputs_; }
  const std::vector<Value*>& initializers() const {
    DropErasedValues();
    return initializers_;
  }

  Value* AddInput(std::string name, const onnx::ValueInfoProto& info);
  // A constant. `name` is made unique if taken.
  Value* AddInitializer(std::string name, Tensor tensor);
  // Makes a graph-input value also have an initializer (a default value).
  void SetInputDefault(Value* input, Tensor tensor);
  void AddOutput(Value* value);
  void SetOutput(int index, Value* value);
  // The ValueInfoProto declared for graph output i (its type may differ from
  // the value's value_info entry in real files; both are kept).
  const onnx::ValueInfoProto& output_info(int index) const { return output_infos_[index]; }
  void set_output_info(int index, const onnx::ValueInfoProto& info) { output_infos_[index] = info; }

  // Erases an unused input or initializer value.
  void EraseValue(Value* value);

  // Points every use of `from` at `to`. A graph output keeps its name (the
  // interface users depend on): `to` takes the name and `from` is renamed;
  // where `to` cannot be renamed (it is a graph input or already an output)
  // an Identity node is inserted to carry the output name.
  void ReplaceAllUsesWith(Value* from, Value* to);
  void RenameValue(Value* value, absl::string_view new_name);

  // The value called `name` defined in this graph (not enclosing ones).
  Value* FindValue(absl::string_view name) const;
  // For the verifier: the name table holds exactly the live values, each
  // under its current name. A walk of the table, not a look-up per value: on
  // a graph of 10^6 values those look-ups (a hash of each name and a miss on
  // its slot) were a sixth of qopt-opt's time. The error names a value.
  absl::Status CheckNameTable() const;
  // Lexical look-up through enclosing graphs, as sub-graphs resolve names.
  Value* LookUp(absl::string_view name) const;

  // All values defined in this graph, in creation order (not erased ones).
  std::vector<Value*> values() const;
  // How many values() holds, without building it.
  int64_t num_values() const { return static_cast<int64_t>(values_.size() - null_value_slots_); }
  // Above every creation_index() of this graph's values.
  int64_t value_index_bound() const { return next_value_index_; }

  // Re-orders nodes topologically, keeping the current order where it is
  // already valid; an error names a node on a cycle.
  absl::Status TopologicalSort();

  // Fields not modelled (name, doc_string, sparse_initializer,
  // quantization_annotation, metadata_props, newer fields).
  const onnx::GraphProto& proto_shell() const { return proto_shell_; }
  onnx::GraphProto* mutable_proto_shell() { return &proto_shell_; }

  // value_info entries whose names match no value: written back unchanged.
  std::vector<onnx::ValueInfoProto>& orphan_value_infos() { return orphan_value_infos_; }
  const std::vector<onnx::ValueInfoProto>& orphan_value_infos() const { return orphan_value_infos_; }

 private:
  friend class Node;
  friend class Importer;
  friend class Exporter;
  friend class Value;
  friend struct VerifierTestAccess;  // tests/unit/verifier_test.cc

  Value* NewValue(std::string name, Value::Kind kind);
  // Maps value->name() to `value` (replacing another value's entry).
  void SetNameTableEntry(Value* value);
  Node* NewNode(absl::string_view op_type, absl::string_view domain, absl::string_view name, Node* before);
  void UnlinkValue(Value* value);
  void CompactValueSlots();
  void DropSubgraphUses(Node* node);
  void DropErasedValues() const {
    if (erased_interface_values_ > 0) DropErasedValuesNow();
  }
  void DropErasedValuesNow() const;

  Model* model_;
  Node* parent_node_;
  std::list<std::unique_ptr<Node>> nodes_;
  // What node_list() last returned, while no node was added, moved or
  // erased since. Walking the list touches one scattered allocation per
  // node; after each pass the instrumentation, the verifier (twice) and the
  // next pass all ask for the order, and on a graph of 10^5 nodes those
  // walks took an eighth of qopt-opt's time (perf, bench/node_scale.sh).
  mutable std::vector<Node*> order_cache_;
  mutable bool order_cache_valid_ = false;
  absl::flat_hash_map<const Node*, std::list<std::unique_ptr<Node>>::iterator> node_position_;
  std::vector<std::unique_ptr<Node>> erased_nodes_;
  // In creation order. An erased value leaves a null slot (O(1) erase; a
  // contiguous array to walk, not a list); the slots are compacted once
  // more than half are null. Each value knows its slot.
  std::vector<std::unique_ptr<Value>> values_;
  size_t null_value_slots_ = 0;
  // Keyed by views of the values' own names (a Value never moves; a rename
  // re-keys its entry): no second copy of every name, and the verifier can
  // check an entry by comparing addresses instead of hashing each name.
  absl::flat_hash_map<absl::string_view, Value*> values_by_name_;
  std::vector<std::unique_ptr<Value>> erased_values_;
  mutable std::vector<Value*> inputs_;  // mutable: erased entries are dropped lazily
  std::vector<Value*> outputs_;
  std::vector<onnx::ValueInfoProto> output_infos_;
  mutable std::vector<Value*> initializers_;
  mutable int64_t erased_interface_values_ = 0;  // erased values still in inputs_ or initializers_
  std::vector<onnx::ValueInfoProto> orphan_value_infos_;
  std::vector<int64_t> orphan_ranks_;  // their positions in the file's value_info list
  onnx::GraphProto proto_shell_;
  int64_t next_node_index_ = 0;
  int64_t next_value_index_ = 0;
};

}  // namespace qopt::ir
