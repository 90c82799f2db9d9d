// qdq-boundaries as a pass: the boundary report for a target profile.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "analysis/qdq_boundaries.h"
#include "passes/builtin_passes.h"
#include "passes/fuse_qdq/fuse_units.h"
#include "passes/shape_inference.h"

namespace qopt {
namespace {

class QdqBoundaries : public Pass {
 public:
  absl::string_view name() const override { return "qdq-boundaries"; }
  absl::string_view summary() const override {
    return "Report float<->integer transitions, integer islands, units left float and why, redundant Q/DQ";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    absl::StatusOr<const analysis::TargetProfile*> resolved = analysis::ResolveTargetProfile(target_.value());
    if (!resolved.ok()) return resolved.status();
    const analysis::TargetProfile* profile = *resolved;
    // With input-shape=, the analysis runs on a copy whose shapes are static,
    // so that the bytes of the boundary ops can be counted.
    std::unique_ptr<ir::Model> copy;
    if (!input_shape_.value().empty()) {
      auto shaped = CopyWithInputShapes(model, input_shape_.value());
      if (!shaped.ok()) return shaped.status();
      copy = *std::move(shaped);
    }
    // The kernels fuse-qdq-units has an action for: a unit the target runs
    // in integer with another kernel is reported as "no rewrite yet", as
    // fuse-qdq-units reports it.
    const std::set<std::string> rewritable = FuseQdqUnitsKernels();
    analysis::BoundaryReport report =
        analysis::AnalyzeBoundaries(copy ? copy->graph() : model.graph(), *profile, &rewritable);
    for (const auto& [what, n] : report.no_rewrite) no_rewrite_ += n;
    left_float_ += report.units - report.fusable_units;
    for (const analysis::RedundantPair& p : report.redundant) {
      if (p.kind == "dq-q-identical") ++removable_pairs_;
      if (context.report && (p.kind == "dq-q-identical" || p.kind == "q-of-constant" || p.kind == "duplicate-q" ||
                             p.kind == "duplicate-dq")) {
        context.report->AddFinding({Severity::kInfo, std::string(name()), p.subject,
                                    absl::StrCat(p.kind, " on '", p.tensor, "'")});
      }
    }
    if (context.report) {
      context.report->AddAnalysis("qdq-boundaries", analysis::BoundariesToJson(report),
                                  analysis::FormatBoundaries(report, static_cast<int>(max_rows_.value())));
    }
    return false;
  }

 private:
  Option<std::string> target_{
      this, "target", "Target profile: ort-cpu, onnx-standard, or a profile file (qopt-target/1 JSON, docs/targets.md)",
      "ort-cpu"};
  Option<std::string> input_shape_{this, "input-shape",
                                   "Fix symbolic input dims (on a copy) to count boundary bytes, e.g. x:1x3x224x224", ""};
  Option<int64_t> max_rows_{this, "max-rows", "Reasons listed in the text table", 12};
  Statistic left_float_{this, "units-left-float", "Node units that do not run in integer on the target"};
  Statistic no_rewrite_{this, "units-no-rewrite-yet",
                        "Units the target runs in integer that qopt has no rewrite for yet (counted as integer)"};
  Statistic removable_pairs_{this, "removable-dq-q", "DQ->Q pairs with identical parameters"};
};

}  // namespace

std::unique_ptr<Pass> CreateQdqBoundariesPass() { return std::make_unique<QdqBoundaries>(); }

}  // namespace qopt
