// What cross-layer equalization (cle) may rewrite: a Conv whose output goes,
// through at most one element-wise activation, only into the data input of
// another Conv. Finding the pairs is kept apart from scaling them so that the
// report's "refused because ..." and the rewrite come from one definition.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace qopt::equalize {

// Conv1 -> [activation] -> Conv2. `activation` is null when Conv1 feeds
// Conv2 directly.
struct CleCandidate {
  ir::Node* conv1 = nullptr;
  ir::Node* activation = nullptr;
  ir::Node* conv2 = nullptr;
  // Empty when the pair can be equalized exactly; else why not, for people.
  std::string refusal;
};

// Every Conv of `graph` that reaches another Conv through at most one node,
// in graph order: the pairs cle scales and the ones it refuses. A Conv whose
// output reaches no Conv that way is not a candidate and is not listed.
std::vector<CleCandidate> FindCleCandidates(const ir::Graph& graph);

}  // namespace qopt::equalize
