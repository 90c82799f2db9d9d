#include "passes/fuse_qdq/island_costs.h"

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "analysis/macs.h"
#include "analysis/qdq_params.h"
#include "passes/shape_inference.h"

namespace qopt::fuse_qdq {
namespace {

// The value a Q -> DQ pair was made from, or null (x reached through a
// QuantizeLinear -> DequantizeLinear on its way).
const ir::Value* BeforeQdqPair(const ir::Value* v) {
  const ir::Node* dq = v ? v->producer() : nullptr;
  if (dq == nullptr || !analysis::IsDequantizeLinear(*dq) || dq->input(0) == nullptr) return nullptr;
  const ir::Node* q = dq->input(0)->producer();
  if (q == nullptr || !analysis::IsQuantizeLinear(*q)) return nullptr;
  return q->input(0);
}

std::string Micros(double ns) { return absl::StrFormat("%.1f us", ns / 1000.0); }

}  // namespace

absl::StatusOr<std::vector<UnitCostEstimate>> EstimateFloatUnits(const ir::Model& model,
                                                                 const std::vector<const ir::Node*>& candidates,
                                                                 const analysis::TargetProfile& profile,
                                                                 const std::string& input_shape, double margin) {
  // Shapes from a copy with the input dims fixed (when given) and shapes
  // inferred, matched node by node (the copy keeps the order).
  absl::StatusOr<std::unique_ptr<ir::Model>> shaped = CopyWithInputShapes(model, input_shape);
  if (!shaped.ok()) return shaped.status();
  absl::flat_hash_map<const ir::Node*, const ir::Node*> in_copy;
  const std::vector<ir::Node*> original = model.graph().node_list();
  const std::vector<ir::Node*> copied = (*shaped)->graph().node_list();
  if (original.size() == copied.size()) {
    for (size_t i = 0; i < original.size(); ++i) in_copy[original[i]] = copied[i];
  }
  std::vector<UnitCostEstimate> out;
  for (const ir::Node* node : candidates) {
    UnitCostEstimate e;
    e.node = node;
    e.unit_class = analysis::UnitClassOf(*node);
    const ir::Node* sized = in_copy.contains(node) ? in_copy.at(node) : node;
    const int64_t macs = analysis::NodeMacs(*sized);
    const int64_t out_elements = analysis::StaticElements(sized->output());
    const int64_t in_elements = analysis::StaticElements(sized->input(0));
    const ir::Node* dq = node->input(0) ? node->input(0)->producer() : nullptr;
    std::optional<analysis::QdqParams> act = dq && analysis::IsDequantizeLinear(*dq) ? analysis::ReadQdqParams(*dq)
                                                                                     : std::nullopt;
    const analysis::KernelMeasurement* m = act ? profile.MeasurementFor(*node, act->quant_type) : nullptr;
    if (macs < 0 || out_elements < 0 || in_elements < 0) {
      e.why = "shapes not static (give input-shape=)";
    } else if (m == nullptr || !m->integer.known() || !m->float_op.known()) {
      e.why = absl::StrCat("no measured costs for ", e.unit_class, " on ", profile.name);
    } else {
      e.integer_ns = m->integer.Estimate(static_cast<double>(macs), static_cast<double>(out_elements));
      e.float_ns = m->float_op.Estimate(static_cast<double>(macs), static_cast<double>(out_elements));
      const ir::Value* source = BeforeQdqPair(node->input(0));
      const bool reads_image = source != nullptr && source->kind() == ir::Value::Kind::kGraphInput;
      const double entry = reads_image ? -profile.quantize.Estimate(0, static_cast<double>(in_elements))
                                       : profile.dequantize.Estimate(0, static_cast<double>(in_elements));
      e.boundary_ns = entry + profile.quantize.Estimate(0, static_cast<double>(out_elements));
      e.picked = e.float_ns + e.boundary_ns < e.integer_ns * (1.0 - margin);
      e.why = absl::StrCat(e.unit_class, ": integer ", Micros(e.integer_ns), ", float ", Micros(e.float_ns), " + Q/DQ ",
                           Micros(e.boundary_ns), e.picked ? " -> float" : " -> integer");
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace qopt::fuse_qdq
