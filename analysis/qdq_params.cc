#include "analysis/qdq_params.h"

#include <cmath>

#include "ir/op_traits.h"
#include "ir/value.h"

namespace qopt::analysis {
namespace {

bool IsQdqDomain(const ir::Node& node) { return node.is_default_domain() || node.domain() == "com.microsoft"; }

}  // namespace

bool IsQuantizeLinear(const ir::Node& node) { return IsQdqDomain(node) && node.op_type() == "QuantizeLinear"; }
bool IsDequantizeLinear(const ir::Node& node) { return IsQdqDomain(node) && node.op_type() == "DequantizeLinear"; }

bool IsQuantizationBoundary(const ir::Node& node) { return ir::HasTrait(node, ir::kQuantization); }

bool IsIntegerKernel(const ir::Node& node) { return ir::HasTrait(node, ir::kIntegerKernel); }

std::optional<QdqParams> ReadQdqParams(const ir::Node& node) {
  const bool q = IsQuantizeLinear(node);
  if (!q && !IsDequantizeLinear(node)) return std::nullopt;
  QdqParams p;
  p.node = &node;
  p.axis = node.GetInt("axis").value_or(1);
  p.block_size = node.GetInt("block_size").value_or(0);
  if (const ir::Value* scale = node.input(1); scale && scale->constant()) {
    if (auto values = scale->constant()->ToDoubles(); values.ok()) {
      p.scales = *values;
      p.scale_constant = true;
      p.scale_type = scale->constant()->type();
      p.scale_dims = scale->constant()->dims();
    }
  }
  const ir::Value* zp = node.input(2);
  if (zp && zp->constant()) {
    p.quant_type = zp->constant()->type();
    // float8 zero points are not integers (and always zero): no values.
    if (auto values = zp->constant()->ToInt64s(); values.ok()) p.zero_points = *values;
  } else if (zp) {
    p.zero_point_constant = false;
    p.quant_type = zp->elem_type();
  }
  if (p.quant_type == ir::ElementType::kUndefined) {
    // Without a zero point: Q defaults to uint8 (or output_dtype), DQ reads
    // its input's type.
    const ir::Value* integer_side = q ? node.output(0) : node.input(0);
    p.quant_type = integer_side ? integer_side->elem_type() : ir::ElementType::kUndefined;
    if (q && p.quant_type == ir::ElementType::kUndefined) {
      p.quant_type = static_cast<ir::ElementType>(node.GetInt("output_dtype").value_or(2));
    }
  }
  return p;
}

namespace {

// Zero points compared as the kernels read them: an absent zero point is
// zero for every scale.
bool SameZeroPoints(const QdqParams& a, const QdqParams& b) {
  if (a.zero_points.empty() != b.zero_points.empty()) {
    const QdqParams& absent = a.zero_points.empty() ? a : b;
    const QdqParams& present = a.zero_points.empty() ? b : a;
    // Only a zero point that is truly absent (not float8's, which has no
    // integer values) reads as zeros.
    if (absent.node == nullptr || absent.node->input(2) != nullptr) return false;
    for (int64_t z : present.zero_points) {
      if (z != 0) return false;
    }
    return true;
  }
  return a.zero_points == b.zero_points;
}

}  // namespace

bool SameQuantization(const QdqParams& a, const QdqParams& b) {
  if (!a.params_constant() || !b.params_constant()) return false;
  if (a.scales.size() != b.scales.size() || a.scale_type != b.scale_type) return false;
  for (size_t i = 0; i < a.scales.size(); ++i) {
    if (!(a.scales[i] == b.scales[i] || (std::isnan(a.scales[i]) && std::isnan(b.scales[i])))) return false;
  }
  if (a.per_channel() && a.axis != b.axis) return false;
  if (a.block_size != b.block_size) return false;
  if (a.block_size != 0 && (a.axis != b.axis || a.scale_dims != b.scale_dims)) return false;
  return SameZeroPoints(a, b) && a.quant_type == b.quant_type;
}

const ir::Node* DequantizeProducer(const ir::Value* v) {
  if (v == nullptr || v->producer() == nullptr) return nullptr;
  return IsDequantizeLinear(*v->producer()) ? v->producer() : nullptr;
}

}  // namespace qopt::analysis
