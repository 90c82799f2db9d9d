// float-islands: runs chosen node units of a QDQ model in float, on
// purpose, where the target's integer kernel is slower than its float one.
// Measured on ONNX Runtime's CPU provider (docs/benchmarks.md): the int8
// depthwise convolution (its NHWC kernel is several times slower than the
// float NCHWc one), the convolution that reads the 3-channel image, and a
// classifier's tail (the uint8 MaxPool is far slower than the float one).
// Opt-in and not exact: an island computes what the QDQ model computes
// without the rounding of the Q -> DQ pairs inside it, so its outputs move
// towards the FP32 model's (the fidelity columns of the bench measure it).
//
// An island starts at a seed, a unit with weights (Conv, ConvTranspose,
// MatMul, Gemm) picked by `float-units=` (first-conv: reads a graph input;
// depthwise: group == channels; last-conv: no Conv or ConvTranspose after
// it) or by
// `float-nodes=` (a re2 pattern on node names):
//   - weights and bias: DQ of a constant becomes the float constant DQ
//     computes ((q - z) * s in float32, per axis where per channel);
//   - activation input: a Q -> DQ pair on a graph input is skipped (the seed
//     reads the float input); any other input keeps its DQ (the entry);
//   - growth: a seed still entered through a DQ would form DQ -> op -> Q
//     again, which ONNX Runtime fuses back (its WeightBiasQuantization
//     re-quantizes float weights between a DQ and a Q). Such an island takes
//     in what follows the seed and reads only island values (through a
//     Q -> DQ pair, which is bypassed) and constants: its activation
//     function (hard-swish x * Clip(x + 3, 0, 6) / 6), data movement and
//     MaxPool, and with `float-se` its squeeze-excitation branch
//     (GlobalAveragePool and the 1x1 convolutions of the pooled value). A
//     seed with nothing to take in is left as it is and counted;
//   - saturation: a bypassed Q whose zero point sits at one end of its range
//     stood for a Relu/Clip the quantizer removed; the island keeps it as a
//     float Clip;
//   - exits: an island value read outside keeps its Q; one that reaches a
//     graph output only through Q -> DQ gives the output directly.
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "analysis/qdq_params.h"
#include "analysis/quant_math.h"
#include "analysis/target_profile.h"
#include "ir/op_traits.h"
#include "pass/pattern.h"
#include "passes/builtin_passes.h"
#include "passes/canonicalize/hard_swish.h"
#include "passes/fuse_qdq/island_costs.h"
#include "passes/fuse_qdq/rewrite_util.h"
#include "re2/re2.h"

