#include "passes/equalize/cle_pairs.h"

#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "ir/op_traits.h"

namespace qopt::equalize {
namespace {

// The node reading `v` as its only use, or null (fan-out, graph output, no use).
ir::Node* SoleUser(const ir::Value* v) {
  if (v == nullptr || v->uses().size() != 1 || v->uses()[0].is_graph_output()) return nullptr;
  return v->uses()[0].user;
}

// A Conv that reads `v` as its data input (input 0), among v's users.
ir::Node* ConvReading(const ir::Value* v) {
  if (v == nullptr) return nullptr;
  for (const ir::Use& use : v->uses()) {
    if (!use.is_graph_output() && use.user->Is("Conv") && use.index == 0) return use.user;
  }
  return nullptr;
}

std::string FanOutReason(const ir::Value* v) {
  for (const ir::Use& use : v->uses()) {
    if (use.is_graph_output()) return absl::StrCat("'", v->name(), "' is a graph output");
  }
  return absl::StrCat("'", v->name(), "' is read by ", v->uses().size(), " nodes");
}

// How many element-wise nodes a fan-out is followed through to a Conv: four
// reach past hard-swish written as x * Clip(x + 3, 0, 6) / 6.
constexpr int kLookDepth = 4;

// Whether a Conv reads, as data, a value computed from `v` by at most `depth`
// element-wise nodes; `path` gets those nodes and the Conv, in order.
bool PathToConv(const ir::Value* v, int depth, std::vector<ir::Node*>& path) {
  for (const ir::Use& use : v->uses()) {
    if (use.is_graph_output()) continue;
    ir::Node* u = use.user;
    if (u->Is("Conv") && use.index == 0) {
      path.push_back(u);
      return true;
    }
    if (depth == 0 || u->num_outputs() != 1 || !ir::HasTrait(*u, ir::kElementwise)) continue;
    path.push_back(u);
    if (PathToConv(u->output(0), depth - 1, path)) return true;
    path.pop_back();
  }
  return false;
}

// Why a Conv output read by several nodes on the way to `path`'s Conv is
// refused: hard-swish and SiLU written as several nodes read their input
// twice (x * g(x)), and are named; anything else is a plain fan-out.
std::string FanOutRefusal(const ir::Value* out, const std::vector<ir::Node*>& path) {
  // The nodes reading `out` count too: which use the search followed first
  // must not change the name.
  auto has = [&](absl::string_view op) {
    for (const ir::Node* n : path) {
      if (n->Is(op)) return true;
    }
    for (const ir::Use& use : out->uses()) {
      if (!use.is_graph_output() && use.user->Is(op)) return true;
    }
    return false;
  };
  if (has("HardSigmoid") || (has("Add") && has("Clip") && has("Mul"))) {
    return "hard-swish (x * HardSigmoid(x), x * Clip(x + 3, 0, 6) / 6) is not positively homogeneous";
  }
  if (has("Sigmoid") && has("Mul")) return "SiLU (x * Sigmoid(x)) is not positively homogeneous";
  return FanOutReason(out);
}

// A scalar float constant, or nullopt (absent inputs are handled by callers).
std::optional<double> ScalarConstant(const ir::Value* v) {
  const ir::Tensor* t = v ? v->constant() : nullptr;
  if (t == nullptr || t->num_elements() != 1) return std::nullopt;
  auto values = t->ToDoubles();
  if (!values.ok()) return std::nullopt;
  return (*values)[0];
}

// Clip(x, min, max) is positively homogeneous only when min is 0 or -inf and
// there is no finite max: scaling a channel by s would otherwise need the
// bounds scaled by s too, per channel, which Clip cannot express.
std::string ClipRefusal(const ir::Node& clip) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::optional<double> lo = -kInf;
  std::optional<double> hi = kInf;
  if (auto a = clip.GetFloat("min")) lo = *a;  // opset < 11 keeps the bounds in attributes
  if (auto a = clip.GetFloat("max")) hi = *a;
  if (clip.input(1) != nullptr) lo = ScalarConstant(clip.input(1));
  if (clip.input(2) != nullptr) hi = ScalarConstant(clip.input(2));
  if (!lo || !hi) return "Clip with non-constant bounds cannot be scaled exactly";
  if ((*lo == 0 || *lo == -kInf) && *hi == kInf) return "";
  return absl::StrCat("Clip(", *lo, ", ", *hi,
                      ") cannot be scaled exactly: its bounds would have to be scaled per channel");
}

// Why `act` between two convs breaks the equalization, or "" when it does not.
// Positive homogeneity (f(s*x) = s*f(x), s > 0) comes from the op table;
// element-wise keeps channel c of the input in channel c of the output.
std::string ActivationRefusal(const ir::Node& act) {
  if (act.Is("Clip")) return ClipRefusal(act);
  if (ir::HasTrait(act, ir::kElementwise) && ir::HasTrait(act, ir::kHomogeneous)) return "";
  return absl::StrCat(act.op_type(), " is not positively homogeneous");
}

// Weight shapes and constness; "" when Conv1's output channels are Conv2's
// input channels and every tensor cle scales is a float constant.
std::string WeightRefusal(const ir::Node& conv1, const ir::Node& conv2) {
  auto float_constant = [](const ir::Value* v) {
    const ir::Tensor* t = v ? v->constant() : nullptr;
    return t != nullptr && t->type() == ir::ElementType::kFloat && t->dims().size() >= 3 ? t : nullptr;
  };
  const ir::Tensor* w1 = float_constant(conv1.input(1));
  const ir::Tensor* w2 = float_constant(conv2.input(1));
  if (w1 == nullptr) return "the first Conv's weights are not a float constant";
  if (w2 == nullptr) return "the second Conv's weights are not a float constant";
  const ir::Value* b1 = conv1.input(2);
  if (b1 != nullptr && (b1->constant() == nullptr || b1->constant()->type() != ir::ElementType::kFloat)) {
    return "the first Conv's bias is not a float constant";
  }
  const int64_t group2 = conv2.GetInt("group").value_or(1);
  if (group2 <= 0 || w1->dims()[0] != w2->dims()[1] * group2 || w2->dims()[0] % group2 != 0) {
    return absl::StrCat("group mismatch: the first Conv has ", w1->dims()[0], " output channels, the second ",
                        w2->dims()[1], " x group ", group2, " input channels");
  }
  return "";
}

}  // namespace

