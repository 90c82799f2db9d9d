// per-channel: a QDQ file quantized with one scale per weight tensor gets
// one scale per output channel, as quantize{per-channel=true} would have
// written it. Per-tensor scales are set by the channel with the largest
// weights, so channels with small weights keep only a few integer levels;
// the recognizer loses most of its decoded strings that way.
//
// The integers cannot simply be requantized: they are already rounded to the
// coarse grid. The float weights are needed, and come from
//   - the FP32 model the file was quantized from (weights-from=), matched by
//     the weight's name (`<name>_quantized`) or the node's name, with a
//     structural check: same dims, read by the same op type at the same
//     input, and quantizing them with the file's scale gives the file's
//     integers (up to rounding ties: fp32_weights.h);
//   - or the file itself, where a weight is still a float constant behind
//     QuantizeLinear -> DequantizeLinear.
// A layer without a float source is left as it is, with the reason in the
// report. The scales are symmetric per channel from the same helpers and
// rounding as quantize (analysis/quant_math.h); the int32 bias follows with
// scale input_scale * weight_scale[c] (* Gemm's beta), from the FP32 bias
// where it matches the file's, else from the file's int32 values.
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "analysis/qdq_params.h"
#include "analysis/quant_math.h"
#include "ir/op_traits.h"
#include "passes/builtin_passes.h"
#include "passes/convert/fp32_weights.h"
#include "passes/convert/requantize_util.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt {
namespace {

using convert::EraseIfUnused;
using convert::ReplaceConstantInput;
using convert::WeightChannelAxis;
using fuse_qdq::NodeLabel;

// A DequantizeLinear of an integer constant, or of QuantizeLinear(float
// constant): a weight, not an activation.
bool IsWeightDequantize(const ir::Node& dq) {
  const ir::Value* in = dq.input(0);
  if (in == nullptr) return false;
  if (in->constant() != nullptr) return true;
  const ir::Node* q = in->producer();
  return q != nullptr && analysis::IsQuantizeLinear(*q) && q->input(0) != nullptr && q->input(0)->constant() != nullptr;
}

std::string Num(double v) { return absl::StrFormat("%.6g", v); }

// What requantizing one node's int32 bias needs, checked before anything
// changes.
struct BiasPlan {
  ir::Node* dq = nullptr;  // null: no int32 bias to follow (none, or float)
  std::vector<int64_t> ints;
  double old_scale = 0;
  int axis = 0;  // the bias dim holding the channels
  float input_scale = 0;
  bool input_scale_known = false;
  float beta = 1.0f;
  std::vector<double> floats;  // the bias values to requantize
  std::string from;            // where they came from, for the report
};

// One layer of the report.
struct Converted {
  std::string node, weight, source, bias;
  int axis = 0;
  int64_t channels = 0;
  double old_scale = 0, new_min = 0, new_max = 0;
  int64_t scales_enlarged = 0;
  int64_t bias_saturated = 0;
};

class PerChannel : public Pass {
 public:
  absl::string_view name() const override { return "per-channel"; }
  absl::string_view summary() const override {
    return "Requantize per-tensor QDQ weights per output channel from their float values (the FP32 model's, "
           "weights-from=, or float constants in the file); the int32 biases follow";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    converted_.clear();
    left_.clear();
    auto fp32 = convert::LoadFp32Model("per-channel", "weights-from", weights_from_.value());
    if (!fp32.ok()) return fp32.status();
    fp32_ = *std::move(fp32);
    opset_ = model.OpsetVersion("").value_or(1);
    ir::Graph& graph = model.graph();
    // Nodes grouped by their weight's DequantizeLinear (a weight may be
    // shared), in graph order.
    std::vector<ir::Node*> order;
    std::map<ir::Node*, std::vector<ir::Node*>> readers;
    for (ir::Node* node : graph.node_list()) {
      if (!node->is_default_domain() || !ir::HasWeightInput(*node)) continue;
      ir::Value* w = node->input(ir::FindOpTraits(*node)->weight_input);
      ir::Node* dq = w != nullptr ? w->producer() : nullptr;
      if (dq == nullptr || !analysis::IsDequantizeLinear(*dq) || !IsWeightDequantize(*dq)) continue;
      if (readers[dq].empty()) order.push_back(dq);
      readers[dq].push_back(node);
    }
    bool changed = false;
    for (ir::Node* dq : order) {
      const std::vector<ir::Node*>& nodes = readers[dq];
      const std::string why = Convert(graph, *dq, nodes);
      if (why == kAlreadyPerChannel) {
        already_ += static_cast<int64_t>(nodes.size());
      } else if (!why.empty()) {
        for (const ir::Node* n : nodes) left_.push_back({NodeLabel(*n), why});
        layers_left_ += static_cast<int64_t>(nodes.size());
      } else {
        changed = true;
      }
    }
    if (context.report != nullptr) context.report->AddAnalysis("per-channel", ReportJson(), ReportText());
    return changed;
  }

