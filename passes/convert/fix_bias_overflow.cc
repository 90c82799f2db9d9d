// fix-bias-overflow: a QDQ file whose int32 bias saturates (the findings of
// the bias-overflow analysis) gets weight scales large enough for its bias.
// The bias scale is input_scale * weight_scale, so a weight scale near 1e-8
// makes it ~1e-15 and any ordinary bias exceeds int32; integer kernels then
// add a clipped bias. Raising the weight scale of the offending channel (or
// of the tensor, per tensor) costs only the resolution of weights that are
// already negligible, and lets the bias be stored.
//
// The weights' float values are their DequantizeLinear values, the bias's
// its float constant or int32 * scale. An int32 value stored at the limits
// was clipped when the file was written and its true value is gone from the
// file: it comes from the FP32 model (bias-from=, matched as per-channel
// matches weights-from=) or else is requantized from the clipped value, and
// the report says which.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/qdq_params.h"
#include "analysis/quant_math.h"
#include "ir/op_traits.h"
#include "passes/builtin_passes.h"
#include "passes/convert/fp32_weights.h"
#include "passes/convert/requantize_util.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt {
namespace {

constexpr double kInt32Max = 2147483647.0;

// What changed in one output channel (per tensor: channel -1, the tensor).
struct ChannelFix {
  int64_t channel = -1;
  double old_scale = 0, new_scale = 0;
  int64_t saturated_before = 0, saturated_after = 0;
  int64_t unrecoverable = 0;  // int32 values clipped when the file was written
  int64_t pruned = 0;
  double max_weight_change = 0;  // in float
};

struct UnitFix {
  std::string node, weight, bias, bias_from;
  bool per_channel = false;
  std::vector<ChannelFix> channels;
};

// A saturating unit, read from the file.
struct Unit {
  ir::Node* node = nullptr;
  ir::Node* w_dq = nullptr;
  ir::Node* b_dq = nullptr;  // null for a float bias
  analysis::QdqParams wp;
  double x_scale = 0;
  int axis = 0;  // the weight's output-channel axis
  int64_t channels = 0;
  std::vector<int64_t> w_ints;
  std::vector<double> bias;   // float values, one per channel
  std::vector<bool> clipped;  // int32 value at the limits, true value unknown
  std::vector<bool> saturated_in_file;
  std::vector<double> bias_scale;  // per channel, as the file has it
  int bias_axis = 0;               // the bias dim holding the channels
  std::string bias_from;
};

class FixBiasOverflow : public Pass {
 public:
  absl::string_view name() const override { return "fix-bias-overflow"; }
  absl::string_view summary() const override {
    return "Raise the weight scale of Conv/Gemm channels whose int32 bias saturates (strategy=rescale), "
           "or first zero their negligible weights (strategy=prune); weights and bias are requantized";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    fixed_.clear();
    left_.clear();
    auto fp32 = convert::LoadFp32Model("fix-bias-overflow", "bias-from", bias_from_.value());
    if (!fp32.ok()) return fp32.status();
    fp32_ = *std::move(fp32);
    ir::Graph& graph = model.graph();
    const std::vector<ir::Node*> nodes = graph.node_list();  // a copy: Fix adds initializers, not nodes
    bool changed = false;
    for (ir::Node* node : nodes) {
      if (!node->is_default_domain() || !ir::HasWeightInput(*node) || ir::FindOpTraits(*node)->bias_input < 0) {
        continue;
      }
      Unit unit;
      if (!Read(*node, unit)) continue;
      std::vector<int64_t> bad = SaturatedChannels(unit);
      if (bad.empty()) continue;
      if (fp32_ != nullptr && unit.b_dq != nullptr) RecoverBias(unit);
      if (std::string why = Unfixable(unit); !why.empty()) {
        left_.push_back({fuse_qdq::NodeLabel(*node), why});
        continue;
      }
      Fix(graph, unit, bad, context);
      changed = true;
    }
    if (context.report != nullptr) context.report->AddAnalysis("fix-bias-overflow", ReportJson(), ReportText());
    return changed;
  }

