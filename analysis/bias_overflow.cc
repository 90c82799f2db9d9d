#include "analysis/bias_overflow.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "analysis/qdq_params.h"
#include "analysis/quant_math.h"
#include "ir/op_traits.h"

namespace qopt::analysis {
namespace {

constexpr double kInt32Max = 2147483647.0;

struct UnitParts {
  const ir::Node* node = nullptr;
  std::vector<double> x_scale;
  std::vector<int64_t> x_zero_point;
  ir::ElementType x_type = ir::ElementType::kUndefined;
  std::vector<double> w_scale;
  const ir::Tensor* w = nullptr;  // the integer weight tensor
  const ir::Value* bias = nullptr;
  std::string form;
  std::vector<double> bias_values;       // real values (float, or int32 * scale)
  std::vector<double> bias_int32;        // int32 forms only
  std::vector<double> stored_bias_scale; // int32 forms only
  int out_axis = 0;                      // output-channel axis of the weight
};

std::vector<double> Doubles(const ir::Value* v) {
  if (v == nullptr || v->constant() == nullptr) return {};
  auto values = v->constant()->ToDoubles();
  return values.ok() ? *values : std::vector<double>{};
}

// Q/DQ node unit around a Conv/ConvTranspose/Gemm: DQ -> op <- DQ(weight).
bool ReadQdqUnit(const ir::Node& node, UnitParts* parts) {
  const ir::Node* x_dq = DequantizeProducer(node.input(0));
  const ir::Node* w_dq = DequantizeProducer(node.input(1));
  if (x_dq == nullptr || w_dq == nullptr || w_dq->input(0) == nullptr || w_dq->input(0)->constant() == nullptr) {
    return false;
  }
  auto xp = ReadQdqParams(*x_dq);
  auto wp = ReadQdqParams(*w_dq);
  if (!xp || !wp || xp->scales.size() != 1 || wp->scales.empty()) return false;
  // Block-wise weights (opset 21 block_size) have no per-channel bias scale;
  // the kernels that take them (ORT's MatMulNBits) add a float bias.
  if (wp->block_size > 0) return false;
  parts->x_scale = xp->scales;
  parts->x_zero_point = xp->zero_points;
  parts->x_type = xp->quant_type;
  parts->w_scale = wp->scales;
  parts->w = w_dq->input(0)->constant();
  const ir::Value* bias = node.input(2);
  if (bias == nullptr) return true;
  parts->bias = bias;
  if (const ir::Node* b_dq = DequantizeProducer(bias)) {
    auto bp = ReadQdqParams(*b_dq);
    parts->form = "int32-dq";
    parts->bias_int32 = Doubles(b_dq->input(0));
    if (bp) parts->stored_bias_scale = bp->scales;
  } else if (bias->constant() != nullptr) {
    parts->form = "float";
    parts->bias_values = Doubles(bias);
  }
  return true;
}

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B).
bool ReadQLinearConv(const ir::Node& node, UnitParts* parts) {
  parts->x_scale = Doubles(node.input(1));
  parts->x_zero_point = {};
  if (auto zp = Doubles(node.input(2)); !zp.empty()) parts->x_zero_point = {static_cast<int64_t>(zp[0])};
  parts->x_type = node.input(2) && node.input(2)->constant() ? node.input(2)->constant()->type()
                                                             : ir::ElementType::kUint8;
  parts->w_scale = Doubles(node.input(4));
  parts->w = node.input(3) ? node.input(3)->constant() : nullptr;
  if (parts->x_scale.size() != 1 || parts->w_scale.empty() || parts->w == nullptr) return false;
  if (node.input(8) != nullptr) {
    parts->bias = node.input(8);
    parts->form = "qlinear";
    parts->bias_int32 = Doubles(node.input(8));
  }
  return true;
}

}  // namespace

