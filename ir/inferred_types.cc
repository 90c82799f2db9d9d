#include "ir/inferred_types.h"

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ir/graph.h"
#include "ir/serialization.h"
#include "ir/shape_inference.h"
#include "onnx/defs/schema.h"
#include "onnx/defs/shape_inference.h"

namespace qopt::ir {

InferredTypes::InferredTypes() = default;
InferredTypes::InferredTypes(InferredTypes&&) noexcept = default;
InferredTypes& InferredTypes::operator=(InferredTypes&&) noexcept = default;
InferredTypes::~InferredTypes() = default;

const onnx::TypeProto* InferredTypes::Find(const Value& v) const {
  if (v.graph() != graph_ || v.kind() != Value::Kind::kNodeOutput) return nullptr;
  const int64_t index = v.creation_index();
  return index < static_cast<int64_t>(by_value_.size()) ? by_value_[index] : nullptr;
}

namespace {

// What the rules of one graph see: the types of values so far (declared for
// graph inputs, from the tensor for initializers, inferred for node
// outputs) and, on request, constant data, all by Value::creation_index().
// It mirrors the tables libonnx's InferShapes builds from names.
class GraphState {
 public:
  GraphState(const Model& model, google::protobuf::Arena* arena)
      : arena_(arena), typed_initializers_(model.ir_version() >= 4) {
    const Graph& graph = model.graph();
    const size_t bound = static_cast<size_t>(graph.value_index_bound());
    types_.assign(bound, nullptr);
    data_.assign(bound, nullptr);
    data_done_.assign(bound, false);
    for (const Value* v : graph.values()) {
      if (v->kind() == Value::Kind::kNodeOutput) continue;
      // A graph input's declared type comes first (libonnx: "input has
      // priority over initializer"); an initializer alone is typed by its
      // tensor from IR version 4 on, as in libonnx, whatever value_info
      // declares for it (the check does not show inference value_info).
      if (const onnx::TypeProto* declared = DeclaredInputType(*v)) {
        types_[v->creation_index()] = declared;
      } else if (v->initializer() != nullptr && typed_initializers_) {
        types_[v->creation_index()] = TypeOfTensor(*v->initializer());
      }
    }
  }

  google::protobuf::Arena* arena() const { return arena_; }
  const onnx::TypeProto* TypeOf(const Value* v) const { return v ? types_[v->creation_index()] : nullptr; }
  void SetType(const Value& v, const onnx::TypeProto* type) { types_[v.creation_index()] = type; }

  // The rank `v` is declared with before inference (graph inputs and
  // initializers), -1 where unknown: what CheckConvPoolNodeSafe judges.
  int DeclaredRank(const Value* v) const {
    if (v == nullptr || v->kind() == Value::Kind::kNodeOutput) return -1;
    const onnx::TypeProto* declared = DeclaredInputType(*v);
    if (declared != nullptr && declared->has_tensor_type() && declared->tensor_type().has_shape()) {
      return declared->tensor_type().shape().dim_size();
    }
    return v->initializer() ? static_cast<int>(v->initializer()->dims().size()) : -1;
  }

  // The data a rule may read of `v`: every initializer (a graph input's
  // default included) and the `value` tensor of a Constant node, as libonnx
  // hands them on; made on first request, since few rules ask.
  const onnx::TensorProto* DataOf(const Value* v) {
    if (v == nullptr) return nullptr;
    const int64_t index = v->creation_index();
    if (!data_done_[index]) {
      data_done_[index] = true;
      if (const Tensor* tensor = ConstantTensor(*v)) data_[index] = TensorForInference(*tensor);
    }
    return data_[index];
  }

  const onnx::TensorProto* TensorForInference(const Tensor& tensor) const {
    onnx::TensorProto* proto = google::protobuf::Arena::CreateMessage<onnx::TensorProto>(arena_);
    ExportTensorForShapeInference(tensor, proto);
    return proto;
  }

 private:
  // The type a graph input is declared with in the graph's inputs.
  static const onnx::TypeProto* DeclaredInputType(const Value& v) {
    if (v.kind() != Value::Kind::kGraphInput || !v.has_type_info() || !v.type_info().has_type()) return nullptr;
    return &v.type_info().type();
  }

  static const Tensor* ConstantTensor(const Value& v) {
    if (v.initializer() != nullptr) return v.initializer();
    const Node* producer = v.producer();
    if (producer == nullptr || producer->op_type() != "Constant" || producer->outputs().size() != 1) return nullptr;
    const Attribute* value = producer->FindAttribute("value");
    return value != nullptr && value->type() == onnx::AttributeProto::TENSOR ? value->tensor() : nullptr;
  }

