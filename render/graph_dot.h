// The quantization view of a graph for ir::GraphToDot: colour by precision
// (integer ops green, float ops blue, Q/DQ/DynamicQuantizeLinear and casts
// between float and integer orange), fused integer ops (QLinearConv,
// com.microsoft QLinear*, ...) with a bold border, each QDQ node unit boxed
// as a cluster with the target's verdict (runs in integer, or why not), and
// constants collapsed into their users' labels; optionally only the
// neighbourhood of the nodes a pattern names, or clusters by name scope.
#pragma once

#include "absl/status/statusor.h"
#include "analysis/node_units.h"
#include "analysis/target_profile.h"
#include "render/dot.h"

namespace qopt::analysis {

inline constexpr const char* kDotInteger = "#b6d7a8";
inline constexpr const char* kDotFloat = "#cfe2f3";
inline constexpr const char* kDotBoundary = "#f6b26b";

struct DotViewOptions {
  std::string title;
  // Clusters: "units" (QDQ node units), "scope" (name prefix up to the last
  // '/', as exporters write "/backbone/stage2/conv/Conv"), or "none".
  std::string cluster = "units";
  // Only nodes within `focus_hops` edges of a node whose name, op type or
  // output name matches `focus` (an RE2 pattern, partial match); all when
  // empty.
  std::string focus;
  int focus_hops = 2;
};

// The summary view, for models too large to read node by node: one box per
// connected region of integer ops and per region of float ops (joined
// directly or through Q/DQ), labelled with its op counts; edges between
// regions count the Q/DQ-crossings. Q/DQ nodes are not drawn.
std::string SummaryDot(const ir::Graph& graph, const TargetProfile& target, const std::string& title);

// An invalid focus pattern or cluster mode is an error naming it.
absl::StatusOr<ir::DotStyle> QuantizationDotStyle(const ir::Graph& graph, const TargetProfile& target,
                                                   const DotViewOptions& options);

}  // namespace qopt::analysis
