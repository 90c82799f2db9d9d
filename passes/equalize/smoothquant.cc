// smoothquant: SmoothQuant (Xiao et al., "SmoothQuant: Accurate and Efficient
// Post-Training Quantization for Large Language Models", ICML 2023) on an
// FP32 model, before quantization. For a MatMul / Gemm / Conv whose weight is
// a constant, X W = (X / s) (s W) for any per-input-channel s > 0; choosing
// s_j = max|X_j|^alpha / max|W_j|^(1-alpha) moves activation outliers into
// the weights. 1/s is folded into the producer of X when it can take a
// per-channel scale exactly (LayerNormalization, BatchNormalization, a
// constant Mul [+ Add], a MatMul / Gemm / Conv with constant weights),
// otherwise a Mul(X, 1/s) is inserted in front of the consumers. Activation
// channel maxima come from calib.json; the new ranges of the tensors it
// rescales go to a later quantize through PassResults::derived_ranges.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "passes/builtin_passes.h"
#include "passes/quantize/calibration_table.h"

namespace qopt {
namespace {

// Which axis of X the consumers reduce over: the last (MatMul, Gemm) or 1
// (Conv, channels first).
enum class ChannelAxis { kLast, kFirst };

// A constant weight read as elements w[j * stride_in + n * stride_out + k]:
// j its input channel, n its output channel, k the rest (Conv's kernel).
struct Linear {
  ir::Node* node = nullptr;
  std::vector<double> w;
  int64_t in = 0, out = 0, inner = 1;
  int64_t stride_in = 0, stride_out = 0;
};

bool IsFloatConstant(const ir::Value* v) {
  return v != nullptr && v->constant() != nullptr && v->constant()->type() == ir::ElementType::kFloat;
}

// The weight of a MatMul ([K, N]), Gemm (B, [K, N] or [N, K] with transB) or
// Conv ([M, C / group, k...]); empty with `why` when it is not one.
std::optional<Linear> ReadLinear(ir::Node* node, std::string& why) {
  const ir::Value* wv = node->input(1);
  if (!IsFloatConstant(wv)) {
    why = absl::StrCat(node->Describe(), " has no float constant weight");
    return std::nullopt;
  }
  const std::vector<int64_t>& d = wv->constant()->dims();
  auto values = wv->constant()->ToDoubles();
  if (!values.ok()) {
    why = std::string(values.status().message());
    return std::nullopt;
  }
  Linear l;
  l.node = node;
  l.w = *std::move(values);
  if (node->Is("MatMul") || node->Is("Gemm")) {
    if (d.size() != 2) {
      why = absl::StrCat(node->Describe(), " has a weight of rank ", d.size(), " (only rank 2 is smoothed)");
      return std::nullopt;
    }
    const bool trans_b = node->Is("Gemm") && node->GetInt("transB").value_or(0) != 0;
    l.in = trans_b ? d[1] : d[0];
    l.out = trans_b ? d[0] : d[1];
    l.stride_in = trans_b ? 1 : l.out;
    l.stride_out = trans_b ? l.in : 1;
    return l;
  }
  if (node->Is("Conv")) {
    if (d.size() < 3) {
      why = absl::StrCat(node->Describe(), " has a weight of rank ", d.size());
      return std::nullopt;
    }
    l.out = d[0];
    l.in = d[1];  // per group
    l.inner = static_cast<int64_t>(l.w.size()) / (l.out * l.in);
    l.stride_in = l.inner;
    l.stride_out = l.in * l.inner;
    return l;
  }
  why = absl::StrCat(node->Describe(), " is not MatMul, Gemm or Conv");
  return std::nullopt;
}

// A consumer smoothquant may scale: X read at input 0 of a MatMul / Gemm
// (transA = 0) / Conv (group 1) with a constant float weight.
std::optional<Linear> ReadConsumer(ir::Node* node, int index, ChannelAxis& axis, std::string& why) {
  if (index != 0 || !(node->Is("MatMul") || node->Is("Gemm") || node->Is("Conv"))) {
    why = absl::StrCat("also read by ", node->Describe(), " (input ", index, "), which cannot take the scale");
    return std::nullopt;
  }
  if (node->Is("Gemm") && node->GetInt("transA").value_or(0) != 0) {
    why = absl::StrCat(node->Describe(), " has transA=1");
    return std::nullopt;
  }
  if (node->Is("Conv") && node->GetInt("group").value_or(1) != 1) {
    why = absl::StrCat(node->Describe(), " is a grouped or depthwise conv (group ", node->GetInt("group").value_or(1),
                       "): its input channel j reaches only its group's filters, whose other inputs would need the "
                       "same s");
    return std::nullopt;
  }
  axis = node->Is("Conv") ? ChannelAxis::kFirst : ChannelAxis::kLast;
  return ReadLinear(node, why);
}

// One constant to divide by s along one of its dims: element i belongs to
// channel (i / stride) % K. A scalar is first broadcast to `dims`.
struct ConstantEdit {
  ir::Node* node = nullptr;
  int input = 0;
  int64_t stride = 1;
  std::vector<int64_t> broadcast_dims;  // set when a scalar becomes per channel
};

// How 1/s is folded into X's producer: constants to divide, and the
// tensors whose values change (X and those between the fold and X).
struct Fold {
  std::vector<ConstantEdit> edits;
  std::vector<const ir::Value*> changed;
  std::string into;  // for the report
};

// Stride of the channel dim of a constant broadcast against X per channel,
// or nullopt when it is not per channel along the axis. `rank` is X's rank
// (needed for the first axis only). A scalar has stride 1 after broadcast.
std::optional<int64_t> PerChannelStride(const std::vector<int64_t>& dims, int64_t k, ChannelAxis axis, int64_t rank) {
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  if (count == 1) return 1;
  if (count != k) return std::nullopt;
  const int64_t rc = static_cast<int64_t>(dims.size());
  // Position of the channel dim counted from the end, in X's axes.
  const int64_t want_from_end = axis == ChannelAxis::kLast ? 0 : rank - 2;
  if (axis == ChannelAxis::kFirst && rank < 2) return std::nullopt;
  if (want_from_end >= rc) return std::nullopt;
  if (dims[rc - 1 - want_from_end] != k) return std::nullopt;
  return 1;  // every other dim is 1, so consecutive elements are channels
}

std::vector<int64_t> ScalarAsChannels(int64_t k, ChannelAxis axis, int64_t rank) {
  if (axis == ChannelAxis::kLast) return {k};
  std::vector<int64_t> dims(static_cast<size_t>(std::max<int64_t>(rank - 1, 1)), 1);
  dims[0] = k;
  return dims;
}

class SmoothQuant : public Pass {
 public:
  absl::string_view name() const override { return "smoothquant"; }
  absl::string_view summary() const override {
    return "SmoothQuant: move activation channel ranges into MatMul/Gemm/Conv weights (X/s, sW), exactly";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    if (calibration_.value().empty()) return absl::InvalidArgumentError("smoothquant needs calibration=calib.json");
    double fixed_alpha = -1;
    if (alpha_.value() != "auto") {
      if (!absl::SimpleAtod(alpha_.value(), &fixed_alpha) || !(fixed_alpha >= 0 && fixed_alpha <= 1)) {
        return absl::InvalidArgumentError("smoothquant: alpha must be a number in [0, 1] or 'auto'");
      }
    }
    if (!(min_scale_.value() > 0 && min_scale_.value() <= 1 && max_scale_.value() >= 1)) {
      return absl::InvalidArgumentError("smoothquant: need 0 < min-scale <= 1 <= max-scale");
    }
    if (!(alpha_step_.value() > 0 && alpha_step_.value() <= 1)) {
      return absl::InvalidArgumentError("smoothquant: alpha-step must be in (0, 1]");
    }
    const std::string& insert = insert_mul_.value();
    if (insert != "matmul" && insert != "all" && insert != "none") {
      return absl::InvalidArgumentError("smoothquant: insert-mul must be matmul, all or none");
    }
    auto stats = quantize::LoadChannelStats(calibration_.value());
    if (!stats.ok()) return stats.status();
    stats_ = *std::move(stats);

    ir::Graph& graph = model.graph();
    // The activations read by candidate layers, in graph order.
    std::vector<ir::Value*> activations;
    for (ir::Node* node : graph.nodes()) {
      if (!(node->Is("MatMul") || node->Is("Gemm") || node->Is("Conv"))) continue;
      ir::Value* x = node->input(0);
      if (x == nullptr || x->is_constant() || !IsFloatConstant(node->input(1))) continue;
      if (std::find(activations.begin(), activations.end(), x) == activations.end()) activations.push_back(x);
    }
    smoothed_ = nlohmann::json::array();
    refused_ = nlohmann::json::array();
    text_.clear();
    int64_t layers = 0;
    for (ir::Value* x : activations) layers += Smooth(graph, x, fixed_alpha, context);

    if (context.report != nullptr) {
      const std::string head = absl::StrCat(smoothed_.size(), " activations smoothed (", layers, " layers), ",
                                            refused_.size(), " refused\n");
      context.report->AddAnalysis("smoothquant", {{"smoothed", smoothed_}, {"refused", refused_}}, head + text_);
    }
    return !smoothed_.empty();
  }