namespace qopt {
namespace {

using analysis::IsDequantizeLinear;
using analysis::IsQuantizeLinear;

bool HasWeights(const ir::Node& n) { return ir::HasWeightInput(n); }

// Ops an island takes in after its seed when all their inputs are island
// values or constants: cheap elementwise functions (activations and the
// affine arithmetic they are written with).
bool IsElementwiseActivation(const ir::Node& n) { return ir::HasTrait(n, ir::kActivation); }

// Ops that move or select the data of their first input (the others are
// shapes and axes), or pool it, and run in float as cheaply as on integers.
bool IsDataMovement(const ir::Node& n) { return ir::HasTrait(n, ir::kCheapInFloat); }

// The DQ's data input when it is a constant, else null.
const ir::Tensor* DequantizedConstant(const ir::Node& dq) {
  return dq.input(0) != nullptr ? dq.input(0)->constant() : nullptr;
}

// The island computes in float32: Q/DQ with float16/bfloat16 scales (whose
// DQ gives float16) are left alone.
bool HasFloatScale(const ir::Node& qdq) {
  const ir::Value* scale = qdq.input(1);
  const ir::Tensor* t = scale != nullptr ? scale->constant() : nullptr;
  return t != nullptr && t->type() == ir::ElementType::kFloat;
}

// What DequantizeLinear computes from a constant: float((q - z)) * s in
// float32, as the ONNX definition and ONNX Runtime's kernel do. Per tensor
// or per axis; nullopt for block-wise or unreadable parameters.
std::optional<ir::Tensor> DequantizeConstant(const ir::Node& dq) {
  std::optional<analysis::QdqParams> p = analysis::ReadQdqParams(dq);
  const ir::Tensor* data = DequantizedConstant(dq);
  if (!p || data == nullptr || p->scales.empty() || p->block_size != 0 || !HasFloatScale(dq)) return std::nullopt;
  auto q = data->ToInt64s();
  if (!q.ok()) return std::nullopt;
  const std::vector<int64_t>& dims = data->dims();
  const size_t channels = p->scales.size();
  int64_t inner = 1;  // elements per step of the axis
  if (channels > 1) {
    const int64_t rank = static_cast<int64_t>(dims.size());
    const int64_t axis = p->axis < 0 ? p->axis + rank : p->axis;
    if (axis < 0 || axis >= rank || dims[axis] != static_cast<int64_t>(channels)) return std::nullopt;
    for (int64_t d = axis + 1; d < rank; ++d) inner *= dims[d];
  }
  if (!p->zero_points.empty() && p->zero_points.size() != channels) return std::nullopt;
  std::vector<float> values(q->size());
  for (size_t i = 0; i < q->size(); ++i) {
    const size_t c = channels > 1 ? (i / inner) % channels : 0;
    const int64_t z = p->zero_points.empty() ? 0 : p->zero_points[c];
    values[i] = static_cast<float>((*q)[i] - z) * static_cast<float>(p->scales[c]);
  }
  return ir::Tensor::FromFloats(dims, values);
}

// `v` seen through a Q -> DQ pair: for v = DQ(Q(x)), x; otherwise null.
// Only a pair that rounds and saturates and does nothing else: the same
// per-tensor float32 parameters on both sides (DQ(Q(x; s1); s2) with s1 !=
// s2 would also scale x).
ir::Value* BeforeQdqPair(const ir::Value* v) {
  const ir::Node* dq = v != nullptr ? v->producer() : nullptr;
  if (dq == nullptr || !IsDequantizeLinear(*dq) || dq->input(0) == nullptr) return nullptr;
  const ir::Node* q = dq->input(0)->producer();
  if (q == nullptr || !IsQuantizeLinear(*q) || !HasFloatScale(*q) || !HasFloatScale(*dq)) return nullptr;
  std::optional<analysis::QdqParams> qp = analysis::ReadQdqParams(*q);
  std::optional<analysis::QdqParams> dqp = analysis::ReadQdqParams(*dq);
  if (!qp || !dqp || qp->scales.size() != 1 || qp->block_size != 0 || !analysis::SameQuantization(*qp, *dqp)) {
    return nullptr;
  }
  return q->input(0);
}

class FloatIslands : public Pass {
 public:
  absl::string_view name() const override { return "float-islands"; }
  absl::string_view summary() const override {
    return "Run chosen QDQ units (first conv, depthwise convs, last conv, by name) with their activations in float "
           "where the target's integer kernel is slower (opt-in; not exact)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    std::unique_ptr<RE2> node_pattern;
    if (!nodes_.value().empty()) {
      node_pattern = std::make_unique<RE2>(nodes_.value(), RE2::Quiet);
      if (!node_pattern->ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad float-nodes= pattern '", nodes_.value(), "': ", node_pattern->error()));
      }
    }
    const absl::flat_hash_set<std::string> kinds = absl::StrSplit(units_.value(), ',', absl::SkipEmpty());
    for (const std::string& kind : kinds) {
      if (kind != "first-conv" && kind != "depthwise" && kind != "last-conv" && kind != "auto") {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown float-units= entry '", kind, "' (expected first-conv, depthwise, last-conv, auto)"));
      }
    }
    ir::Graph& graph = model.graph();
    // auto: the units the target profile's measured costs say are cheaper
    // in float, islands' edges included (island_costs.h).
    absl::flat_hash_set<const ir::Node*> auto_picked;
    nlohmann::json estimates = nlohmann::json::array();
    if (kinds.contains("auto")) {
      absl::StatusOr<const analysis::TargetProfile*> profile = analysis::ResolveTargetProfile(target_.value());
      if (!profile.ok()) return profile.status();
      // Each candidate with the island it would grow (a dry run).
      std::vector<fuse_qdq::IslandCandidate> candidates;
      for (ir::Node* node : graph.nodes()) {
        if (!HasWeights(*node) || !ReadsADequantize(*node)) continue;
        const IslandPlan plan = Plan(*node, /*keep_pooled=*/false);
        fuse_qdq::IslandCandidate c;
        c.seed = node;
        c.members.assign(plan.members.begin(), plan.members.end());
        if (c.members.empty()) c.members = {node};
        c.reads_image = !plan.entered_from_integers && IsFirstConv(*node);
        for (const ir::Node* member : c.members) {
          const ir::Value* out = member->output();
          bool read_outside = out != nullptr && out->is_graph_output();
          for (const ir::Node* reader : Readers(out)) read_outside = read_outside || !plan.island.contains(reader);
          if (read_outside) c.exits.push_back(out);
        }
        candidates.push_back(std::move(c));
      }
      absl::StatusOr<std::vector<fuse_qdq::UnitCostEstimate>> costs = fuse_qdq::EstimateFloatUnits(
          model, candidates, **profile, input_shape_.value(), margin_.value());
      if (!costs.ok()) return costs.status();
      for (const fuse_qdq::UnitCostEstimate& e : *costs) {
        if (e.picked) auto_picked.insert(e.node);
        estimates.push_back({{"unit", e.node->Describe()}, {"picked", e.picked}, {"estimate", e.why}});
      }
      auto_picked_ += static_cast<int64_t>(auto_picked.size());
    }
    in_island_.clear();
    report_ = {{"islands", nlohmann::json::array()}, {"not_isolated", nlohmann::json::array()}};
    if (kinds.contains("auto")) report_["auto"] = estimates;
    const absl::flat_hash_set<const ir::Node*> before_conv = NodesBeforeAConv(graph);
    clipped_.clear();
    dequantized_.clear();
    dead_before_.clear();
    for (const ir::Node* n : graph.nodes()) {
      if ((IsQuantizeLinear(*n) || IsDequantizeLinear(*n)) && !n->output()->has_uses() &&
          !n->output()->is_graph_output()) {
        dead_before_.insert(n);
      }
    }
    pooled_.clear();
    bool changed = false;
    for (ir::Node* node : graph.nodes()) {
      if (node->is_erased() || !HasWeights(*node) || !ReadsADequantize(*node) || in_island_.contains(node)) continue;
      const bool picked = (kinds.contains("first-conv") && IsFirstConv(*node)) ||
                          (kinds.contains("last-conv") && node->Is("Conv") && !before_conv.contains(node)) ||
                          (kinds.contains("depthwise") && IsDepthwise(*node)) || auto_picked.contains(node) ||
                          (node_pattern && RE2::PartialMatch(node->name(), *node_pattern));
      if (!picked) continue;
      const std::string why_not = MakeIsland(graph, *node);
      if (why_not.empty()) {
        changed = true;
      } else {
        ++not_isolated_;
        report_["not_isolated"].push_back(
            {{"seed", node->name().empty() ? node->output()->name() : node->name()}, {"why", why_not}});
      }
    }
    if (changed) {
      EraseDeadQdq(graph);  // first: a bypassed Q no longer reads the chain's values
      for (ir::Node* node : graph.nodes()) {
        if (in_island_.contains(node)) TwoOpHardSwish(graph, *node);
      }
    }
    // Every node now in an island, as the boundary analysis names units:
    // fuse-qdq-units' summary gives them "in a float island" as their reason
    // (context.results, the typed channel between passes).
    for (const ir::Node* n : graph.nodes()) {
      if (in_island_.contains(n)) context.results.float_island_nodes.insert(n->Describe());
    }
    if (context.report != nullptr && (changed || not_isolated_.value() > 0 || kinds.contains("auto"))) {
      nlohmann::json nodes = nlohmann::json::array();
      for (const ir::Node* n : graph.nodes()) {
        if (in_island_.contains(n)) nodes.push_back(n->Describe());
      }
      report_["nodes"] = nodes;
      context.report->AddAnalysis("float-islands", report_, ReportText());
    }
    return changed;
  }

