#include "passes/convert/qop_to_qdq_builder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ir/model.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt::qop_to_qdq {

using ir::ElementType;

std::optional<int64_t> QdqBuilder::Elements(const ir::Value* v) {
  if (v == nullptr) return std::nullopt;
  if (const ir::Tensor* t = v->constant()) return t->num_elements();
  auto shape = v->shape();
  if (!shape) return std::nullopt;
  int64_t n = 1;
  for (const ir::Dim& d : *shape) {
    if (!d.is_known()) return std::nullopt;
    n *= *d.value;
  }
  return n;
}

std::string QdqBuilder::CheckParameter(const ir::Value* v, absl::string_view what, bool per_tensor) const {
  if (v == nullptr) return absl::StrCat(what, " is missing");
  if (!v->is_constant()) {
    if (!runtime_parameters_) {
      return absl::StrCat(what,
                          " is computed at run time (convert=all converts it; ONNX Runtime cannot fuse such a "
                          "unit back)");
    }
    if (!Elements(v)) return absl::StrCat(what, " is computed at run time with an unknown shape");
  }
  if (per_tensor && Elements(v) != 1) return absl::StrCat(what, " is not a single value");
  return "";
}

std::string QdqBuilder::CheckScaleAndZeroPoint(const ir::Value* scale, const ir::Value* zero, absl::string_view operand,
                                               bool per_tensor) const {
  if (std::string why = CheckParameter(scale, absl::StrCat("the ", operand, " scale"), per_tensor); !why.empty()) {
    return why;
  }
  if (zero == nullptr) return "";
  return CheckParameter(zero, absl::StrCat("the ", operand, " zero point"), per_tensor);
}

ir::Value* QdqBuilder::Dequantize(ir::Node& before, ir::Value* data, ir::Value* scale, ir::Value* zero,
                                  std::optional<int64_t> axis) {
  const auto key = std::make_tuple(data, scale, zero, axis.value_or(1 << 20));
  if (auto it = dequantized_.find(key); it != dequantized_.end()) return it->second;
  std::vector<ir::Value*> inputs = {data, scale};
  if (zero != nullptr) inputs.push_back(zero);
  // Right before its first reader, which reads all of its inputs.
  ir::Node* dq = graph_.AddNodeWithOutputNames(
      "DequantizeLinear", inputs, {graph_.model()->UniqueName(absl::StrCat(data->name(), "_dequantized"))}, &before);
  if (axis) dq->SetInt("axis", *axis);
  fuse_qdq::SetTensorType(dq->output(), ElementType::kFloat, data->shape());
  dequantized_[key] = dq->output();
  return dq->output();
}

ir::Value* QdqBuilder::Quantize(ir::Node& before, ir::Value* x, ir::Value* scale, ir::Value* zero) {
  std::vector<ir::Value*> inputs = {x, scale};
  if (zero != nullptr) inputs.push_back(zero);
  ir::Node* q = graph_.AddNodeWithOutputNames("QuantizeLinear", inputs,
                                              {graph_.model()->UniqueName(absl::StrCat(x->name(), "_q"))}, &before);
  return q->output();
}

ir::Node* QdqBuilder::AddFloatOp(ir::Node& integer_op, absl::string_view op_type, const std::vector<ir::Value*>& inputs,
                                 const std::vector<absl::string_view>& drop) {
  ir::Value* out = integer_op.output();
  ir::Node* op = graph_.AddNodeWithOutputNames(op_type, inputs,
                                               {graph_.model()->UniqueName(absl::StrCat(out->name(), "_float"))},
                                               &integer_op, "", integer_op.name());
  for (const ir::Attribute& a : integer_op.attributes()) {
    if (std::find(drop.begin(), drop.end(), a.name()) != drop.end()) continue;
    op->mutable_attributes().emplace_back(ir::Attribute(a.proto()));
  }
  fuse_qdq::SetTensorType(op->output(), ElementType::kFloat, out->shape());
  return op;
}

ir::Node* QdqBuilder::AddNode(ir::Node& before, absl::string_view op_type, const std::vector<ir::Value*>& inputs,
                              absl::string_view name_hint, ElementType type, const ir::Value* like) {
  ir::Node* node = graph_.AddNodeWithOutputNames(op_type, inputs, {graph_.model()->UniqueName(name_hint)}, &before);
  fuse_qdq::SetTensorType(node->output(), type, like != nullptr ? like->shape() : std::nullopt);
  return node;
}

ir::Value* QdqBuilder::ScaleProduct(ir::Node& before, const std::vector<ir::Value*>& scales, float factor,
                                    absl::string_view name) {
  bool constant = true;
  for (const ir::Value* s : scales) constant = constant && s->is_constant();
  if (constant) {
    // Elementwise, broadcasting one-element scales, in float in the given
    // order: the rounding of the kernels' own scale product.
    std::vector<float> product = {factor};
    for (const ir::Value* s : scales) {
      absl::StatusOr<std::vector<double>> v = s->constant()->ToDoubles();
      if (!v.ok() || v->empty()) return nullptr;
      if (product.size() == 1 && v->size() > 1) product.assign(v->size(), product[0]);
      if (v->size() != 1 && v->size() != product.size()) return nullptr;
      for (size_t i = 0; i < product.size(); ++i) product[i] *= static_cast<float>((*v)[v->size() == 1 ? 0 : i]);
    }
    ir::Tensor t = product.size() > 1 ? ir::Tensor::FromFloats({static_cast<int64_t>(product.size())}, product)
                                      : ir::Tensor::Scalar(product[0]);
    return graph_.AddInitializer(std::string(name), std::move(t));
  }
  ir::Value* result = nullptr;
  if (factor != 1.0f) result = graph_.AddInitializer(absl::StrCat(name, "_factor"), ir::Tensor::Scalar(factor));
  for (ir::Value* s : scales) {
    result = result == nullptr ? s : AddNode(before, "Mul", {result, s}, name, ElementType::kFloat, nullptr)->output();
  }
  return result;
}

ir::Value* QdqBuilder::OnesLike(const ir::Value* zero, absl::string_view name) {
  std::vector<int64_t> dims;
  if (zero != nullptr) {
    if (const ir::Tensor* t = zero->constant()) {
      dims = t->dims();
    } else if (auto shape = zero->shape()) {
      for (const ir::Dim& d : *shape) dims.push_back(d.value.value_or(1));
    }
  }
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return graph_.AddInitializer(std::string(name), dims.empty()
                                                      ? ir::Tensor::Scalar(1.0f)
                                                      : ir::Tensor::FromFloats(dims, std::vector<float>(n, 1.0f)));
}

void QdqBuilder::Replace(ir::Node& integer_op, ir::Value* result, std::string form) {
  last_form_ = std::move(form);
  ir::Value* out = integer_op.output();
  const std::string name = out->name();
  if (out->has_type_info()) result->set_type_info(out->type_info());
  graph_.ReplaceAllUsesWith(out, result);
  graph_.EraseNode(&integer_op);
  graph_.RenameValue(result, name);
}

}  // namespace qopt::qop_to_qdq
