// dequantize-weights: a dynamically quantized file (ONNX Runtime's
// quantize_dynamic layout) runs at FP32 speed again, for users without
// calibration data. Each
//
//   x -> DynamicQuantizeLinear -> ConvInteger(xq, wq, xz, wz) -> Cast(float)
//     -> Mul(., x_scale * w_scale)
//
// (MatMulInteger likewise) becomes Conv(x, W) with W = (wq - wz) * w_scale,
// the float values the integer weights stand for (per output channel where
// the scales are). The activations are no longer quantized at run time: the
// result carries the weights' quantization error only. Not exact, and
// opt-in; the bias Add after the Mul stays as it was. The DynamicQuantizeLinear
// nodes and the integer weights nobody reads any more are left for `dce`.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "passes/builtin_passes.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt {
namespace {

// The other input of a two-input Mul, given one of them.
ir::Value* OtherInput(const ir::Node& mul, const ir::Value* one) {
  if (mul.num_inputs() != 2) return nullptr;
  if (mul.input(0) == one) return mul.input(1);
  if (mul.input(1) == one) return mul.input(0);
  return nullptr;
}

bool IsDefaultOp(const ir::Node* n, absl::string_view op) {
  return n != nullptr && n->Is(op) && n->is_default_domain();
}

class DequantizeWeights : public Pass {
 public:
  absl::string_view name() const override { return "dequantize-weights"; }
  absl::string_view summary() const override {
    return "Turn dynamically quantized ConvInteger/MatMulInteger sites into float Conv/MatMul with the integer "
           "weights' float values (FP32 speed, weight quantization error only; not exact)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    left_.clear();
    converted_by_op_.clear();
    ir::Graph& graph = model.graph();
    bool changed = false;
    for (ir::Node* node : graph.node_list()) {
      if (node->is_erased() || !node->is_default_domain() || !(node->Is("ConvInteger") || node->Is("MatMulInteger"))) {
        continue;
      }
      const std::string why = Convert(graph, *node);
      if (why.empty()) {
        changed = true;
      } else {
        left_.push_back({node->name().empty() ? node->output()->name() : node->name(), why});
        ++left_count_;
      }
    }
    if (context.report != nullptr) {
      nlohmann::json left = nlohmann::json::array();
      for (const auto& [node, why] : left_) left.push_back({{"node", node}, {"why", why}});
      std::string text = absl::StrCat("dequantize-weights: ", converted_.value(), " sites now float");
      for (const auto& [op, n] : converted_by_op_) absl::StrAppend(&text, ", ", op, " ", n);
      absl::StrAppend(&text, "; ", left_.size(), " left\n");
      for (const auto& [node, why] : left_) absl::StrAppend(&text, "  left: ", node, ": ", why, "\n");
      context.report->AddAnalysis("dequantize-weights", {{"converted", converted_by_op_}, {"left", left}}, text);
    }
    return changed;
  }