 private:
  // A QDQ unit DQ(x) -> op <- DQ(integer weight), with a float bias or an
  // int32 bias behind a DequantizeLinear; false for anything else (the
  // analysis does not check those either).
  static bool Read(ir::Node& node, Unit& u) {
    const ir::OpTraits& traits = *ir::FindOpTraits(node);
    ir::Value* w = node.input(traits.weight_input);
    ir::Value* b = node.input(traits.bias_input);
    const ir::Node* x_dq = analysis::DequantizeProducer(node.input(0));
    ir::Node* w_dq = w != nullptr ? w->producer() : nullptr;
    if (b == nullptr || x_dq == nullptr || w_dq == nullptr || !analysis::IsDequantizeLinear(*w_dq) ||
        w_dq->input(0) == nullptr || w_dq->input(0)->constant() == nullptr) {
      return false;
    }
    auto xp = analysis::ReadQdqParams(*x_dq);
    auto wp = analysis::ReadQdqParams(*w_dq);
    if (!xp || !wp || xp->scales.size() != 1 || wp->scales.empty() || wp->block_size > 0) return false;
    const std::vector<int64_t>& dims = w_dq->input(0)->constant()->dims();
    u.node = &node;
    u.w_dq = w_dq;
    u.wp = *wp;
    u.x_scale = xp->scales[0];
    u.axis = convert::WeightChannelAxis(node);
    if (u.axis >= static_cast<int>(dims.size())) return false;
    u.channels = dims[u.axis];
    const int64_t w_axis = wp->axis < 0 ? wp->axis + static_cast<int64_t>(dims.size()) : wp->axis;
    if (wp->scales.size() != 1 && (static_cast<int64_t>(wp->scales.size()) != u.channels || w_axis != u.axis)) {
      return false;
    }
    auto ints = w_dq->input(0)->constant()->ToInt64s();
    if (!ints.ok()) return false;
    u.w_ints = std::move(*ints);

    const ir::Tensor* bias_tensor = nullptr;
    std::vector<double> bias_scales;
    if (ir::Node* b_dq = b->producer(); b_dq != nullptr && analysis::IsDequantizeLinear(*b_dq)) {
      auto bp = analysis::ReadQdqParams(*b_dq);
      bias_tensor = b_dq->input(0) != nullptr ? b_dq->input(0)->constant() : nullptr;
      if (!bp || bias_tensor == nullptr || bias_tensor->type() != ir::ElementType::kInt32 || bp->scales.empty()) {
        return false;
      }
      u.b_dq = b_dq;
      bias_scales = bp->scales;
      u.bias_from = "its int32 values";
    } else if (b->constant() != nullptr) {
      bias_tensor = b->constant();
      u.bias_from = "its float constant";
    } else {
      return false;
    }
    auto values = bias_tensor->ToDoubles();
    if (!values.ok() || static_cast<int64_t>(values->size()) != u.channels) return false;
    // The channels along one dim: [C], or [1, C] for Gemm.
    const std::vector<int64_t>& bdims = bias_tensor->dims();
    for (size_t d = 0; d < bdims.size(); ++d) {
      if (bdims[d] == u.channels) u.bias_axis = static_cast<int>(d);
    }
    for (int64_t c = 0; c < u.channels; ++c) {
      const double v = (*values)[c];
      if (u.b_dq == nullptr) {
        u.bias.push_back(v);
        u.clipped.push_back(false);
      } else {
        const double s = bias_scales[bias_scales.size() == 1 ? 0 : std::min<size_t>(c, bias_scales.size() - 1)];
        u.bias.push_back(v * s);
        u.clipped.push_back(std::abs(v) >= kInt32Max);
        u.saturated_in_file.push_back(std::abs(v) >= kInt32Max);
        u.bias_scale.push_back(s);
      }
    }
    return true;
  }

