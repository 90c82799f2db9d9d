// Checks of the IR, run on the input and after every pass.
//
// Structure: each value defined once, every used value defined before its
// use (so the graph is acyclic and in order), use lists exact, graph outputs
// defined, constant tensors consistent with their declared types.
//
// Element types: every node input and output whose element type is known
// must be one the op accepts at the model's opset for its domain, and the
// ones sharing a type constraint must agree (ir/op_types.h; an op or opset
// nobody describes is not checked).
//
// Shapes: declared types of node outputs (value_info) and graph outputs must
// not contradict ONNX shape inference run without them (ir/inferred_types.h,
// on the IR where it can): a known dim against a different known dim, a different rank or a
// different element type. Only where libonnx knows the IR version and opset.
//
// Errors name the node and the value, on one line.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "ir/model.h"

namespace qopt::ir {

// One element-type or shape problem.
struct VerifierProblem {
  // What is wrong where, without node numbers (which a rewrite rebuilding
  // an equal node changes): the same problem keeps its key across passes.
  std::string key;
  std::string message;  // "verifier: node 'MaxPool_3' (MaxPool, opset 11) input 0 'x': ..."
};

struct VerifyOptions {
  bool element_types = true;
  // Costs a shape-inference run: several times the rest of the check.
  bool shapes = true;
  // Problems (by key) not to report: those the input came with, so that
  // after a pass only what the pass broke fails.
  const absl::flat_hash_set<std::string>* tolerated = nullptr;
};

// The structure, then the first element-type or shape problem not tolerated.
absl::Status Verify(const Model& model, const VerifyOptions& options = {});
// The structure and element types of one graph and its sub-graphs.
absl::Status VerifyGraph(const Graph& graph, const VerifyOptions& options = {});
// The shape check alone.
absl::Status VerifyShapes(const Model& model);

// Every element-type and shape problem (as `options` selects; `tolerated`
// is ignored) of a model whose structure is valid.
std::vector<VerifierProblem> FindProblems(const Model& model, const VerifyOptions& options = {});

}  // namespace qopt::ir