 private:
  // A unit of the QDQ model (some input behind a DequantizeLinear), not an
  // op that already runs in float.
  static bool ReadsADequantize(const ir::Node& n) {
    for (const ir::Value* in : n.inputs()) {
      if (in != nullptr && in->producer() != nullptr && IsDequantizeLinear(*in->producer())) return true;
    }
    return false;
  }

  // The seed's activation input (input 0), reached through Q/DQ, is a graph
  // input: the convolution that reads the image.
  static bool IsFirstConv(const ir::Node& n) {
    if (!n.Is("Conv")) return false;
    const ir::Value* x = n.input(0);
    if (const ir::Value* before = BeforeQdqPair(x)) x = before;
    return x != nullptr && x->kind() == ir::Value::Kind::kGraphInput && !x->is_constant();
  }

  // Nodes from which a Conv or ConvTranspose can be reached: a Conv not
  // among them is a last one (the head of a classifier).
  static absl::flat_hash_set<const ir::Node*> NodesBeforeAConv(const ir::Graph& graph) {
    absl::flat_hash_set<const ir::Node*> before;
    std::vector<ir::Node*> order = graph.node_list();
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      for (const ir::Value* out : (*it)->outputs()) {
        if (out == nullptr) continue;
        for (const ir::Use& use : out->uses()) {
          if (use.user != nullptr &&
              (ir::IsConvolution(*use.user) || before.contains(use.user))) {
            before.insert(*it);
          }
        }
      }
    }
    return before;
  }

