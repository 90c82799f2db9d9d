// Structural checks of the IR, run after every pass: each value defined
// once, every used value defined before its use (so the graph is acyclic and
// in order), use lists exact, graph outputs defined, constant tensors
// consistent with their declared types. Errors name the node and the value.
#pragma once

#include "absl/status/status.h"
#include "ir/model.h"

namespace qopt::ir {

absl::Status Verify(const Model& model);
absl::Status VerifyGraph(const Graph& graph);

}  // namespace qopt::ir
