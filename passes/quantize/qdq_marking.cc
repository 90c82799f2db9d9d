#include "passes/quantize/qdq_marking.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ir/op_traits.h"

namespace qopt::quantize {

// The op types of ONNX Runtime's QDQ quantizer registry: `OrtQuantizes` in
// ir/op_traits.def.
const std::set<std::string>& DefaultQuantizedOpTypes() {
  static const auto* ops = [] {
    std::vector<std::string> quantized = ir::OpsWithTrait(ir::kOrtQuantizes);
    return new std::set<std::string>(quantized.begin(), quantized.end());
  }();
  return *ops;
}

const ir::Node* WeightDequantize(const ir::Value* v) {
  const ir::Node* dq = v != nullptr ? v->producer() : nullptr;
  if (dq == nullptr || !dq->Is("DequantizeLinear") || !dq->is_default_domain() || dq->num_inputs() < 2) return nullptr;
  for (const ir::Value* in : dq->inputs()) {
    if (in != nullptr && in->constant() == nullptr) return nullptr;
  }
  const ir::Tensor* data = dq->input(0)->constant();
  return data != nullptr && ir::IsInteger(data->type()) ? dq : nullptr;
}

namespace {

bool HasConstantParams(const ir::Node& node) {
  if (node.num_inputs() < 2 || node.input(1) == nullptr || node.input(1)->constant() == nullptr) return false;
  return node.num_inputs() < 3 || node.input(2) == nullptr || node.input(2)->constant() != nullptr;
}

}  // namespace

const ir::Node* ExistingQuantization(const ir::Value* v) {
  const ir::Node* producer = v->producer();
  if (producer != nullptr && producer->Is("DequantizeLinear") && producer->is_default_domain() &&
      HasConstantParams(*producer)) {
    return producer;
  }
  const ir::Node* first = nullptr;
  for (const ir::Use& use : v->uses()) {
    if (use.is_graph_output() || use.index != 0 || !use.user->Is("QuantizeLinear") || !use.user->is_default_domain() ||
        !HasConstantParams(*use.user)) {
      return nullptr;
    }
    if (first == nullptr) {
      first = use.user;
    } else if (use.user->num_inputs() != first->num_inputs() ||
               !std::equal(use.user->inputs().begin() + 1, use.user->inputs().end(), first->inputs().begin() + 1)) {
      return nullptr;  // quantized twice over already, with different parameters
    }
  }
  return first;
}

namespace {

using Kind = TensorMark::Kind;

bool IsFloat(ir::ElementType t) { return t == ir::ElementType::kFloat || t == ir::ElementType::kFloat16; }

// ONNX Runtime quantizes only tensors it knows to be float (from value_info,
// graph inputs/outputs or initializers).
bool IsFloatTensor(const ir::Value* v) {
  if (v == nullptr) return false;
  if (IsFloat(v->elem_type())) return true;
  for (const ir::Use& use : v->uses()) {
    if (!use.is_graph_output()) continue;
    const auto& type = use.output_of->output_info(use.index).type();
    if (type.has_tensor_type() && IsFloat(static_cast<ir::ElementType>(type.tensor_type().elem_type()))) return true;
  }
  return false;
}

class Marker {
 public:
  Marker(ir::Model& model, const MarkingOptions& options) : model_(model), options_(options) {}

  absl::StatusOr<MarkingResult> Run() {
    const int64_t opset = model_.OpsetVersion("").value_or(0);
    opset_ = opset;
    for (ir::Node* node : model_.graph().nodes()) {
      if (!node->is_default_domain() || !options_.op_types.contains(node->op_type())) continue;
      if (options_.exclude_op_types.contains(node->op_type()) ||
          (options_.exclude_nodes && RE2::PartialMatch(node->name_or_output(), *options_.exclude_nodes))) {
        ++result_.nodes_excluded;
        continue;
      }
      if (absl::Status s = Visit(node); !s.ok()) return s;
    }
    return std::move(result_);
  }

 private:
  bool IsMarked(const ir::Value* v) const { return v != nullptr && index_.contains(v); }

  void Mark(TensorMark mark) {
    if (mark.value == nullptr || IsMarked(mark.value)) return;
    index_[mark.value] = result_.marks.size();
    result_.marks.push_back(mark);
  }
  void Unmark(const ir::Value* v) {
    auto it = index_.find(v);
    if (it == index_.end()) return;
    result_.marks[it->second].value = nullptr;  // tombstone: keeps the order of the others
    index_.erase(it);
  }

