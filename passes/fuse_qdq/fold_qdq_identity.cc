// fold-qdq-identity: DequantizeLinear -> op -> QuantizeLinear sites that
// give back the integer they started from, where op is
//   - Mul or Div by a positive constant that only moves the scale: hard-swish
//     as PaddleOCR writes it, x * Clip(x + 3, 0, 6) / 6, leaves the Div in
//     float between two quantized ops, and DQ(q; s1, z) / 6 = DQ(q; s1/6, z)
//     while the Div's calibrated output scale is s1/6 up to float rounding;
//   - Relu or Clip whose clamp the Q range already implies (Relu after a
//     zero point at the bottom of the integer range, Clip(0, 6) where the
//     range is [0, 6]).
// The Q's users then read q directly; the DQ (if nobody else reads it), the
// op and the Q go.
//
// Why it is exact: write op as v -> clamp(a * v, lo, hi) (a = c, 1/c or 1).
// With M = the largest |q - z| the integer type allows and r = a * s1 / s2,
// Q(op(DQ(q))) = round(clamp((q - z) * r, ...)) + z. If M * |r - 1| < 1/4
// and the clamp bounds lie at most a quarter step inside the values DQ can
// produce, every (q - z) * r stays within 1/4 of the integer q - z, and the
// float rounding of DQ, op and Q (a few parts in 1e7: under 1e-4 absolute
// for 8-bit, 0.03 for 16-bit ranges) cannot carry it past a rounding
// boundary: every q maps to itself, in ONNX Runtime as in the ONNX
// definition. Sites that fail the bound (a real requantization, or a clamp
// that cuts) are left as they are and counted.
#include <cmath>
#include <limits>

#include "analysis/qdq_params.h"
#include "analysis/quant_math.h"
#include "passes/builtin_passes.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// op as v -> clamp(a * v, lo, hi), for the ops this pass knows.
struct MonotoneMap {
  double a = 1;
  double lo = -kInf;
  double hi = kInf;
  int data_input = 0;
};

// The rank of `v`: its constant's or its declared shape's, looking through
// the Q/DQ nodes that made it (they keep the shape of their data input).
std::optional<size_t> Rank(const ir::Value* v) {
  while (v != nullptr) {
    if (const ir::Tensor* t = v->constant()) return t->dims().size();
    if (auto shape = v->shape()) return shape->size();
    const ir::Node* producer = v->producer();
    if (producer == nullptr || !analysis::IsQuantizationBoundary(*producer)) break;
    v = producer->input(0);
  }
  return std::nullopt;
}

// Whether `data` op `constant` (a one-element constant) has the shape of
// `data`: the constant's rank is no higher (a scalar always qualifies).
bool BroadcastKeepsShape(const ir::Value* data, const ir::Value* constant) {
  std::optional<size_t> c = Rank(constant);
  if (c && *c == 0) return true;
  std::optional<size_t> d = Rank(data);
  return c && d && *c <= *d;
}

std::optional<MonotoneMap> AsMonotoneMap(const ir::Node& op, int data_input) {
  MonotoneMap m;
  m.data_input = data_input;
  if (op.Is("Relu") || op.Is("Clip")) {
    if (data_input != 0) return std::nullopt;
    std::optional<fuse_qdq::ClampBounds> bounds = fuse_qdq::ReadClampBounds(op);
    if (!bounds) return std::nullopt;
    m.lo = bounds->lo;
    m.hi = bounds->hi;
    return m;
  }
  if (op.Is("Mul") || (op.Is("Div") && data_input == 0)) {
    const ir::Value* constant = op.input(1 - data_input);
    std::optional<double> c = fuse_qdq::ScalarConstant(constant);
    if (!c || !(*c > 0) || !std::isfinite(*c)) return std::nullopt;
    // A one-element constant of higher rank than the data broadcasts the
    // output to that rank (x[4] / c[1,1,1] is [1,1,4]): not the identity.
    if (!BroadcastKeepsShape(op.input(data_input), constant)) return std::nullopt;
    m.a = op.Is("Mul") ? *c : 1 / *c;
    return m;
  }
  return std::nullopt;
}

