// Helpers shared by the unit tests.
#pragma once

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "ir/model.h"
#include "ir/serialization.h"
#include "pass/pass_manager.h"
#include "passes/qdq_census_instrumentation.h"
#include "pass/pipeline.h"
#include "pass/registry.h"
#include "passes/builtin_passes.h"

namespace qopt::testing {

// Parses ONNX textual syntax; fails the test on a parse error.
inline std::unique_ptr<ir::Model> Parse(const std::string& text) {
  auto model = ir::ParseModelText(text);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

// Op types of the main graph in order, joined by spaces.
inline std::string OpSequence(const ir::Graph& graph) {
  std::string out;
  for (const ir::Node* n : graph.node_list()) out += (out.empty() ? "" : " ") + n->op_type();
  return out;
}

// Runs a pipeline of built-in passes over `model` through the pass manager
// (verifying after each pass), recording into `report` when given.
inline absl::Status RunPipeline(ir::Model& model, const std::string& pipeline, Report* report = nullptr) {
  PassRegistry registry;
  RegisterBuiltinPasses(registry);
  auto passes = BuildPipeline(pipeline, registry);
  if (!passes.ok()) return passes.status();
  PassManager manager;
  manager.AddInstrumentation(CreateQdqCensusInstrumentation());
  for (auto& p : *passes) manager.AddPass(std::move(p));
  Report local;
  PassContext context{report ? report : &local};
  return manager.Run(model, context);
}

// Runs `pipeline`, failing the test if it does not succeed; the report.
inline Report RunExpectingSuccess(ir::Model& model, const std::string& pipeline) {
  Report report;
  absl::Status s = RunPipeline(model, pipeline, &report);
  EXPECT_TRUE(s.ok()) << s;
  return report;
}

// Statistic `name` of the first run of pass `pass` in `report`; -1 (and a
// test failure) when the pass did not run.
inline int64_t PassStatistic(const Report& report, const std::string& pass, const std::string& name) {
  for (const PassRun& run : report.passes()) {
    if (run.name == pass) return run.statistics.at(name).get<int64_t>();
  }
  ADD_FAILURE() << "no run of " << pass;
  return -1;
}

}  // namespace qopt::testing