  const onnx::TypeProto* TypeOfTensor(const Tensor& tensor) const {
    onnx::TypeProto* type = google::protobuf::Arena::CreateMessage<onnx::TypeProto>(arena_);
    onnx::TypeProto_Tensor* tensor_type = type->mutable_tensor_type();
    tensor_type->set_elem_type(static_cast<int32_t>(tensor.type()));
    onnx::TensorShapeProto* shape = tensor_type->mutable_shape();
    for (int64_t d : tensor.dims()) shape->add_dim()->set_dim_value(d);
    return type;
  }

  google::protobuf::Arena* arena_;
  bool typed_initializers_;
  std::vector<const onnx::TypeProto*> types_;
  std::vector<const onnx::TensorProto*> data_;
  std::vector<bool> data_done_;
};

// libonnx's InferenceContext for one node, reading the IR.
class NodeContext final : public onnx::InferenceContext {
 public:
  NodeContext(const Node& node, GraphState& state) : node_(node), state_(state) {
    for (size_t i = 0; i < node.outputs().size(); ++i) {
      outputs_.push_back(google::protobuf::Arena::CreateMessage<onnx::TypeProto>(state.arena()));
    }
  }

  const onnx::AttributeProto* getAttribute(const std::string& name) const override {
    const Attribute* attribute = node_.FindAttribute(name);
    if (attribute == nullptr) return nullptr;
    if (attribute->tensors().empty()) return &attribute->proto();
    // Tensor payloads live outside the attribute's proto in the IR: a copy
    // with them, as the export writes it.
    for (const auto& [a, proto] : with_tensors_) {
      if (a == attribute) return proto;
    }
    onnx::AttributeProto* proto = google::protobuf::Arena::CreateMessage<onnx::AttributeProto>(state_.arena());
    *proto = attribute->proto();
    if (attribute->type() == onnx::AttributeProto::TENSOR) {
      ExportTensorForShapeInference(*attribute->tensor(), proto->mutable_t());
    } else {
      for (const auto& t : attribute->tensors()) ExportTensorForShapeInference(*t, proto->add_tensors());
    }
    with_tensors_.emplace_back(attribute, proto);
    return proto;
  }
  // Out of bounds: not an InferenceError, as in libonnx's own context, so
  // that the model goes the whole-graph way and meets the same end there.
  size_t getNumInputs() const override { return node_.inputs().size(); }
  const onnx::TypeProto* getInputType(size_t index) const override {
    if (index >= node_.inputs().size()) throw std::out_of_range("input index out of bounds");
    return state_.TypeOf(node_.input(static_cast<int>(index)));
  }
  const onnx::TensorProto* getInputData(size_t index) const override {
    if (index >= node_.inputs().size()) throw std::out_of_range("input index out of bounds");
    return state_.DataOf(node_.input(static_cast<int>(index)));
  }
  size_t getNumOutputs() const override { return outputs_.size(); }
  onnx::TypeProto* getOutputType(size_t index) override {
    if (index >= outputs_.size()) throw std::out_of_range("output index out of bounds");
    return outputs_[index];
  }
  // Nodes with sub-graphs go the whole-graph way.
  onnx::GraphInferencer* getGraphAttributeInferencer(const std::string&) override { return nullptr; }
  const onnx::SparseTensorProto* getInputSparseData(size_t) const override { return nullptr; }
  const onnx::TensorShapeProto* getSymbolicInput(size_t) const override { return nullptr; }

  absl::Span<onnx::TypeProto* const> outputs() const { return outputs_; }

