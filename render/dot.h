// Graphviz DOT for a graph, and rendering DOT to SVG/PNG/PDF in-process with
// libgvc. The emitter knows the IR only; what a node looks like (colour,
// cluster, extra label lines) comes from a DotStyle, which the analysis layer
// fills with quantization knowledge (analysis/graph_dot.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ir/graph.h"

namespace qopt::ir {

struct DotNodeStyle {
  std::string fill = "#ffffff";
  std::string border = "#555555";
  int penwidth = 1;
  std::vector<std::string> extra_lines;  // under the op type and name
  bool show_scalar_constants = true;     // one-element constant inputs as label lines
  std::string cluster;                   // nodes with the same non-empty id are boxed together
  std::string cluster_label;
};

struct DotStyle {
  std::function<DotNodeStyle(const Node&)> node;  // default: white boxes
  // Nodes not drawn (their output still labels the edges): by default
  // Constant nodes, whose tensors are summarized in their users' labels.
  std::function<bool(const Node&)> hidden;
  std::string title;
};

// DOT text: one box per node (op type, name, constant inputs summarized as
// "name: int8[16,3,3,3]"), edges labelled with the value's type and shape,
// graph inputs and outputs as ellipses, initializers and Constant nodes not
// drawn.
std::string GraphToDot(const Graph& graph, const DotStyle& style);

// "svg", "png", "pdf" or "dot" from a file name's extension; empty when the
// extension is none of them.
std::string DotFormatForPath(absl::string_view path);

// Lays out `dot` with Graphviz's dot engine and returns it as `format`
// ("svg", "png", "pdf") in memory.
absl::StatusOr<std::string> RenderDot(const std::string& dot, const std::string& format);

// Lays out `dot` with Graphviz's dot engine and writes `format` to `path`,
// atomically (a temporary file renamed into place); "dot" writes the text as
// it is.
absl::Status WriteDot(const std::string& dot, const std::string& format, const std::string& path);

}  // namespace qopt::ir
