#include "ir/value.h"

#include <algorithm>
#include <cstdint>

#include "ir/check.h"
#include "ir/graph.h"
#include "ir/node.h"
#include "ir/op_traits.h"

namespace qopt::ir {
namespace {

// The tensor a Constant node defines, built from its scalar/list attribute
// forms (value_float, value_floats, value_int, value_ints).
std::unique_ptr<Tensor> TensorFromConstantAttribute(const Node& node) {
  if (auto v = node.GetFloat("value_float")) return std::make_unique<Tensor>(Tensor::FromFloats({}, {*v}));
  if (auto v = node.GetFloats("value_floats")) {
    return std::make_unique<Tensor>(Tensor::FromFloats({static_cast<int64_t>(v->size())}, *v));
  }
  if (auto v = node.GetInt("value_int")) return std::make_unique<Tensor>(Tensor::FromInt64s({}, {*v}));
  if (auto v = node.GetInts("value_ints")) {
    return std::make_unique<Tensor>(Tensor::FromInt64s({static_cast<int64_t>(v->size())}, *v));
  }
  return nullptr;
}

}  // namespace

const Tensor* Value::constant() const {
  if (kind_ == Kind::kInitializer) return initializer_.get();
  if (kind_ != Kind::kNodeOutput || !producer_is_constant_) return nullptr;
  if (const Tensor* t = producer_->GetTensor("value")) return t;
  if (!constant_cache_) constant_cache_ = TensorFromConstantAttribute(*producer_);
  return constant_cache_.get();
}

void Value::set_type_info(const onnx::ValueInfoProto& info) {
  info_ = info;
  info_.set_name(name_);
  has_info_ = true;
  // -1 also for an element type a file made up beyond int16: elem_type()
  // then reads it from info_ itself.
  const int32_t elem = info_.type().has_tensor_type() ? info_.type().tensor_type().elem_type() : -1;
  declared_elem_type_ = elem >= 0 && elem <= INT16_MAX ? static_cast<int16_t>(elem) : int16_t{-1};
}

void Value::SetInitializer(std::unique_ptr<Tensor> tensor) {
  initializer_ = std::move(tensor);
  RefreshInitializerCopies();
}

void Value::ResetInitializer(ElementType type, std::vector<int64_t> dims, std::string raw_bytes) {
  QOPT_CHECK(initializer_ != nullptr, "ResetInitializer on a value without an initializer");
  initializer_->Reset(type, std::move(dims), std::move(raw_bytes));
  RefreshInitializerCopies();
}

void Value::SetInitializerData(std::string raw_bytes) {
  QOPT_CHECK(initializer_ != nullptr, "SetInitializerData on a value without an initializer");
  initializer_->SetRawData(std::move(raw_bytes));
  RefreshInitializerCopies();
}

void Value::RefreshInitializerCopies() {
  const int type = initializer_ ? static_cast<int>(initializer_->type()) : 0;
  initializer_elem_type_ = type > 0 && type <= INT16_MAX ? static_cast<int16_t>(type) : int16_t{0};
  initializer_size_ok_ = initializer_ == nullptr || initializer_->CheckDataSize("").ok();
}

void Value::SetProducer(Node* node, int output_index) {
  producer_ = node;
  output_index_ = output_index;
  producer_is_constant_ = HasTrait(*node, kConstantOp);
}

namespace {

// The type a value is declared with: its own value_info or graph-input
// entry, else the graph-output entry that names it.
const onnx::TypeProto* DeclaredType(const Value& v) {
  if (v.has_type_info() && v.type_info().type().has_tensor_type()) return &v.type_info().type();
  if (!v.is_graph_output()) return nullptr;  // no scan of the uses of a constant read by thousands
  for (const Use& use : v.uses()) {
    if (!use.is_graph_output()) continue;
    const onnx::TypeProto& type = use.output_of->output_info(use.index).type();
    if (type.has_tensor_type()) return &type;
  }
  return nullptr;
}

}  // namespace

ElementType Value::elem_type() const {
  if (declared_elem_type_ > 0) return static_cast<ElementType>(declared_elem_type_);
  // declared_elem_type_ == 0: a tensor type of unknown element type, which
  // DeclaredType would return as is; otherwise look for a graph output's
  // (or read an element type too large for the copy).
  if (const onnx::TypeProto* type = declared_elem_type_ == 0 ? nullptr : DeclaredType(*this);
      type && type->tensor_type().elem_type() != 0) {
    return static_cast<ElementType>(type->tensor_type().elem_type());
  }
  // An initializer's from the copy (a type beyond int16 from the tensor).
  if (kind_ == Kind::kInitializer && initializer_elem_type_ > 0) {
    return static_cast<ElementType>(initializer_elem_type_);
  }
  if (const Tensor* t = constant()) return t->type();
  return ElementType::kUndefined;
}

std::optional<std::vector<Dim>> Value::shape() const {
  if (const Tensor* t = constant()) {
    std::vector<Dim> dims;
    for (int64_t d : t->dims()) dims.push_back(Dim{d, ""});
    return dims;
  }
  const onnx::TypeProto* type = DeclaredType(*this);
  if (type == nullptr || !type->tensor_type().has_shape()) return std::nullopt;
  std::vector<Dim> dims;
  for (const auto& d : type->tensor_type().shape().dim()) {
    Dim dim;
    if (d.has_dim_value()) dim.value = d.dim_value();
    if (d.has_dim_param()) dim.param = d.dim_param();
    dims.push_back(std::move(dim));
  }
  return dims;
}

void Value::RemoveUse(Use use) {
  auto it = std::find(uses_.begin(), uses_.end(), use);
  if (it == uses_.end()) return;
  if (it->is_graph_output()) --output_uses_;
  uses_.erase(it);
}

}  // namespace qopt::ir