  // group == channels, one input channel per group (weights [C, 1, kh, kw]).
  static bool IsDepthwise(const ir::Node& n) {
    if (!n.Is("Conv")) return false;
    const int64_t group = n.GetInt("group").value_or(1);
    if (group <= 1) return false;
    const ir::Value* w = n.input(1);
    const ir::Node* dq = w != nullptr ? w->producer() : nullptr;
    const ir::Tensor* weights = w != nullptr ? w->constant() : nullptr;
    if (weights == nullptr && dq != nullptr && IsDequantizeLinear(*dq)) weights = DequantizedConstant(*dq);
    return weights != nullptr && weights->dims().size() >= 2 && weights->dims()[1] == 1 &&
           weights->dims()[0] == group;
  }

  static bool IsIslandValue(const ir::Value* v, const absl::flat_hash_set<const ir::Node*>& island) {
    return v != nullptr && v->producer() != nullptr && island.contains(v->producer());
  }

  // Whether `n` can join the island, and whether its output is then
  // "pooled" (computed from a global average of island values):
  //   - the activation function: an elementwise op whose inputs are island
  //     values (directly or through a Q -> DQ pair) or constants (directly or
  //     through a DQ), at least one an island value; pooled when they are;
  //   - with squeeze-excitation (`float-se=true`): a GlobalAveragePool of an island
  //     value, and a unit with weights that reads a pooled island value (the
  //     1x1 convolutions of the excitation branch). Without them the branch
  //     stays integer and its gate meets the island's float output in a
  //     Mul, which ONNX Runtime's NHWC integer kernels answer with a
  //     Transpose on both sides.
  struct Verdict {
    bool admissible = false;
    bool pooled = false;
  };
  Verdict Admit(const ir::Node& n, const absl::flat_hash_set<const ir::Node*>& island) const {
    if (n.num_outputs() != 1) return {};
    const bool pooling = se_ && n.Is("GlobalAveragePool");
    const bool weighted = se_ && HasWeights(n);
    const bool moving = IsDataMovement(n);
    if (!IsElementwiseActivation(n) && !pooling && !weighted && !moving) return {};
    bool reads_island = false;
    bool all_pooled = true;
    for (int i = 0; i < n.num_inputs(); ++i) {
      const ir::Value* in = n.input(i);
      if (in == nullptr || in->is_constant()) continue;
      const ir::Node* dq = in->producer();
      if (dq != nullptr && IsDequantizeLinear(*dq) && DequantizedConstant(*dq) != nullptr) {
        if ((weighted && i == 0) || !DequantizeConstant(*dq)) return {};
        continue;
      }
      const ir::Value* source = BeforeQdqPair(in);
      const ir::Value* island_value = IsIslandValue(in, island) ? in : IsIslandValue(source, island) ? source : nullptr;
      if (moving && i != 0) continue;  // shapes, axes: not data
      if (island_value == nullptr || (weighted && i != 0)) return {};
      reads_island = true;
      all_pooled = all_pooled && pooled_.contains(island_value->producer());
    }
    if (!reads_island || (weighted && !all_pooled)) return {};
    return {true, pooling || all_pooled};
  }

