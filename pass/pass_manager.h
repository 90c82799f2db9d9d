// Runs a pipeline of passes over a model. Like MLIR's PassManager and XLA's
// HloPassPipeline, it verifies the IR after every pass (on by default) and
// offers printing and timing as instrumentation hooks around passes, so no
// pass has code for them.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pass/pass.h"

namespace qopt {

class PassInstrumentation {
 public:
  virtual ~PassInstrumentation() = default;
  virtual void BeforePass(const Pass& /*pass*/, const ir::Model& /*model*/) {}
  virtual void AfterPass(const Pass& /*pass*/, const ir::Model& /*model*/, bool /*changed*/,
                         absl::Duration /*elapsed*/) {}
  // Adds what the instrumentation measured to the pass's entry in the
  // report (called after AfterPass, only when the pipeline has a report).
  virtual void RecordRun(const Pass& /*pass*/, const ir::Model& /*model*/, PassRun& /*run*/) {}
  // Called after each verification with its wall time: `pass` is the pass
  // it followed, or null for the check of the input and the shape check
  // after the pipeline; `what` says which ("input", "pass", "shapes").
  virtual void AfterVerify(const Pass* /*pass*/, absl::string_view /*what*/, absl::Duration /*elapsed*/) {}
  // Called once when the pipeline ends (successfully or not).
  virtual void AfterPipeline() {}
};

class PassManager {
 public:
  void AddPass(std::unique_ptr<Pass> pass) { passes_.push_back(std::move(pass)); }
  void AddInstrumentation(std::unique_ptr<PassInstrumentation> instrumentation) {
    instrumentations_.push_back(std::move(instrumentation));
  }
  void set_verify_each(bool verify) { verify_each_ = verify; }
  // With verification on, an input whose element types or declared shapes
  // are invalid (ir/verifier.h) is an error; otherwise (the default) its
  // problems are tolerated and only new ones after a pass fail, so analyses
  // can still look at such models. Broken structure is always an error.
  void set_reject_invalid_input(bool reject) { reject_invalid_input_ = reject; }
  // The shape check (ONNX shape inference over the model, several times the
  // cost of the structural check) runs on the input and once after
  // the pipeline, if a pass changed the model; with this, after every pass
  // that changed it, so an error names the pass that broke a shape.
  void set_verify_shapes_each(bool each) { verify_shapes_each_ = each; }
  const std::vector<std::unique_ptr<Pass>>& passes() const { return passes_; }

  // Runs every pass in order, recording each in context.report (name,
  // options, changed, statistics, seconds). Stops at the first error; an
  // error after a pass names that pass.
  absl::Status Run(ir::Model& model, PassContext& context);

 private:
  std::vector<std::unique_ptr<Pass>> passes_;
  std::vector<std::unique_ptr<PassInstrumentation>> instrumentations_;
  bool verify_each_ = true;
  bool reject_invalid_input_ = false;
  bool verify_shapes_each_ = false;
};

}  // namespace qopt
