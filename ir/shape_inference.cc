#include "ir/shape_inference.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "onnx/shape_inference/implementation.h"

namespace qopt::ir {

std::string WhyNoShapeInference(const Model& model) {
  const int64_t opset = model.OpsetVersion("").value_or(0);
  if (model.ir_version() <= kLastIrVersionOfLibOnnx && opset <= kLastOpsetOfLibOnnx) return "";
  return absl::StrCat("IR version ", model.ir_version(), " / opset ", opset, " is newer than libonnx 1.12 knows");
}

namespace {

// The ops whose shape rule is libonnx's convPoolShapeInference, and the
// input holding the weight (-1: none).
struct ConvPoolOp {
  const char* name;
  int weight_input;
};
constexpr ConvPoolOp kConvPoolOps[] = {{"Conv", 1},     {"ConvInteger", 1},  {"ConvTranspose", 1}, {"QLinearConv", 3},
                                       {"MaxPool", -1}, {"AveragePool", -1}, {"LpPool", -1}};

}  // namespace

int ConvPoolWeightInput(absl::string_view op) {
  for (const ConvPoolOp& c : kConvPoolOps) {
    if (op == c.name) return c.weight_input;
  }
  return -2;  // not a conv or pool
}

absl::Status CheckConvPoolNodeSafe(absl::string_view op, absl::string_view name,
                                   absl::Span<const onnx::AttributeProto* const> attributes,
                                   const std::function<int(int)>& rank_of_input) {
  const int weight = ConvPoolWeightInput(op);
  if (weight == -2) return absl::OkStatus();
  const std::string what = absl::StrCat("node '", name, "' (", op, ")");
  for (const onnx::AttributeProto* a : attributes) {
    const bool positive = a->name() == "strides" || a->name() == "dilations" || a->name() == "kernel_shape";
    for (int64_t v : a->ints()) {
      if ((positive && v <= 0) || (a->name() == "pads" && v < 0)) {
        return absl::InvalidArgumentError(absl::StrCat(what, " has ", a->name(), " ", v));
      }
    }
  }
  const int x = rank_of_input(0);
  const int w = weight >= 0 ? rank_of_input(weight) : -1;
  if (x >= 0 && x < 3) return absl::InvalidArgumentError(absl::StrCat(what, " has an input of rank ", x));
  if (x >= 0 && w >= 0 && x != w) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has an input of rank ", x, " and a weight of rank ", w));
  }
  return absl::OkStatus();
}

namespace {

void CollectRanks(const onnx::GraphProto& graph, absl::flat_hash_map<std::string, int>& ranks) {
  for (const onnx::TensorProto& t : graph.initializer()) ranks[t.name()] = t.dims_size();
  for (const auto* list : {&graph.input(), &graph.value_info()}) {
    for (const onnx::ValueInfoProto& info : *list) {
      if (info.type().has_tensor_type() && info.type().tensor_type().has_shape()) {
        ranks[info.name()] = info.type().tensor_type().shape().dim_size();
      }
    }
  }
}

absl::Status CheckConvPoolNodes(const onnx::GraphProto& graph, absl::flat_hash_map<std::string, int> ranks) {
  CollectRanks(graph, ranks);
  for (const onnx::NodeProto& node : graph.node()) {
    for (const onnx::AttributeProto& a : node.attribute()) {
      if (a.has_g()) {
        if (absl::Status s = CheckConvPoolNodes(a.g(), ranks); !s.ok()) return s;
      }
      for (const onnx::GraphProto& g : a.graphs()) {
        if (absl::Status s = CheckConvPoolNodes(g, ranks); !s.ok()) return s;
      }
    }
    if (ConvPoolWeightInput(node.op_type()) == -2) continue;
    std::vector<const onnx::AttributeProto*> attributes;
    for (const onnx::AttributeProto& a : node.attribute()) attributes.push_back(&a);
    auto rank_of = [&](int input) {
      if (input < 0 || input >= node.input_size()) return -1;
      auto it = ranks.find(node.input(input));
      return it == ranks.end() ? -1 : it->second;
    };
    if (absl::Status s = CheckConvPoolNodeSafe(node.op_type(), node.name(), attributes, rank_of); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The rank of input `index` where inference knows it, else -1.
int InputRank(onnx::InferenceContext& ctx, int index) {
  if (index < 0 || static_cast<size_t>(index) >= ctx.getNumInputs()) return -1;
  const onnx::TypeProto* type = ctx.getInputType(index);
  if (type == nullptr || !type->has_tensor_type() || !type->tensor_type().has_shape()) return -1;
  return type->tensor_type().shape().dim_size();
}

// Wraps the shape rule of every conv and pool op version libonnx has with
// the rank checks CheckConvPoolNodes makes before inference, now on the
// ranks inference has reached: a rank known only then (the output of
// DynamicQuantizeLinear, say) made convPoolShapeInference read out of
// bounds. The node's inference then fails as a node-level error (its
// outputs stay unknown) instead of crashing the process. This changes
// libonnx's process-wide registry: another user of libonnx in the process
// gets the same checks, which only turn crashes into inference errors.
void GuardConvPoolShapeRules() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const auto& entry : kConvPoolOps) {
      // Named copies: clang 14 cannot capture structured bindings.
      const std::string op(entry.name);
      const int weight = entry.weight_input;
      const onnx::OpSchema* previous = nullptr;
      for (int version = kLastOpsetOfLibOnnx; version >= 1; --version) {
        const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(op, version, "");
        if (schema == nullptr) break;
        if (schema == previous) continue;
        previous = schema;
        onnx::InferenceFunction rule = schema->GetTypeAndShapeInferenceFunction();
        if (!rule) continue;
        const_cast<onnx::OpSchema*>(schema)->TypeAndShapeInferenceFunction(
            [rule, weight, op](onnx::InferenceContext& ctx) {
              const int x = InputRank(ctx, 0);
              const int w = InputRank(ctx, weight);
              if (x >= 0 && x < 3) fail_shape_inference(op, ": input of rank ", x, " (needs at least 3)");
              if (x >= 0 && w >= 0 && x != w) {
                fail_shape_inference(op, ": input of rank ", x, " and weight of rank ", w);
              }
              rule(ctx);
            });
      }
    }
  });
}