  static bool IsWeight(const ir::Value* v) {
    return v != nullptr && (v->constant() != nullptr || WeightDequantize(v) != nullptr);
  }

  // Any float input: an activation, or a constant quantized with the
  // activation type (the constant operand of an Add or Mul).
  void MarkActivation(ir::Value* v) {
    if (IsFloatTensor(v)) Mark({.value = v, .kind = Kind::kActivation});
  }
  void MarkWeight(ir::Value* v, int axis) {
    if (WeightDequantize(v) != nullptr) {  // already quantized: kept
      Mark({.value = v, .kind = Kind::kWeight});
      return;
    }
    if (v == nullptr || v->constant() == nullptr || !IsFloatTensor(v)) return;
    Mark({.value = v, .kind = Kind::kWeight, .per_channel_axis = options_.per_channel ? axis : -1});
  }
  void MarkShared(ir::Value* v, ir::Value* provider) {
    if (IsFloatTensor(v) || IsMarked(provider)) Mark({.value = v, .kind = Kind::kShared, .provider = provider});
  }
  void MarkBias(ir::Node* node, ir::Value* bias, ir::Value* input, ir::Value* weight, float beta = 1.0f) {
    if (!options_.quantize_bias || bias == nullptr || bias->constant() == nullptr || !IsFloatTensor(bias)) return;
    Mark({.value = bias, .kind = Kind::kBias, .bias_consumer = node, .bias_input = input, .bias_weight = weight,
          .bias_beta = beta});
  }
  void MarkOutputs(ir::Node* node) {
    for (ir::Value* out : node->outputs()) MarkActivation(out);
  }

  absl::Status Visit(ir::Node* node) {
    const std::string& op = node->op_type();
    ++result_.nodes_quantized;
    if (ir::IsConvolution(*node)) {
      MarkActivation(node->input(0));
      MarkWeight(node->input(1), ir::FindOpTraits(*node)->channel_axis);
      MarkBias(node, node->input(2), node->input(0), node->input(1));
      MarkOutputs(node);
    } else if (op == "Gemm") {
      MarkActivation(node->input(0));
      const bool trans_b = node->GetInt("transB").value_or(0) != 0;
      if (IsWeight(node->input(1))) {
        MarkWeight(node->input(1), trans_b ? 0 : 1);
      } else {
        MarkActivation(node->input(1));
      }
      if (ir::Value* c = node->input(2); c && c->constant()) {
        MarkBias(node, c, node->input(0), node->input(1), node->GetFloat("beta").value_or(1.0f));
      }
      MarkOutputs(node);
    } else if (op == "MatMul") {
      for (int i = 0; i < 2; ++i) {
        ir::Value* in = node->input(i);
        if (IsWeight(in)) {
          MarkWeight(in, 1);
        } else {
          MarkActivation(in);
        }
      }
      MarkOutputs(node);
    } else if (op == "Relu" || op == "Clip") {
      VisitRemovableActivation(node);
    } else if (op == "Reshape" || op == "Transpose" || op == "Squeeze" || op == "Unsqueeze" ||
               op == "AveragePool" || op == "Slice" || op == "TopK" ||
               ((op == "MaxPool" || op == "Resize") && ir::TakesEightBitData(*node, opset_))) {
      VisitDirect(node);
    } else if (op == "MaxPool" || op == "Resize") {
      --result_.nodes_quantized;
      result_.left_float.push_back(absl::StrCat(op, ": needs a newer opset for QDQ"));
    } else if (op == "Pad") {
      for (ir::Value* in : node->inputs()) MarkActivation(in);
      const std::string mode = node->GetString("mode").value_or("constant");
      bool zero_pad = true;
      if (mode == "constant" && node->input(2) != nullptr) {
        const ir::Tensor* value = node->input(2)->constant();
        auto values = value ? value->ToDoubles() : absl::StatusOr<std::vector<double>>(absl::UnknownError(""));
        zero_pad = values.ok() && !values->empty() && (*values)[0] == 0.0;
      }
      if (node->output() && IsMarked(node->input(0)) && zero_pad) {
        MarkShared(node->output(), node->input(0));
      } else {
        MarkOutputs(node);
      }
    } else if (op == "Split") {
      MarkActivation(node->input(0));
      if (IsMarked(node->input(0))) {
        for (ir::Value* out : node->outputs()) MarkShared(out, node->input(0));
      }
    } else if (op == "Gather" || op == "GatherElements") {
      ir::Value* data = node->input(0);
      if ((data && data->constant() && IsFloatTensor(data)) || options_.force_quantize_no_input_check) {
        MarkActivation(data);
        if (IsMarked(data)) MarkShared(node->output(), data);
      } else if (IsMarked(data)) {
        MarkShared(node->output(), data);
      } else {
        --result_.nodes_quantized;
      }
    } else if (op == "Where") {
      if (options_.force_quantize_no_input_check) {
        MarkActivation(node->input(1));
        MarkActivation(node->input(2));
      }
      if (IsMarked(node->input(1)) && IsMarked(node->input(2))) {
        MarkOutputs(node);
      } else {
        --result_.nodes_quantized;
      }
    } else if (op == "BatchNormalization" || op == "InstanceNormalization" || op == "LayerNormalization") {
      MarkActivation(node->input(0));
      // The scale is quantized per tensor (ORT's per-channel axis 1 does not
      // exist on a 1-D scale, so it falls back), the bias as an int32 bias.
      if (node->input(1) && node->input(1)->constant()) {
        Mark({.value = node->input(1), .kind = Kind::kWeight, .per_channel_axis = -1});
      }
      MarkBias(node, node->input(2), node->input(0), node->input(1));
      MarkOutputs(node);
    } else {
      // Default rule: every float input and output gets its own parameters.
      for (ir::Value* in : node->inputs()) MarkActivation(in);
      MarkOutputs(node);
      if (op == "Softmax" && node->output() && IsMarked(node->output())) {
        result_.marks[index_.at(node->output())].softmax_output = true;
      }
    }
    return absl::OkStatus();
  }

