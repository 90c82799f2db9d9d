#include "passes/fuse_qdq/island_costs.h"

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "analysis/macs.h"
#include "analysis/qdq_params.h"
#include "ir/op_traits.h"
#include "passes/shape_inference.h"

namespace qopt::fuse_qdq {
namespace {

std::string Micros(double ns) { return absl::StrFormat("%.1f us", ns / 1000.0); }

}  // namespace

absl::StatusOr<std::vector<UnitCostEstimate>> EstimateFloatUnits(const ir::Model& model,
                                                                 const std::vector<IslandCandidate>& candidates,
                                                                 const analysis::TargetProfile& profile,
                                                                 const std::string& input_shape, double margin) {
  // Shapes from a copy with the input dims fixed (when given) and shapes
  // inferred, matched node by node (the copy keeps the order).
  absl::StatusOr<std::unique_ptr<ir::Model>> shaped = CopyWithInputShapes(model, input_shape);
  if (!shaped.ok()) return shaped.status();
  absl::flat_hash_map<const ir::Node*, const ir::Node*> in_copy;
  absl::flat_hash_map<const ir::Value*, const ir::Value*> value_in_copy;
  const std::vector<ir::Node*> original = model.graph().node_list();
  const std::vector<ir::Node*> copied = (*shaped)->graph().node_list();
  if (original.size() == copied.size()) {
    for (size_t i = 0; i < original.size(); ++i) {
      in_copy[original[i]] = copied[i];
      for (int o = 0; o < original[i]->num_outputs() && o < copied[i]->num_outputs(); ++o) {
        value_in_copy[original[i]->output(o)] = copied[i]->output(o);
      }
    }
  }
  auto sized = [&](const ir::Node* n) { return in_copy.contains(n) ? in_copy.at(n) : n; };
  auto elements = [&](const ir::Value* v) {
    return analysis::StaticElements(value_in_copy.contains(v) ? value_in_copy.at(v) : v);
  };
  // An element-wise op with one activation input (the rest constants) is
  // a lookup table in the integer graph (qdq-lookup folds such chains into
  // one Gather of 256 entries, next to nothing); only in float does it cost
  // its op.
  auto is_lookup = [](const ir::Node& n) {
    if (ir::HasWeightInput(n) || n.num_outputs() != 1) return false;
    int activations = 0;
    for (const ir::Value* in : n.inputs()) {
      if (in == nullptr || in->is_constant()) continue;
      const ir::Node* p = in->producer();
      if (p != nullptr && analysis::IsDequantizeLinear(*p) && p->input(0) != nullptr && p->input(0)->is_constant()) {
        continue;
      }
      ++activations;
    }
    return activations == 1 && ir::HasTrait(n, ir::OpTrait::kElementwise);
  };
  std::vector<UnitCostEstimate> out;
  for (const IslandCandidate& c : candidates) {
    UnitCostEstimate e;
    e.node = c.seed;
    e.unit_class = analysis::UnitClassOf(*c.seed);
    const ir::Node* dq = c.seed->input(0) ? c.seed->input(0)->producer() : nullptr;
    std::optional<analysis::QdqParams> act = dq && analysis::IsDequantizeLinear(*dq) ? analysis::ReadQdqParams(*dq)
                                                                                     : std::nullopt;
    const ir::ElementType type = act ? act->quant_type : ir::ElementType::kUint8;
    const int64_t in_elements = analysis::StaticElements(sized(c.seed)->input(0));
    bool priced = true;
    int unpriced = 0;
    for (const ir::Node* member : c.members) {
      const analysis::KernelMeasurement* m = profile.MeasurementFor(*member, type);
      const bool known = m != nullptr && m->integer.known() && m->float_op.known();
      const bool compute = ir::HasWeightInput(*member);
      const int64_t macs = compute ? analysis::NodeMacs(*sized(member)) : 0;
      const int64_t out_elements = elements(member->output());
      if (!known || macs < 0 || out_elements < 0) {
        if (member == c.seed) {
          priced = false;
          e.why = macs < 0 || out_elements < 0
                      ? "shapes not static (give input-shape=)"
                      : absl::StrCat("no measured costs for ", e.unit_class, " on ", profile.name);
        }
        ++unpriced;
        continue;
      }
      if (member == c.seed || !is_lookup(*member)) {
        e.integer_ns += m->integer.Estimate(static_cast<double>(macs), static_cast<double>(out_elements));
      }
      e.float_ns += m->float_op.Estimate(static_cast<double>(macs), static_cast<double>(out_elements));
    }
    if (priced && in_elements < 0) {
      priced = false;
      e.why = "shapes not static (give input-shape=)";
    }
    if (priced) {
      e.boundary_ns = c.reads_image ? -profile.quantize.Estimate(0, static_cast<double>(in_elements))
                                    : profile.dequantize.Estimate(0, static_cast<double>(in_elements));
      for (const ir::Value* exit : c.exits) {
        const int64_t n = elements(exit);
        e.boundary_ns += profile.quantize.Estimate(0, static_cast<double>(std::max<int64_t>(n, 0)));
      }
      e.picked = e.float_ns + e.boundary_ns < e.integer_ns * (1.0 - margin);
      e.why = absl::StrCat(e.unit_class, " + ", c.members.size() - 1, " taken in", unpriced ? " (" : "",
                           unpriced ? absl::StrCat(unpriced, " without costs)") : "", ": integer ",
                           Micros(e.integer_ns), ", float ", Micros(e.float_ns), " + Q/DQ ", Micros(e.boundary_ns),
                           e.picked ? " -> float" : " -> integer");
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace qopt::fuse_qdq
