#include "pass/instrumentation.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ir/printer.h"

namespace qopt {
namespace {

class PrintIr : public PassInstrumentation {
 public:
  PrintIr(PrintIrOptions options, std::ostream& out) : options_(std::move(options)), out_(out) {}

  void BeforePass(const Pass& pass, const ir::Model& model) override {
    if (options_.before_all || options_.before.count(std::string(pass.name()))) {
      out_ << "// -----// IR Dump Before " << pass.name() << " //----- //\n" << ir::PrintModel(model) << "\n";
    }
  }
  void AfterPass(const Pass& pass, const ir::Model& model, bool changed, absl::Duration) override {
    bool wanted = options_.after_all || options_.after.count(std::string(pass.name()));
    if (options_.after_change) wanted = wanted || options_.after.empty();
    if (wanted && (!options_.after_change || changed)) {
      out_ << "// -----// IR Dump After " << pass.name() << " //----- //\n" << ir::PrintModel(model) << "\n";
    }
  }

 private:
  PrintIrOptions options_;
  std::ostream& out_;
};

class Timing : public PassInstrumentation {
 public:
  explicit Timing(TimingReport* report) : report_(report) {}
  void AfterPass(const Pass& pass, const ir::Model&, bool, absl::Duration elapsed) override {
    report_->Add(std::string(pass.name()), elapsed);
  }
  void AfterVerify(const Pass* pass, absl::string_view what, absl::Duration elapsed) override {
    report_->Add(pass != nullptr ? absl::StrCat("(verify) ", pass->name()) : absl::StrCat("(verify ", what, ")"),
                 elapsed);
  }

 private:
  TimingReport* report_;
};

}  // namespace

std::unique_ptr<PassInstrumentation> CreatePrintIrInstrumentation(PrintIrOptions options, std::ostream& out) {
  return std::make_unique<PrintIr>(std::move(options), out);
}

void TimingReport::Print(std::ostream& out) const {
  absl::Duration total;
  for (const auto& [name, d] : rows_) total += d;
  out << "===-------------------------------------------------------------------------===\n"
      << "                         ... Pass execution timing report ...\n"
      << "===-------------------------------------------------------------------------===\n";
  out << absl::StrFormat("  Total Execution Time: %.4f seconds\n\n", absl::ToDoubleSeconds(total));
  out << "  ----Wall Time----  ----Name----\n";
  for (const auto& [name, d] : rows_) {
    double share = total > absl::ZeroDuration() ? 100.0 * absl::FDivDuration(d, total) : 100.0;
    out << absl::StrFormat("  %8.4f (%5.1f%%)  %s\n", absl::ToDoubleSeconds(d), share, name);
  }
  out << absl::StrFormat("  %8.4f (100.0%%)  Total\n", absl::ToDoubleSeconds(total));
}

std::unique_ptr<PassInstrumentation> CreateTimingInstrumentation(TimingReport* report) {
  return std::make_unique<Timing>(report);
}

}  // namespace qopt
