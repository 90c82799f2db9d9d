// Hard-swish written out in primitive ops, as exporters write it (paddle2onnx:
// `Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)`; `Mul(..., 1/6)` in place of the
// Div; `Mul(x, HardSigmoid(x; 1/6, 0.5))`), matched in one place and
// rewritten to one HardSwish (opset >= 14) or to the two-op form
// `Mul(x, HardSigmoid(x; 1/6, 0.5))`. Used by fuse-hardswish (FP32 models,
// before quantization) and float-islands (inside an island).
#pragma once

#include <optional>
#include <vector>

#include "ir/graph.h"

namespace qopt::canonicalize {

struct HardSwishMatch {
  ir::Value* x = nullptr;           // the input
  ir::Node* last = nullptr;         // the node whose output is the hard-swish value
  std::vector<ir::Node*> interior;  // the other nodes of the chain, only read inside it
};

// Matches the chain ending at `last`. The clamp's top must be 6, or with
// `accept_lower_top` anything in (3, 6]: a QDQ model's calibrated range that
// cut `x + 3` below 6, which float-islands lets through as FP32 does.
std::optional<HardSwishMatch> MatchHardSwish(ir::Node& last, bool accept_lower_top = false);

// Replaces the chain by HardSwish(x) (`single_op`, needs default-domain opset
// >= 14) or by Mul(x, HardSigmoid(x; 1/6, 0.5)); the hard-swish value keeps
// its name. Returns the new nodes.
std::vector<ir::Node*> RewriteHardSwish(ir::Graph& graph, const HardSwishMatch& match, bool single_op);

}  // namespace qopt::canonicalize