 private:
  static constexpr absl::string_view kAlreadyPerChannel = "already per channel";

  // Converts the weight of `dq` and the biases of the `nodes` reading it;
  // the reason when it changes nothing.
  std::string Convert(ir::Graph& graph, ir::Node& dq, const std::vector<ir::Node*>& nodes) {
    const std::optional<analysis::QdqParams> p = analysis::ReadQdqParams(dq);
    if (!p->params_constant()) return "its weight scale or zero point is not a constant";
    if (p->block_size != 0) return "its weight is quantized in blocks";
    if (p->scales.size() != 1) return std::string(kAlreadyPerChannel);
    if (opset_ < 13) {
      return absl::StrCat("per-axis DequantizeLinear needs opset >= 13 (the model has ", opset_,
                          "); run 'upgrade-opset' first");
    }
    auto range = analysis::QuantizedRange(p->quant_type, /*symmetric=*/true, /*reduce_range=*/false);
    auto clip = analysis::FullRange(p->quant_type);
    if (!range.ok() || !clip.ok() || p->quant_type == ir::ElementType::kInt32) {
      return absl::StrCat("its weight is ", ir::ElementTypeName(p->quant_type), ", not a weight type");
    }
    const float old_scale = static_cast<float>(p->scales[0]);
    const int64_t old_zero = p->zero_points.empty() ? 0 : p->zero_points[0];

    // Every reader takes it as its weight, along the same channel axis.
    ir::Value* w = dq.output();
    if (w->is_graph_output()) return "its weight is also a graph output";
    for (const ir::Use& use : w->uses()) {
      if (use.is_graph_output()) continue;
      bool listed = false;
      for (const ir::Node* n : nodes) listed = listed || n == use.user;
      if (!listed || use.index != ir::FindOpTraits(*use.user)->weight_input) {
        return absl::StrCat("its weight's DequantizeLinear is also read by ", NodeLabel(*use.user), " as input ",
                            use.index);
      }
    }
    const int axis = WeightChannelAxis(*nodes[0]);
    for (const ir::Node* n : nodes) {
      if (WeightChannelAxis(*n) != axis) return "its weight is shared by nodes with different channel axes";
    }
    const ir::Node& first = *nodes[0];
    const ir::OpTraits& traits = *ir::FindOpTraits(first);

    // The float weights.
    std::vector<double> values;
    std::vector<int64_t> dims;
    std::string source, weight_name;
    const ir::Tensor* fp32_bias = nullptr;
    std::string fp32_bias_name;
    ir::Value* in = dq.input(0);
    if (const ir::Tensor* ints = in->constant()) {
      weight_name = in->name();
      dims = ints->dims();
      if (fp32_ == nullptr) return "no float source: its weight is stored as integers (give weights-from=FP32.onnx)";
      convert::Fp32Weights found = convert::FindFp32Weights(*fp32_, first, traits.weight_input, traits.bias_input,
                                                            *ints, in->name());
      if (!found.found) {
        return absl::StrCat(
            "no float source: ", weights_from_.value(), " has no initializer for '", in->name(), "'",
            first.name().empty() ? "" : absl::StrCat(" nor a ", first.op_type(), " '", first.name(), "'"));
      }
      if (!found.why_not.empty()) return found.why_not;
      auto q = ints->ToInt64s();
      auto f = found.weights->ToDoubles();
      if (!q.ok() || !f.ok()) return "its weights cannot be read";
      const convert::QuantizedMismatch m = convert::CompareWithQuantized(*f, *q, old_scale, old_zero, *clip);
      if (!convert::SameSource(m, q->size())) {
        return absl::StrCat("FP32 weight '", found.weight_name, "' does not match the quantized weight: ", m.total(),
                            " of ", q->size(), " elements differ");
      }
      values = std::move(*f);
      source = absl::StrCat("FP32 '", found.weight_name, "'");
      fp32_bias = found.bias;
      fp32_bias_name = found.bias_name;
    } else {
      // QuantizeLinear(float constant) -> DequantizeLinear: the file's own floats.
      const ir::Node& q = *in->producer();
      const std::optional<analysis::QdqParams> qp = analysis::ReadQdqParams(q);
      if (!analysis::SameQuantization(*qp, *p)) return "its QuantizeLinear and DequantizeLinear differ";
      const ir::Tensor& f = *q.input(0)->constant();
      auto data = f.ToDoubles();
      if (f.type() != ir::ElementType::kFloat || !data.ok()) return "its float constant cannot be read";
      values = std::move(*data);
      dims = f.dims();
      weight_name = q.input(0)->name();
      source = absl::StrCat("float constant '", weight_name, "' in the file");
    }
    if (axis >= static_cast<int>(dims.size())) {
      return absl::StrCat("its weight has rank ", dims.size(), ", no channel axis ", axis);
    }
    if (first.Is("MatMul") && dims.size() != 2) return "a MatMul weight of rank other than 2";
    const int64_t channels = dims[axis];

    // The biases, checked before anything changes.
    std::vector<BiasPlan> plans(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      const ir::Node& n = *nodes[i];
      if (n.Is("ConvTranspose") && n.GetInt("group").value_or(1) != 1) {
        return "ConvTranspose with group > 1: its weight's axis 1 holds output channels / group, its bias all";
      }
      const std::string why = PlanBias(n, traits.bias_input, channels, old_scale, plans[i]);
      if (!why.empty()) return nodes.size() == 1 ? why : absl::StrCat(NodeLabel(n), ": ", why);
    }

    // Symmetric per channel, as quantize{per-channel=true}; and as there,
    // an int8/int16 channel scale too small for its int32 bias is enlarged.
    analysis::TensorParams params = analysis::ComputeTensorParams(values, dims, axis, *range, /*symmetric=*/true);
    int64_t enlarged = 0;
    for (BiasPlan& plan : plans) {
      if (plan.dq == nullptr) continue;
      ChooseBiasFloats(plan, nodes.size() == 1 ? fp32_bias : nullptr, fp32_bias_name);
      enlarged += EnlargeScalesForBias(p->quant_type, plan, params);
    }
    const std::vector<int64_t> q = analysis::QuantizeTensor(values, dims, params, *clip);
    ir::Tensor ints(p->quant_type, dims);
    ints.SetRawData(analysis::PackIntegers(q, p->quant_type));
    const std::string ints_name = in->constant() != nullptr ? in->name() : absl::StrCat(weight_name, "_quantized");
    const std::vector<int64_t> cdims = {channels};
    ir::Tensor zero_points(p->quant_type, cdims);
    zero_points.SetRawData(analysis::PackIntegers(params.zero_points, p->quant_type));
    ir::Node* q_node = in->constant() == nullptr ? in->producer() : nullptr;
    ReplaceConstantInput(graph, dq, 0, std::move(ints), ints_name);
    // A QuantizeLinear nobody reads any more goes first, so that its scale
    // and zero point, then read by the DequantizeLinear alone, keep their names.
    if (q_node != nullptr && !q_node->output()->has_uses() && !q_node->output()->is_graph_output()) {
      const ir::NodeInputs q_inputs = q_node->inputs();
      graph.EraseNode(q_node);
      for (ir::Value* v : q_inputs) {
        if (v != nullptr && v != dq.input(1) && v != dq.input(2)) EraseIfUnused(graph, v);
      }
    }
    ReplaceConstantInput(graph, dq, 1, ir::Tensor::FromFloats(cdims, params.scales), absl::StrCat(ints_name, "_scale"));
    ReplaceConstantInput(graph, dq, 2, std::move(zero_points), absl::StrCat(ints_name, "_zero_point"));
    dq.SetInt("axis", axis);
    ++weights_converted_;

    double lo = params.scales[0], hi = params.scales[0];
    for (float s : params.scales) {
      lo = std::min<double>(lo, s);
      hi = std::max<double>(hi, s);
    }
    for (size_t i = 0; i < nodes.size(); ++i) {
      Converted c{NodeLabel(*nodes[i]), weight_name, source, "none", axis, channels, old_scale, lo, hi, enlarged, 0};
      if (plans[i].dq != nullptr) c.bias = RequantizeBias(graph, plans[i], params.scales, c.bias_saturated);
      converted_.push_back(std::move(c));
    }
    return "";
  }

