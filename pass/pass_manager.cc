#include "pass/pass_manager.h"

#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
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
  // Element-type and shape problems the input came with: an error when asked
  // (qopt-opt asks), else tolerated, so that only what a pass breaks fails.
  absl::flat_hash_set<std::string> input_problems;
  auto verified = [&](const Pass* pass, absl::string_view what, absl::Time start) {
    const absl::Duration elapsed = absl::Now() - start;
    for (auto& i : instrumentations_) i->AfterVerify(pass, what, elapsed);
  };
  if (verify_each_) {
    const absl::Time start = absl::Now();
    ir::VerifyOptions structure_only;
    structure_only.element_types = false;
    structure_only.shapes = false;
    absl::Status s = ir::Verify(model, structure_only);
    std::vector<ir::VerifierProblem> problems;
    if (s.ok()) problems = ir::FindProblems(model);
    // Only element types reject an input: ONNX Runtime refuses such a file
    // too, while a declared shape that contradicts inference (stale
    // value_info, common in files from other tools) only earns a warning
    // there; it is tolerated here, and a pass that makes one new still fails.
    for (const ir::VerifierProblem& p : problems) {
      if (s.ok() && reject_invalid_input_ && absl::StartsWith(p.key, "type|")) {
        s = absl::FailedPreconditionError(p.message);
      }
    }
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat("input model: ", s.message()));
    for (ir::VerifierProblem& p : problems) input_problems.insert(std::move(p.key));
    verified(nullptr, "input", start);
  }
  const Pass* last_changed = nullptr;
  for (const auto& pass : passes_) {
    for (auto& i : instrumentations_) i->BeforePass(*pass, model);
    const absl::Time start = absl::Now();
    absl::StatusOr<bool> changed = pass->Run(model, context);
    CollectGarbage(model.graph());  // counted in the pass's time: its erased nodes
    const absl::Duration elapsed = absl::Now() - start;
    if (!changed.ok()) {
      return absl::Status(changed.status().code(), absl::StrCat("pass '", pass->name(), "': ", changed.status().message()));
    }
    if (*changed) last_changed = pass.get();
    absl::Duration verify_elapsed;
    if (verify_each_) {
      const absl::Time verify_start = absl::Now();
      // Structure and element types after every pass (well under a
      // millisecond on the PaddleOCR models); the shape check (a
      // shape-inference run, several times that) after a pass that changed
      // the model only when asked, else once at the end.
      ir::VerifyOptions options;
      options.shapes = verify_shapes_each_ && *changed;
      options.tolerated = &input_problems;
      if (absl::Status s = ir::Verify(model, options); !s.ok()) {
        return absl::InternalError(absl::StrCat("after pass '", pass->name(), "': ", s.message()));
      }
      verify_elapsed = absl::Now() - verify_start;
    }
    for (auto& i : instrumentations_) i->AfterPass(*pass, model, *changed, elapsed);
    if (verify_each_) {
      for (auto& i : instrumentations_) i->AfterVerify(pass.get(), "pass", verify_elapsed);
    }
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
  if (verify_each_ && !verify_shapes_each_ && last_changed != nullptr) {
    const absl::Time start = absl::Now();
    ir::VerifyOptions options;
    options.element_types = false;
    options.tolerated = &input_problems;
    if (absl::Status s = ir::Verify(model, options); !s.ok()) {
      return absl::InternalError(absl::StrCat("after the pipeline (its shape check; the last pass to change the model was '",
                                              last_changed->name(), "', verify-shapes-each names the one at fault): ",
                                              s.message()));
    }
    verified(nullptr, "shapes", start);
  }
  return absl::OkStatus();
}

}  // namespace qopt
