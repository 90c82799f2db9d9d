// qdq-cleanup: removes QuantizeLinear/DequantizeLinear nodes that compute
// nothing, in QDQ models as ONNX Runtime's quantize_static writes them
// (opsets 10-21, default domain and com.microsoft). Step 1 of fuse-qdq.
//
// Every rewrite here preserves the model's outputs bit for bit in ONNX
// Runtime; each rule says why next to its code. What is not exact (folding a
// requantization Q1 -> DQ1 -> Q2) is counted and left alone.
//
//   1. dq-q-identical: Xq -> DQ(s, z) -> Q(s, z) -> Yq: users of Yq read Xq.
//   2. requantize: X -> Q1 -> DQ1 -> Q2 with other parameters: counted only.
//   3. duplicates: Q (or DQ) nodes of one tensor with equal parameters:
//      the first in topological order stays, the others' users move to it.
//   4. q-of-constant: Q of a float constant becomes an integer initializer.
//   5. dead Q/DQ nodes, and the constants only they used, are erased.
//
// The rules run to a fixed point in every graph (sub-graphs first), since
// one rule can expose work for another (a removed pair turns two DQs of
// different tensors into duplicates).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "analysis/qdq_params.h"
#include "analysis/quant_math.h"
#include "pass/pattern.h"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

using analysis::IsDequantizeLinear;
using analysis::IsQuantizeLinear;

bool IsQdq(const ir::Node& node) { return IsQuantizeLinear(node) || IsDequantizeLinear(node); }

// The integer types whose Q/DQ arithmetic this pass reproduces. Float8 (and
// int32, which only DQ reads) are left alone.
bool IsHandledIntegerType(ir::ElementType type) {
  switch (type) {
    case ir::ElementType::kUint8:
    case ir::ElementType::kInt8:
    case ir::ElementType::kUint16:
    case ir::ElementType::kInt16:
    case ir::ElementType::kUint4:
    case ir::ElementType::kInt4:
      return true;
    default:
      return false;
  }
}

// Everything that decides what a Q or DQ node computes from its data input,
// read only when it is fully known: constant float32 scales, a constant (or
// absent, meaning zero) zero point, a handled integer type, and no attribute
// beyond the ones opsets 10-21 define. Otherwise nullopt and the node is not
// touched: a rule never guesses. Whether two nodes compute the same is
// analysis::SameQuantization, the comparison every pass shares.
struct ExactParams {
  analysis::QdqParams params;  // scales, zero points (zeros when absent), type, axis, block_size, scale dims
  std::vector<float> scales;   // the float32 values, as the kernels use them
};

std::optional<ExactParams> ReadExactParams(const ir::Node& node) {
  for (const ir::Attribute& attr : node.attributes()) {
    const std::string& n = attr.name();
    if (n != "axis" && n != "block_size" && n != "output_dtype" && n != "saturate") return std::nullopt;
  }
  std::optional<analysis::QdqParams> p = analysis::ReadQdqParams(node);
  if (!p || !IsHandledIntegerType(p->quant_type)) return std::nullopt;
  if (p->scale_type != ir::ElementType::kFloat || p->scales.empty()) return std::nullopt;
  const ir::Value* zp = node.input(2);
  if (zp == nullptr) {
    p->zero_points.assign(p->scales.size(), 0);
  } else if (zp->constant() == nullptr || p->zero_points.size() != p->scales.size()) {
    return std::nullopt;
  }
  ExactParams out;
  out.params = *std::move(p);
  for (double s : out.params.scales) out.scales.push_back(static_cast<float>(s));  // exact: read from float32
  return out;
}

// Output use count, graph outputs included.
bool OnlyUserIs(const ir::Value* v, const ir::Node* user) {
  return v != nullptr && v->uses().size() == 1 && v->uses()[0].user == user;
}

class QdqCleanup : public Pass {
 public:
  absl::string_view name() const override { return "qdq-cleanup"; }
  absl::string_view summary() const override {
    return "Remove Q/DQ nodes that compute nothing (identical DQ->Q pairs, duplicates, Q of constants); exact";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    skipped_.clear();
    return CleanGraph(model.graph());
  }

 private:
  bool CleanGraph(ir::Graph& graph) {
    bool changed = false;
    for (ir::Node* node : graph.nodes()) {
      for (ir::Graph* sub : node->subgraphs()) changed |= CleanGraph(*sub);
    }
    // Each round that changes something erases at least one Q or DQ node and
    // no round adds one, so this ends.
    while (true) {
      bool round = false;
      round |= FoldQuantizedConstants(graph);
      round |= MergeDuplicates(graph);
      round |= RemoveIdentityPairs(graph);
      round |= SweepDeadQdq(graph);
      if (!round) break;
      changed = true;
    }
    CountRequantizePairs(graph);
    return changed;
  }