  // Checks `node`'s bias and fills `plan`; the reason it cannot follow.
  std::string PlanBias(const ir::Node& node, int bias_input, int64_t channels, float old_w_scale, BiasPlan& plan) {
    ir::Value* b = bias_input >= 0 ? node.input(bias_input) : nullptr;
    ir::Node* dq = b != nullptr ? b->producer() : nullptr;
    if (dq == nullptr || !analysis::IsDequantizeLinear(*dq)) return "";  // no bias, or a float one: nothing to follow
    const std::optional<analysis::QdqParams> p = analysis::ReadQdqParams(*dq);
    const ir::Tensor* ints = dq->input(0) != nullptr ? dq->input(0)->constant() : nullptr;
    bool zero = true;
    for (int64_t z : p->zero_points) zero = zero && z == 0;
    if (ints == nullptr || ints->type() != ir::ElementType::kInt32 || !p->params_constant() || p->scales.size() != 1 ||
        !zero) {
      return "its bias is not an int32 constant quantized per tensor with zero point 0";
    }
    if (b->uses().size() != 1 || b->is_graph_output()) return "its bias's DequantizeLinear is shared";
    // The channels along one dim: [C], or [1, C] for Gemm.
    const std::vector<int64_t>& dims = ints->dims();
    int axis = -1, others = 0;
    for (size_t d = 0; d < dims.size(); ++d) {
      if (dims[d] == channels && axis < 0) {
        axis = static_cast<int>(d);
      } else if (dims[d] != 1) {
        ++others;
      }
    }
    if (axis < 0 || others > 0) {
      return absl::StrCat("its bias has dims [", absl::StrJoin(dims, ","), "], not one value per channel (", channels,
                          ")");
    }
    auto values = ints->ToInt64s();
    if (!values.ok()) return "its bias cannot be read";
    plan.dq = dq;
    plan.ints = std::move(*values);
    plan.old_scale = p->scales[0];
    plan.axis = axis;
    plan.beta = node.Is("Gemm") ? node.GetFloat("beta").value_or(1.0f) : 1.0f;
    // The input's scale, as quantize multiplied it into the bias scale;
    // without an input DequantizeLinear, what the old bias scale implies.
    const ir::Node* in_dq = analysis::DequantizeProducer(node.input(0));
    const std::optional<analysis::QdqParams> ip = in_dq ? analysis::ReadQdqParams(*in_dq) : std::nullopt;
    if (ip && ip->scale_constant && ip->scales.size() == 1) {
      plan.input_scale = static_cast<float>(ip->scales[0]);
      plan.input_scale_known = true;
    } else {
      plan.input_scale = static_cast<float>(plan.old_scale / (static_cast<double>(old_w_scale) * plan.beta));
    }
    return "";
  }

