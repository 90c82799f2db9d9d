#include "analysis/macs.h"

#include "analysis/qdq_params.h"
#include "ir/op_traits.h"

namespace qopt::analysis {
namespace {

// Static dims of a value, or empty when any is unknown.
std::vector<int64_t> StaticDims(const ir::Value* v) {
  auto shape = v ? v->shape() : std::nullopt;
  if (!shape) return {};
  std::vector<int64_t> dims;
  for (const ir::Dim& d : *shape) {
    if (!d.value || *d.value < 0) return {};
    dims.push_back(*d.value);
  }
  return dims;
}

int64_t Product(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// Dims of a weight: a constant, or the constant behind a DequantizeLinear.
std::vector<int64_t> WeightDims(const ir::Value* w) {
  if (w == nullptr) return {};
  if (w->constant()) return w->constant()->dims();
  if (const ir::Node* dq = DequantizeProducer(w); dq && dq->input(0) && dq->input(0)->constant()) {
    return dq->input(0)->constant()->dims();
  }
  return StaticDims(w);
}

bool IsIntegerOp(const ir::Node& node) {
  const std::string& op = node.op_type();
  return op == "ConvInteger" || op == "MatMulInteger" || op == "QLinearConv" || op == "QLinearMatMul" ||
         (node.domain() == "com.microsoft" && (op == "QGemm" || op == "MatMulIntegerToFloat"));
}

}  // namespace

namespace {

// How a compute node's MACs are counted; kNone for other nodes.
enum class MacKind { kNone, kConv, kTransposedConv, kMatMul, kGemm };

MacKind MacKindOf(const ir::Node& node) {
  const std::string& op = node.op_type();
  if (op == "Conv" || op == "ConvInteger" || op == "QLinearConv") return MacKind::kConv;
  if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul" || op == "MatMulIntegerToFloat") {
    return MacKind::kMatMul;
  }
  if (op == "Gemm" || op == "QGemm") return MacKind::kGemm;
  // A convolution whose weight is [C_in, C_out / group, ...] (the table's channel axis 1).
  if (ir::IsConvolution(node) && ir::FindOpTraits(node)->channel_axis == 1) return MacKind::kTransposedConv;
  return MacKind::kNone;
}

}  // namespace

int64_t NodeMacs(const ir::Node& node) {
  const MacKind kind = MacKindOf(node);
  if (kind == MacKind::kNone) return -1;
  const std::vector<int64_t> y = StaticDims(node.output());
  const std::vector<int64_t> w = WeightDims(node.input(MacWeightInput(node)));
  const std::vector<int64_t> a = StaticDims(node.input(0));
  switch (kind) {
    case MacKind::kConv:
      if (!y.empty() && w.size() >= 2 && w[0] > 0) return Product(y) * (Product(w) / w[0]);
      break;
    case MacKind::kTransposedConv:
      if (!a.empty() && w.size() >= 2 && a.size() >= 2 && a[1] > 0) return Product(a) * (Product(w) / a[1]);
      break;
    case MacKind::kMatMul:
      if (!y.empty() && !a.empty()) return Product(y) * a.back();
      break;
    case MacKind::kGemm:
      if (!y.empty() && a.size() == 2) return Product(y) * (node.GetInt("transA").value_or(0) ? a[0] : a[1]);
      break;
    case MacKind::kNone: break;
  }
  return -1;
}

int MacWeightInput(const ir::Node& node) {
  const std::string& op = node.op_type();
  return op == "QLinearConv" || op == "QLinearMatMul" || op == "QGemm" ? 3 : 1;
}

int64_t StaticElements(const ir::Value* v) {
  const std::vector<int64_t> dims = StaticDims(v);
  return dims.empty() ? -1 : Product(dims);
}

MacCounts CountMacs(const ir::Graph& graph, const TargetProfile& target) {
  MacCounts m;
  for (const ir::Node* node : graph.node_list()) {
    const std::string& op = node->op_type();
    if (MacKindOf(*node) == MacKind::kNone) continue;
    const int64_t macs = NodeMacs(*node);
    if (macs < 0) {
      ++m.nodes_unknown;
      continue;
    }
    const int weight_index = MacWeightInput(*node);
    ++m.nodes_counted;
    m.total += macs;
    m.by_op[op] += macs;
    const bool quantized_unit = DequantizeProducer(node->input(0)) && DequantizeProducer(node->input(weight_index)) &&
                                target.HasIntegerKernel(*node);
    if (IsIntegerOp(*node) || quantized_unit) m.integer += macs;
  }
  return m;
}

nlohmann::json MacsToJson(const MacCounts& m) {
  return {{"total", m.total},
          {"integer", m.integer},
          {"integer_share", m.total ? static_cast<double>(m.integer) / m.total : 0.0},
          {"nodes_counted", m.nodes_counted},
          {"nodes_with_unknown_shape", m.nodes_unknown},
          {"by_op", m.by_op}};
}

}  // namespace qopt::analysis