  // Every node that reads `v`, directly or through one Q -> DQ pair.
  static std::vector<ir::Node*> Readers(const ir::Value* v) {
    // Only nodes of v's own graph: a sub-graph (If/Loop body) reading an
    // island value keeps reading it through its Q/DQ.
    std::vector<ir::Node*> out;
    for (const ir::Use& use : v->uses()) {
      if (use.user == nullptr || use.user->graph() != v->graph()) continue;
      if (IsQuantizeLinear(*use.user) && use.index == 0) {
        for (const ir::Use& q_use : use.user->output()->uses()) {
          if (q_use.user == nullptr || !IsDequantizeLinear(*q_use.user) || q_use.index != 0) continue;
          for (const ir::Use& dq_use : q_use.user->output()->uses()) {
            if (dq_use.user != nullptr && dq_use.user->graph() == v->graph()) out.push_back(dq_use.user);
          }
        }
      } else {
        out.push_back(use.user);
      }
    }
    return out;
  }

  // Makes the island of `seed`; "" when done, else why not.
  // What an island seeded at `seed` would be: its members (the seed first)
  // and whether it is entered from integers; `why_not` when there is none.
  // Reads the graph only; with `keep_pooled` false it leaves pooled_ as it
  // was (a dry run for float-units=auto's estimates).
  struct IslandPlan {
    std::vector<ir::Node*> members;
    absl::flat_hash_set<const ir::Node*> island;
    bool entered_from_integers = false;
    std::string why_not;
  };
  IslandPlan Plan(ir::Node& seed, bool keep_pooled) {
    IslandPlan plan;
    // Weights must be constants (possibly behind a DQ) the pass can read.
    for (int i = 1; i < seed.num_inputs(); ++i) {
      const ir::Value* in = seed.input(i);
      if (in == nullptr || in->is_constant()) continue;
      const ir::Node* dq = in->producer();
      if (dq == nullptr || !IsDequantizeLinear(*dq) || !DequantizeConstant(*dq)) {
        plan.why_not = "weights are not a constant behind a per-tensor or per-axis float32 DequantizeLinear";
        return plan;
      }
    }
    plan.island = {&seed};
    plan.members = {&seed};
    // Entered through a DQ (not a graph input): grow over the activation.
    const ir::Value* source = BeforeQdqPair(seed.input(0));
    const ir::Node* data_dq = seed.input(0) != nullptr ? seed.input(0)->producer() : nullptr;
    plan.entered_from_integers = data_dq != nullptr && IsDequantizeLinear(*data_dq) &&
                                 !(source != nullptr && source->kind() == ir::Value::Kind::kGraphInput);
    if (plan.entered_from_integers && !HasFloatScale(*data_dq)) {
      plan.why_not = "its input DequantizeLinear is not float32";
      return plan;
    }
    if (plan.entered_from_integers) {
      const absl::flat_hash_set<const ir::Node*> pooled_before = pooled_;
      std::vector<ir::Node*>& members = plan.members;
      for (bool grew = true; grew;) {
        grew = false;
        for (size_t m = 0; m < members.size(); ++m) {
          for (ir::Node* reader : Readers(members[m]->output())) {
            if (plan.island.contains(reader)) continue;
            const Verdict verdict = Admit(*reader, plan.island);
            if (!verdict.admissible) continue;
            if (verdict.pooled) pooled_.insert(reader);
            plan.island.insert(reader);
            members.push_back(reader);
            grew = true;
          }
        }
      }
      if (!keep_pooled) pooled_ = pooled_before;
      if (members.size() == 1) plan.why_not = "nothing to take in (alone it would be fused back into an integer op)";
    }
    return plan;
  }

