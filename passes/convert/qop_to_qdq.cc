// qop-to-qdq: a QOperator file becomes a QDQ file. Each QLinearConv,
// QLinearMatMul and com.microsoft QLinear* element-wise, pooling, softmax,
// concat and where op becomes DequantizeLinear of its operands -> the float
// op -> QuantizeLinear with the output's scale and zero point: the node unit
// ONNX Runtime's quantizer writes in its QDQ format, and which its CPU
// provider fuses back into the same kernel at session start (for the
// activation types it fuses). QDQ-only runtimes (TensorRT, QNN, OpenVINO)
// read the result, and qopt's QDQ rewrites (fuse-qdq, float-islands) apply
// to it. QGemm, MatMulIntegerToFloat, ConvInteger and MatMulInteger have
// their own conversions (qop_to_qdq_gemm.cc, qop_to_qdq_integer.cc).
//
// What stays: ops that already ran on 8-bit data (MaxPool, Reshape, ...)
// keep running on it; every integer op left is counted with the reason in
// the report. By default (convert=fusable) only what ONNX Runtime fuses back
// is converted, as fuse-qdq starts with this pass and must not make a file
// slower; convert=all also takes runtime scales and zero points,
// ConvInteger/MatMulInteger's int32 outputs and NHWC pools.
//
// QLinearConv's int32 bias becomes DequantizeLinear(bias, x_scale *
// w_scale) (per output channel where the weights are), the form fuse-qdq
// and ONNX Runtime take back as the kernel's bias. Per-channel weights need
// per-axis DequantizeLinear, so opset 13.
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/op_traits.h"
#include "ir/quantized_operands.h"
#include "passes/builtin_passes.h"
#include "passes/convert/qop_to_qdq_convert.h"
#include "passes/fuse_qdq/fuse_units.h"
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

// The axes of a layout Transpose: NHWC -> NCHW and back, for rank r.
std::vector<int64_t> ToChannelsFirst(int64_t r) {
  std::vector<int64_t> perm = {0, r - 1};
  for (int64_t i = 1; i < r - 1; ++i) perm.push_back(i);
  return perm;
}
std::vector<int64_t> ToChannelsLast(int64_t r) {
  std::vector<int64_t> perm = {0};
  for (int64_t i = 2; i < r; ++i) perm.push_back(i);
  perm.push_back(1);
  return perm;
}

class QopToQdq : public Pass {
 public:
  absl::string_view name() const override { return "qop-to-qdq"; }
  absl::string_view summary() const override {
    return "Turn QOperator integer ops (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, com.microsoft QGemm, "
           "MatMulIntegerToFloat, QLinear*) into DQ -> float op -> Q units, the QDQ layout";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    converted_by_op_.clear();
    converted_nodes_.clear();
    left_.clear();
    transposed_.clear();
    opset_ = model.OpsetVersion("").value_or(13);
    const bool all = convert_.value() == "all";
    qop_to_qdq::QdqBuilder builder(model.graph(), opset_, /*runtime_parameters=*/all);
    bool changed = false;
    for (ir::Node* node : model.graph().node_list()) {
      if (node->is_erased()) continue;
      const bool dynamic_matmul = node->domain() == "com.microsoft" && node->op_type() == "DynamicQuantizeMatMul";
      if (!dynamic_matmul && ir::FindQuantizedSignature(*node) == nullptr) continue;
      const std::string label = fuse_qdq::NodeLabel(*node);
      const std::string op_type = node->op_type();
      const std::string why = dynamic_matmul ? kDynamicMatMulReason : Convert(builder, *node, all);
      if (why.empty()) {
        changed = true;
        ++converted_by_op_[op_type];
        ++converted_;
        converted_nodes_.push_back({label, builder.last_form()});
      } else {
        left_.push_back({label, why});
      }
    }
    kept_ += static_cast<int64_t>(left_.size());
    if (context.report != nullptr) context.report->AddAnalysis("qop-to-qdq", ReportJson(), ReportText());
    return changed;
  }

 private:
  // DynamicQuantizeMatMul quantizes its float input at run time: its QDQ
  // form would be DynamicQuantizeLinear -> DQ -> MatMul, the same work in
  // more nodes, which at best ONNX Runtime fuses back into this op. It is a
  // site of quantize_dynamic's layout, which other passes own.
  static constexpr char kDynamicMatMulReason[] =
      "dynamically quantized (its float input is quantized at run time; a QDQ form would only add nodes): see "
      "dynamic-to-static or dequantize-weights";

