#include "ir/node.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ir/graph.h"
#include "ir/model.h"

namespace qopt::ir {

using AttributeType = onnx::AttributeProto::AttributeType;

Attribute::Attribute(onnx::AttributeProto proto) : proto_(std::move(proto)) {}
Attribute::~Attribute() = default;
Attribute::Attribute(Attribute&&) noexcept = default;
Attribute& Attribute::operator=(Attribute&&) noexcept = default;

Node::~Node() = default;

const std::string& Node::name_or_output() const {
  if (!name_.empty()) return name_;
  for (const Value* v : outputs_) {
    if (v != nullptr) return v->name();
  }
  return name_;
}

void Node::SetInput(int i, Value* value) {
  if (Value* old = inputs_[i]) old->RemoveUse(Use{this, i});
  inputs_[i] = value;
  if (value) value->AddUse(Use{this, i});
}

void Node::AddInput(Value* value) {
  inputs_.push_back(value);
  if (value) value->AddUse(Use{this, static_cast<int>(inputs_.size()) - 1});
}

void Node::RemoveInput(int i) {
  for (int j = i; j < num_inputs(); ++j) {
    if (inputs_[j]) inputs_[j]->RemoveUse(Use{this, j});
  }
  inputs_.erase(inputs_.begin() + i);
  for (int j = i; j < num_inputs(); ++j) {
    if (inputs_[j]) inputs_[j]->AddUse(Use{this, j});
  }
}

const Attribute* Node::FindAttribute(absl::string_view name) const {
  for (const Attribute& a : attributes_) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

Attribute* Node::FindAttribute(absl::string_view name) {
  for (Attribute& a : attributes_) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

std::optional<int64_t> Node::GetInt(absl::string_view name) const {
  const Attribute* a = FindAttribute(name);
  if (!a || a->type() != onnx::AttributeProto::INT) return std::nullopt;
  return a->proto().i();
}

std::optional<float> Node::GetFloat(absl::string_view name) const {
  const Attribute* a = FindAttribute(name);
  if (!a || a->type() != onnx::AttributeProto::FLOAT) return std::nullopt;
  return a->proto().f();
}

std::optional<std::string> Node::GetString(absl::string_view name) const {
  const Attribute* a = FindAttribute(name);
  if (!a || a->type() != onnx::AttributeProto::STRING) return std::nullopt;
  return a->proto().s();
}

std::optional<std::vector<int64_t>> Node::GetInts(absl::string_view name) const {
  const Attribute* a = FindAttribute(name);
  if (!a || a->type() != onnx::AttributeProto::INTS) return std::nullopt;
  return std::vector<int64_t>(a->proto().ints().begin(), a->proto().ints().end());
}

std::optional<std::vector<float>> Node::GetFloats(absl::string_view name) const {
  const Attribute* a = FindAttribute(name);
  if (!a || a->type() != onnx::AttributeProto::FLOATS) return std::nullopt;
  return std::vector<float>(a->proto().floats().begin(), a->proto().floats().end());
}

const Tensor* Node::GetTensor(absl::string_view name) const {
  const Attribute* a = FindAttribute(name);
  if (!a || a->type() != onnx::AttributeProto::TENSOR) return nullptr;
  return a->tensor();
}

Attribute& Node::GetOrAddAttribute(absl::string_view name, AttributeType type) {
  Attribute* a = FindAttribute(name);
  if (a == nullptr) {
    onnx::AttributeProto proto;
    proto.set_name(std::string(name));
    attributes_.emplace_back(std::move(proto));
    a = &attributes_.back();
  } else {
    std::string keep_name = a->name();
    *a = Attribute(onnx::AttributeProto());
    a->mutable_proto()->set_name(keep_name);
  }
  a->mutable_proto()->set_type(type);
  return *a;
}

void Node::SetInt(absl::string_view name, int64_t value) {
  GetOrAddAttribute(name, onnx::AttributeProto::INT).mutable_proto()->set_i(value);
}

void Node::SetFloat(absl::string_view name, float value) {
  GetOrAddAttribute(name, onnx::AttributeProto::FLOAT).mutable_proto()->set_f(value);
}

void Node::SetString(absl::string_view name, std::string value) {
  GetOrAddAttribute(name, onnx::AttributeProto::STRING).mutable_proto()->set_s(std::move(value));
}

void Node::SetInts(absl::string_view name, const std::vector<int64_t>& values) {
  auto* proto = GetOrAddAttribute(name, onnx::AttributeProto::INTS).mutable_proto();
  for (int64_t v : values) proto->add_ints(v);
}

void Node::SetFloats(absl::string_view name, const std::vector<float>& values) {
  auto* proto = GetOrAddAttribute(name, onnx::AttributeProto::FLOATS).mutable_proto();
  for (float v : values) proto->add_floats(v);
}

void Node::SetTensor(absl::string_view name, Tensor tensor) {
  Attribute& a = GetOrAddAttribute(name, onnx::AttributeProto::TENSOR);
  a.mutable_tensors().push_back(std::make_unique<Tensor>(std::move(tensor)));
}

bool Node::RemoveAttribute(absl::string_view name) {
  auto it = std::find_if(attributes_.begin(), attributes_.end(), [&](const Attribute& a) { return a.name() == name; });
  if (it == attributes_.end()) return false;
  attributes_.erase(it);
  return true;
}

std::vector<Graph*> Node::subgraphs() const {
  std::vector<Graph*> out;
  // The attributes live apart from the node, and each graph list on a
  // further cache line of its attribute: on a large graph (where the
  // verifier asks this of every node after every pass) visiting them was a
  // miss per attribute, in models that almost never hold a sub-graph.
  if (const Model* model = graph_->model(); model != nullptr && !model->has_subgraphs()) return out;
  for (const Attribute& a : attributes_) {
    for (const auto& g : a.graphs()) out.push_back(g.get());
  }
  return out;
}

std::string Node::Describe() const {
  std::string op = domain_.empty() ? op_type_ : absl::StrCat(domain_, "::", op_type_);
  if (!name_.empty()) return absl::StrCat("'", name_, "' (", op, ")");
  return absl::StrCat("(", op, " #", creation_index_, ")");
}

bool Node::outputs_unused() const {
  for (const Value* out : outputs_) {
    if (out != nullptr && out->has_uses()) return false;
  }
  return true;
}

}  // namespace qopt::ir