  std::string MakeIsland(ir::Graph& graph, ir::Node& seed) {
    IslandPlan plan = Plan(seed, /*keep_pooled=*/true);
    if (!plan.why_not.empty()) return plan.why_not;
    const std::vector<ir::Node*>& members = plan.members;
    const absl::flat_hash_set<const ir::Node*>& island = plan.island;
    const bool entered_from_integers = plan.entered_from_integers;
    nlohmann::json ops = nlohmann::json::array();
    for (const ir::Node* member : members) ops.push_back(member->op_type());
    report_["islands"].push_back({{"seed", seed.name().empty() ? seed.output()->name() : seed.name()},
                                  {"entry", entered_from_integers ? "DequantizeLinear" : "graph input"},
                                  {"ops", ops}});
    for (ir::Node* member : members) Rewrite(graph, *member, island, member == &seed);
    for (ir::Node* member : members) OutputInFloat(graph, *member);
    in_island_.insert(island.begin(), island.end());
    ++islands_;
    nodes_in_islands_ += static_cast<int64_t>(members.size());
    return "";
  }

  // Points `n`'s inputs at float values: constants' float form, island
  // values (and, for the seed's data input, a graph input) behind a Q -> DQ.
  void Rewrite(ir::Graph& graph, ir::Node& n, const absl::flat_hash_set<const ir::Node*>& island, bool is_seed) {
    for (int i = 0; i < n.num_inputs(); ++i) {
      ir::Value* in = n.input(i);
      if (in == nullptr || in->is_constant()) continue;
      const ir::Node* dq = in->producer();
      if (dq != nullptr && IsDequantizeLinear(*dq) && DequantizedConstant(*dq) != nullptr) {
        if (auto it = dequantized_.find(in); it != dequantized_.end()) {
          n.SetInput(i, it->second);
        } else if (std::optional<ir::Tensor> values = DequantizeConstant(*dq)) {
          ir::Value* copy = graph.AddInitializer(absl::StrCat(in->name(), "_float"), std::move(*values));
          dequantized_[in] = copy;
          n.SetInput(i, copy);
          ++constants_dequantized_;
        }
        continue;
      }
      ir::Value* source = BeforeQdqPair(in);
      const bool graph_input = is_seed && i == 0 && source != nullptr &&
                               source->kind() == ir::Value::Kind::kGraphInput;
      if (IsIslandValue(source, island) || graph_input) {
        n.SetInput(i, KeepSaturation(graph, *in->producer()->input(0)->producer(), source));
        ++pairs_bypassed_;
      }
    }
  }

  // Hard-swish as PaddleOCR writes it, Div(Mul(x, Clip(Add(x, 3), 0, hi)), 6),
  // is four float ops over the whole map once in an island; it is the same
  // function as x * HardSigmoid(x; 1/6, 1/2) (up to float rounding) when the
  // clamp is [0, 6], and with a calibrated top hi < 6 it differs only where
  // the QDQ model cut x + 3 above hi, which the island lets through as FP32
  // does (see KeepSaturation). Two ops then, where ONNX Runtime has a kernel
  // for each. `div` is the candidate Div; nothing changes unless every piece
  // matches and only the chain reads its intermediate values.
  void TwoOpHardSwish(ir::Graph& graph, ir::Node& div) {
    std::optional<canonicalize::HardSwishMatch> match = canonicalize::MatchHardSwish(div, /*accept_lower_top=*/true);
    if (!match || match->interior.size() == 1) return;  // one interior node: already Mul(x, HardSigmoid(x))
    for (ir::Node* made : canonicalize::RewriteHardSwish(graph, *match, /*single_op=*/false)) in_island_.insert(made);
    ++hard_swish_;
  }

  // An island value that reaches a graph output only through Q -> DQ gives
  // the output directly (it keeps the output's name).
  // Its one-sided saturation is kept as everywhere else (a Relu the
  // quantizer removed before the output).
  void OutputInFloat(ir::Graph& graph, ir::Node& member) {
    ir::Value* v = member.output();
    if (v->uses().size() != 1 || v->uses()[0].user == nullptr) return;
    const ir::Node* q = v->uses()[0].user;
    if (!IsQuantizeLinear(*q) || q->output()->uses().size() != 1 || q->output()->is_graph_output()) return;
    const ir::Node* dq = q->output()->uses()[0].user;
    if (dq == nullptr || !IsDequantizeLinear(*dq) || BeforeQdqPair(dq->output()) != v) return;
    ir::Value* out = dq->output();
    if (!out->is_graph_output() || out->uses().size() != 1) return;
    graph.ReplaceAllUsesWith(out, KeepSaturation(graph, *q, v));
  }

