// qdq-lookup: an 8-bit DequantizeLinear -> element-wise op -> QuantizeLinear
// site is a function of one byte, so it is a 256-entry table: the site
// becomes Gather(table, Cast(q to int32)) on integers, with the table
// computed here in float32 exactly as ONNX Runtime's kernels compute DQ, the
// op and Q. The squeeze-excitation gate HardSigmoid(Conv(...)) then stays in
// integer between its QLinearConv and QLinearMul.
//
// Ops (the `ops=` option; LeakyRelu is known but off by default, since
// ort-cpu has QLinearLeakyRelu), and how their float32 results are
// reproduced:
//   HardSigmoid  max(0, min(1, alpha * x + beta))
//   Relu         max(x, 0)
//   Clip         min(max(x, lo), hi) with constant bounds
//   LeakyRelu    x >= 0 ? x : alpha * x
//   Neg, Abs     exact
// Where a kernel may contract `alpha * x + beta` into one fused multiply-add,
// the table is computed both ways; if any of the 256 entries differs after
// quantization the site is left as it is (counted), so the rewrite is exact
// whichever way the runtime was compiled.
#include <cmath>
#include <functional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_split.h"

#include "absl/strings/str_cat.h"
#include "analysis/qdq_params.h"
#include "analysis/quant_math.h"
#include "passes/builtin_passes.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt {
namespace {

// The op as a float32 function; `fused` selects the fused multiply-add
// variant where the op has one. Null for ops this pass does not know.
using FloatFn = std::function<float(float, bool fused)>;

std::optional<FloatFn> ElementwiseFunction(const ir::Node& op) {
  if (!op.is_default_domain() || op.num_outputs() != 1) return std::nullopt;
  if (op.Is("HardSigmoid")) {
    const float alpha = op.GetFloat("alpha").value_or(0.2f);
    const float beta = op.GetFloat("beta").value_or(0.5f);
    return FloatFn([alpha, beta](float x, bool fused) {
      const float y = fused ? std::fma(alpha, x, beta) : alpha * x + beta;
      return std::max(0.0f, std::min(1.0f, y));
    });
  }
  if (op.Is("Relu")) return FloatFn([](float x, bool) { return std::max(x, 0.0f); });
  if (op.Is("LeakyRelu")) {
    const float alpha = op.GetFloat("alpha").value_or(0.01f);
    return FloatFn([alpha](float x, bool) { return x >= 0 ? x : alpha * x; });
  }
  if (op.Is("Neg")) return FloatFn([](float x, bool) { return -x; });
  if (op.Is("Abs")) return FloatFn([](float x, bool) { return std::fabs(x); });
  if (op.Is("Clip")) {
    float lo = op.GetFloat("min").value_or(-INFINITY);
    float hi = op.GetFloat("max").value_or(INFINITY);
    for (int i : {1, 2}) {
      if (op.input(i) == nullptr) continue;
      const ir::Tensor* t = op.input(i)->constant();
      if (t == nullptr || t->type() != ir::ElementType::kFloat || t->num_elements() != 1) return std::nullopt;
      auto v = t->ToDoubles();
      if (!v.ok()) return std::nullopt;
      (i == 1 ? lo : hi) = static_cast<float>((*v)[0]);
    }
    return FloatFn([lo, hi](float x, bool) { return std::min(std::max(x, lo), hi); });
  }
  return std::nullopt;
}

bool IsEightBit(ir::ElementType t) { return t == ir::ElementType::kUint8 || t == ir::ElementType::kInt8; }

// The Q's users read `integer` instead; the Q, the op and (when nobody else
// reads it) the DQ go, and `integer` takes the Q output's name.
void ReplaceSite(ir::Graph& graph, ir::Node& dq, ir::Node& op, ir::Node& q, ir::Value* integer) {
  const std::string q_name = q.output()->name();
  graph.ReplaceAllUsesWith(q.output(), integer);
  graph.EraseNode(&q);
  graph.EraseNode(&op);
  if (!dq.output()->has_uses()) graph.EraseNode(&dq);
  if (!integer->is_graph_output() && graph.FindValue(q_name) == nullptr) graph.RenameValue(integer, q_name);
}

class QdqLookup : public Pass {
 public:
  absl::string_view name() const override { return "qdq-lookup"; }
  absl::string_view summary() const override {
    return "Turn 8-bit DQ -> HardSigmoid/Relu/Clip/Neg/Abs -> Q into a 256-entry table lookup (exact)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext&) override {
    ir::Graph& graph = model.graph();
    const absl::flat_hash_set<std::string> ops = absl::StrSplit(ops_.value(), ',', absl::SkipEmpty());
    bool changed = false;
    for (ir::Node* op : graph.nodes()) {
      if (!ops.contains(op->op_type())) continue;
      changed |= TryRewrite(graph, *op);
    }
    return changed;
  }

