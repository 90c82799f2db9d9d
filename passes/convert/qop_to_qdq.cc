// qop-to-qdq: a QOperator file becomes a QDQ file. Each QLinearConv,
// QLinearMatMul and com.microsoft QLinear* element-wise, pooling, softmax
// and concat op becomes DequantizeLinear of its operands -> the float op ->
// QuantizeLinear with the output's scale and zero point: the node unit
// ONNX Runtime's quantizer writes in its QDQ format, and which its CPU
// provider fuses back into the same kernel at session start (for the
// activation types it fuses). QDQ-only runtimes (TensorRT, QNN, OpenVINO)
// read the result, and qopt's QDQ rewrites (fuse-qdq, float-islands) apply
// to it.
//
// What stays: ops that already ran on 8-bit data (MaxPool, Reshape, ...)
// keep running on it; integer ops without a QDQ counterpart here yet
// (ConvInteger, MatMulInteger, QGemm, QLinearWhere, ...) are left and
// counted with the reason in the report.
//
// QLinearConv's int32 bias becomes DequantizeLinear(bias, x_scale *
// w_scale) (per output channel where the weights are), the form fuse-qdq
// and ONNX Runtime take back as the kernel's bias. Per-channel weights need
// per-axis DequantizeLinear, so opset 13.
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "ir/op_traits.h"
#include "ir/quantized_operands.h"
#include "passes/builtin_passes.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt {
namespace {

using ir::ElementType;

// The float op whose integer kernel on ONNX Runtime's CPU provider `node`
// is, from the op table's ort-cpu column ("com.microsoft.QLinearAdd" is
// Add's); "" when no op has it. QLinearConv is taken in either domain, as
// ONNX Runtime runs both.
std::string FloatOpOf(const ir::Node& node) {
  if (!node.is_default_domain() && node.domain() != "com.microsoft") return "";
  for (const ir::OpTraits& traits : ir::AllOpTraits()) {
    if (!traits.domain.empty()) continue;
    absl::string_view kernel = traits.Kernel(ir::Target::kOrtCpu);
    if (kernel.empty() || kernel == "=") continue;
    const size_t dot = kernel.rfind('.');
    if (dot != absl::string_view::npos) {
      if (node.domain() != kernel.substr(0, dot)) continue;
      kernel = kernel.substr(dot + 1);
    }
    if (kernel == node.op_type()) return std::string(traits.op_type);
  }
  return "";
}

// Kernels whose QDQ form needs more than DQ -> op -> Q (QGemm's alpha, beta
// and float bias; QLinearWhere's unquantized condition): not converted yet.
bool ConvertedHere(const std::string& float_op) { return float_op != "Gemm" && float_op != "Where"; }

int64_t NumElements(const ir::Value* v) {
  const ir::Tensor* t = v != nullptr ? v->constant() : nullptr;
  return t != nullptr ? t->num_elements() : -1;
}

class QopToQdq : public Pass {
 public:
  absl::string_view name() const override { return "qop-to-qdq"; }
  absl::string_view summary() const override {
    return "Turn QOperator integer ops (QLinearConv, QLinearMatMul, com.microsoft QLinear*) into DQ -> float op -> Q "
           "units, the QDQ layout";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    converted_by_op_.clear();
    left_.clear();
    dequantized_.clear();
    opset_ = model.OpsetVersion("").value_or(13);
    ir::Graph& graph = model.graph();
    bool changed = false;
    for (ir::Node* node : graph.node_list()) {
      if (node->is_erased() || ir::FindQuantizedSignature(*node) == nullptr) continue;
      const std::string why = Convert(graph, *node);
      if (why.empty()) {
        changed = true;
      } else {
        left_.push_back({fuse_qdq::NodeLabel(*node), why});
      }
    }
    kept_ += static_cast<int64_t>(left_.size());
    if (context.report != nullptr) context.report->AddAnalysis("qop-to-qdq", ReportJson(), ReportText());
    return changed;
  }