  // What a bypassed Q -> DQ pair did besides rounding: it saturated at the
  // ends of the integer range. Where the zero point sits at one end, that
  // range is one-sided ([0, hi] or [lo, 0]), which is how ONNX Runtime's
  // quantizer encodes a Relu or Clip it removed (hard-swish's Clip(x + 3,
  // 0, 6) lives on as the [0, 6] range of the Add's Q): the island keeps it
  // as a float Clip to the range DQ can produce. A two-sided calibrated
  // range only cuts outliers, which the island lets through, as FP32 does.
  // One Clip per source value.
  // Whether the op making `v` never gives a negative value (looking through
  // data movement) (so a [0, hi]
  // range adds nothing but its calibrated top, which the island lets
  // through as it does for two-sided ranges).
  static bool IsNonNegative(const ir::Value* v) {
    const ir::Node* p = v->producer();
    if (p == nullptr) return false;
    if (ir::HasTrait(*p, ir::kNonNegative)) return true;
    if (IsDataMovement(*p) && p->input(0) != nullptr) return IsNonNegative(p->input(0));  // moves, never negates
    if (p->Is("Clip")) {
      std::optional<fuse_qdq::ClampBounds> bounds = fuse_qdq::ReadClampBounds(*p);
      return bounds && bounds->lo >= 0;
    }
    return false;
  }

  // The Clip goes right after the source's producer, so every island node
  // that reads it comes later whatever order the island was grown in.
  ir::Value* KeepSaturation(ir::Graph& graph, const ir::Node& q, ir::Value* source) {
    std::optional<analysis::QdqParams> p = analysis::ReadQdqParams(q);
    if (!p || p->scales.size() != 1 || p->block_size != 0) return source;
    auto range = analysis::FullRange(p->quant_type);
    if (!range.ok()) return source;
    const int64_t z = p->zero_points.empty() ? 0 : p->zero_points[0];
    if (z != range->min && z != range->max) return source;
    if (z == range->min && IsNonNegative(source)) return source;  // only the calibrated top would be cut
    if (auto it = clipped_.find({source, &q}); it != clipped_.end()) return it->second;
    const float scale = static_cast<float>(p->scales[0]);
    const float lo = static_cast<float>(range->min - z) * scale;
    const float hi = static_cast<float>(range->max - z) * scale;
    ir::Node* clip = graph.AddNode(
        "Clip",
        {source, graph.AddInitializer(absl::StrCat(source->name(), "_island_min"), ir::Tensor::Scalar(lo)),
         graph.AddInitializer(absl::StrCat(source->name(), "_island_max"), ir::Tensor::Scalar(hi))},
        1, source->producer() != nullptr ? graph.NextNode(source->producer()) : graph.FirstNode(), "",
        absl::StrCat(source->name(), "_island_clip"));
    ++saturation_kept_;
    in_island_.insert(clip);
    clipped_[{source, &q}] = clip->output();
    return clip->output();
  }

  // One line per island: its seed, where it is entered, its ops.
  std::string ReportText() const {
    std::string text = absl::StrCat("float-islands: ", report_["islands"].size(), " islands, ",
                                    nodes_in_islands_.value(), " nodes run in float on purpose\n");
    for (const nlohmann::json& island : report_["islands"]) {
      std::vector<std::string> ops;
      for (const nlohmann::json& op : island["ops"]) ops.push_back(op.get<std::string>());
      absl::StrAppend(&text, "  ", island["seed"].get<std::string>(), " (from ", island["entry"].get<std::string>(),
                      "): ", absl::StrJoin(ops, " "), "\n");
    }
    for (const nlohmann::json& left : report_["not_isolated"]) {
      absl::StrAppend(&text, "  ", left["seed"].get<std::string>(), ": left as it is: ", left["why"].get<std::string>(),
                      "\n");
    }
    if (report_.contains("auto")) {
      absl::StrAppend(&text, "  float-units=auto (target ", target_.value(), "):\n");
      for (const nlohmann::json& e : report_["auto"]) {
        absl::StrAppend(&text, "    ", e["unit"].get<std::string>(), ": ", e["estimate"].get<std::string>(), "\n");
      }
    }
    return text;
  }

