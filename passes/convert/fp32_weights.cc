#include "passes/convert/fp32_weights.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/graph.h"
#include "ir/serialization.h"

namespace qopt::convert {

QuantizedMismatch CompareWithQuantized(const std::vector<double>& values, const std::vector<int64_t>& quantized,
                                       float scale, int64_t zero_point, analysis::IntRange clip) {
  QuantizedMismatch m;
  // The same rounding the quantizer used (analysis/quant_math.h), per tensor.
  const std::vector<int64_t> again = analysis::QuantizeTensor(values, {static_cast<int64_t>(values.size())},
                                                              {{scale}, {zero_point}, -1}, clip);
  for (size_t i = 0; i < again.size() && i < quantized.size(); ++i) {
    const int64_t d = std::llabs(again[i] - quantized[i]);
    if (d == 1) ++m.off_by_one;
    if (d > 1) ++m.worse;
  }
  return m;
}

bool SameSource(const QuantizedMismatch& m, size_t elements) {
  return m.worse == 0 && static_cast<size_t>(m.off_by_one) * 1000 <= elements;
}

namespace {

std::string Dims(const std::vector<int64_t>& dims) { return absl::StrCat("[", absl::StrJoin(dims, ","), "]"); }

// The node of `graph` reading `v` at input `index` with `op_type`,
// preferring one called `name`.
const ir::Node* ReaderOf(const ir::Value& v, int index, const std::string& op_type, const std::string& name) {
  const ir::Node* found = nullptr;
  for (const ir::Use& use : v.uses()) {
    if (use.is_graph_output() || use.index != index || use.user->op_type() != op_type) continue;
    if (use.user->name() == name) return use.user;
    if (found == nullptr) found = use.user;
  }
  return found;
}

const ir::Node* NodeNamed(const ir::Graph& graph, const std::string& name, const std::string& op_type) {
  if (name.empty()) return nullptr;
  for (const ir::Node* n : graph.node_list()) {
    if (n->name() == name && n->op_type() == op_type) return n;
  }
  return nullptr;
}

}  // namespace

Fp32Weights FindFp32Weights(const ir::Model& fp32, const ir::Node& node, int weight_input, int bias_input,
                            const ir::Tensor& quantized, const std::string& quantized_name) {
  const ir::Graph& graph = fp32.graph();
  Fp32Weights out;
  const ir::Node* reader = nullptr;
  const ir::Value* weight = nullptr;
  // By the weight's name: quantize and ONNX Runtime's quantize_static call
  // the integers `<float name>_quantized`.
  std::vector<std::string> names;
  if (absl::EndsWith(quantized_name, "_quantized")) {
    names.push_back(quantized_name.substr(0, quantized_name.size() - std::string("_quantized").size()));
  }
  names.push_back(quantized_name);
  for (const std::string& name : names) {
    const ir::Value* v = graph.FindValue(name);
    if (v == nullptr || v->constant() == nullptr) continue;
    weight = v;
    reader = ReaderOf(*v, weight_input, node.op_type(), node.name());
    if (reader == nullptr) {
      out.found = true;
      out.weight_name = name;
      out.why_not = absl::StrCat("FP32 weight '", name, "' is not read by a ", node.op_type(), " as input ",
                                 weight_input);
      // A node of the same name may still hold the right weights.
      weight = nullptr;
      continue;
    }
    break;
  }
  // By the node's name and the input index.
  if (reader == nullptr) {
    reader = NodeNamed(graph, node.name(), node.op_type());
    weight = reader != nullptr ? reader->input(weight_input) : nullptr;
    if (weight == nullptr || weight->constant() == nullptr) return out;  // nothing, or the name's refusal
  }
  out.found = true;
  out.why_not.clear();
  out.weight_name = weight->name();
  const ir::Tensor& w = *weight->constant();
  if (w.type() != ir::ElementType::kFloat) {
    out.why_not = absl::StrCat("FP32 weight '", weight->name(), "' is ", ir::ElementTypeName(w.type()), ", not float");
    return out;
  }
  if (w.dims() != quantized.dims()) {
    out.why_not = absl::StrCat("FP32 weight '", weight->name(), "' has dims ", Dims(w.dims()),
                               ", the quantized weight ", Dims(quantized.dims()));
    return out;
  }
  out.weights = &w;
  const ir::Value* bias = bias_input >= 0 ? reader->input(bias_input) : nullptr;
  if (bias != nullptr && bias->constant() != nullptr && bias->constant()->type() == ir::ElementType::kFloat) {
    out.bias = bias->constant();
    out.bias_name = bias->name();
  }
  return out;
}

absl::StatusOr<std::unique_ptr<ir::Model>> LoadFp32Model(absl::string_view pass, absl::string_view option,
                                                         const std::string& path) {
  if (path.empty()) return std::unique_ptr<ir::Model>();
  auto fp32 = ir::LoadModel(path);
  if (!fp32.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(pass, ": ", option, " '", path, "': ", fp32.status().message()));
  }
  return fp32;
}

}  // namespace qopt::convert