  // Erases `root` (none of its outputs used), then whatever only it kept
  // alive among Q/DQ nodes, Constant nodes and initializers, so the pass
  // leaves nothing dangling behind its own rewrites. Graph inputs stay.
  void EraseWithDeadInputs(ir::Node* root) {
    const DeadNodesErased erased = EraseDeadQdq({root}, /*with_constants=*/true);
    qdq_removed_ += erased.qdq;
    constants_removed_ += erased.constants;
  }

  // Rule 1, dq-q-identical. Xq -> DequantizeLinear(s, z) -> QuantizeLinear(s,
  // z) -> Yq gives Yq == Xq element for element, so Yq's users read Xq.
  // Why exact: ONNX Runtime's DQ computes f = float(x - z) * s in float32 and
  // Q computes round_half_even(f / s) + z. With n = x - z an integer, |n| <=
  // 2^16 (at most 16-bit types), and s a normal float32 with |n * s| finite,
  // each of the two float operations has relative error <= 2^-24, so f / s
  // lies within |n| * 2^-23 < 0.01 of n, rounds back to n, and n + z = x is
  // inside the type's range: no saturation. Scales that are subnormal, zero,
  // infinite or NaN, or so large that n * s overflows, break that argument:
  // such pairs are skipped and counted.
  bool RemoveIdentityPairs(ir::Graph& graph) {
    bool changed = false;
    for (ir::Node* q : graph.nodes()) {
      if (!IsQuantizeLinear(*q) || q->output(0) == nullptr || !q->output(0)->has_uses()) continue;  // dead: rule 5
      ir::Value* xd = q->input(0);
      ir::Node* dq = xd ? xd->producer() : nullptr;
      if (dq == nullptr || !IsDequantizeLinear(*dq) || dq->input(0) == nullptr) continue;
      auto qp = ReadExactParams(*q);
      auto dp = ReadExactParams(*dq);
      if (!qp || !dp || !analysis::SameQuantization(qp->params, dp->params)) continue;
      if (!RoundTripIsExact(qp->scales)) {
        CountSkip(q, identical_skipped_);
        continue;
      }
      ir::Value* xq = dq->input(0);
      ir::Value* yq = q->output(0);
      // A graph output Yq keeps its name: Xq takes it, or an Identity of Xq
      // carries it when Xq is a graph input or already an output.
      graph.ReplaceAllUsesWith(yq, xq);
      EraseWithDeadInputs(q);  // and the DQ unless it has other users
      ++pairs_removed_;
      changed = true;
    }
    return changed;
  }

  static bool RoundTripIsExact(const std::vector<float>& scales) {
    constexpr float kMaxScale = FLT_MAX / 131072.0f;  // |n| <= 2^16 < 2^17: n * s stays finite
    for (float s : scales) {
      const float a = std::fabs(s);
      if (!(a >= FLT_MIN && a <= kMaxScale)) return false;  // also false for NaN
    }
    return true;
  }

  // Rule 2, requantize: X -> Q1 -> DQ1 -> Q2 where Q1 and DQ1 have one user
  // each and DQ1 and Q2 differ. Folding it into X -> Q2 is NOT exact: Q2
  // rounds a value Q1 already rounded onto another grid, and round(round(x /
  // s1) * s1 / s2) differs from round(x / s2) for some x (double rounding);
  // so the chain stays and is only counted for whoever wants to trade
  // accuracy for speed.
  void CountRequantizePairs(const ir::Graph& graph) {
    for (const ir::Node* q2 : graph.node_list()) {
      if (!IsQuantizeLinear(*q2)) continue;
      const ir::Node* dq1 = analysis::DequantizeProducer(q2->input(0));
      if (dq1 == nullptr || !OnlyUserIs(dq1->output(0), q2)) continue;
      const ir::Value* q1_out = dq1->input(0);
      const ir::Node* q1 = q1_out ? q1_out->producer() : nullptr;
      if (q1 == nullptr || !IsQuantizeLinear(*q1) || !OnlyUserIs(q1_out, dq1)) continue;
      auto a = ReadExactParams(*dq1);
      auto b = ReadExactParams(*q2);
      if (a && b && analysis::SameQuantization(a->params, b->params)) continue;  // rule 1's case (skipped there for a reason)
      ++requantize_left_;
    }
  }