 private:
  // Smooths the layers reading `x`; returns how many, 0 when refused.
  int64_t Smooth(ir::Graph& graph, ir::Value* x, double fixed_alpha, PassContext& context) {
    std::vector<Linear> consumers;
    std::vector<std::string> names;
    std::string why;
    std::optional<ChannelAxis> axis;
    for (const ir::Use& use : x->uses()) {
      if (use.is_graph_output()) continue;  // x itself keeps its value unless folded
      names.push_back(use.user->Describe());
      if (!why.empty()) continue;
      ChannelAxis a = ChannelAxis::kLast;
      std::optional<Linear> l = ReadConsumer(use.user, use.index, a, why);
      if (!l) continue;
      if (axis && *axis != a) why = "read by both Conv and MatMul/Gemm";
      axis = a;
      if (!consumers.empty() && consumers.front().in != l->in) why = "consumers disagree on the channel count";
      consumers.push_back(*std::move(l));
    }
    const std::string consumer_text = absl::StrJoin(names, ", ");
    auto refuse = [&](const std::string& reason) {
      refused_.push_back({{"tensor", x->name()}, {"consumers", names}, {"reason", reason}});
      absl::StrAppend(&text_, "  refused '", x->name(), "' -> ", consumer_text, ": ", reason, "\n");
      ++refused_count_;
      return 0;
    };
    if (!why.empty()) return refuse(why);
    const int64_t k = consumers.front().in;
    const int64_t rank = static_cast<int64_t>(consumers.front().node->input(1)->constant()->dims().size());
    auto xs = ChannelStatsOf(x, *axis, k, why);
    if (!xs) return refuse(why);

    // max|W_j| over every consumer's entries for input channel j.
    std::vector<double> wmax(k, 0.0);
    for (const Linear& l : consumers) {
      for (size_t i = 0; i < l.w.size(); ++i) {
        const int64_t j = (static_cast<int64_t>(i) / l.stride_in) % l.in;
        wmax[j] = std::max(wmax[j], std::abs(l.w[i]));
      }
    }
    double alpha = fixed_alpha;
    double gain = 1;
    if (alpha < 0) {
      const auto [best, ratio] = SearchAlpha(consumers, xs->absmax, wmax, xs->min >= 0);
      if (best < 0) return refuse("alpha=auto: no alpha on the grid lowers the error estimate below no smoothing");
      alpha = best;
      gain = ratio;
    }
    const std::vector<double> s = Scales(xs->absmax, wmax, alpha);

    // Where 1/s goes: the producer, or a new Mul.
    Fold fold;
    std::string fold_why;
    const bool can_fold = !x->is_graph_output() && PlanFold(x, *axis, k, rank, fold, fold_why);
    const bool may_insert = insert_mul_.value() == "all" ||
                            (insert_mul_.value() == "matmul" && *axis == ChannelAxis::kLast);
    if (!can_fold && !may_insert) {
      if (x->is_graph_output()) fold_why = absl::StrCat("'", x->name(), "' is a graph output");
      return refuse(absl::StrCat("cannot fold 1/s into the producer (", fold_why,
                                 ") and insert-mul=", insert_mul_.value(), " does not insert a Mul for ",
                                 *axis == ChannelAxis::kFirst ? "Conv" : "MatMul/Gemm"));
    }

    // Scale the consumers' weights: W_j * s_j.
    for (const Linear& l : consumers) {
      std::vector<double> w = l.w;
      for (size_t i = 0; i < w.size(); ++i) w[i] *= s[(static_cast<int64_t>(i) / l.stride_in) % l.in];
      SetConstant(graph, l.node, 1, l.node->input(1)->constant()->dims(), w);
    }
    std::string into;
    double new_absmax = 0;
    for (int64_t j = 0; j < k; ++j) new_absmax = std::max(new_absmax, xs->absmax[j] / s[j]);
    if (can_fold) {
      for (const ConstantEdit& e : fold.edits) DivideConstant(graph, e, s);
      for (const ir::Value* v : fold.changed) PublishRange(v, *axis, k, s, context);
      into = fold.into;
    } else {
      std::vector<float> inv(k);
      for (int64_t j = 0; j < k; ++j) inv[j] = static_cast<float>(1.0 / s[j]);
      ir::Value* c = graph.AddInitializer(absl::StrCat(x->name(), "_smooth_scale"),
                                          ir::Tensor::FromFloats(ScalarAsChannels(k, *axis, rank), inv));
      ir::Node* first = nullptr;
      for (ir::Node* n : graph.nodes()) {
        for (const Linear& l : consumers) {
          if (n == l.node && first == nullptr) first = n;
        }
      }
      ir::Node* mul = graph.AddNode("Mul", {x, c}, 1, first, "", absl::StrCat(x->name(), "_smooth"));
      for (const Linear& l : consumers) l.node->SetInput(0, mul->output(0));
      PublishRange(mul->output(0), *axis, k, s, context, &*xs);
      into = absl::StrCat("inserted ", mul->Describe());
      ++muls_inserted_;
    }
    const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
    smoothed_.push_back({{"tensor", x->name()},
                         {"consumers", names},
                         {"channels", k},
                         {"alpha", alpha},
                         {"fold", into},
                         {"min_scale", *lo},
                         {"max_scale", *hi},
                         {"absmax_before", *std::max_element(xs->absmax.begin(), xs->absmax.end())},
                         {"absmax_after", new_absmax},
                         {"estimate_ratio", gain}});
    absl::StrAppend(&text_, "  smoothed '", x->name(), "' -> ", consumer_text, ": ", k, " channels, alpha ", alpha,
                    fixed_alpha < 0 ? absl::StrCat(" (auto, error estimate x", gain, ")") : "", ", ", into, ", s in [",
                    *lo, ", ", *hi, "], absmax ", *std::max_element(xs->absmax.begin(), xs->absmax.end()), " -> ",
                    new_absmax, "\n");
    layers_smoothed_ += static_cast<int64_t>(consumers.size());
    return static_cast<int64_t>(consumers.size());
  }