 private:
  bool TryRewrite(ir::Graph& graph, ir::Node& op) {
    std::optional<FloatFn> fn = ElementwiseFunction(op);
    ir::Node* dq = op.input(0) ? op.input(0)->producer() : nullptr;
    ir::Value* out = op.output();
    if (!fn || dq == nullptr || !analysis::IsDequantizeLinear(*dq) || out == nullptr || out->is_graph_output() ||
        out->uses().size() != 1) {
      return false;
    }
    ir::Node* q = out->uses()[0].user;
    if (!analysis::IsQuantizeLinear(*q) || out->uses()[0].index != 0) return false;
    auto in = analysis::ReadQdqParams(*dq);
    auto qp = analysis::ReadQdqParams(*q);
    if (!in || !qp || in->scales.size() != 1 || qp->scales.size() != 1 || !IsEightBit(in->quant_type) ||
        !IsEightBit(qp->quant_type) || dq->input(0) == nullptr || dq->input(0)->constant() != nullptr) {
      return false;
    }
    auto in_range = analysis::FullRange(in->quant_type);
    auto out_range = analysis::FullRange(qp->quant_type);
    if (!in_range.ok() || !out_range.ok()) return false;
    const float s_in = static_cast<float>(in->scales[0]);
    const float s_out = static_cast<float>(qp->scales[0]);
    const int64_t z_in = in->zero_points.empty() ? 0 : in->zero_points[0];
    const int64_t z_out = qp->zero_points.empty() ? 0 : qp->zero_points[0];
    if (!(s_out > 0) || !std::isfinite(s_in) || !std::isfinite(s_out)) return false;
    if ((op.Is("Relu") || op.Is("Clip")) && analysis::SameQuantization(*in, *qp)) return ClampOnIntegers(graph, op, *dq, *q);
    // table[q - min]: the value the site produces for integer q. DQ is
    // (q - z) * s in float32, as ONNX Runtime computes it.
    std::vector<int64_t> table;
    for (int64_t v = in_range->min; v <= in_range->max; ++v) {
      const float x = static_cast<float>(v - z_in) * s_in;
      const int64_t plain = analysis::QuantizeValue((*fn)(x, false), s_out, z_out, *out_range);
      const int64_t fused = analysis::QuantizeValue((*fn)(x, true), s_out, z_out, *out_range);
      if (plain != fused) {
        ++ambiguous_;
        return false;
      }
      table.push_back(plain);
    }
    // int8 input: indices q - (-128) = q + 128 would need an Add; instead
    // the table is rotated so that Cast(q) indexes it with Gather's
    // negative-index rule (-128..-1 count from the end).
    std::vector<int64_t> indexed(table.size());
    for (size_t i = 0; i < table.size(); ++i) {
      const int64_t v = in_range->min + static_cast<int64_t>(i);
      indexed[v >= 0 ? v : v + 256] = table[i];
    }
    ir::Tensor lut(qp->quant_type, {256});
    lut.SetRawData(analysis::PackIntegers(indexed, qp->quant_type));
    ir::Value* lut_value = graph.AddInitializer(absl::StrCat(out->name(), "_lookup"), std::move(lut));
    ir::Node* cast = graph.AddNode("Cast", {dq->input(0)}, 1, q, "", absl::StrCat(out->name(), "_index"));
    cast->SetInt("to", static_cast<int64_t>(ir::ElementType::kInt32));
    fuse_qdq::SetIntegerType(cast->output(), ir::ElementType::kInt32, out);
    ir::Node* gather = graph.AddNode("Gather", {lut_value, cast->output()}, 1, q, "", op.name());
    gather->SetInt("axis", 0);
    fuse_qdq::SetIntegerType(gather->output(), qp->quant_type, out);
    ReplaceSite(graph, *dq, op, *q, gather->output());
    ++rewritten_;
    return true;
  }

  // DQ(s, z) -> Relu/Clip(lo, hi) -> Q(s, z): Q is monotone, so it
  // commutes with the clamp, and Q(DQ(q)) = q with equal parameters; the
  // site is Clip(q, Q(lo), Q(hi)) on the integers, one node and no table
  // (a Relu on a large tensor would make a large Cast + Gather).
  bool ClampOnIntegers(ir::Graph& graph, ir::Node& op, ir::Node& dq, ir::Node& q) {
    auto p = analysis::ReadQdqParams(q);
    auto range = analysis::FullRange(p->quant_type);
    if (!range.ok()) return false;
    const float scale = static_cast<float>(p->scales[0]);
    const int64_t z = p->zero_points.empty() ? 0 : p->zero_points[0];
    std::optional<fuse_qdq::ClampBounds> bounds = fuse_qdq::ReadClampBounds(op);
    if (!bounds) return false;
    const float lo = static_cast<float>(bounds->lo);
    const float hi = static_cast<float>(bounds->hi);
    auto bound_value = [&](float b, int64_t otherwise) {
      if (std::isinf(b)) return otherwise;
      return analysis::QuantizeValue(b, scale, z, *range);
    };
    ir::Tensor qlo(p->quant_type, {}), qhi(p->quant_type, {});
    qlo.SetRawData(analysis::PackIntegers({bound_value(lo, range->min)}, p->quant_type));
    qhi.SetRawData(analysis::PackIntegers({bound_value(hi, range->max)}, p->quant_type));
    ir::Value* out = op.output();
    ir::Node* clip = graph.AddNode(
        "Clip",
        {dq.input(0), graph.AddInitializer(absl::StrCat(out->name(), "_qmin"), std::move(qlo)),
         graph.AddInitializer(absl::StrCat(out->name(), "_qmax"), std::move(qhi))},
        1, &q, "", op.name());
    fuse_qdq::SetIntegerType(clip->output(), p->quant_type, out);
    ReplaceSite(graph, dq, op, q, clip->output());
    ++clamped_;
    return true;
  }

  Option<std::string> ops_{this, "ops", "Comma-separated op types to turn into lookups",
                           "HardSigmoid,Relu,Clip,Neg,Abs"};
  Statistic rewritten_{this, "sites-rewritten", "DQ -> op -> Q sites turned into Cast + Gather"};
  Statistic clamped_{this, "sites-clamped", "Relu/Clip sites with equal parameters turned into an integer Clip"};
  Statistic ambiguous_{this, "sites-ambiguous",
                       "Sites left alone because a fused multiply-add could change an entry"};
};

}  // namespace

std::unique_ptr<Pass> CreateQdqLookupPass() { return std::make_unique<QdqLookup>(); }

}  // namespace qopt