std::vector<BiasOverflowEntry> AnalyzeBiasOverflow(const ir::Graph& graph, const BiasOverflowOptions& options) {
  std::vector<BiasOverflowEntry> out;
  for (const ir::Node* node : graph.node_list()) {
    UnitParts parts;
    bool ok = false;
    // Ops with a weight and a bias input (MatMul has no bias).
    if (node->is_default_domain() && ir::HasWeightInput(*node) && ir::FindOpTraits(*node)->bias_input >= 0) {
      ok = ReadQdqUnit(*node, &parts);
    } else if ((node->is_default_domain() || node->domain() == "com.microsoft") && node->op_type() == "QLinearConv") {
      ok = ReadQLinearConv(*node, &parts);
    }
    if (!ok) continue;
    const auto& dims = parts.w->dims();
    if (dims.size() < 2) continue;
    if (ir::IsConvolution(*node)) parts.out_axis = ir::FindOpTraits(*node)->channel_axis;
    if (node->Is("Gemm")) parts.out_axis = node->GetInt("transB").value_or(0) ? 0 : 1;
    BiasOverflowEntry e;
    e.node = node->Describe();
    e.bias = parts.bias ? parts.bias->name() : "";
    e.form = parts.form;
    const double x_scale = parts.x_scale[0];
    e.min_weight_scale = *std::min_element(parts.w_scale.begin(), parts.w_scale.end());
    for (double s : parts.w_scale) e.tiny_weight_scales += s < options.tiny_weight_scale;

    // Accumulator range: K products of |x_q| <= max(qmax - zp, zp - qmin),
    // K = weight elements per output channel (for grouped ConvTranspose an
    // upper bound).
    e.k = parts.w->num_elements() / std::max<int64_t>(1, dims[parts.out_axis]);
    auto x_range = FullRange(parts.x_type);
    const int64_t x_zp = parts.x_zero_point.empty() ? 0 : parts.x_zero_point[0];
    if (x_range.ok()) e.max_abs_x_q = std::max(x_range->max - x_zp, x_zp - x_range->min);
    if (auto w_values = parts.w->ToDoubles(); w_values.ok()) {
      for (double w : *w_values) e.max_abs_w_q = std::max<int64_t>(e.max_abs_w_q, std::llabs(static_cast<int64_t>(w)));
    }
    e.accumulator_risk = static_cast<double>(e.k) * e.max_abs_x_q * e.max_abs_w_q > kInt32Max;

    // Bias per channel.
    const bool int32_form = !parts.bias_int32.empty();
    const size_t n = int32_form ? parts.bias_int32.size() : parts.bias_values.size();
    e.channels = static_cast<int64_t>(n);
    std::vector<BiasChannel> channels;
    for (size_t c = 0; c < n; ++c) {
      BiasChannel ch;
      ch.channel = static_cast<int64_t>(c);
      ch.weight_scale = parts.w_scale[parts.w_scale.size() == 1 ? 0 : std::min(c, parts.w_scale.size() - 1)];
      ch.bias_scale = x_scale * ch.weight_scale;
      if (int32_form) {
        const double stored_scale = parts.stored_bias_scale.empty()
                                        ? ch.bias_scale
                                        : parts.stored_bias_scale[parts.stored_bias_scale.size() == 1 ? 0 : c];
        if (std::abs(stored_scale - ch.bias_scale) > 1e-3 * ch.bias_scale) e.scale_mismatch = true;
        ch.quantized = parts.bias_int32[c];
        ch.bias = parts.bias_int32[c] * stored_scale;
        // A stored value at the int32 limits was clipped when it was made.
        if (std::abs(ch.quantized) >= kInt32Max) ++e.saturated;
      } else {
        ch.bias = parts.bias_values[c];
        ch.quantized = ch.bias_scale > 0 ? ch.bias / ch.bias_scale : std::numeric_limits<double>::infinity();
        const double stored = std::clamp(std::nearbyint(ch.quantized), -kInt32Max - 1, kInt32Max);
        if (std::abs(ch.quantized) > kInt32Max) ++e.saturated;
        ch.relative_error = ch.bias != 0 ? std::abs(stored * ch.bias_scale - ch.bias) / std::abs(ch.bias) : 0.0;
        if (ch.relative_error > options.max_relative_error) ++e.lossy;
      }
      channels.push_back(ch);
    }
    std::sort(channels.begin(), channels.end(),
              [](const BiasChannel& a, const BiasChannel& b) { return std::abs(a.quantized) > std::abs(b.quantized); });
    if (channels.size() > 5) channels.resize(5);
    e.worst = std::move(channels);
    if (e.saturated || e.lossy || e.tiny_weight_scales || e.scale_mismatch || e.accumulator_risk) out.push_back(e);
  }
  return out;
}

nlohmann::json BiasOverflowToJson(const std::vector<BiasOverflowEntry>& entries) {
  nlohmann::json j;
  j["units_flagged"] = entries.size();
  j["entries"] = nlohmann::json::array();
  for (const BiasOverflowEntry& e : entries) {
    nlohmann::json worst = nlohmann::json::array();
    for (const BiasChannel& c : e.worst) {
      worst.push_back({{"channel", c.channel},
                       {"bias", c.bias},
                       {"bias_scale", c.bias_scale},
                       {"weight_scale", c.weight_scale},
                       {"quantized", c.quantized},
                       {"relative_error", c.relative_error}});
    }
    j["entries"].push_back({{"node", e.node},
                            {"bias", e.bias},
                            {"form", e.form},
                            {"channels", e.channels},
                            {"saturated", e.saturated},
                            {"lossy", e.lossy},
                            {"tiny_weight_scales", e.tiny_weight_scales},
                            {"min_weight_scale", e.min_weight_scale},
                            {"scale_mismatch", e.scale_mismatch},
                            {"accumulator", {{"k", e.k},
                                             {"max_abs_x_q", e.max_abs_x_q},
                                             {"max_abs_w_q", e.max_abs_w_q},
                                             {"risk", e.accumulator_risk}}},
                            {"worst_channels", worst}});
  }
  return j;
}

}  // namespace qopt::analysis