  // calib.json's channel maxima of `v` along the consumers' axis.
  const quantize::ChannelStats* ChannelStatsOf(const ir::Value* v, ChannelAxis axis, int64_t k, std::string& why) {
    auto it = stats_.find(v->name());
    if (it == stats_.end()) {
      why = absl::StrCat("calib.json has no per-channel statistics for '", v->name(), "'");
      return nullptr;
    }
    const quantize::ChannelStats& st = it->second;
    const bool last = st.rule == "channels-last";
    if ((axis == ChannelAxis::kLast) != last || static_cast<int64_t>(st.absmax.size()) != k) {
      why = absl::StrCat("calib.json's channel statistics of '", v->name(), "' (", st.rule, ", axis ", st.axis, ", ",
                         st.absmax.size(), " channels) are not along the ", k, " channels the layer reduces over");
      return nullptr;
    }
    return &st;
  }

  std::vector<double> Scales(const std::vector<double>& a, const std::vector<double>& wmax, double alpha) const {
    std::vector<double> s(a.size(), 1.0);
    for (size_t j = 0; j < a.size(); ++j) {
      if (!(a[j] > 0) || !(wmax[j] > 0)) continue;  // a dead channel keeps s = 1
      s[j] = std::clamp(std::pow(a[j], alpha) / std::pow(wmax[j], 1 - alpha), min_scale_.value(), max_scale_.value());
    }
    return s;
  }