 private:
  std::string Convert(ir::Graph& graph, ir::Node& op) {
    const bool conv = op.Is("ConvInteger");
    // x -> DynamicQuantizeLinear: the float activation, its scale and zero point.
    const ir::Node* dql = op.input(0) != nullptr ? op.input(0)->producer() : nullptr;
    if (!IsDefaultOp(dql, "DynamicQuantizeLinear") || dql->output(0) != op.input(0)) {
      return "its input is not made by a DynamicQuantizeLinear";
    }
    if (op.num_inputs() < 3 || op.input(2) != dql->output(2))
      return "its input zero point is not the DynamicQuantizeLinear's";
    ir::Value* x = dql->input(0);
    const ir::Value* x_scale = dql->output(1);
    // Integer weights and their zero point: constants.
    const ir::Tensor* wq = op.input(1) != nullptr ? op.input(1)->constant() : nullptr;
    const ir::Tensor* wz = op.num_inputs() > 3 && op.input(3) != nullptr ? op.input(3)->constant() : nullptr;
    if (wq == nullptr) return "its weights are not a constant";
    if (op.num_inputs() > 3 && op.input(3) != nullptr && wz == nullptr)
      return "its weight zero point is not a constant";
    // -> Cast(float) -> Mul(., Mul(x_scale, w_scale)).
    if (!op.output()->has_uses() || op.output()->uses().size() != 1 || op.output()->is_graph_output()) {
      return "its int32 output is not read by one Cast";
    }
    ir::Node* cast = op.output()->uses()[0].user;
    if (!IsDefaultOp(cast, "Cast") || cast->GetInt("to").value_or(0) != 1 || cast->output()->uses().size() != 1 ||
        cast->output()->is_graph_output()) {
      return "its int32 output is not read by one Cast to float";
    }
    ir::Node* scale_mul = cast->output()->uses()[0].user;
    if (!IsDefaultOp(scale_mul, "Mul")) return "the Cast is not read by the scale Mul";
    const ir::Value* scales = OtherInput(*scale_mul, cast->output());
    const ir::Node* scales_mul = scales != nullptr ? scales->producer() : nullptr;
    const ir::Value* w_scale_value = IsDefaultOp(scales_mul, "Mul") ? OtherInput(*scales_mul, x_scale) : nullptr;
    const ir::Tensor* w_scale = w_scale_value != nullptr ? w_scale_value->constant() : nullptr;
    if (w_scale == nullptr) return "the output is not scaled by x_scale * (constant weight scale)";

    // W = (wq - wz) * w_scale, per output channel where the scale is.
    absl::StatusOr<std::vector<int64_t>> q = wq->ToInt64s();
    absl::StatusOr<std::vector<double>> s = w_scale->ToDoubles();
    std::vector<int64_t> z = {0};
    if (wz != nullptr) {
      absl::StatusOr<std::vector<int64_t>> zs = wz->ToInt64s();
      if (!zs.ok() || zs->empty()) return "its weight zero point cannot be read";
      z = *zs;
    }
    if (!q.ok() || !s.ok() || s->empty()) return "its weights or weight scale cannot be read";
    const std::vector<int64_t>& dims = wq->dims();
    if (dims.size() < 2) return "weights of rank < 2";
    // The channel of each weight element: Conv's output channel (axis 0),
    // MatMul's column (the last axis).
    const int64_t channels = conv ? dims[0] : dims.back();
    if ((s->size() != 1 && static_cast<int64_t>(s->size()) != channels) ||
        (z.size() != 1 && static_cast<int64_t>(z.size()) != channels)) {
      return "weight scale or zero point is neither per tensor nor per output channel";
    }
    const int64_t per_channel_block = conv ? static_cast<int64_t>(q->size()) / dims[0] : 1;
    std::vector<float> w(q->size());
    for (size_t i = 0; i < q->size(); ++i) {
      const int64_t c = conv ? static_cast<int64_t>(i) / per_channel_block : static_cast<int64_t>(i) % channels;
      const double scale = (*s)[s->size() == 1 ? 0 : c];
      const int64_t zero = z[z.size() == 1 ? 0 : c];
      w[i] = static_cast<float>(static_cast<double>((*q)[i] - zero) * scale);
    }
    ir::Value* weights = graph.AddInitializer(absl::StrCat(op.input(1)->name(), "_float"),
                                              ir::Tensor::FromFloats(dims, w));

    // The float op in place of the scaled output; a Conv takes the bias Add
    // after it (quantize_dynamic adds a Reshape of the float bias) as its
    // bias.
    std::vector<ir::Value*> inputs = {x, weights};
    ir::Node* bias_add = conv ? BiasAdd(*scale_mul->output(), channels) : nullptr;
    if (bias_add != nullptr) inputs.push_back(BiasValues(graph, *bias_add, *scale_mul->output(), channels));
    ir::Node* last = bias_add != nullptr ? bias_add : scale_mul;
    ir::Value* out = last->output();
    const std::string name = out->name();
    ir::Node* float_op = graph.AddNodeWithOutputNames(conv ? "Conv" : "MatMul", inputs,
                                                      {graph.model()->UniqueName(absl::StrCat(name, "_float"))}, last,
                                                      "", op.name());
    for (const ir::Attribute& a : op.attributes())
      float_op->mutable_attributes().emplace_back(ir::Attribute(a.proto()));
    fuse_qdq::SetTensorType(float_op->output(), ir::ElementType::kFloat, out->shape());
    graph.ReplaceAllUsesWith(out, float_op->output());
    if (bias_add != nullptr) {
      ir::Node* reshape = bias_add->input(0) == scale_mul->output() ? bias_add->input(1)->producer()
                                                                    : bias_add->input(0)->producer();
      graph.EraseNode(bias_add);
      if (reshape != nullptr && !reshape->output()->has_uses() && !reshape->output()->is_graph_output()) {
        graph.EraseNode(reshape);
      }
    }
    graph.EraseNode(scale_mul);
    graph.EraseNode(cast);
    graph.EraseNode(&op);
    graph.RenameValue(float_op->output(), name);
    ++converted_by_op_[conv ? "ConvInteger" : "MatMulInteger"];
    ++converted_;
    return "";
  }