std::vector<CleCandidate> FindCleCandidates(const ir::Graph& graph) {
  std::vector<CleCandidate> found;
  for (ir::Node* conv1 : graph.node_list()) {
    if (!conv1->Is("Conv") || conv1->num_outputs() != 1) continue;
    const ir::Value* out = conv1->output(0);
    CleCandidate c{conv1, nullptr, nullptr, ""};
    if (ir::Node* user = SoleUser(out)) {
      if (user->Is("Conv") && user->input(0) == out) {
        c.conv2 = user;
      } else if (user->num_outputs() == 1 && (c.conv2 = ConvReading(user->output(0))) != nullptr) {
        c.activation = user;
        if (SoleUser(user->output(0)) == nullptr) c.refusal = FanOutReason(user->output(0));
      } else {
        continue;  // no Conv within one node: not a pair
      }
    } else {
      // Fan-out: still worth a line in the report when a Conv is in reach,
      // and decomposed activations are named as what they are.
      std::vector<ir::Node*> path;
      if (!PathToConv(out, kLookDepth, path)) continue;
      c.conv2 = path.back();
      c.activation = path.size() > 1 ? path[path.size() - 2] : nullptr;
      c.refusal = FanOutRefusal(out, path);
    }
    if (c.refusal.empty() && c.activation != nullptr) c.refusal = ActivationRefusal(*c.activation);
    if (c.refusal.empty()) c.refusal = WeightRefusal(*conv1, *c.conv2);
    found.push_back(std::move(c));
  }
  return found;
}

}  // namespace qopt::equalize