  // Reshape-like ops: the output reuses the input's scale and zero point, if
  // the input is quantized already (or with force_quantize_no_input_check).
  void VisitDirect(ir::Node* node) {
    ir::Value* in = node->input(0);
    if (options_.force_quantize_no_input_check) MarkActivation(in);
    if (!IsMarked(in)) {
      --result_.nodes_quantized;
      result_.left_float.push_back(absl::StrCat(node->op_type(), ": input not quantized"));
      return;
    }
    MarkShared(node->output(0), in);
  }

  // Relu/Clip after a quantized tensor: with asymmetric activations the
  // output Q already clamps, so the node goes and its producer writes the
  // Relu/Clip output directly (ORT's QDQRemovableActivation).
  void VisitRemovableActivation(ir::Node* node) {
    ir::Value* in = node->input(0);
    ir::Value* out = node->output(0);
    if (!IsMarked(in) || out == nullptr) {
      --result_.nodes_quantized;
      result_.left_float.push_back(absl::StrCat(node->op_type(), ": input not quantized"));
      return;
    }
    // Not where the file already quantizes the output: its own Q need not
    // clamp at zero (a symmetric int8 pair does not).
    const bool removable = !options_.activation_symmetric && !options_.keep_removable_activations &&
                           ExistingQuantization(out) == nullptr && options_.has_range(out) &&
                           in->producer() != nullptr && in->uses().size() == 1 && !in->is_graph_output() &&
                           in->kind() == ir::Value::Kind::kNodeOutput;
    if (removable) {
      ir::Graph& graph = *in->graph();
      const std::string name = out->name();
      Unmark(in);
      graph.ReplaceAllUsesWith(out, in);
      graph.EraseNode(node);
      graph.RenameValue(in, name);
      if (out->has_type_info() && !in->has_type_info()) in->set_type_info(out->type_info());
      MarkActivation(in);
      ++result_.activations_removed;
      return;
    }
    if (in->uses().size() == 1) result_.range_from_output.emplace_back(in, out);
    MarkActivation(out);
  }

  ir::Model& model_;
  const MarkingOptions& options_;
  int64_t opset_ = 0;
  MarkingResult result_;
  absl::flat_hash_map<const ir::Value*, size_t> index_;
};

}  // namespace

absl::StatusOr<MarkingResult> MarkTensors(ir::Model& model, const MarkingOptions& options) {
  return Marker(model, options).Run();
}

}  // namespace qopt::quantize