  // The error estimate of the consumers' outputs for scales s, from the
  // calibration statistics only: per output channel n, the sum over j, k of
  // step_x^2 W'_jnk^2 + step_w(n)^2 (absmax_j / s_j)^2, with the activation
  // quantized per tensor on 8 bits over max_j absmax_j / s_j and the weight
  // symmetric 8 bits per output channel or per tensor (per-channel=).
  double Estimate(const std::vector<Linear>& consumers, const std::vector<double>& a, const std::vector<double>& s,
                  bool non_negative) const {
    double amax = 0;
    for (size_t j = 0; j < a.size(); ++j) amax = std::max(amax, a[j] / s[j]);
    const double step_x = non_negative ? amax / 255 : 2 * amax / 255;
    double total = 0;
    for (const Linear& l : consumers) {
      std::vector<double> wn(l.out, 0.0);
      for (size_t i = 0; i < l.w.size(); ++i) {
        const int64_t j = (static_cast<int64_t>(i) / l.stride_in) % l.in;
        const int64_t n = (static_cast<int64_t>(i) / l.stride_out) % l.out;
        wn[n] = std::max(wn[n], std::abs(l.w[i] * s[j]));
      }
      if (!per_channel_.value()) std::fill(wn.begin(), wn.end(), *std::max_element(wn.begin(), wn.end()));
      for (size_t i = 0; i < l.w.size(); ++i) {
        const int64_t j = (static_cast<int64_t>(i) / l.stride_in) % l.in;
        const int64_t n = (static_cast<int64_t>(i) / l.stride_out) % l.out;
        const double w = l.w[i] * s[j];
        const double step_w = wn[n] / 127;
        const double x = a[j] / s[j];
        total += step_x * step_x * w * w + step_w * step_w * x * x;
      }
    }
    return total;
  }

