// The types ONNX shape inference (libonnx 1.12's per-op rules) gives the
// node outputs of a model's main graph, for the verifier's shape check to
// hold against the declared ones.
//
// Two ways to the same types:
//  - on the IR: each node's rule runs on a context that reads the IR's
//    values directly (as ONNX Runtime runs the same rules on its own graph),
//    with no export and no table of names. Most models go this way.
//  - through libonnx's whole-graph InferShapes on an export of the model
//    (ir/shape_inference.h): for what only that driver does, i.e. sub-graphs
//    (If, Loop, Scan), model-local functions, ops whose schema infers
//    through a function body, sparse initializers, and inputs it would
//    refuse as a whole.
// On large graphs the first is several times faster: the export and
// libonnx's maps of names made the shape check leave the CPU cache long
// before the graph itself did (docs/benchmarks.md, "The shape check on the
// IR").
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "google/protobuf/arena.h"
#include "ir/model.h"
#include "onnx/onnx_pb.h"

namespace qopt::ir {

class InferredTypes {
 public:
  InferredTypes();
  InferredTypes(InferredTypes&&) noexcept;
  InferredTypes& operator=(InferredTypes&&) noexcept;
  ~InferredTypes();

  // The type inferred for `v`, an output of a node of the main graph; null
  // where inference gave none (unknown op, a rule that failed, a value of
  // another kind or graph).
  const onnx::TypeProto* Find(const Value& v) const;
  // Whether the types were inferred on the IR rather than through an export.
  bool on_ir() const { return on_ir_; }

 private:
  friend std::optional<InferredTypes> InferTypesOnIr(const Model& model);
  friend InferredTypes InferTypesThroughExport(const Model& model);

  std::unique_ptr<google::protobuf::Arena> arena_;
  const Graph* graph_ = nullptr;
  std::vector<const onnx::TypeProto*> by_value_;  // by Value::creation_index()
  bool on_ir_ = false;
};

// On the IR where it can, else through the export; no types (every Find
// null) when libonnx does not know the model's opset (WhyNoShapeInference)
// or gives up on the whole model.
InferredTypes InferTypes(const Model& model);

// The two ways on their own (tests hold them against each other).
// nullopt: the model needs the whole-graph driver (see above).
std::optional<InferredTypes> InferTypesOnIr(const Model& model);
InferredTypes InferTypesThroughExport(const Model& model);

}  // namespace qopt::ir
