#include "ir/shape_inference.h"

#include <algorithm>
#include <exception>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "ir/child_process.h"
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
int ConvPoolWeightInput(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  if (op == "Conv" || op == "ConvInteger" || op == "ConvTranspose") return 1;
  if (op == "QLinearConv") return 3;
  if (op == "MaxPool" || op == "AveragePool" || op == "LpPool") return -1;
  return -2;  // not a conv or pool
}

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
    const std::string what = absl::StrCat("node '", node.name(), "' (", node.op_type(), ")");
    for (const onnx::AttributeProto& a : node.attribute()) {
      if (a.has_g()) {
        if (absl::Status s = CheckConvPoolNodes(a.g(), ranks); !s.ok()) return s;
      }
      for (const onnx::GraphProto& g : a.graphs()) {
        if (absl::Status s = CheckConvPoolNodes(g, ranks); !s.ok()) return s;
      }
    }
    const int weight = ConvPoolWeightInput(node);
    if (weight == -2) continue;
    for (const onnx::AttributeProto& a : node.attribute()) {
      const bool positive = a.name() == "strides" || a.name() == "dilations" || a.name() == "kernel_shape";
      for (int64_t v : a.ints()) {
        if ((positive && v <= 0) || (a.name() == "pads" && v < 0)) {
          return absl::InvalidArgumentError(absl::StrCat(what, " has ", a.name(), " ", v));
        }
      }
    }
    auto rank_of = [&](int input) {
      if (input < 0 || input >= node.input_size()) return -1;
      auto it = ranks.find(node.input(input));
      return it == ranks.end() ? -1 : it->second;
    };
    const int x = rank_of(0);
    const int w = rank_of(weight);
    if (x >= 0 && x < 3) return absl::InvalidArgumentError(absl::StrCat(what, " has an input of rank ", x));
    if (x >= 0 && w >= 0 && x != w) {
      return absl::InvalidArgumentError(absl::StrCat(what, " has an input of rank ", x, " and a weight of rank ", w));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckShapeInferenceSafe(const onnx::ModelProto& proto) {
  if (absl::Status s = CheckConvPoolNodes(proto.graph(), {}); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ONNX shape inference not run: ", s.message(), " (libonnx 1.12 would crash on it)"));
  }
  return absl::OkStatus();
}

namespace {

// What inference adds to a graph, in a message shaped like it: the
// value_info and outputs, and per node only its graph attributes, in order
// (nothing else of the node), with the same for their graphs.
onnx::GraphProto InferredTypesOf(const onnx::GraphProto& graph) {
  onnx::GraphProto types;
  *types.mutable_value_info() = graph.value_info();
  *types.mutable_output() = graph.output();
  for (const onnx::NodeProto& node : graph.node()) {
    onnx::NodeProto* shell = types.add_node();
    for (const onnx::AttributeProto& attribute : node.attribute()) {
      if (!attribute.has_g() && attribute.graphs_size() == 0) continue;
      onnx::AttributeProto* graphs = shell->add_attribute();
      if (attribute.has_g()) *graphs->mutable_g() = InferredTypesOf(attribute.g());
      for (const onnx::GraphProto& g : attribute.graphs()) *graphs->add_graphs() = InferredTypesOf(g);
    }
  }
  return types;
}

// Puts what InferredTypesOf collected back into the graph it came from.
void MergeInferredTypes(onnx::GraphProto& types, onnx::GraphProto& graph) {
  graph.mutable_value_info()->Swap(types.mutable_value_info());
  graph.mutable_output()->Swap(types.mutable_output());
  for (int n = 0; n < graph.node_size() && n < types.node_size(); ++n) {
    onnx::NodeProto& shell = *types.mutable_node(n);
    int next = 0;
    for (onnx::AttributeProto& attribute : *graph.mutable_node(n)->mutable_attribute()) {
      if (!attribute.has_g() && attribute.graphs_size() == 0) continue;
      if (next >= shell.attribute_size()) break;
      onnx::AttributeProto& graphs = *shell.mutable_attribute(next++);
      if (attribute.has_g() && graphs.has_g()) MergeInferredTypes(*graphs.mutable_g(), *attribute.mutable_g());
      for (int k = 0; k < attribute.graphs_size() && k < graphs.graphs_size(); ++k) {
        MergeInferredTypes(*graphs.mutable_graphs(k), *attribute.mutable_graphs(k));
      }
    }
  }
}

absl::Status InferInThisProcess(onnx::ModelProto& proto, bool data_propagation) {
  try {
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/false, /*error_mode=*/0,
                                                                   data_propagation));
  } catch (const std::exception& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    return absl::InvalidArgumentError(absl::StrCat("ONNX shape inference failed: ", message));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunShapeInference(onnx::ModelProto& proto, bool data_propagation) {
  RegisterContribShapeRules();
  if (absl::Status s = CheckShapeInferenceSafe(proto); !s.ok()) return s;
  // libonnx's inference runs in a child process: it crashes (SIGSEGV) on
  // some inputs that CheckShapeInferenceSafe cannot see in advance, such as
  // a conv whose input rank, known only during inference, differs from its
  // weight's. The child sends back only what inference added.
  absl::StatusOr<std::string> inferred = RunInChildProcess(
      "ONNX shape inference", [&]() -> absl::StatusOr<std::string> {
        if (absl::Status s = InferInThisProcess(proto, data_propagation); !s.ok()) return s;
        return InferredTypesOf(proto.graph()).SerializeAsString();
      });
  if (!inferred.ok()) return inferred.status();
  onnx::GraphProto types;
  if (!types.ParseFromString(*inferred)) {
    return absl::InternalError("ONNX shape inference: the child process's answer does not parse");
  }
  MergeInferredTypes(types, *proto.mutable_graph());
  return absl::OkStatus();
}

}  // namespace qopt::ir