class FoldQdqIdentity : public Pass {
 public:
  absl::string_view name() const override { return "fold-qdq-identity"; }
  absl::string_view summary() const override {
    return "Remove DQ -> Mul/Div by a positive constant, Relu or Clip -> Q where it gives back the same integer "
           "(exact)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    ir::Graph& graph = model.graph();
    bool changed = false;
    for (ir::Node* node : graph.nodes()) {
      if (!node->is_default_domain() || node->num_outputs() != 1) continue;
      std::vector<ir::Node*> bypassed;  // Q, op, DQ
      if (!TryFold(graph, *node, &bypassed)) continue;
      changed = true;
      for (ir::Node* n : bypassed) {
        if (!n->output()->has_uses()) graph.EraseNode(n);  // the DQ stays if others read it
      }
    }
    return changed;
  }

 private:
  // The one Q reading `v` (and nothing else reading it), or null.
  static ir::Node* OnlyQuantizeUser(const ir::Value* v) {
    if (v == nullptr || v->is_graph_output() || v->uses().size() != 1) return nullptr;
    ir::Node* user = v->uses()[0].user;
    return analysis::IsQuantizeLinear(*user) && v->uses()[0].index == 0 ? user : nullptr;
  }

  bool TryFold(ir::Graph& graph, ir::Node& op, std::vector<ir::Node*>* bypassed) {
    for (int data = 0; data < 2 && data < op.num_inputs(); ++data) {
      ir::Node* dq = op.input(data) ? op.input(data)->producer() : nullptr;
      if (dq == nullptr || !analysis::IsDequantizeLinear(*dq)) continue;
      if (dq->input(0) == nullptr || dq->input(0)->constant() != nullptr) continue;  // activations only
      std::optional<MonotoneMap> map = AsMonotoneMap(op, data);
      if (!map) continue;
      ir::Node* q = OnlyQuantizeUser(op.output());
      if (q == nullptr) return false;
      if (!IsIdentity(*dq, *map, *q)) {
        ++kept_;
        return false;
      }
      graph.ReplaceAllUsesWith(q->output(), dq->input(0));
      *bypassed = {q, &op, dq};
      ++(op.Is("Mul") || op.Is("Div") ? scale_folded_ : clamp_folded_);
      return true;
    }
    return false;
  }

  static bool IsIdentity(const ir::Node& dq, const MonotoneMap& map, const ir::Node& q) {
    auto in = analysis::ReadQdqParams(dq);
    auto out = analysis::ReadQdqParams(q);
    if (!in || !out || in->scales.size() != 1 || out->scales.size() != 1 || in->quant_type != out->quant_type ||
        in->zero_points != out->zero_points || in->block_size != 0 || out->block_size != 0) {
      return false;
    }
    auto range = analysis::FullRange(in->quant_type);
    const double s1 = in->scales[0], s2 = out->scales[0];
    if (!range.ok() || !(s1 > 0) || !(s2 > 0) || !std::isfinite(s1) || !std::isfinite(s2)) return false;
    const int64_t z = in->zero_points.empty() ? 0 : in->zero_points[0];
    const double max_offset = static_cast<double>(std::max(range->max - z, z - range->min));
    const double ratio = map.a * s1 / s2;
    if (!(max_offset * std::abs(ratio - 1) < 0.25)) return false;
    // The clamp may cut at most a quarter step off the values DQ can make.
    const double lowest = map.a * static_cast<double>(range->min - z) * s1;
    const double highest = map.a * static_cast<double>(range->max - z) * s1;
    return map.lo <= lowest + s2 / 4 && map.hi >= highest - s2 / 4;
  }

  Statistic scale_folded_{this, "scale-folded", "DQ -> Mul/Div -> Q sites removed as the integer identity"};
  Statistic clamp_folded_{this, "clamp-folded", "DQ -> Relu/Clip -> Q sites whose clamp the Q range implies"};
  Statistic kept_{this, "kept", "Sites where the op changes the integer values (left as they are)"};
};

}  // namespace

std::unique_ptr<Pass> CreateFoldQdqIdentityPass() { return std::make_unique<FoldQdqIdentity>(); }

}  // namespace qopt