  // The bias values to requantize: the FP32 bias where it is the one the
  // file's integers were made from, else what those integers stand for.
  static void ChooseBiasFloats(BiasPlan& plan, const ir::Tensor* fp32_bias, const std::string& fp32_bias_name) {
    const size_t n = plan.ints.size();
    plan.floats.resize(n);
    plan.from = "its int32 values";
    for (size_t i = 0; i < n; ++i) plan.floats[i] = static_cast<double>(plan.ints[i]) * plan.old_scale;
    if (fp32_bias == nullptr || static_cast<size_t>(fp32_bias->num_elements()) != n) return;
    auto f = fp32_bias->ToDoubles();
    auto clip = analysis::FullRange(ir::ElementType::kInt32);
    if (f.ok() && clip.ok() &&
        convert::SameSource(convert::CompareWithQuantized(*f, plan.ints, static_cast<float>(plan.old_scale), 0, *clip),
                            n)) {
      plan.floats = std::move(*f);
      plan.from = absl::StrCat("FP32 '", fp32_bias_name, "'");
    }
  }

  // quantize's rule (analysis::WeightScaleForBias): int8/int16 weights with
  // zero points 0 get a channel scale large enough for the int32 bias, so
  // that a channel of near-zero weights (a BatchNormalization folded with a
  // zero scale) keeps its bias. Returns how many scales it enlarged.
  int64_t EnlargeScalesForBias(ir::ElementType type, const BiasPlan& plan, analysis::TensorParams& params) {
    if (type != ir::ElementType::kInt8 && type != ir::ElementType::kInt16) return 0;
    for (int64_t z : params.zero_points) {
      if (z != 0) return 0;
    }
    int64_t enlarged = 0;
    for (size_t c = 0; c < params.scales.size() && c < plan.floats.size(); ++c) {
      if (std::optional<float> s = analysis::WeightScaleForBias(params.scales[c], plan.input_scale,
                                                                std::abs(plan.floats[c]))) {
        params.scales[c] = *s;
        ++enlarged;
      }
    }
    scales_enlarged_ += enlarged;
    return enlarged;
  }