  // The grid's best alpha and its estimate over no smoothing's, or -1 when
  // none beats no smoothing.
  std::pair<double, double> SearchAlpha(const std::vector<Linear>& consumers, const std::vector<double>& a,
                                        const std::vector<double>& wmax, bool non_negative) const {
    const double none = Estimate(consumers, a, std::vector<double>(a.size(), 1.0), non_negative);
    double best = -1;
    double best_err = none;
    const int steps = static_cast<int>(std::round(1 / alpha_step_.value()));
    for (int i = 0; i <= steps; ++i) {
      const double alpha = std::min(1.0, std::round(i * alpha_step_.value() * 1e6) / 1e6);
      const double err = Estimate(consumers, a, Scales(a, wmax, alpha), non_negative);
      if (err < best_err) {
        best_err = err;
        best = alpha;
      }
    }
    return {best, none > 0 ? best_err / none : 1.0};
  }

  // Whether 1/s can be folded into the producer of `v` (whose every reader
  // takes the change); fills `fold`, or `why`.
  bool PlanFold(const ir::Value* v, ChannelAxis axis, int64_t k, int64_t rank, Fold& fold, std::string& why) {
    std::string stats_why;
    if (ChannelStatsOf(v, axis, k, stats_why) == nullptr) {
      why = stats_why + " (its new range would be unknown)";
      return false;
    }
    fold.changed.push_back(v);
    ir::Node* p = v->producer();
    if (p == nullptr) {
      why = absl::StrCat("'", v->name(), "' is a graph input");
      return false;
    }
    auto constant_k = [&](int i) {
      const ir::Value* c = p->input(i);
      if (!IsFloatConstant(c)) return false;
      int64_t n = 1;
      for (int64_t d : c->constant()->dims()) n *= d;
      return n == k;
    };
    const bool last = axis == ChannelAxis::kLast;
    if (p->Is("LayerNormalization") && last && v->output_index() == 0) {
      const int64_t ln_axis = p->GetInt("axis").value_or(-1);
      const auto shape = v->shape();
      if (ln_axis != -1 && !(shape && ln_axis == static_cast<int64_t>(shape->size()) - 1)) {
        why = absl::StrCat(p->Describe(), " normalizes from axis ", ln_axis, ", not only the channel axis");
        return false;
      }
      if (!constant_k(1) || (p->input(2) != nullptr && !constant_k(2))) {
        why = absl::StrCat(p->Describe(), " has no constant per-channel scale/bias");
        return false;
      }
      fold.edits.push_back({p, 1, 1, {}});
      if (p->input(2) != nullptr) fold.edits.push_back({p, 2, 1, {}});
      fold.into = absl::StrCat("folded into ", p->Describe());
      return true;
    }
    if (p->Is("BatchNormalization") && !last && v->output_index() == 0) {
      if (!constant_k(1) || !constant_k(2)) {
        why = absl::StrCat(p->Describe(), " has no constant scale/B");
        return false;
      }
      fold.edits.push_back({p, 1, 1, {}});
      fold.edits.push_back({p, 2, 1, {}});
      fold.into = absl::StrCat("folded into ", p->Describe());
      return true;
    }
    if ((p->Is("MatMul") || p->Is("Gemm")) && last && IsFloatConstant(p->input(1))) {
      std::string lwhy;
      std::optional<Linear> l = ReadLinear(p, lwhy);
      if (!l || l->out != k) {
        why = l ? absl::StrCat(p->Describe(), " has ", l->out, " output channels") : lwhy;
        return false;
      }
      if (p->Is("Gemm") && p->input(2) != nullptr) {
        const ir::Value* c = p->input(2);
        auto stride = IsFloatConstant(c) ? PerChannelStride(c->constant()->dims(), k, axis, 2) : std::nullopt;
        if (!stride) {
          why = absl::StrCat(p->Describe(), " has a bias that is not a constant per output channel");
          return false;
        }
        int64_t numel = 1;
        for (int64_t x : c->constant()->dims()) numel *= x;
        fold.edits.push_back({p, 2, 1, numel == 1 ? std::vector<int64_t>{k} : std::vector<int64_t>{}});
      }
      fold.edits.push_back({p, 1, l->stride_out, {}});
      fold.into = absl::StrCat("folded into ", p->Describe());
      return true;
    }
    if (p->Is("Conv") && !last && IsFloatConstant(p->input(1))) {
      const std::vector<int64_t>& d = p->input(1)->constant()->dims();
      if (d.empty() || d[0] != k || (p->input(2) != nullptr && !constant_k(2))) {
        why = absl::StrCat(p->Describe(), " has no constant weight/bias with ", k, " output channels");
        return false;
      }
      int64_t numel = 1;
      for (int64_t x : d) numel *= x;
      fold.edits.push_back({p, 1, numel / k, {}});
      if (p->input(2) != nullptr) fold.edits.push_back({p, 2, 1, {}});
      fold.into = absl::StrCat("folded into ", p->Describe());
      return true;
    }
    if ((p->Is("Mul") || p->Is("Add")) && p->num_inputs() == 2) {
      const int ci = IsFloatConstant(p->input(1)) ? 1 : (IsFloatConstant(p->input(0)) ? 0 : -1);
      if (ci < 0 || p->input(1 - ci)->is_constant()) {
        why = absl::StrCat(p->Describe(), " does not have exactly one constant input");
        return false;
      }
      const std::vector<int64_t>& d = p->input(ci)->constant()->dims();
      auto stride = PerChannelStride(d, k, axis, rank);
      if (!stride) {
        why = absl::StrCat(p->Describe(), "'s constant is not per channel along the layer's input channels");
        return false;
      }
      int64_t numel = 1;
      for (int64_t x : d) numel *= x;
      ConstantEdit e{p, ci, 1, numel == 1 ? ScalarAsChannels(k, axis, rank) : std::vector<int64_t>{}};
      if (p->Is("Mul")) {
        fold.edits.push_back(e);
        fold.into = absl::StrCat("folded into ", p->Describe());
        return true;
      }
      // Add: (y + c) / s = y / s + c / s, so y's producer takes 1/s too.
      const ir::Value* y = p->input(1 - ci);
      if (y->is_graph_output() || y->uses().size() != 1) {
        why = absl::StrCat(p->Describe(), " adds to '", y->name(), "', which is read elsewhere too");
        return false;
      }
      fold.edits.push_back(e);
      if (!PlanFold(y, axis, k, rank, fold, why)) return false;
      fold.into = absl::StrCat(fold.into, " and ", p->Describe());
      return true;
    }
    why = absl::StrCat("producer ", p->Describe(), " cannot take a per-channel scale");
    return false;
  }