  // Converts `node` in place; the reason when it cannot.
  std::string Convert(qop_to_qdq::QdqBuilder& b, ir::Node& node, bool all) {
    if (node.is_default_domain() && (node.Is("ConvInteger") || node.Is("MatMulInteger"))) {
      return qop_to_qdq::ConvertIntegerMatMul(b, node, all);
    }
    const bool ms = node.domain() == "com.microsoft";
    if (ms && node.op_type() == "MatMulIntegerToFloat" && qop_to_qdq::FromDynamicQuantize(node.input(0))) {
      return qop_to_qdq::kDynamicReason;
    }
    // fuse-qdq starts with this pass: by default only what its
    // fuse-qdq-units turns back into the same kernel.
    const std::string kernel = node.is_default_domain() ? node.op_type() : node.domain() + "." + node.op_type();
    if (!all && !fused_back_.contains(kernel) &&
        !(node.op_type() == "QLinearConv" && fused_back_.contains("QLinearConv"))) {
      return "fuse-qdq-units has no rewrite back to it yet, so fuse-qdq would leave it in float (convert=all converts "
             "it)";
    }
    if (ms && node.op_type() == "MatMulIntegerToFloat") return qop_to_qdq::ConvertMatMulIntegerToFloat(b, node);
    if (ms && node.op_type() == "QGemm") return qop_to_qdq::ConvertQGemm(b, node);
    const std::string float_op = FloatOpOf(node);
    if (float_op.empty()) return "no QDQ form in qop-to-qdq yet";
    return ConvertUnit(b, node, float_op, all);
  }

  // DQ -> float_op -> Q, with Where's condition as it is and NHWC pools
  // between layout Transposes of the integers.
  std::string ConvertUnit(qop_to_qdq::QdqBuilder& b, ir::Node& node, const std::string& float_op, bool all) {
    const ir::QuantizedSignature& sig = *ir::FindQuantizedSignature(node);
    if (node.num_outputs() != 1 || node.output() == nullptr) return "not one output";
    if (node.Is("QLinearSoftmax") && !SoftmaxAxisKeepsMeaning(node)) {
      return "softmax over a non-last axis with pre-13 semantics";
    }
    // NHWC: the rank from the input's shape or the pool's kernel.
    int64_t nhwc_rank = 0;
    if (node.GetInt("channels_last").value_or(0) != 0) {
      if (!all) return "channels_last = 1 (NHWC): its QDQ form needs Transposes around the pool (convert=all)";
      auto shape = node.input(0) != nullptr ? node.input(0)->shape() : std::nullopt;
      auto kernel = node.GetInts("kernel_shape");
      nhwc_rank = shape ? static_cast<int64_t>(shape->size()) : kernel ? static_cast<int64_t>(kernel->size()) + 2 : 0;
      if (nhwc_rank < 3) return "channels_last = 1 (NHWC) with an unknown rank";
    }
    ir::Value* y_scale = node.input(sig.output_scale);
    ir::Value* y_zero = node.input(sig.output_zero_point);
    if (std::string why = b.CheckParameter(y_scale, "the output scale", true); !why.empty()) return why;
    if (y_zero != nullptr) {
      if (std::string why = b.CheckParameter(y_zero, "the output zero point", true); !why.empty()) return why;
    }
    // Every operand's parameters before any edit, so a refusal leaves the
    // graph as it was.
    const std::vector<ir::QuantizedOperand> operands = ir::QuantizedInputs(node);
    std::vector<std::optional<int64_t>> axes;
    for (const ir::QuantizedOperand& op : operands) {
      ir::Value* scale = op.scale >= 0 ? node.input(op.scale) : nullptr;
      ir::Value* zero = node.input(op.zero_point);
      if (node.input(op.data) == nullptr) return "an input is missing";
      // Per channel: only the weights (QLinearConv's w: axis 0;
      // QLinearMatMul's b: its columns, the last axis).
      const bool weights = !op.same_type_as_output && (node.Is("QLinearConv") || node.Is("QLinearMatMul"));
      const std::optional<int64_t> scales = qop_to_qdq::QdqBuilder::Elements(scale);
      if (!weights && scales && *scales != 1) return "a per-channel scale on an activation";
      if (std::string why = b.CheckParameter(scale, "a scale", false); !why.empty()) return why;
      if (zero != nullptr) {
        if (std::string why = b.CheckParameter(zero, "a zero point", !weights); !why.empty()) return why;
      }
      std::optional<int64_t> axis;
      if (qop_to_qdq::QdqBuilder::Elements(scale) != 1) {
        if (opset_ < 13) return "per-channel weights need opset 13 (per-axis DequantizeLinear)";
        axis = node.Is("QLinearConv") ? 0 : -1;
      }
      axes.push_back(axis);
    }
    // QLinearConv's int32 bias: DQ(bias, x_scale * w_scale).
    ir::Value* bias = node.Is("QLinearConv") ? node.input(8) : nullptr;
    if (bias != nullptr && bias->elem_type() != ElementType::kInt32) return "the bias is not int32";

    // The bias scale first: the last step that can refuse, before any DQ.
    ir::Value* bias_scale = nullptr;
    if (bias != nullptr) {
      bias_scale = b.ScaleProduct(node, {node.input(1), node.input(4)}, 1.0f, absl::StrCat(bias->name(), "_scale"));
      if (bias_scale == nullptr) return "the input and weight scales cannot be read";
    }

    std::vector<ir::Value*> float_inputs;
    if (node.domain() == "com.microsoft" && node.op_type() == "QLinearWhere") float_inputs.push_back(node.input(0));
    for (size_t k = 0; k < operands.size(); ++k) {
      const ir::QuantizedOperand& op = operands[k];
      ir::Value* data = node.input(op.data);
      if (nhwc_rank > 0) data = Transpose(b, node, data, ToChannelsFirst(nhwc_rank));
      float_inputs.push_back(b.Dequantize(node, data, node.input(op.scale), node.input(op.zero_point), axes[k]));
    }
    if (bias != nullptr) {
      float_inputs.push_back(b.Dequantize(node, bias, bias_scale, nullptr, axes[1]));
    }
    ir::Node* op = b.AddFloatOp(node, float_op, float_inputs, {"channels_last", "opset"});
    if (nhwc_rank > 0) fuse_qdq::SetTensorType(op->output(), ElementType::kFloat, std::nullopt);
    ir::Value* result = b.Quantize(node, op->output(), y_scale, y_zero);
    if (nhwc_rank > 0) result = Transpose(b, node, result, ToChannelsLast(nhwc_rank));
    std::string form = absl::StrCat("DQ -> ", float_op, " -> Q");
    if (bias != nullptr) absl::StrAppend(&form, ", bias DQ(bias, x_scale * w_scale)");
    if (nhwc_rank > 0) form = absl::StrCat("Transpose -> ", form, " -> Transpose (NHWC)");
    b.Replace(node, result, form);
    return "";
  }