  // Rule 3, duplicates. Q (or DQ) nodes reading the same tensor with
  // identical parameters are the same deterministic function of the same
  // input, so their outputs are equal and one node serves all their users.
  // ONNX Runtime's quantizer gives some consumers a DQ of their own (a
  // layout choice for its fusions, not a difference in values); merging them
  // is still exact, and ONNX Runtime's session start-up
  // (EnsureUniqueDQForNodeUnit) re-creates a DQ per node unit where its
  // fusions need one. The first node in
  // topological order stays, so it is defined before every redirected user.
  // A duplicate whose output and the kept one's output are both graph
  // outputs stays: merging would only trade it for an Identity.
  bool MergeDuplicates(ir::Graph& graph) {
    bool changed = false;
    absl::flat_hash_map<std::pair<const ir::Value*, bool>, std::vector<ir::Node*>> kept;
    for (ir::Node* node : graph.nodes()) {
      if (!IsQdq(*node) || node->input(0) == nullptr || node->output(0) == nullptr) continue;
      auto params = ReadExactParams(*node);
      if (!params) continue;
      const bool is_q = IsQuantizeLinear(*node);
      std::vector<ir::Node*>& seen = kept[{node->input(0), is_q}];
      ir::Node* same = nullptr;
      for (ir::Node* k : seen) {
        auto kp = ReadExactParams(*k);
        if (kp && analysis::SameQuantization(kp->params, params->params)) {
          same = k;
          break;
        }
      }
      if (same == nullptr || (node->output(0)->is_graph_output() && same->output(0)->is_graph_output())) {
        seen.push_back(node);
        continue;
      }
      graph.ReplaceAllUsesWith(node->output(0), same->output(0));
      EraseWithDeadInputs(node);
      ++(is_q ? duplicate_q_ : duplicate_dq_);
      changed = true;
    }
    return changed;
  }

  // Rule 4, q-of-constant. QuantizeLinear of a float constant with constant
  // parameters is a constant: computed here and stored as an integer
  // initializer that the DQ after it reads (a quarter of the bytes of a
  // float32 weight). Why exact: ONNX Runtime computes, for every layout
  // (per tensor and per axis through MLAS, blocked in its own loops, int4
  // included), y = clamp(round_half_even(x / s) + z) with x / s a float32
  // division — not double, and not a multiplication by 1 / s — and clamps
  // before or after rounding, which agree because the bounds are integers.
  // QuantizeValue does the same float32 division and rounds the float
  // result half to even. Cases whose result ONNX Runtime does not define
  // the same way on all its code paths are skipped and counted: a NaN or
  // infinite x / s (MLAS saturates, the scalar paths cast to int32: undefined),
  // |x / s| >= 2^30 (same cast), scales that are zero, subnormal or not
  // finite, inputs or scales other than float32 (the float16 path truncates),
  // float8 outputs, and a subnormal x that would not round to 0 (flush-to-zero
  // sessions would read 0).
  bool FoldQuantizedConstants(ir::Graph& graph) {
    bool changed = false;
    for (ir::Node* q : graph.nodes()) {
      if (!IsQuantizeLinear(*q) || q->output(0) == nullptr) continue;
      ir::Value* x = q->input(0);
      if (x == nullptr || x->constant() == nullptr) continue;
      std::optional<ir::Tensor> folded = QuantizeConstant(*q, *x->constant());
      if (!folded) {
        CountSkip(q, constants_skipped_);
        continue;
      }
      ir::Value* yq = q->output(0);
      const std::string name = yq->name();
      ir::Value* init = graph.AddInitializer(name, *std::move(folded));  // a fresh name for now
      graph.ReplaceAllUsesWith(yq, init);
      EraseWithDeadInputs(q);  // and the float constant once nothing else reads it
      // Give the initializer the Q output's name (free now), so the DQ reads
      // a tensor of the same name as before; a graph output took it already.
      if (init->name() != name && graph.FindValue(name) == nullptr) graph.RenameValue(init, name);
      ++constants_folded_;
      changed = true;
    }
    return changed;
  }