// libonnx 1.12's newest DequantizeLinear is opset 13's, whose y is float;
// from opset 19 y has the type of its scale (float16, bfloat16), and
// inference through the old schema typed every value after a float16 DQ
// float (expose-tensors then declared them so, and ONNX Runtime refused the
// file). On such models each DQ's output is routed through a CastLike to
// its scale for inference, which types it as the scale; RemoveScaleCasts
// takes the CastLikes out again.
constexpr absl::string_view kUntypedSuffix = "__qopt_dq_before_scale_type";
constexpr absl::string_view kCastLikeName = "__qopt_dq_scale_type";

void InsertScaleCasts(onnx::GraphProto& graph) {
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (onnx::NodeProto& node : *graph.mutable_node()) {
    for (onnx::AttributeProto& a : *node.mutable_attribute()) {
      if (a.has_g()) InsertScaleCasts(*a.mutable_g());
      for (onnx::GraphProto& g : *a.mutable_graphs()) InsertScaleCasts(g);
    }
    const bool retype = node.op_type() == "DequantizeLinear" && (node.domain().empty() || node.domain() == "ai.onnx") &&
                        node.input_size() >= 2 && !node.input(1).empty() && node.output_size() == 1 &&
                        !node.output(0).empty();
    const std::string y = retype ? node.output(0) : "";
    if (retype) node.set_output(0, absl::StrCat(y, kUntypedSuffix));
    const std::string scale = retype ? node.input(1) : "";
    *nodes.Add() = std::move(node);
    if (!retype) continue;
    onnx::NodeProto* cast = nodes.Add();
    cast->set_op_type("CastLike");
    cast->set_name(std::string(kCastLikeName));
    cast->add_input(absl::StrCat(y, kUntypedSuffix));
    cast->add_input(scale);
    cast->add_output(y);
  }
  graph.mutable_node()->Swap(&nodes);
}

void RemoveScaleCasts(onnx::GraphProto& graph) {
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (onnx::NodeProto& node : *graph.mutable_node()) {
    if (node.op_type() == "CastLike" && node.name() == kCastLikeName) continue;
    for (onnx::AttributeProto& a : *node.mutable_attribute()) {
      if (a.has_g()) RemoveScaleCasts(*a.mutable_g());
      for (onnx::GraphProto& g : *a.mutable_graphs()) RemoveScaleCasts(g);
    }
    for (std::string& out : *node.mutable_output()) {
      if (absl::EndsWith(out, kUntypedSuffix)) out.resize(out.size() - kUntypedSuffix.size());
    }
    *nodes.Add() = std::move(node);
  }
  graph.mutable_node()->Swap(&nodes);
  google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> infos;
  for (onnx::ValueInfoProto& info : *graph.mutable_value_info()) {
    if (!absl::EndsWith(info.name(), kUntypedSuffix)) *infos.Add() = std::move(info);
  }
  graph.mutable_value_info()->Swap(&infos);
}

int64_t DefaultOpset(const onnx::ModelProto& proto) {
  for (const onnx::OperatorSetIdProto& id : proto.opset_import()) {
    if (id.domain().empty() || id.domain() == "ai.onnx") return id.version();
  }
  return 0;
}

}  // namespace

absl::Status CheckShapeInferenceSafe(const onnx::ModelProto& proto) {
  if (absl::Status s = CheckConvPoolNodes(proto.graph(), {}); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ONNX shape inference not run: ", s.message(), " (libonnx 1.12 would crash on it)"));
  }
  return absl::OkStatus();
}

void PrepareShapeRules() {
  RegisterContribShapeRules();
  GuardConvPoolShapeRules();
}

absl::Status RunShapeInference(onnx::ModelProto& proto, bool data_propagation) {
  PrepareShapeRules();
  if (absl::Status s = CheckShapeInferenceSafe(proto); !s.ok()) return s;
  const bool dq_typed_as_scale = DefaultOpset(proto) >= 19;
  if (dq_typed_as_scale) InsertScaleCasts(*proto.mutable_graph());
  absl::Status status;
  try {
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/false, /*error_mode=*/0,
                                                                   data_propagation));
  } catch (const std::exception& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    status = absl::InvalidArgumentError(absl::StrCat("ONNX shape inference failed: ", message));
  }
  if (dq_typed_as_scale) RemoveScaleCasts(*proto.mutable_graph());
  return status;
}

}  // namespace qopt::ir