 private:
  // Converts `node` in place; the reason when it cannot.
  std::string Convert(ir::Graph& graph, ir::Node& node) {
    const std::string float_op = FloatOpOf(node);
    if (float_op.empty() || !ConvertedHere(float_op)) return "no QDQ form in qop-to-qdq yet";
    const std::string op_type = node.op_type();
    const ir::QuantizedSignature& sig = *ir::FindQuantizedSignature(node);
    if (node.GetInt("channels_last").value_or(0) != 0) return "channels_last = 1 (NHWC) is not converted";
    if (node.num_outputs() != 1 || node.output() == nullptr) return "not one output";
    if (node.Is("QLinearSoftmax") && !SoftmaxAxisKeepsMeaning(node)) {
      return "softmax over a non-last axis with pre-13 semantics";
    }
    // Every scale and zero point a constant: the QDQ form's parameters.
    const ir::Value* y_scale = node.input(sig.output_scale);
    if (y_scale == nullptr || !y_scale->is_constant() || NumElements(y_scale) != 1) {
      return "output scale is not a constant scalar";
    }
    const ir::Value* y_zero = sig.output_zero_point < node.num_inputs() ? node.input(sig.output_zero_point) : nullptr;
    if (y_zero != nullptr && (!y_zero->is_constant() || NumElements(y_zero) != 1)) {
      return "output zero point is not a constant scalar";
    }

    // The float operands: each quantized input through its DequantizeLinear.
    std::vector<ir::Value*> float_inputs;
    const std::vector<ir::QuantizedOperand> operands = ir::QuantizedInputs(node);
    for (size_t k = 0; k < operands.size(); ++k) {
      const ir::QuantizedOperand& op = operands[k];
      ir::Value* data = node.input(op.data);
      ir::Value* scale = op.scale >= 0 ? node.input(op.scale) : nullptr;
      ir::Value* zero = op.zero_point < node.num_inputs() ? node.input(op.zero_point) : nullptr;
      if (data == nullptr || scale == nullptr || !scale->is_constant()) return "a scale is not a constant";
      if (zero != nullptr && !zero->is_constant()) return "a zero point is not a constant";
      std::optional<int64_t> axis;
      if (NumElements(scale) != 1) {
        // Per channel: only the weights (QLinearConv's w: axis 0;
        // QLinearMatMul's b: its columns, the last axis).
        const bool weights = !op.same_type_as_output && (node.Is("QLinearConv") || node.Is("QLinearMatMul"));
        if (!weights) return "a per-channel scale on an activation";
        if (opset_ < 13) return "per-channel weights need opset 13 (per-axis DequantizeLinear)";
        axis = node.Is("QLinearConv") ? 0 : -1;
      }
      float_inputs.push_back(Dequantize(graph, node, data, scale, zero, axis));
    }
    // QLinearConv's int32 bias: DQ(bias, x_scale * w_scale).
    if (node.Is("QLinearConv") && node.num_inputs() > 8 && node.input(8) != nullptr) {
      ir::Value* bias = Bias(graph, node);
      if (bias == nullptr) return "the bias or the input and weight scales are not constants";
      float_inputs.push_back(bias);
    }

    ir::Value* out = node.output();
    const std::string out_name = out->name();
    ir::Model& model = *graph.model();
    ir::Node* op = graph.AddNodeWithOutputNames(
        float_op, float_inputs, {model.UniqueName(absl::StrCat(out_name, "_float"))}, &node, "", node.name());
    for (const ir::Attribute& a : node.attributes()) {
      if (a.name() == "channels_last" || a.name() == "opset") continue;
      op->mutable_attributes().emplace_back(ir::Attribute(a.proto()));
    }
    fuse_qdq::SetTensorType(op->output(), ElementType::kFloat, out->shape());
    std::vector<ir::Value*> q_inputs = {op->output(), node.input(sig.output_scale)};
    if (y_zero != nullptr) q_inputs.push_back(node.input(sig.output_zero_point));
    ir::Node* q = graph.AddNodeWithOutputNames("QuantizeLinear", q_inputs,
                                               {model.UniqueName(absl::StrCat(out_name, "_q"))}, &node);
    if (out->has_type_info()) q->output()->set_type_info(out->type_info());
    graph.ReplaceAllUsesWith(out, q->output());
    graph.EraseNode(&node);
    graph.RenameValue(q->output(), out_name);
    ++converted_by_op_[op_type];
    ++converted_;
    return "";
  }

