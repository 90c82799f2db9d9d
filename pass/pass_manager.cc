#include "pass/pass_manager.h"

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ir/verifier.h"

namespace qopt {
namespace {

void CollectGarbage(ir::Graph& graph) { graph.CollectGarbage(); }

}  // namespace

absl::Status PassManager::Run(ir::Model& model, PassContext& context) {
  absl::Cleanup done = [&] {
    for (auto& i : instrumentations_) i->AfterPipeline();
  };
  if (verify_each_) {
    if (absl::Status s = ir::Verify(model); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("input model: ", s.message()));
    }
  }
  for (const auto& pass : passes_) {
    for (auto& i : instrumentations_) i->BeforePass(*pass, model);
    const absl::Time start = absl::Now();
    absl::StatusOr<bool> changed = pass->Run(model, context);
    const absl::Duration elapsed = absl::Now() - start;
    CollectGarbage(model.graph());
    if (!changed.ok()) {
      return absl::Status(changed.status().code(), absl::StrCat("pass '", pass->name(), "': ", changed.status().message()));
    }
    if (verify_each_) {
      if (absl::Status s = ir::Verify(model); !s.ok()) {
        return absl::InternalError(absl::StrCat("after pass '", pass->name(), "': ", s.message()));
      }
    }
    for (auto& i : instrumentations_) i->AfterPass(*pass, model, *changed, elapsed);
    if (context.report != nullptr) {
      PassRun run;
      run.name = std::string(pass->name());
      for (const OptionBase* o : pass->options()) run.options[o->name()] = o->value_text();
      run.changed = *changed;
      for (const Statistic* s : pass->statistics()) run.statistics[s->name()] = s->value();
      run.seconds = absl::ToDoubleSeconds(elapsed);
      for (auto& i : instrumentations_) i->RecordRun(*pass, model, run);
      context.report->AddPassRun(std::move(run));
    }
  }
  return absl::OkStatus();
}

}  // namespace qopt
