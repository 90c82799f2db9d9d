// The quantization view of a graph for ir::GraphToDot: colour by precision
// (integer ops green, float ops blue, Q/DQ/DynamicQuantizeLinear and casts
// between float and integer orange), fused integer ops (QLinearConv,
// com.microsoft QLinear*, ...) with a bold border, each QDQ node unit boxed
// as a cluster with the target's verdict (runs in integer, or why not), and
// constants collapsed into their users' labels.
#pragma once

#include "analysis/node_units.h"
#include "ir/dot.h"

namespace qopt::analysis {

inline constexpr const char* kDotInteger = "#b6d7a8";
inline constexpr const char* kDotFloat = "#cfe2f3";
inline constexpr const char* kDotBoundary = "#f6b26b";

ir::DotStyle QuantizationDotStyle(const ir::Graph& graph, const TargetProfile& target, std::string title = "");

}  // namespace qopt::analysis
