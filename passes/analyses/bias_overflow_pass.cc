// bias-overflow as a pass: findings (saturation is an error, the rest
// warnings) and a table of the flagged conv/gemm units.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analysis/bias_overflow.h"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

constexpr const char* kFixes =
    "fixes: per-channel weights (quantize{per-channel=true}), a larger weight scale "
    "(quantize{adjust-weight-for-bias=true}), or keep the layer float (quantize{exclude-nodes=...})";

class BiasOverflowPass : public Pass {
 public:
  absl::string_view name() const override { return "bias-overflow"; }
  absl::string_view summary() const override {
    return "Find int32 biases that saturate or lose precision (bias_scale = input_scale * weight_scale), "
           "and int32 accumulator risks";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    analysis::BiasOverflowOptions options;
    options.max_relative_error = max_relative_error_.value();
    options.tiny_weight_scale = tiny_weight_scale_.value();
    std::vector<analysis::BiasOverflowEntry> entries = analysis::AnalyzeBiasOverflow(model.graph(), options);
    std::string text = absl::StrFormat("bias-overflow: %d unit(s) flagged\n", entries.size());
    for (const analysis::BiasOverflowEntry& e : entries) {
      absl::StrAppend(&text, absl::StrFormat("  %s bias '%s' (%s, %d channels): %d saturated, %d lossy, "
                                             "min weight scale %.3g%s%s\n",
                                             e.node, e.bias, e.form, e.channels, e.saturated, e.lossy,
                                             e.min_weight_scale, e.scale_mismatch ? ", scale mismatch" : "",
                                             e.accumulator_risk ? ", accumulator risk" : ""));
      for (const analysis::BiasChannel& c : e.worst) {
        absl::StrAppend(&text, absl::StrFormat("      channel %d: bias %.6g / scale %.3g = %.4g (weight scale %.3g)\n",
                                               c.channel, c.bias, c.bias_scale, c.quantized, c.weight_scale));
      }
      if (!context.report) continue;
      auto add = [&](Severity severity, std::string message) {
        context.report->AddFinding({severity, std::string(name()), e.node, std::move(message)});
      };
      if (e.saturated) {
        add(Severity::kError, absl::StrCat(e.saturated, " of ", e.channels, " values of bias '", e.bias,
                                           "' exceed int32 at bias_scale = input_scale * weight_scale (min weight "
                                           "scale ", e.min_weight_scale, "); ", kFixes));
      }
      if (e.lossy) {
        add(Severity::kWarning, absl::StrCat(e.lossy, " values of bias '", e.bias, "' lose more than ",
                                             max_relative_error_.value() * 100, "% when rounded to int32"));
      }
      if (e.tiny_weight_scales) {
        add(Severity::kWarning, absl::StrCat(e.tiny_weight_scales, " weight scale(s) below ",
                                             tiny_weight_scale_.value(), " (min ", e.min_weight_scale, ")"));
      }
      if (e.scale_mismatch) {
        add(Severity::kWarning, absl::StrCat("bias '", e.bias, "' scale is not input_scale * weight_scale; "
                                             "integer kernels will not fuse it"));
      }
      if (e.accumulator_risk) {
        add(Severity::kWarning, absl::StrCat("int32 accumulator may overflow: K=", e.k, " x max|x_q|=",
                                             e.max_abs_x_q, " x max|w_q|=", e.max_abs_w_q, " > 2^31-1"));
      }
    }
    units_flagged_ += static_cast<int64_t>(entries.size());
    if (context.report) context.report->AddAnalysis("bias-overflow", analysis::BiasOverflowToJson(entries), text);
    return false;
  }

 private:
  Option<double> max_relative_error_{this, "max-relative-error",
                                     "Flag bias values whose int32 rounding error exceeds this fraction", 0.01};
  Option<double> tiny_weight_scale_{this, "tiny-weight-scale", "Flag weight scales below this", 1e-7};
  Statistic units_flagged_{this, "units-flagged", "Conv/Gemm units with a bias or accumulator problem"};
};

}  // namespace

std::unique_ptr<Pass> CreateBiasOverflowPass() { return std::make_unique<BiasOverflowPass>(); }

}  // namespace qopt
