#include "passes/fuse_qdq/rewrite_util.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "analysis/qdq_params.h"

namespace qopt::fuse_qdq {

std::optional<double> ScalarConstant(const ir::Value* v) {
  if (v == nullptr) return std::nullopt;
  if (const ir::Tensor* t = v->constant()) {
    if (t->num_elements() != 1 || !ir::IsFloatingPoint(t->type())) return std::nullopt;
    auto values = t->ToDoubles();
    if (!values.ok()) return std::nullopt;
    return (*values)[0];
  }
  const ir::Node* dq = analysis::DequantizeProducer(v);
  if (dq == nullptr || dq->input(0) == nullptr || dq->input(0)->constant() == nullptr) return std::nullopt;
  auto p = analysis::ReadQdqParams(*dq);
  auto q = dq->input(0)->constant()->ToDoubles();
  if (!p || p->scales.size() != 1 || !q.ok() || q->size() != 1) return std::nullopt;
  const double zero_point = p->zero_points.empty() ? 0 : static_cast<double>(p->zero_points[0]);
  return ((*q)[0] - zero_point) * p->scales[0];
}

void SetTensorType(ir::Value* v, ir::ElementType type, const std::optional<std::vector<ir::Dim>>& dims) {
  onnx::ValueInfoProto info;
  auto* tensor_type = info.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(static_cast<int32_t>(type));
  if (dims) {
    auto* shape = tensor_type->mutable_shape();
    for (const ir::Dim& d : *dims) {
      auto* dim = shape->add_dim();
      if (d.value) {
        dim->set_dim_value(*d.value);
      } else if (!d.param.empty()) {
        dim->set_dim_param(d.param);
      }
    }
  }
  v->set_type_info(info);
}

void SetIntegerType(ir::Value* v, ir::ElementType type, const ir::Value* like) {
  SetTensorType(v, type, like ? like->shape() : std::nullopt);
}

std::optional<ClampBounds> ReadClampBounds(const ir::Node& op) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (op.Is("Relu")) return ClampBounds{0, kInf};
  if (!op.Is("Clip")) return std::nullopt;
  ClampBounds b{op.GetFloat("min").value_or(-kInf), op.GetFloat("max").value_or(kInf)};
  for (int i : {1, 2}) {
    if (op.input(i) == nullptr) continue;
    std::optional<double> bound = ScalarConstant(op.input(i));
    if (!bound) return std::nullopt;
    (i == 1 ? b.lo : b.hi) = *bound;
  }
  return b;
}

std::string NodeLabel(const ir::Node& n) {
  return n.name().empty() ? absl::StrCat(n.op_type(), " of '", n.output() ? n.output()->name() : "", "'")
                          : absl::StrCat(n.op_type(), " '", n.name(), "'");
}

}  // namespace qopt::fuse_qdq