  // The FP32 model's bias for the unit, when it is the one the file's int32
  // values were made from: the unclipped values within one step, the
  // clipped ones beyond int32 at the file's scale. Clipped values are then
  // known again.
  void RecoverBias(Unit& u) const {
    const ir::OpTraits& traits = *ir::FindOpTraits(*u.node);
    const ir::Value* w_ints = u.w_dq->input(0);
    convert::Fp32Weights found = convert::FindFp32Weights(*fp32_, *u.node, traits.weight_input, traits.bias_input,
                                                          *w_ints->constant(), w_ints->name());
    if (!found.found || !found.why_not.empty() || found.bias == nullptr) return;
    auto f = found.bias->ToDoubles();
    if (!f.ok() || static_cast<int64_t>(f->size()) != u.channels) return;
    for (int64_t c = 0; c < u.channels; ++c) {
      const double q = (*f)[c] / u.bias_scale[c];
      const bool matches = u.clipped[c] ? std::abs(q) >= kInt32Max && (q > 0) == (u.bias[c] > 0)
                                        : std::abs(q - u.bias[c] / u.bias_scale[c]) <= 1.0;
      if (!matches) return;
    }
    u.bias = std::move(*f);
    u.clipped.assign(u.channels, false);
    u.bias_from = absl::StrCat("FP32 '", found.bias_name, "'");
  }

  double WeightScale(const Unit& u, int64_t c) const { return u.wp.scales[u.wp.scales.size() == 1 ? 0 : c]; }

  // The channels whose bias does not fit in int32 (as bias-overflow counts
  // them: a float bias beyond int32 at input_scale * weight_scale, an int32
  // one stored at the limits).
  std::vector<int64_t> SaturatedChannels(const Unit& u) const {
    std::vector<int64_t> bad;
    for (int64_t c = 0; c < u.channels; ++c) {
      const double s = u.x_scale * WeightScale(u, c);
      const bool saturated = u.b_dq != nullptr ? u.saturated_in_file[c]
                                               : !(s > 0) || std::abs(u.bias[c] / s) > kInt32Max;
      if (saturated) bad.push_back(c);
    }
    return bad;
  }

  // Why a saturating unit cannot be fixed here; empty when it can.
  static std::string Unfixable(const Unit& u) {
    if (!u.wp.params_constant()) return "its weight scale or zero point is not a constant";
    if (u.wp.quant_type != ir::ElementType::kInt8 && u.wp.quant_type != ir::ElementType::kInt16) {
      return absl::StrCat("its weight is ", ir::ElementTypeName(u.wp.quant_type),
                          "; only symmetric int8/int16 "
                          "weights (zero point 0) are rescaled");
    }
    for (int64_t z : u.wp.zero_points) {
      if (z != 0) return "its weight zero point is not 0";
    }
    if (u.node->Is("Gemm") && u.node->GetFloat("beta").value_or(1.0f) != 1.0f) return "Gemm with beta != 1";
    const ir::Value* w = u.w_dq->output();
    if (w->uses().size() != 1 || w->is_graph_output()) return "its weight's DequantizeLinear is shared";
    if (u.b_dq != nullptr) {
      const ir::Value* b = u.b_dq->output();
      if (b->uses().size() != 1 || b->is_graph_output()) return "its bias's DequantizeLinear is shared";
      auto bp = analysis::ReadQdqParams(*u.b_dq);
      for (int64_t z : bp->zero_points) {
        if (z != 0) return "its bias zero point is not 0";
      }
    }
    return "";
  }

