// quant-lint as a pass: each lint finding goes into the report (errors and
// warnings that --fail-on can gate on) and a summary table.
#include <map>

#include "absl/strings/str_cat.h"
#include "analysis/quant_lint.h"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

class QuantLintPass : public Pass {
 public:
  absl::string_view name() const override { return "quant-lint"; }
  absl::string_view summary() const override {
    return "Check Q/DQ parameters (bad scales, axes, Q/DQ mismatches, weight formats the target dislikes)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    std::vector<analysis::LintFinding> findings = analysis::LintQuantization(model.graph());
    std::map<std::string, int64_t> by_check;
    nlohmann::json list = nlohmann::json::array();
    for (const analysis::LintFinding& f : findings) {
      ++by_check[f.check];
      (f.severity == Severity::kError ? errors_ : warnings_) += 1;
      list.push_back({{"check", f.check},
                      {"severity", std::string(SeverityName(f.severity))},
                      {"subject", f.subject},
                      {"message", f.message}});
      if (context.report) context.report->AddFinding({f.severity, std::string(name()), f.subject, f.message});
    }
    std::string text = absl::StrCat("quant-lint: ", errors_.value(), " error(s), ", warnings_.value(), " warning(s)\n");
    for (const auto& [check, n] : by_check) absl::StrAppend(&text, "  ", check, ": ", n, "\n");
    if (context.report) {
      context.report->AddAnalysis("quant-lint", {{"findings", list}, {"by_check", by_check}}, text);
    }
    return false;
  }

 private:
  Statistic errors_{this, "errors", "Findings of error severity"};
  Statistic warnings_{this, "warnings", "Findings of warning severity"};
};

}  // namespace

std::unique_ptr<Pass> CreateQuantLintPass() { return std::make_unique<QuantLintPass>(); }

}  // namespace qopt