 private:
  const Node& node_;
  GraphState& state_;
  // Inline like the node's own outputs: no allocation per node.
  absl::InlinedVector<onnx::TypeProto*, 1> outputs_;
  mutable std::vector<std::pair<const Attribute*, const onnx::AttributeProto*>> with_tensors_;
};

bool HasSubgraphs(const Node& node) {
  for (const Attribute& a : node.attributes()) {
    if (!a.graphs().empty() || a.type() == onnx::AttributeProto::GRAPH || a.type() == onnx::AttributeProto::GRAPHS) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<InferredTypes> InferTypesOnIr(const Model& model) {
  PrepareShapeRules();
  const Graph& graph = model.graph();
  if (model.proto_shell().functions_size() > 0 || graph.proto_shell().sparse_initializer_size() > 0) {
    return std::nullopt;
  }
  // Domain -> version exactly as the file spells the domain, later entries
  // winning: what libonnx looks nodes up with.
  absl::flat_hash_map<std::string, int> opsets;
  for (const onnx::OperatorSetIdProto& id : model.proto_shell().opset_import()) {
    opsets[id.domain()] = static_cast<int>(id.version());
  }
  InferredTypes result;
  result.arena_ = std::make_unique<google::protobuf::Arena>();
  result.graph_ = &graph;
  result.on_ir_ = true;
  result.by_value_.assign(static_cast<size_t>(graph.value_index_bound()), nullptr);
  GraphState state(model, result.arena_.get());
  std::vector<const onnx::AttributeProto*> attributes;
  for (const Node* node : graph.nodes()) {
    if (HasSubgraphs(*node)) return std::nullopt;
    if (ConvPoolWeightInput(node->op_type()) != -2) {
      attributes.clear();
      for (const Attribute& a : node->attributes()) attributes.push_back(&a.proto());
      auto rank_of = [&](int input) {
        return input >= 0 && input < static_cast<int>(node->inputs().size()) ? state.DeclaredRank(node->input(input))
                                                                             : -1;
      };
      // libonnx would crash: the whole-graph way refuses the model as a whole
      // (checked, as there, whatever the node's domain).
      if (!CheckConvPoolNodeSafe(node->op_type(), node->name(), attributes, rank_of).ok()) return std::nullopt;
    }
    auto opset = opsets.find(node->domain());
    if (opset == opsets.end()) continue;
    const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(node->op_type(), opset->second, node->domain());
    if (schema == nullptr) continue;  // libonnx skips an op it has no schema for
    if (!schema->has_type_and_shape_inference_function()) {
      if (schema->HasFunction()) return std::nullopt;
      continue;
    }
    NodeContext context(*node, state);
    try {
      schema->GetTypeAndShapeInferenceFunction()(context);
    } catch (const onnx::InferenceError&) {
      continue;  // as libonnx without error mode: this node's outputs stay unknown
    } catch (const std::exception&) {
      return std::nullopt;  // libonnx gives up on the whole model
    }
    for (size_t i = 0; i < context.outputs().size(); ++i) {
      const Value* out = node->output(static_cast<int>(i));
      const onnx::TypeProto* type = context.outputs()[i];
      if (out == nullptr || type->value_case() == onnx::TypeProto::VALUE_NOT_SET) continue;
      state.SetType(*out, type);
      result.by_value_[out->creation_index()] = type;
    }
  }
  return result;
}

InferredTypes InferTypesThroughExport(const Model& model) {
  const Graph& graph = model.graph();
  InferredTypes result;
  result.arena_ = std::make_unique<google::protobuf::Arena>();
  result.graph_ = &graph;
  result.by_value_.assign(static_cast<size_t>(graph.value_index_bound()), nullptr);
  // Inference sees only what defines values (inputs, initializers, nodes),
  // not the declarations under test. On the arena: the export makes several
  // messages per node, inference adds a value_info per value, and all of it
  // is dropped together.
  onnx::ModelProto& proto = *google::protobuf::Arena::CreateMessage<onnx::ModelProto>(result.arena_.get());
  ExportModelForShapeInference(model, &proto);
  onnx::GraphProto* g = proto.mutable_graph();
  g->clear_value_info();
  for (onnx::ValueInfoProto& output : *g->mutable_output()) output.clear_type();
  if (!RunShapeInference(proto, /*data_propagation=*/false).ok()) return result;
  // Keyed by views of the names in `proto`, which outlives the map.
  absl::flat_hash_map<absl::string_view, const onnx::TypeProto*> by_name;
  by_name.reserve(g->value_info_size() + g->output_size());
  for (const auto* list : {&g->value_info(), &g->output()}) {
    for (const onnx::ValueInfoProto& info : *list) {
      // An output libonnx reached no type for keeps the empty one it made.
      if (info.has_type() && info.type().value_case() != onnx::TypeProto::VALUE_NOT_SET) {
        by_name[info.name()] = &info.type();
      }
    }
  }
  for (const Value* v : graph.values()) {
    if (v->kind() != Value::Kind::kNodeOutput) continue;
    auto it = by_name.find(v->name());
    if (it != by_name.end()) result.by_value_[v->creation_index()] = it->second;
  }
  return result;
}

InferredTypes InferTypes(const Model& model) {
  if (!WhyNoShapeInference(model).empty()) return InferredTypes();
  if (std::optional<InferredTypes> on_ir = InferTypesOnIr(model)) return std::move(*on_ir);
  return InferTypesThroughExport(model);
}

}  // namespace qopt::ir
