// cle: cross-layer equalization (Nagel et al., "Data-Free Quantization
// Through Weight Equalization and Bias Correction", ICCV 2019) on an FP32
// model, before quantization. For Conv1 -> f -> Conv2 with f positively
// homogeneous (f(s*x) = s*f(x) for s > 0, e.g. Relu), dividing Conv1's output
// channel c (weights and bias) by s_c and multiplying Conv2's input channel c
// by s_c leaves the model's function unchanged, while s_c = sqrt(r1_c / r2_c)
// gives both weight tensors the same range per channel, which is what
// per-tensor weight quantization needs. Chains (1x1 -> depthwise -> 1x1) share
// a conv between two pairs, so the pairs are rescaled in rounds until the
// scales settle. The arithmetic is done on the constants in double precision
// and written once, as new float tensors; dce removes the old ones.
#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "passes/builtin_passes.h"
#include "passes/equalize/cle_pairs.h"

namespace qopt {
namespace {

// A conv's weights (and bias) as doubles, while the rounds rescale them.
struct ConvConstants {
  std::vector<int64_t> dims;
  std::vector<double> weights;
  std::vector<double> bias;  // empty when the conv has none
};

// One equalizable pair and the product of the scales applied to it so far.
struct Pair {
  const equalize::CleCandidate* candidate;
  ConvConstants* conv1;
  ConvConstants* conv2;
  int64_t group2;
  std::vector<double> total_scale;
};

// Weight elements of Conv2 that read input channel c: Conv2's weight is
// [C_out, C_in / group, k...] and input channel c belongs to group
// c / (C_in / group), whose output channels are that group's C_out / group.
template <typename F>
void ForConv2InputChannel(const ConvConstants& w, int64_t group, int64_t c, F f) {
  const int64_t per_group_in = w.dims[1];
  const int64_t per_group_out = w.dims[0] / group;
  const int64_t inner = static_cast<int64_t>(w.weights.size()) / (w.dims[0] * per_group_in);
  const int64_t g = c / per_group_in;
  const int64_t j = c % per_group_in;
  for (int64_t o = g * per_group_out; o < (g + 1) * per_group_out; ++o) {
    for (int64_t k = 0; k < inner; ++k) f(static_cast<size_t>((o * per_group_in + j) * inner + k));
  }
}

std::string DescribeActivation(const ir::Node* act) { return act ? act->op_type() : std::string("-"); }

class CrossLayerEqualization : public Pass {
 public:
  absl::string_view name() const override { return "cle"; }
  absl::string_view summary() const override {
    return "Cross-layer equalization: rescale Conv -> (Relu|LeakyRelu|PRelu|none) -> Conv channel ranges, exactly";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    if (iterations_.value() < 1) return absl::InvalidArgumentError("cle: iterations must be at least 1");
    if (!(min_scale_.value() > 0 && min_scale_.value() <= 1 && max_scale_.value() >= 1)) {
      return absl::InvalidArgumentError("cle: need 0 < min-scale <= 1 <= max-scale");
    }
    ir::Graph& graph = model.graph();
    const std::vector<equalize::CleCandidate> candidates = equalize::FindCleCandidates(graph);

    // Keyed by node, written back in first-seen (graph) order so the output
    // does not depend on pointer values.
    std::map<ir::Node*, ConvConstants> constants;
    std::vector<ir::Node*> order;
    std::vector<Pair> pairs;
    for (const equalize::CleCandidate& c : candidates) {
      if (!c.refusal.empty()) continue;
      ConvConstants* w1 = Load(constants, order, c.conv1);
      ConvConstants* w2 = Load(constants, order, c.conv2);
      if (w1 == nullptr || w2 == nullptr) return absl::InternalError("cle: cannot read conv constants");
      pairs.push_back({&c, w1, w2, c.conv2->GetInt("group").value_or(1), std::vector<double>(w1->dims[0], 1.0)});
    }

    int rounds = 0;
    bool converged = pairs.empty();
    while (!converged && rounds < iterations_.value()) {
      ++rounds;
      double max_log = 0;
      for (Pair& p : pairs) max_log = std::max(max_log, Equalize(p));
      converged = max_log < 1e-3;
    }

    for (ir::Node* conv : order) Store(graph, conv, constants.at(conv));
    Report(context, candidates, pairs, rounds, converged);
    pairs_equalized_ += static_cast<int64_t>(pairs.size());
    pairs_refused_ += static_cast<int64_t>(candidates.size() - pairs.size());
    return !pairs.empty();
  }

 private:
  static ConvConstants* Load(std::map<ir::Node*, ConvConstants>& constants, std::vector<ir::Node*>& order,
                             ir::Node* conv) {
    auto it = constants.find(conv);
    if (it != constants.end()) return &it->second;
    const ir::Tensor* w = conv->input(1)->constant();
    auto weights = w->ToDoubles();
    if (!weights.ok()) return nullptr;
    ConvConstants c{w->dims(), std::move(*weights), {}};
    if (conv->input(2) != nullptr) {
      auto bias = conv->input(2)->constant()->ToDoubles();
      if (!bias.ok() || static_cast<int64_t>(bias->size()) != c.dims[0]) return nullptr;
      c.bias = std::move(*bias);
    }
    order.push_back(conv);
    return &constants.emplace(conv, std::move(c)).first->second;
  }

