// A node: one operator application, with typed attributes and, for If/Loop/
// Scan and custom ops, nested graphs that may use values of enclosing graphs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"

#include "ir/tensor.h"
#include "ir/value.h"
#include "onnx/onnx_pb.h"

namespace qopt::ir {

class Graph;

// An attribute as ONNX types it. Scalars and lists live in the proto; tensor
// and graph payloads are lifted into IR objects so that passes see constants
// and sub-graphs the same way everywhere.
class Attribute {
 public:
  explicit Attribute(onnx::AttributeProto proto);
  // Out of line: they destroy sub-graphs, and Graph is incomplete here.
  ~Attribute();
  Attribute(Attribute&&) noexcept;
  Attribute& operator=(Attribute&&) noexcept;

  const std::string& name() const { return proto_.name(); }
  onnx::AttributeProto::AttributeType type() const { return proto_.type(); }
  // Scalars, lists, strings, ref_attr_name, doc_string, sparse tensors, type
  // protos: everything except `t`, `tensors`, `g`, `graphs`.
  const onnx::AttributeProto& proto() const { return proto_; }
  onnx::AttributeProto* mutable_proto() { return &proto_; }

  const Tensor* tensor() const { return tensors_.empty() ? nullptr : tensors_[0].get(); }
  const std::vector<std::unique_ptr<Tensor>>& tensors() const { return tensors_; }
  std::vector<std::unique_ptr<Tensor>>& mutable_tensors() { return tensors_; }
  const std::vector<std::unique_ptr<Graph>>& graphs() const { return graphs_; }
  std::vector<std::unique_ptr<Graph>>& mutable_graphs() { return graphs_; }

 private:
  onnx::AttributeProto proto_;
  std::vector<std::unique_ptr<Tensor>> tensors_;  // t (one) or tensors
  std::vector<std::unique_ptr<Graph>> graphs_;    // g (one) or graphs
};

// A node's operands, stored in the node up to a typical count (see UseList
// in value.h for why).
using NodeInputs = absl::InlinedVector<Value*, 4>;
using NodeOutputs = absl::InlinedVector<Value*, 1>;

class Node {
 public:
  ~Node();

  const std::string& op_type() const { return op_type_; }
  // The domain as written ("" and "ai.onnx" both mean the default domain).
  const std::string& domain() const { return domain_; }
  bool is_default_domain() const { return domain_.empty() || domain_ == "ai.onnx"; }
  // True for op `op_type` of the default ONNX domain.
  bool Is(absl::string_view op_type) const { return is_default_domain() && op_type_ == op_type; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  // What node patterns (exclude-nodes=) match and reports print: the name,
  // else the first output's. ONNX node names are optional, and converters
  // leave some empty; output names are unique in a graph, so this still
  // picks out one node.
  const std::string& name_or_output() const;
  Graph* graph() const { return graph_; }

  // Inputs; an omitted optional input is null.
  const NodeInputs& inputs() const { return inputs_; }
  Value* input(int i) const { return i < static_cast<int>(inputs_.size()) ? inputs_[i] : nullptr; }
  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  void SetInput(int i, Value* value);
  void AddInput(Value* value);
  // Removes input i; later inputs move down one place.
  void RemoveInput(int i);

  // Outputs; an omitted optional output is null.
  const NodeOutputs& outputs() const { return outputs_; }
  Value* output(int i = 0) const { return i < static_cast<int>(outputs_.size()) ? outputs_[i] : nullptr; }
  int num_outputs() const { return static_cast<int>(outputs_.size()); }

  // Attributes in file order.
  const std::vector<Attribute>& attributes() const { return attributes_; }
  std::vector<Attribute>& mutable_attributes() { return attributes_; }
  const Attribute* FindAttribute(absl::string_view name) const;
  Attribute* FindAttribute(absl::string_view name);
  std::optional<int64_t> GetInt(absl::string_view name) const;
  std::optional<float> GetFloat(absl::string_view name) const;
  std::optional<std::string> GetString(absl::string_view name) const;
  std::optional<std::vector<int64_t>> GetInts(absl::string_view name) const;
  std::optional<std::vector<float>> GetFloats(absl::string_view name) const;
  const Tensor* GetTensor(absl::string_view name) const;
  void SetInt(absl::string_view name, int64_t value);
  void SetFloat(absl::string_view name, float value);
  void SetString(absl::string_view name, std::string value);
  void SetInts(absl::string_view name, const std::vector<int64_t>& values);
  void SetFloats(absl::string_view name, const std::vector<float>& values);
  void SetTensor(absl::string_view name, Tensor tensor);
  bool RemoveAttribute(absl::string_view name);

  // Sub-graphs of every graph-valued attribute, in attribute order.
  std::vector<Graph*> subgraphs() const;

  // Fields not modelled above (doc_string, metadata_props, and fields newer
  // than libonnx 1.12), written back unchanged.
  const onnx::NodeProto& proto_shell() const { return proto_shell_; }
  onnx::NodeProto* mutable_proto_shell() { return &proto_shell_; }

  bool is_erased() const { return erased_; }
  // Nothing reads any of its outputs (a graph output counts as a read): the
  // node computes nothing anyone sees.
  bool outputs_unused() const;

  // "'name' (Conv)" or "(Conv #12)" for unnamed nodes: for error messages.
  std::string Describe() const;

 private:
  friend class Graph;
  friend class Importer;
  friend class Exporter;
  Node(Graph* graph, std::string op_type, std::string domain, std::string name)
      : graph_(graph), op_type_(std::move(op_type)), domain_(std::move(domain)), name_(std::move(name)) {}
  Attribute& GetOrAddAttribute(absl::string_view name, onnx::AttributeProto::AttributeType type);

  // What a walk of the def-use chains reads of every node it passes (the
  // verifier checks each use with is_erased() and input(i)) comes first, in
  // one or two cache lines; on a graph too large for the cache each further
  // line is a miss per use (docs/benchmarks.md, "The name table, field order
  // and repeated runs").
  Graph* graph_;
  bool erased_ = false;
  int64_t creation_index_ = 0;  // for stable ordering and messages
  NodeInputs inputs_;
  NodeOutputs outputs_;
  std::string op_type_;
  std::string domain_;
  std::vector<Attribute> attributes_;
  std::string name_;
  onnx::NodeProto proto_shell_;
};

}  // namespace qopt::ir
