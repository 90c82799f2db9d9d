#include "render/dot.h"

#include <graphviz/gvc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace qopt::ir {
namespace {

std::string Escape(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

// "uint8[1,16,48,48]"; empty when nothing is known.
std::string TypeAndShape(const Value& v) {
  std::string out = v.elem_type() == ElementType::kUndefined ? "" : ElementTypeName(v.elem_type());
  if (auto shape = v.shape()) {
    std::vector<std::string> dims;
    for (const Dim& d : *shape) dims.push_back(d.value ? absl::StrCat(*d.value) : (d.param.empty() ? "?" : d.param));
    absl::StrAppend(&out, "[", absl::StrJoin(dims, ","), "]");
  }
  return out;
}

std::string ConstantSummary(const Value& v) {
  const Tensor* t = v.constant();
  std::vector<std::string> dims;
  for (int64_t d : t->dims()) dims.push_back(absl::StrCat(d));
  std::string out = absl::StrCat(v.name(), ": ", ElementTypeName(t->type()), "[", absl::StrJoin(dims, ","), "]");
  if (t->num_elements() == 1) {
    if (auto values = t->ToDoubles(); values.ok()) absl::StrAppend(&out, " = ", (*values)[0]);
  }
  return out;
}

bool IsConstantNode(const Node& node) { return node.Is("Constant"); }

// One Graphviz context for the process, never freed: Graphviz 2.43 keeps a
// static cache of the last font name in its text-size code, which points
// into freed memory once a context is freed and another one lays out text
// (AddressSanitizer shows the use after free). Not thread-safe, as Graphviz
// is not.
GVC_t* GraphvizContext() {
  static GVC_t* gvc = gvContext();
  return gvc;
}

}  // namespace

std::string GraphToDot(const Graph& graph, const DotStyle& style) {
  auto hidden = [&](const Node& n) { return style.hidden ? style.hidden(n) : IsConstantNode(n); };
  std::map<const Node*, std::string> ids;
  int next = 0;
  for (const Node* n : graph.node_list()) ids[n] = absl::StrCat("n", next++);

  std::string out = "digraph qopt {\n";
  absl::StrAppend(&out, "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=10",
                  style.title.empty() ? "" : absl::StrCat(", label=\"", Escape(style.title), "\", labelloc=t"),
                  "];\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=9];\n"
                  "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#666666\"];\n");
  // Graph inputs that a drawn node reads.
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    const Value* v = graph.inputs()[i];
    bool read = false;
    for (const Use& use : v->uses()) read |= !use.is_graph_output() && !hidden(*use.user);
    if (!read) continue;
    absl::StrAppend(&out, "  in", i, " [shape=ellipse, style=filled, fillcolor=\"#eeeeee\", label=\"",
                    Escape(absl::StrCat(v->name(), "\n", TypeAndShape(*v))), "\"];\n");
  }
  // Nodes, grouped into clusters where the style says so.
  std::map<std::string, std::vector<std::string>> clusters;
  std::map<std::string, std::string> cluster_labels;
  for (const Node* n : graph.node_list()) {
    if (hidden(*n)) continue;
    DotNodeStyle s = style.node ? style.node(*n) : DotNodeStyle{};
    std::vector<std::string> lines = {n->op_type()};
    if (!n->is_default_domain()) lines[0] = absl::StrCat(n->domain(), "::", n->op_type());
    if (!n->name().empty()) lines.push_back(n->name());
    for (const Value* in : n->inputs()) {
      if (in == nullptr || in->constant() == nullptr) continue;
      if (in->producer() != nullptr && !hidden(*in->producer())) continue;  // drawn as an edge
      if (!s.show_scalar_constants && in->constant()->num_elements() == 1) continue;
      lines.push_back(ConstantSummary(*in));
    }
    for (const std::string& l : s.extra_lines) lines.push_back(l);
    std::string decl = absl::StrCat(ids[n], " [label=\"", Escape(absl::StrJoin(lines, "\n")), "\", fillcolor=\"",
                                    s.fill, "\", color=\"", s.border, "\", penwidth=", s.penwidth, "];");
    if (s.cluster.empty()) {
      absl::StrAppend(&out, "  ", decl, "\n");
    } else {
      clusters[s.cluster].push_back(decl);
      cluster_labels[s.cluster] = s.cluster_label;
    }
  }
  int c = 0;
  for (const auto& [id, decls] : clusters) {
    absl::StrAppend(&out, "  subgraph cluster_", c++, " {\n    label=\"", Escape(cluster_labels[id]),
                    "\"; style=\"rounded,dashed\"; color=\"#999999\"; fontsize=8;\n");
    for (const std::string& d : decls) absl::StrAppend(&out, "    ", d, "\n");
    absl::StrAppend(&out, "  }\n");
  }
  // Graph outputs made by a drawn node.
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    const Value* v = graph.outputs()[i];
    if (v->producer() == nullptr || hidden(*v->producer())) continue;
    absl::StrAppend(&out, "  out", i, " [shape=ellipse, style=filled, fillcolor=\"#eeeeee\", label=\"",
                    Escape(absl::StrCat(v->name(), "\n", TypeAndShape(*v))), "\"];\n");
  }
  // Edges: producer (or graph input) -> user, labelled with the value.
  std::map<const Value*, std::string> input_ids;
  for (size_t i = 0; i < graph.inputs().size(); ++i) input_ids[graph.inputs()[i]] = absl::StrCat("in", i);
  // (an input read only by hidden nodes was not declared, and no visible
  // node reads it, so no edge names it)
  auto source = [&](const Value* v) -> std::string {
    if (auto it = input_ids.find(v); it != input_ids.end()) return it->second;
    if (v->producer() != nullptr && !hidden(*v->producer())) return ids[v->producer()];
    return "";
  };
  for (const Node* n : graph.node_list()) {
    if (hidden(*n)) continue;
    for (const Value* in : n->inputs()) {
      if (in == nullptr) continue;
      const std::string from = source(in);
      if (from.empty()) continue;
      absl::StrAppend(&out, "  ", from, " -> ", ids[n], " [label=\"", Escape(TypeAndShape(*in)), "\"];\n");
    }
  }
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    const Value* v = graph.outputs()[i];
    if (v->producer() == nullptr || hidden(*v->producer())) continue;
    absl::StrAppend(&out, "  ", ids[v->producer()], " -> out", i, ";\n");
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