  // The new scale of a group of weights (one channel, or the tensor) read
  // by bias values `bias`: large enough for the remaining weights, for the
  // bias with `margin`, and not below min-weight-scale.
  double NewScale(double old_scale, double max_abs_w, double qmax, double bias_absmax, double x_scale) const {
    // Not below min-weight-scale, and never 0 (a channel pruned to zeros):
    // WeightScaleForBias scales up a positive scale.
    double s = std::max(strategy_.value() == "prune" ? max_abs_w / qmax : old_scale, min_weight_scale_.value());
    if (!(s > 0)) s = 1.0;  // min-weight-scale=0 and nothing left: ONNX Runtime's degenerate scale
    if (std::optional<float> fit = analysis::WeightScaleForBias(static_cast<float>(s), x_scale,
                                                                margin_.value() * bias_absmax)) {
      s = *fit;
    }
    return s;
  }

  void Fix(ir::Graph& graph, Unit& u, const std::vector<int64_t>& bad, PassContext& context) {
    const bool per_channel = u.wp.scales.size() != 1;
    const analysis::IntRange clip = *analysis::FullRange(u.wp.quant_type);
    const double qmax = static_cast<double>(clip.max);
    const std::vector<int64_t>& dims = u.w_dq->input(0)->constant()->dims();
    int64_t inner = 1;
    for (size_t d = u.axis + 1; d < dims.size(); ++d) inner *= dims[d];
    auto channel_of = [&](size_t i) { return static_cast<int64_t>(i / inner) % u.channels; };

    // Groups to rescale: the saturating channels, or the whole tensor.
    std::vector<int64_t> groups = per_channel ? bad : std::vector<int64_t>{-1};
    auto in_group = [&](size_t i, int64_t g) { return g < 0 || channel_of(i) == g; };
    std::vector<float> scales(u.wp.scales.begin(), u.wp.scales.end());
    UnitFix fix{fuse_qdq::NodeLabel(*u.node),
                u.w_dq->input(0)->name(),
                u.node->input(ir::FindOpTraits(*u.node)->bias_input)->name(),
                u.bias_from,
                per_channel,
                {}};
    for (int64_t g : groups) {
      ChannelFix cf;
      cf.channel = g;
      cf.old_scale = scales[g < 0 ? 0 : g];
      double max_abs = 0, bias_absmax = 0;
      std::vector<size_t> members;
      for (size_t i = 0; i < u.w_ints.size(); ++i) {
        if (!in_group(i, g)) continue;
        members.push_back(i);
        double w = static_cast<double>(u.w_ints[i]) * cf.old_scale;
        if (strategy_.value() == "prune" && w != 0 && std::abs(w) < prune_below_.value()) {
          ++cf.pruned;
          continue;
        }
        max_abs = std::max(max_abs, std::abs(w));
      }
      for (int64_t c = 0; c < u.channels; ++c) {
        if (g >= 0 && c != g) continue;
        bias_absmax = std::max(bias_absmax, std::abs(u.bias[c]));
        cf.saturated_before += std::find(bad.begin(), bad.end(), c) != bad.end();
        cf.unrecoverable += u.clipped[c];
      }
      cf.new_scale = static_cast<float>(NewScale(cf.old_scale, max_abs, qmax, bias_absmax, u.x_scale));
      for (size_t i : members) {
        const double w = static_cast<double>(u.w_ints[i]) * cf.old_scale;
        const bool prune = strategy_.value() == "prune" && std::abs(w) < prune_below_.value();
        u.w_ints[i] = prune ? 0
                            : analysis::QuantizeValue(static_cast<float>(w), static_cast<float>(cf.new_scale), 0, clip);
        cf.max_weight_change = std::max(cf.max_weight_change, std::abs(u.w_ints[i] * cf.new_scale - w));
      }
      scales[g < 0 ? 0 : g] = static_cast<float>(cf.new_scale);
      channels_rescaled_ += g < 0 ? u.channels : 1;
      weights_pruned_ += cf.pruned;
      fix.channels.push_back(cf);
    }
    // Whether each bias value fits now (a float bias is only checked:
    // quantize will store it at this scale).
    for (ChannelFix& cf : fix.channels) {
      for (int64_t c = 0; c < u.channels; ++c) {
        if (cf.channel >= 0 && c != cf.channel) continue;
        const double s = static_cast<double>(static_cast<float>(u.x_scale) * scales[per_channel ? c : 0]);
        cf.saturated_after += std::abs(std::nearbyint(u.bias[c] / s)) >= kInt32Max;
      }
      biases_unsaturated_ += std::max<int64_t>(0, cf.saturated_before - cf.saturated_after);
    }
    // The weight: same integer type, dims and zero points; new scales.
    ir::Tensor ints(u.wp.quant_type, dims);
    ints.SetRawData(analysis::PackIntegers(u.w_ints, u.wp.quant_type));
    const std::string wname = u.w_dq->input(0)->name();
    convert::ReplaceConstantInput(graph, *u.w_dq, 0, std::move(ints), wname);
    convert::ReplaceConstantInput(graph, *u.w_dq, 1, ir::Tensor::FromFloats(u.wp.scale_dims, scales),
                                  absl::StrCat(wname, "_scale"));
    if (u.b_dq != nullptr) RequantizeBias(graph, u, scales, fix, context);
    fixed_.push_back(std::move(fix));
  }

