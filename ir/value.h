// An SSA value: defined exactly once (a graph input, a constant, or one output
// of a node) and used by any number of node inputs and graph outputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "ir/element_type.h"
#include "ir/tensor.h"
#include "onnx/onnx_pb.h"

namespace qopt::ir {

class Graph;
class Node;

// One use of a value: input `index` of `user`, or, when `user` is null,
// output `index` of `output_of` (a sub-graph may output a value of an
// enclosing graph, so the graph is named explicitly).
struct Use {
  Node* user = nullptr;
  int index = 0;
  Graph* output_of = nullptr;
  bool is_graph_output() const { return user == nullptr; }
  friend bool operator==(const Use&, const Use&) = default;
};

// One dimension of a value's shape as the model declares it.
struct Dim {
  std::optional<int64_t> value;  // a fixed size
  std::string param;             // or a symbolic name ("N", "batch")
  bool is_known() const { return value.has_value(); }
};

// A value's uses, the first two stored in the value itself: most values
// have one or two, and walking them is the most common step of a pass or
// the verifier; a separate allocation per value made each walk a cache miss
// on large graphs (docs/benchmarks.md, "The allocator and inline operand lists").
using UseList = absl::InlinedVector<Use, 2>;

class Value {
 public:
  enum class Kind : uint8_t {
    kGraphInput,   // a graph input (possibly with an initializer as default)
    kInitializer,  // a graph initializer that is not an input: a constant
    kNodeOutput,   // an output of a node (Constant nodes included)
  };

  const std::string& name() const { return name_; }
  Kind kind() const { return kind_; }
  Graph* graph() const { return graph_; }

  // The defining node for kNodeOutput values, else null.
  Node* producer() const { return producer_; }
  int output_index() const { return output_index_; }

  const UseList& uses() const { return uses_; }
  bool has_uses() const { return !uses_.empty(); }
  bool is_graph_output() const { return output_uses_ > 0; }
  // Erased from its graph (the memory lives until the graph collects garbage).
  bool is_erased() const { return erased_; }
  // Dense and unique within the graph (0, 1, 2, ... in creation order, never
  // reused): per-value tables can be vectors indexed by it instead of hash
  // maps (Graph::value_index_bound()).
  int64_t creation_index() const { return creation_index_; }

  // The tensor this value always holds, whichever way the file wrote it: an
  // initializer that is not also a graph input, or the output of a Constant
  // node (value, value_float(s), value_int(s) attributes). Null otherwise.
  // A pass must not care which of the two forms it got.
  const Tensor* constant() const;
  bool is_constant() const { return constant() != nullptr; }

  // The initializer tensor (for kInitializer, or a graph input's default).
  const Tensor* initializer() const { return initializer_.get(); }
  // Change the initializer in place (Tensor::Reset, Tensor::SetRawData).
  // The only writers of an initializer after it is set: the value keeps
  // copies of its element type and of whether its data fits its type and
  // dims, which every verification asks of every initializer, without a miss
  // on the tensor on graphs too large for the cache.
  void ResetInitializer(ElementType type, std::vector<int64_t> dims, std::string raw_bytes);
  void SetInitializerData(std::string raw_bytes);
  // Whether the initializer's data size matches its type and dims
  // (Tensor::CheckDataSize), as of its last change; true without one.
  bool initializer_data_size_ok() const { return initializer_size_ok_; }

  // Type and shape as declared (graph input/output or value_info), if any.
  bool has_type_info() const { return has_info_; }
  const onnx::ValueInfoProto& type_info() const { return info_; }
  void set_type_info(const onnx::ValueInfoProto& info);
  // Tensor element type from the declared type (its value_info or graph
  // input entry, else a graph output entry naming it) or the constant;
  // undefined when unknown or not a tensor.
  ElementType elem_type() const;
  // Declared dims (same sources); nullopt when the rank is unknown.
  std::optional<std::vector<Dim>> shape() const;

 private:
  friend class Graph;
  friend class Node;
  friend class Importer;
  friend class Exporter;
  // tests/unit/verifier_test.cc: breaks the use lists as only a bug in the
  // IR could, to show that the verifier notices.
  friend struct VerifierTestAccess;

  Value(Graph* graph, std::string name, Kind kind) : graph_(graph), kind_(kind), name_(std::move(name)) {}
  void AddUse(Use use) {
    uses_.push_back(use);
    if (use.is_graph_output()) ++output_uses_;
  }
  void RemoveUse(Use use);
  // Called once, when the node that makes this value is created.
  void SetProducer(Node* node, int output_index);
  // Sets the initializer and the copies kept of it.
  void SetInitializer(std::unique_ptr<Tensor> tensor);
  void RefreshInitializerCopies();

  // The fields a walk of the def-use chains reads (graph, liveness, producer,
  // uses) come first and together, as in Node.
  Graph* graph_;
  Node* producer_ = nullptr;
  int64_t creation_index_ = 0;
  int output_index_ = -1;
  int output_uses_ = 0;  // how many of uses_ are graph outputs: is_graph_output() without a scan
  Kind kind_;
  bool erased_ = false;
  bool has_info_ = false;
  // Copies of what constant() and elem_type() ask most (a pass asks them of
  // every operand it looks at): whether the producer is a Constant node (a
  // node's op type never changes), and the element type of info_'s tensor
  // type, -1 when info_ has none (set_type_info is info_'s only writer).
  // Each saves a miss on another object on graphs too large for the cache.
  bool producer_is_constant_ = false;
  int16_t declared_elem_type_ = -1;
  // Copies of the initializer's element type (kUndefined without one, or
  // for a type beyond int16) and of whether its data size is right.
  int16_t initializer_elem_type_ = 0;
  bool initializer_size_ok_ = true;
  UseList uses_;
  std::string name_;
  std::unique_ptr<Tensor> initializer_;
  size_t slot_ = 0;  // index in the graph's values_
  onnx::ValueInfoProto info_;
  int64_t info_rank_ = INT64_MAX;  // position in the file's value_info list
  mutable std::unique_ptr<Tensor> constant_cache_;  // value_float(s)/value_int(s) of a Constant node
};

}  // namespace qopt::ir