std::string DotFormatForPath(absl::string_view path) {
  const size_t dot = path.rfind('.');
  if (dot == absl::string_view::npos) return "";
  const std::string ext = absl::AsciiStrToLower(path.substr(dot + 1));
  if (ext == "svg" || ext == "png" || ext == "pdf") return ext;
  if (ext == "dot" || ext == "gv") return "dot";
  return "";
}

absl::StatusOr<std::string> RenderDot(const std::string& dot, const std::string& format) {
  GVC_t* gvc = GraphvizContext();
  Agraph_t* g = agmemread(dot.c_str());
  if (g == nullptr) return absl::InvalidArgumentError("Graphviz cannot read the DOT text");
  char* data = nullptr;
  unsigned int length = 0;
  int rc = gvLayout(gvc, g, "dot");
  if (rc == 0) rc = gvRenderData(gvc, g, format.c_str(), &data, &length);
  std::string out;
  if (rc == 0 && data != nullptr) out.assign(data, length);
  if (data != nullptr) gvFreeRenderData(data);
  gvFreeLayout(gvc, g);
  agclose(g);
  if (rc != 0) return absl::InvalidArgumentError(absl::StrCat("Graphviz could not render ", format));
  return out;
}

absl::Status WriteDot(const std::string& dot, const std::string& format, const std::string& path) {
  std::string tmpl = absl::StrCat(path, ".tmp.XXXXXX");
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return absl::InvalidArgumentError(absl::StrCat("cannot write '", path, "'"));
  ::fchmod(fd, 0644);  // mkstemp creates 0600
  ::close(fd);
  auto fail = [&](const std::string& why) {
    std::remove(tmpl.c_str());
    return absl::InvalidArgumentError(absl::StrCat("cannot write '", path, "': ", why));
  };
  if (format == "dot") {
    std::ofstream out(tmpl, std::ios::binary | std::ios::trunc);
    out << dot;
    out.close();
    if (!out) return fail("write error");
  } else {
    GVC_t* gvc = GraphvizContext();
    Agraph_t* g = agmemread(dot.c_str());
    if (g == nullptr) return fail("Graphviz cannot read the DOT text");
    int rc = gvLayout(gvc, g, "dot");
    if (rc == 0) rc = gvRenderFilename(gvc, g, format.c_str(), tmpl.c_str());
    gvFreeLayout(gvc, g);
    agclose(g);
    if (rc != 0) return fail(absl::StrCat("Graphviz could not render ", format));
  }
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) return fail("rename failed");
  return absl::OkStatus();
}

}  // namespace qopt::ir