  // The float values of a per-channel bias operand: a constant, or a
  // Reshape of one (quantize_dynamic's layout); null otherwise.
  static const ir::Tensor* BiasConstant(const ir::Value* v) {
    if (v == nullptr) return nullptr;
    if (const ir::Tensor* t = v->constant()) return t;
    const ir::Node* reshape = v->producer();
    if (!IsDefaultOp(reshape, "Reshape") || reshape->input(0) == nullptr) return nullptr;
    return reshape->input(0)->constant();
  }

  // The Add of a per-channel float constant that alone reads `scaled`.
  static ir::Node* BiasAdd(const ir::Value& scaled, int64_t channels) {
    if (scaled.uses().size() != 1 || scaled.is_graph_output()) return nullptr;
    ir::Node* add = scaled.uses()[0].user;
    if (!IsDefaultOp(add, "Add")) return nullptr;
    const ir::Value* other = OtherInput(*add, &scaled);
    const ir::Tensor* bias = BiasConstant(other);
    if (bias == nullptr || bias->type() != ir::ElementType::kFloat || bias->num_elements() != channels) return nullptr;
    // Broadcast per channel of NCHW as the Add sees it: [C, 1, 1] or
    // [1, C, 1, 1] (the constant's dims, or the Reshape's constant shape).
    std::vector<int64_t> dims;
    if (other->constant() != nullptr) {
      dims = other->constant()->dims();
    } else {
      const ir::Value* target = other->producer()->input(1);
      absl::StatusOr<std::vector<int64_t>> shape = target != nullptr && target->constant() != nullptr
                                                       ? target->constant()->ToInt64s()
                                                       : absl::StatusOr<std::vector<int64_t>>(absl::NotFoundError(""));
      if (!shape.ok()) return nullptr;
      dims = *shape;
    }
    // One -1 is inferred from the element count; a 0 (copy a dim) is not known here.
    int64_t known = 1;
    int inferred = 0;
    for (int64_t d : dims) {
      if (d == -1) {
        ++inferred;
      } else if (d <= 0) {
        return nullptr;
      } else {
        known *= d;
      }
    }
    if (inferred > 1 || (inferred == 1 && (known == 0 || channels % known != 0))) return nullptr;
    for (int64_t& d : dims) {
      if (d == -1) d = channels / known;
    }
    int64_t non_one = 0;
    for (int64_t d : dims) non_one += d != 1;
    const size_t rank = dims.size();
    const bool channel_axis = rank >= 3 && dims[rank - 3] == channels;  // [.., C, H, W]
    return (non_one <= 1 && (channels == 1 || channel_axis)) ? add : nullptr;
  }

  static ir::Value* BiasValues(ir::Graph& graph, const ir::Node& add, const ir::Value& scaled, int64_t channels) {
    const ir::Tensor* bias = BiasConstant(OtherInput(add, &scaled));
    absl::StatusOr<std::vector<double>> values = bias->ToDoubles();
    std::vector<float> b(values->begin(), values->end());
    return graph.AddInitializer(absl::StrCat(scaled.name(), "_bias"), ir::Tensor::FromFloats({channels}, b));
  }

  std::map<std::string, int64_t> converted_by_op_;
  std::vector<std::pair<std::string, std::string>> left_;
  Statistic converted_{this, "sites-converted", "ConvInteger/MatMulInteger sites now float Conv/MatMul"};
  Statistic left_count_{this, "sites-left", "Integer sites left as they are (see the report)"};
};

}  // namespace

std::unique_ptr<Pass> CreateDequantizeWeightsPass() { return std::make_unique<DequantizeWeights>(); }

}  // namespace qopt