  // One layout Transpose per (value, perm), before `before`.
  ir::Value* Transpose(qop_to_qdq::QdqBuilder& b, ir::Node& before, ir::Value* x, const std::vector<int64_t>& perm) {
    auto key = std::make_pair(x, perm);
    if (auto it = transposed_.find(key); it != transposed_.end()) return it->second;
    ir::Node* t = b.graph().AddNodeWithOutputNames(
        "Transpose", {x}, {b.graph().model()->UniqueName(absl::StrCat(x->name(), "_transposed"))}, &before);
    t->SetInts("perm", perm);
    transposed_[key] = t->output();
    return t->output();
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

  nlohmann::json ReportJson() const {
    nlohmann::json left = nlohmann::json::array();
    for (const auto& [node, why] : left_) left.push_back({{"node", node}, {"why", why}});
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& [node, form] : converted_nodes_) nodes.push_back({{"node", node}, {"into", form}});
    return {{"converted", converted_by_op_}, {"nodes", nodes}, {"left", left}};
  }

  std::string ReportText() const {
    std::string text = absl::StrCat("qop-to-qdq: ", converted_.value(), " integer ops now DQ -> float op -> Q");
    for (const auto& [op, n] : converted_by_op_) absl::StrAppend(&text, ", ", op, " ", n);
    absl::StrAppend(&text, "; ", left_.size(), " left\n");
    for (const auto& [node, why] : left_) absl::StrAppend(&text, "  left: ", node, ": ", why, "\n");
    for (const auto& [node, form] : converted_nodes_) absl::StrAppend(&text, "  converted: ", node, ": ", form, "\n");
    return text;
  }

  std::map<std::pair<ir::Value*, std::vector<int64_t>>, ir::Value*> transposed_;
  const std::set<std::string> fused_back_ = FuseQdqUnitsKernels();
  int64_t opset_ = 13;
  std::map<std::string, int64_t> converted_by_op_;
  std::vector<std::pair<std::string, std::string>> left_;
  std::vector<std::pair<std::string, std::string>> converted_nodes_;  // (node, what it became)
  Option<std::string> convert_{this,
                               "convert",
                               "fusable: only ops whose QDQ unit fuse-qdq-units turns back into the same kernel "
                               "(constant parameters, NCHW, no int32 outputs); all: every op with a QDQ form, runtime "
                               "scales and zero points too",
                               "fusable",
                               {"fusable", "all"}};
  Statistic converted_{this, "ops-converted", "Integer ops now DQ -> float op -> Q"};
  Statistic kept_{this, "ops-left", "Integer ops left as they are (see the report)"};
};

}  // namespace

std::unique_ptr<Pass> CreateQopToQdqPass() { return std::make_unique<QopToQdq>(); }

}  // namespace qopt