  // The new int32 bias for the per-channel weight scales; says where its
  // float values came from. Values beyond int32 are clamped and counted.
  std::string RequantizeBias(ir::Graph& graph, const BiasPlan& plan, const std::vector<float>& w_scales,
                             int64_t& saturated) {
    const size_t n = plan.ints.size();
    const std::vector<double>& floats = plan.floats;
    std::vector<float> scales(n);
    std::vector<int64_t> q(n);
    for (size_t c = 0; c < n; ++c) {
      scales[c] = plan.input_scale * w_scales[c] * plan.beta;  // in float, as quantize
      const double s = scales[c];
      const double v = s > 0 ? std::nearbyint(floats[c] / s) : 0.0;
      if (v > INT32_MAX || v < INT32_MIN) ++saturated;
      q[c] = static_cast<int64_t>(std::clamp(v, double{INT32_MIN}, double{INT32_MAX}));
    }
    bias_saturated_ += saturated;
    ir::Node& dq = *plan.dq;
    const std::string base = dq.input(0)->name();
    ir::Tensor ints(ir::ElementType::kInt32, dq.input(0)->constant()->dims());
    ints.SetRawData(analysis::PackIntegers(q, ir::ElementType::kInt32));
    const std::vector<int64_t> cdims = {static_cast<int64_t>(n)};
    ir::Tensor zero(ir::ElementType::kInt32, cdims);
    zero.SetRawData(analysis::PackIntegers(std::vector<int64_t>(n, 0), ir::ElementType::kInt32));
    ReplaceConstantInput(graph, dq, 0, std::move(ints), base);
    ReplaceConstantInput(graph, dq, 1, ir::Tensor::FromFloats(cdims, scales), absl::StrCat(base, "_scale"));
    ReplaceConstantInput(graph, dq, 2, std::move(zero), absl::StrCat(base, "_zero_point"));
    dq.SetInt("axis", plan.axis);
    ++biases_requantized_;
    return absl::StrCat("requantized from ", plan.from,
                        plan.input_scale_known ? "" : " (input scale from the old bias)",
                        saturated > 0 ? absl::StrCat(", ", saturated, " values clamped to int32") : "");
  }

  nlohmann::json ReportJson() const {
    nlohmann::json converted = nlohmann::json::array(), left = nlohmann::json::array();
    for (const Converted& c : converted_) {
      converted.push_back({{"node", c.node},
                           {"weight", c.weight},
                           {"source", c.source},
                           {"axis", c.axis},
                           {"channels", c.channels},
                           {"old_scale", c.old_scale},
                           {"new_scale_min", c.new_min},
                           {"new_scale_max", c.new_max},
                           {"scales_enlarged_for_bias", c.scales_enlarged},
                           {"bias", c.bias},
                           {"bias_saturated", c.bias_saturated}});
    }
    for (const auto& [node, why] : left_) left.push_back({{"node", node}, {"why", why}});
    return {{"weights_from", weights_from_.value()},
            {"converted", converted},
            {"left", left},
            {"already_per_channel", already_.value()}};
  }

  std::string ReportText() const {
    std::string text = absl::StrCat("per-channel: ", converted_.size(), " layers now per channel, ", left_.size(),
                                    " left, ", already_.value(), " already per channel\n");
    for (const Converted& c : converted_) {
      absl::StrAppend(&text, "  converted: ", c.node, ": '", c.weight, "' from ", c.source, ", axis ", c.axis, ", ",
                      c.channels, " channels, scale ", Num(c.old_scale), " -> [", Num(c.new_min), ", ", Num(c.new_max),
                      "]",
                      c.scales_enlarged > 0 ? absl::StrCat(" (", c.scales_enlarged, " enlarged for the bias)") : "",
                      "; bias ", c.bias, "\n");
    }
    for (const auto& [node, why] : left_) absl::StrAppend(&text, "  left: ", node, ": ", why, "\n");
    return text;
  }

  Option<std::string> weights_from_{
      this, "weights-from", "The FP32 model the file was quantized from (its float weights, matched by name)", ""};
  Statistic weights_converted_{this, "weights-converted", "Weight DequantizeLinear nodes now per channel"};
  Statistic biases_requantized_{this, "biases-requantized", "int32 biases requantized for the new weight scales"};
  Statistic scales_enlarged_{this, "weight-scales-enlarged",
                             "Channel scales enlarged so that the int32 bias fits (as quantize does)"};
  Statistic bias_saturated_{this, "bias-values-saturated", "int32 bias values clamped"};
  Statistic layers_left_{this, "layers-left", "Layers left per tensor (see the report)"};
  Statistic already_{this, "already-per-channel", "Layers whose weights were per channel already"};

  std::unique_ptr<ir::Model> fp32_;
  int64_t opset_ = 0;
  std::vector<Converted> converted_;
  std::vector<std::pair<std::string, std::string>> left_;
};

}  // namespace

std::unique_ptr<Pass> CreatePerChannelPass() { return std::make_unique<PerChannel>(); }

}  // namespace qopt