  // The int32 bias at input_scale * the new weight scales (in float, as
  // quantize computes it), per channel where the weight is.
  void RequantizeBias(ir::Graph& graph, const Unit& u, const std::vector<float>& w_scales, UnitFix& fix,
                      PassContext& context) {
    const bool per_channel = w_scales.size() != 1;
    std::vector<float> b_scales(w_scales.size());
    for (size_t c = 0; c < w_scales.size(); ++c) b_scales[c] = static_cast<float>(u.x_scale) * w_scales[c];
    std::vector<int64_t> q(u.channels);
    for (int64_t c = 0; c < u.channels; ++c) {
      const double s = b_scales[per_channel ? c : 0];
      const double v = std::nearbyint(u.bias[c] / s);
      q[c] = static_cast<int64_t>(std::clamp(v, -kInt32Max - 1, kInt32Max));
    }
    for (const ChannelFix& cf : fix.channels) {
      if (cf.unrecoverable > 0 && context.report != nullptr) {
        context.report->AddFinding(
            {Severity::kWarning, std::string(name()), fix.node,
             absl::StrCat(cf.unrecoverable, " value(s) of bias '", fix.bias, "' were stored at the int32 limit",
                          cf.channel >= 0 ? absl::StrCat(" (channel ", cf.channel, ")") : "",
                          "; their true value is lost, requantized from the clipped value")});
      }
    }
    ir::Node& dq = *u.b_dq;
    const ir::Tensor& old = *dq.input(0)->constant();
    const std::string base = dq.input(0)->name();
    ir::Tensor ints(ir::ElementType::kInt32, old.dims());
    ints.SetRawData(analysis::PackIntegers(q, ir::ElementType::kInt32));
    convert::ReplaceConstantInput(graph, dq, 0, std::move(ints), base);
    const std::vector<int64_t> sdims = per_channel ? std::vector<int64_t>{u.channels}
                                                   : analysis::ReadQdqParams(dq)->scale_dims;
    convert::ReplaceConstantInput(graph, dq, 1, ir::Tensor::FromFloats(sdims, b_scales), absl::StrCat(base, "_scale"));
    if (per_channel) {
      // A per-axis DequantizeLinear needs a zero point of the scale's shape.
      if (dq.num_inputs() > 2 && dq.input(2) != nullptr) {
        ir::Tensor zero(ir::ElementType::kInt32, sdims);
        zero.SetRawData(analysis::PackIntegers(std::vector<int64_t>(u.channels, 0), ir::ElementType::kInt32));
        convert::ReplaceConstantInput(graph, dq, 2, std::move(zero), absl::StrCat(base, "_zero_point"));
      }
      dq.SetInt("axis", u.bias_axis);
    }
  }