  // One round on one pair; returns the largest |log s| it applied.
  double Equalize(Pair& p) {
    const int64_t channels = p.conv1->dims[0];
    const int64_t inner1 = static_cast<int64_t>(p.conv1->weights.size()) / channels;
    double max_log = 0;
    for (int64_t c = 0; c < channels; ++c) {
      double r1 = 0;
      for (int64_t k = 0; k < inner1; ++k) r1 = std::max(r1, std::abs(p.conv1->weights[c * inner1 + k]));
      double r2 = 0;
      ForConv2InputChannel(*p.conv2, p.group2, c, [&](size_t i) { r2 = std::max(r2, std::abs(p.conv2->weights[i])); });
      if (!(r1 > 0) || !(r2 > 0)) continue;  // a dead channel: nothing to balance
      // The clamp bounds the channel's product over all rounds: a per-round
      // bound alone would let a near-dead channel drift by 1e-3 each round.
      const double s = std::clamp(std::sqrt(r1 / r2), min_scale_.value() / p.total_scale[c],
                                  max_scale_.value() / p.total_scale[c]);
      for (int64_t k = 0; k < inner1; ++k) p.conv1->weights[c * inner1 + k] /= s;
      if (!p.conv1->bias.empty()) p.conv1->bias[c] /= s;
      ForConv2InputChannel(*p.conv2, p.group2, c, [&](size_t i) { p.conv2->weights[i] *= s; });
      p.total_scale[c] *= s;
      max_log = std::max(max_log, std::abs(std::log(s)));
    }
    return max_log;
  }

  static void Store(ir::Graph& graph, ir::Node* conv, const ConvConstants& w) {
    auto to_tensor = [](const std::vector<int64_t>& dims, const std::vector<double>& values) {
      return ir::Tensor::FromFloats(dims, std::vector<float>(values.begin(), values.end()));
    };
    conv->SetInput(1, graph.AddInitializer(absl::StrCat(conv->input(1)->name(), "_cle"), to_tensor(w.dims, w.weights)));
    if (!w.bias.empty()) {
      const int64_t n = static_cast<int64_t>(w.bias.size());
      conv->SetInput(2, graph.AddInitializer(absl::StrCat(conv->input(2)->name(), "_cle"), to_tensor({n}, w.bias)));
    }
  }

  void Report(PassContext& context, const std::vector<equalize::CleCandidate>& candidates,
              const std::vector<Pair>& pairs, int rounds, bool converged) const {
    if (context.report == nullptr) return;
    nlohmann::json equalized = nlohmann::json::array();
    nlohmann::json refused = nlohmann::json::array();
    std::string text = absl::StrCat(pairs.size(), " pairs equalized, ", candidates.size() - pairs.size(), " refused; ",
                                    rounds, " rounds, ",
                                    converged ? "converged" : "stopped at the round limit before converging", "\n");
    for (const Pair& p : pairs) {
      const auto [lo, hi] = std::minmax_element(p.total_scale.begin(), p.total_scale.end());
      const equalize::CleCandidate& c = *p.candidate;
      equalized.push_back({{"conv1", c.conv1->Describe()},
                           {"activation", DescribeActivation(c.activation)},
                           {"conv2", c.conv2->Describe()},
                           {"channels", p.total_scale.size()},
                           {"min_scale", *lo},
                           {"max_scale", *hi}});
      absl::StrAppend(&text, "  equalized ", c.conv1->Describe(), " -> ", DescribeActivation(c.activation), " -> ",
                      c.conv2->Describe(), ": ", p.total_scale.size(), " channels, s in [", *lo, ", ", *hi, "]\n");
    }
    for (const equalize::CleCandidate& c : candidates) {
      if (c.refusal.empty()) continue;
      refused.push_back({{"conv1", c.conv1->Describe()},
                         {"activation", DescribeActivation(c.activation)},
                         {"conv2", c.conv2->Describe()},
                         {"reason", c.refusal}});
      absl::StrAppend(&text, "  refused ", c.conv1->Describe(), " -> ", DescribeActivation(c.activation), " -> ",
                      c.conv2->Describe(), ": ", c.refusal, "\n");
    }
    context.report->AddAnalysis(
        "cle", {{"equalized", equalized}, {"refused", refused}, {"rounds", rounds}, {"converged", converged}}, text);
  }

  Option<int64_t> iterations_{this, "iterations", "Most rounds over all pairs (chains share convs)", 20};
  Option<double> min_scale_{this, "min-scale", "Smallest product of a channel's scales s over the rounds", 1e-3};
  Option<double> max_scale_{this, "max-scale", "Largest product of a channel's scales s over the rounds", 1e3};
  Statistic pairs_equalized_{this, "pairs-equalized", "Conv pairs whose channel ranges were equalized"};
  Statistic pairs_refused_{this, "pairs-refused", "Conv pairs left alone (the report says why)"};
};

}  // namespace

std::unique_ptr<Pass> CreateCrossLayerEqualizationPass() { return std::make_unique<CrossLayerEqualization>(); }

}  // namespace qopt