  // The integer tensor QuantizeLinear `q` makes of `x`, or nullopt when it
  // cannot be computed exactly (see FoldQuantizedConstants).
  static std::optional<ir::Tensor> QuantizeConstant(const ir::Node& q, const ir::Tensor& x) {
    if (x.type() != ir::ElementType::kFloat) return std::nullopt;
    auto params = ReadExactParams(q);
    if (!params) return std::nullopt;
    const analysis::QdqParams& p = params->params;
    auto range = analysis::FullRange(p.quant_type);
    auto values = x.ToDoubles();
    if (!range.ok() || !values.ok()) return std::nullopt;
    const std::vector<int64_t>& dims = x.dims();
    const int64_t rank = static_cast<int64_t>(dims.size());

    // Element i has coordinates (m, k, n) around the quantization axis of
    // length K; its parameters are at index 0 (per tensor), k (per axis) or
    // m * ceil(K / B) * N + (k / B) * N + n (blocks of B along the axis).
    const size_t count = params->scales.size();
    const bool per_tensor = count == 1 && p.block_size == 0;
    int64_t axis = p.axis < 0 ? p.axis + rank : p.axis;
    int64_t K = 1, N = 1;
    if (!per_tensor) {
      if (axis < 0 || axis >= rank) return std::nullopt;
      K = dims[axis];
      for (int64_t d = axis + 1; d < rank; ++d) N *= dims[d];
      if (p.block_size == 0) {
        if (p.scale_dims.size() != 1 || static_cast<int64_t>(count) != K) return std::nullopt;
      } else {
        if (p.block_size < 0 || static_cast<int64_t>(p.scale_dims.size()) != rank) return std::nullopt;
        for (int64_t d = 0; d < rank; ++d) {
          const int64_t want = d == axis ? (K + p.block_size - 1) / p.block_size : dims[d];
          if (p.scale_dims[d] != want) return std::nullopt;
        }
      }
    }
    const int64_t blocks = p.block_size > 0 ? (K + p.block_size - 1) / p.block_size : 0;

    std::vector<int64_t> quantized(values->size());
    for (size_t i = 0; i < values->size(); ++i) {
      size_t c = 0;
      if (!per_tensor) {
        const int64_t idx = static_cast<int64_t>(i);
        const int64_t n = idx % N, k = (idx / N) % K, m = idx / (N * K);
        c = static_cast<size_t>(p.block_size == 0 ? k : m * blocks * N + (k / p.block_size) * N + n);
      }
      const float xf = static_cast<float>((*values)[i]);  // exact: read from float32
      const float s = params->scales[c];
      if (!(std::fabs(s) >= FLT_MIN) || !std::isfinite(s)) return std::nullopt;
      const float scaled = xf / s;
      if (!std::isfinite(scaled) || std::fabs(scaled) >= 1073741824.0f) return std::nullopt;
      if (xf != 0.0f && std::fabs(xf) < FLT_MIN && std::nearbyint(scaled) != 0.0f) return std::nullopt;
      quantized[i] = analysis::QuantizeValue(xf, s, p.zero_points[c], *range);
    }
    ir::Tensor out(p.quant_type, dims);
    out.SetRawData(analysis::PackIntegers(quantized, p.quant_type));
    return out;
  }

  // Rule 5: Q/DQ nodes none of whose outputs is used compute nothing (ONNX
  // operators have no side effects). Reverse order, so a dead Q -> DQ pair
  // goes in one sweep; the constants only they read go with them.
  bool SweepDeadQdq(ir::Graph& graph) {
    bool changed = false;
    std::vector<ir::Node*> nodes = graph.node_list();
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
      ir::Node* node = *it;
      if (node->is_erased() || !IsQdq(*node) || !node->outputs_unused()) continue;
      EraseWithDeadInputs(node);
      changed = true;
    }
    return changed;
  }

  // Counts a skipped node once, although the fixed-point loop meets it in
  // every round.
  void CountSkip(const ir::Node* node, Statistic& statistic) {
    if (skipped_.insert(node).second) ++statistic;
  }

  absl::flat_hash_set<const ir::Node*> skipped_;
  Statistic pairs_removed_{this, "dq-q-pairs-removed", "DQ -> Q pairs with identical parameters bypassed"};
  Statistic identical_skipped_{this, "dq-q-pairs-skipped",
                               "Identical DQ -> Q pairs left because a scale is zero, subnormal, huge or not finite"};
  Statistic requantize_left_{this, "requantize-pairs-left",
                             "Q -> DQ -> Q chains with different parameters, left (folding them is not exact)"};
  Statistic duplicate_q_{this, "duplicate-q-merged", "QuantizeLinear nodes merged into an identical one"};
  Statistic duplicate_dq_{this, "duplicate-dq-merged", "DequantizeLinear nodes merged into an identical one"};
  Statistic constants_folded_{this, "q-of-constant-folded", "QuantizeLinear of a float constant replaced by an integer initializer"};
  Statistic constants_skipped_{this, "q-of-constant-skipped",
                               "QuantizeLinear of a constant left: a case not reproducible bit-exactly"};
  Statistic qdq_removed_{this, "qdq-nodes-removed", "Q and DQ nodes erased (bypassed, merged, folded or dead)"};
  Statistic constants_removed_{this, "constants-removed", "Initializers and Constant nodes left unused by the pass, erased"};
};

}  // namespace

std::unique_ptr<Pass> CreateQdqCleanupPass() { return std::make_unique<QdqCleanup>(); }

}  // namespace qopt