  static void SetConstant(ir::Graph& graph, ir::Node* node, int input, const std::vector<int64_t>& dims,
                          const std::vector<double>& values) {
    node->SetInput(
        input, graph.AddInitializer(absl::StrCat(node->input(input)->name(), "_smooth"),
                                    ir::Tensor::FromFloats(dims, std::vector<float>(values.begin(), values.end()))));
  }

  static void DivideConstant(ir::Graph& graph, const ConstantEdit& e, const std::vector<double>& s) {
    const ir::Tensor* t = e.node->input(e.input)->constant();
    std::vector<double> v = *t->ToDoubles();  // checked float when planned
    std::vector<int64_t> dims = t->dims();
    const int64_t k = static_cast<int64_t>(s.size());
    if (!e.broadcast_dims.empty()) {
      v.assign(static_cast<size_t>(k), v.front());
      dims = e.broadcast_dims;
    }
    for (size_t i = 0; i < v.size(); ++i) v[i] /= s[(static_cast<int64_t>(i) / e.stride) % k];
    SetConstant(graph, e.node, e.input, dims, v);
  }

  // The new range of a rescaled tensor: absmax = max_j absmax_j / s_j
  // (exact); min 0 when the old min was >= 0, else -absmax.
  void PublishRange(const ir::Value* v, ChannelAxis axis, int64_t k, const std::vector<double>& s, PassContext& context,
                    const quantize::ChannelStats* source = nullptr) {
    std::string why;
    const quantize::ChannelStats* st = source != nullptr ? source : ChannelStatsOf(v, axis, k, why);
    if (st == nullptr) return;
    double absmax = 0;
    for (int64_t j = 0; j < k; ++j) absmax = std::max(absmax, st->absmax[j] / s[j]);
    context.results.derived_ranges[v->name()] = {st->min >= 0 ? 0.0 : -absmax, absmax};
  }