  // QLinearSoftmax carries the opset whose Softmax semantics it follows:
  // before 13 the input is flattened to 2-D at `axis`, which equals the
  // per-axis Softmax only over the last axis.
  bool SoftmaxAxisKeepsMeaning(const ir::Node& node) {
    const int64_t axis = node.GetInt("axis").value_or(node.GetInt("opset").value_or(13) < 13 ? 1 : -1);
    if (node.GetInt("opset").value_or(13) >= 13 && opset_ >= 13) return true;
    if (axis == -1) return true;
    auto shape = node.input(0) != nullptr ? node.input(0)->shape() : std::nullopt;
    return shape && axis == static_cast<int64_t>(shape->size()) - 1;
  }

  // One DequantizeLinear per (data, scale, zero point, axis), placed before
  // `user`, shared by every converted node that reads the same operand.
  ir::Value* Dequantize(ir::Graph& graph, ir::Node& user, ir::Value* data, ir::Value* scale, ir::Value* zero,
                        std::optional<int64_t> axis) {
    const auto key = std::make_tuple(data, scale, zero, axis.value_or(1 << 20));
    if (auto it = dequantized_.find(key); it != dequantized_.end()) return it->second;
    std::vector<ir::Value*> inputs = {data, scale};
    if (zero != nullptr) inputs.push_back(zero);
    // Right before its first reader, which reads all of its inputs.
    ir::Node* dq = graph.AddNodeWithOutputNames(
        "DequantizeLinear", inputs, {graph.model()->UniqueName(absl::StrCat(data->name(), "_dequantized"))}, &user);
    if (axis) dq->SetInt("axis", *axis);
    fuse_qdq::SetTensorType(dq->output(), ElementType::kFloat, data->shape());
    dequantized_[key] = dq->output();
    return dq->output();
  }

  ir::Value* Bias(ir::Graph& graph, ir::Node& conv) {
    ir::Value* bias = conv.input(8);
    const ir::Tensor* b = bias->constant();
    const ir::Tensor* xs = conv.input(1) ? conv.input(1)->constant() : nullptr;
    const ir::Tensor* ws = conv.input(4) ? conv.input(4)->constant() : nullptr;
    if (b == nullptr || xs == nullptr || ws == nullptr || b->type() != ElementType::kInt32) return nullptr;
    auto x = xs->ToDoubles();
    auto w = ws->ToDoubles();
    if (!x.ok() || !w.ok() || x->size() != 1 || w->empty()) return nullptr;
    std::vector<float> scales;
    for (double v : *w) scales.push_back(static_cast<float>(static_cast<float>((*x)[0]) * static_cast<float>(v)));
    const bool per_channel = scales.size() > 1;
    ir::Tensor t = per_channel ? ir::Tensor::FromFloats({static_cast<int64_t>(scales.size())}, scales)
                               : ir::Tensor::Scalar(scales[0]);
    ir::Value* bias_scale = graph.AddInitializer(absl::StrCat(bias->name(), "_scale"), std::move(t));
    std::optional<int64_t> axis;
    if (per_channel) axis = 0;
    return Dequantize(graph, conv, bias, bias_scale, nullptr, axis);
  }

  nlohmann::json ReportJson() const {
    nlohmann::json left = nlohmann::json::array();
    for (const auto& [node, why] : left_) left.push_back({{"node", node}, {"why", why}});
    return {{"converted", converted_by_op_}, {"left", left}};
  }

  std::string ReportText() const {
    std::string text = absl::StrCat("qop-to-qdq: ", converted_.value(), " integer ops now DQ -> float op -> Q");
    for (const auto& [op, n] : converted_by_op_) absl::StrAppend(&text, ", ", op, " ", n);
    absl::StrAppend(&text, "; ", left_.size(), " left\n");
    for (const auto& [node, why] : left_) absl::StrAppend(&text, "  left: ", node, ": ", why, "\n");
    return text;
  }

  int64_t opset_ = 13;
  std::map<std::string, int64_t> converted_by_op_;
  std::vector<std::pair<std::string, std::string>> left_;
  std::map<std::tuple<ir::Value*, ir::Value*, ir::Value*, int64_t>, ir::Value*> dequantized_;
  Statistic converted_{this, "ops-converted", "Integer ops now DQ -> float op -> Q"};
  Statistic kept_{this, "ops-left", "Integer ops left as they are (see the report)"};
};

}  // namespace

std::unique_ptr<Pass> CreateQopToQdqPass() { return std::make_unique<QopToQdq>(); }

}  // namespace qopt