  // Q and DQ nodes (and the Q of a graph input) nobody reads any more,
  // except those nothing read before the pass (not the pass's to erase).
  void EraseDeadQdq(ir::Graph& graph) {
    std::vector<ir::Node*> candidates;
    for (ir::Node* n : graph.nodes()) {
      if ((IsQuantizeLinear(*n) || IsDequantizeLinear(*n)) && !dead_before_.contains(n)) candidates.push_back(n);
    }
    qopt::EraseDeadQdq(std::move(candidates));
  }

  absl::flat_hash_set<const ir::Node*> in_island_;
  nlohmann::json report_;
  absl::flat_hash_set<const ir::Node*> pooled_;  // island nodes computing from a global average
  // (source, the Q whose range it keeps) -> the saturating Clip.
  absl::flat_hash_map<std::pair<const ir::Value*, const ir::Node*>, ir::Value*> clipped_;
  // DQ of a constant -> its float copy, one per DQ however many members read it.
  absl::flat_hash_map<const ir::Value*, ir::Value*> dequantized_;
  // Q/DQ nodes that nothing read before the pass: not the pass's to erase.
  absl::flat_hash_set<const ir::Node*> dead_before_;
  Option<std::string> units_{this, "float-units",
                             "Comma-separated kinds of units to run in float: first-conv (the conv reading a graph "
                             "input), depthwise (group == channels), last-conv (no Conv or ConvTranspose after it), "
                             "auto (where the target profile's measured costs say float is cheaper)",
                             ""};
  // float must beat the integer estimate by this fraction to be picked:
  // the costs are fits, and an island also changes what the runtime fuses
  // around it.
  Option<double> margin_{this, "auto-margin", "float-units=auto picks a unit when float + Q/DQ < integer * (1 - this)",
                         0.0};
  Option<std::string> target_{this, "target",
                              "Target profile whose measured costs float-units=auto reads: ort-cpu, onnx-standard, "
                              "or a profile file (docs/targets.md)",
                              "ort-cpu"};
  Option<std::string> input_shape_{this, "input-shape",
                                   "Fix symbolic input dims for float-units=auto's estimates, e.g. x:1x3x224x224", ""};
  Statistic auto_picked_{this, "auto-picked", "Units float-units=auto found cheaper in float"};
  Option<std::string> nodes_{this, "float-nodes", "re2 pattern: units with weights whose node name matches run in float",
                             ""};
  Option<bool> se_{this, "float-se", "Take a squeeze-excitation branch on an island value into the island", true};
  Statistic islands_{this, "islands", "Units now run in float, with their activation functions"};
  Statistic nodes_in_islands_{this, "nodes-in-islands", "Nodes in those islands"};
  Statistic constants_dequantized_{this, "constants-dequantized", "DQ of a constant replaced by its float values"};
  Statistic pairs_bypassed_{this, "qdq-pairs-bypassed", "Q -> DQ pairs inside islands no longer read"};
  Statistic saturation_kept_{this, "saturation-kept",
                             "Float Clips keeping the one-sided range of a bypassed Q (a Relu/Clip the quantizer "
                             "removed)"};
  Statistic hard_swish_{this, "hard-swish-two-ops",
                        "Hard-swish chains Add, Clip, Mul, Div in islands written as x * HardSigmoid(x)"};
  Statistic not_isolated_{this, "not-isolated",
                          "Picked units left as they are: unreadable weights, or entered through a DQ with nothing "
                          "to take in (the target would fuse them back)"};
};

}  // namespace

std::unique_ptr<Pass> CreateFloatIslandsPass() { return std::make_unique<FloatIslands>(); }

}  // namespace qopt