  nlohmann::json ReportJson() const {
    nlohmann::json units = nlohmann::json::array(), left = nlohmann::json::array();
    for (const UnitFix& f : fixed_) {
      nlohmann::json channels = nlohmann::json::array();
      for (const ChannelFix& c : f.channels) {
        channels.push_back({{"channel", c.channel},
                            {"old_weight_scale", c.old_scale},
                            {"new_weight_scale", c.new_scale},
                            {"bias_saturated_before", c.saturated_before},
                            {"bias_saturated_after", c.saturated_after},
                            {"bias_unrecoverable", c.unrecoverable},
                            {"weights_pruned", c.pruned},
                            {"max_weight_change", c.max_weight_change}});
      }
      units.push_back({{"node", f.node},
                       {"weight", f.weight},
                       {"bias", f.bias},
                       {"bias_from", f.bias_from},
                       {"per_channel", f.per_channel},
                       {"channels", channels}});
    }
    for (const auto& [node, why] : left_) left.push_back({{"node", node}, {"why", why}});
    return {{"strategy", strategy_.value()}, {"fixed", units}, {"left", left}};
  }

  std::string ReportText() const {
    std::string text = absl::StrCat("fix-bias-overflow (", strategy_.value(), "): ", fixed_.size(), " unit(s) fixed, ",
                                    left_.size(), " left\n");
    for (const UnitFix& f : fixed_) {
      absl::StrAppend(&text, "  ", f.node, ": weight '", f.weight, "', bias '", f.bias, "' (from ", f.bias_from, ")\n");
      for (const ChannelFix& c : f.channels) {
        absl::StrAppend(
            &text, absl::StrFormat(
                       "    %s: weight scale %.3g -> %.3g, saturated bias values %d -> %d%s, "
                       "%d weights pruned, max weight change %.3g\n",
                       c.channel < 0 ? std::string("tensor") : absl::StrCat("channel ", c.channel), c.old_scale,
                       c.new_scale, c.saturated_before, c.saturated_after,
                       c.unrecoverable > 0 ? absl::StrCat(" (", c.unrecoverable, " clipped in the file: lost)") : "",
                       c.pruned, c.max_weight_change));
      }
    }
    for (const auto& [node, why] : left_) absl::StrAppend(&text, "  left: ", node, ": ", why, "\n");
    return text;
  }

  Option<std::string> strategy_{this,
                                "strategy",
                                "rescale: raise the weight scale until the bias fits; prune: first zero the "
                                "weights below prune-below",
                                "rescale",
                                {"rescale", "prune"}};
  Option<double> prune_below_{this, "prune-below",
                              "With strategy=prune, zero weights whose |float value| is below this", 1e-7};
  Option<double> margin_{this, "margin", "The bias may use 1/margin of the int32 range", 2.0};
  Option<double> min_weight_scale_{
      this, "min-weight-scale", "A rescaled weight scale is at least this (bias-overflow's tiny-weight-scale)", 1e-7};
  Option<std::string> bias_from_{this, "bias-from",
                                 "The FP32 model the file was quantized from: its biases replace int32 values "
                                 "clipped in the file",
                                 ""};
  Statistic channels_rescaled_{this, "channels-rescaled", "Weight channels with a new scale"};
  Statistic weights_pruned_{this, "weights-pruned", "Weights set to zero (strategy=prune)"};
  Statistic biases_unsaturated_{this, "biases-unsaturated", "int32 bias values saturated before and not after"};

  std::unique_ptr<ir::Model> fp32_;
  std::vector<UnitFix> fixed_;
  std::vector<std::pair<std::string, std::string>> left_;
};

}  // namespace

std::unique_ptr<Pass> CreateFixBiasOverflowPass() { return std::make_unique<FixBiasOverflow>(); }

}  // namespace qopt