  Option<std::string> calibration_{this, "calibration", "calib.json from qopt-calibrate (per-channel absmax)", ""};
  Option<std::string> alpha_{this, "alpha", "Migration strength in [0, 1], or auto (grid search per layer)", "0.5"};
  Option<double> alpha_step_{this, "alpha-step", "Grid step of alpha=auto", 0.05};
  Option<bool> per_channel_{this, "per-channel", "alpha=auto: estimate weights quantized per output channel", true};
  Option<std::string> insert_mul_{
      this, "insert-mul", "Where 1/s cannot be folded, insert a Mul: matmul (MatMul/Gemm only), all, none", "matmul"};
  Option<double> min_scale_{this, "min-scale", "Smallest s_j", 1e-5};
  Option<double> max_scale_{this, "max-scale", "Largest s_j", 1e5};
  Statistic layers_smoothed_{this, "layers-smoothed", "MatMul/Gemm/Conv layers whose weights took s"};
  Statistic refused_count_{this, "activations-refused", "Activations left alone (the report says why)"};
  Statistic muls_inserted_{this, "muls-inserted", "Mul(X, 1/s) nodes inserted where no producer could fold 1/s"};

  std::map<std::string, quantize::ChannelStats> stats_;
  nlohmann::json smoothed_;
  nlohmann::json refused_;
  std::string text_;
};

}  // namespace

std::unique_ptr<Pass> CreateSmoothQuantPass() { return std::make_unique<SmoothQuant>(); }

}  // namespace qopt
