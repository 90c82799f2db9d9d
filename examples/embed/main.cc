// qopt-embed-example: a program outside the qopt tree that links the
// installed library (find_package(qopt), target qopt::qopt), adds a pass of
// its own to a registry next to the built-in ones, and runs a pipeline that
// mixes them.
//
//   qopt-embed-example [--pipeline=TEXT] [INPUT.onnx | INPUT.onnxtxt | -] [OUTPUT.onnx]
//
// Without an input (or with "-") it runs on a small model built in memory
// from ONNX textual syntax. Exits 0 on success, 1 on any error.
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ir/node.h"
#include "ir/serialization.h"
#include "ir/value.h"
#include "pass/pass.h"
#include "pass/pass_manager.h"
#include "pass/pipeline.h"
#include "pass/registry.h"
#include "passes/builtin_passes.h"

namespace {

// collapse-idempotent{op=Relu}: f(f(x)) == f(x) for the chosen unary
// operator, so every use of the outer result is pointed at the inner one.
// The outer node is left without uses; a later `dce` removes it.
class CollapseIdempotentPass : public qopt::Pass {
 public:
  absl::string_view name() const override { return "collapse-idempotent"; }
  absl::string_view summary() const override {
    return "Rewire op(op(x)) to op(x) for an idempotent unary op (run dce afterwards)";
  }

  absl::StatusOr<bool> Run(qopt::ir::Model& model, qopt::PassContext&) override {
    const int64_t before = collapsed_.value();
    Visit(model.graph());
    return collapsed_.value() > before;
  }

 private:
  bool IsTarget(const qopt::ir::Node* node) const {
    return node->Is(op_.value()) && node->num_inputs() == 1 && node->num_outputs() == 1 &&
           node->output(0) != nullptr;
  }

  void Visit(qopt::ir::Graph& graph) {
    for (qopt::ir::Node* node : graph.nodes()) {
      for (qopt::ir::Graph* sub : node->subgraphs()) Visit(*sub);
      if (!IsTarget(node)) continue;
      qopt::ir::Value* input = node->input(0);
      if (input == nullptr || input->producer() == nullptr || !IsTarget(input->producer())) continue;
      qopt::ir::Value* outer = node->output(0);
      if (!outer->has_uses()) continue;
      graph.ReplaceAllUsesWith(outer, input);
      ++collapsed_;
    }
  }

  qopt::Option<std::string> op_{this, "op", "The idempotent unary operator to collapse", "Relu",
                                {"Relu", "Abs", "Ceil", "Floor", "Round", "Sign"}};
  qopt::Statistic collapsed_{this, "collapsed", "Nested applications rewired to the inner one"};
};

// The model used when no input file is given: a doubled Relu and a node
// whose result nobody reads.
constexpr absl::string_view kBuiltinModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
embed_demo (float[N] X) => (float[N] Y) {
  A = Relu(X)
  B = Relu(A)
  Unused = Neg(X)
  Y = Abs(B)
}
)";

absl::StatusOr<std::unique_ptr<qopt::ir::Model>> ReadModel(const std::string& path) {
  if (path.empty() || path == "-") return qopt::ir::ParseModelText(kBuiltinModel);
  const std::string suffix = ".onnxtxt";
  if (path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return qopt::ir::ParseModelText(text);
  }
  return qopt::ir::LoadModel(path);
}

int Fail(absl::string_view message) {
  std::cerr << "qopt-embed-example: error: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string pipeline = "collapse-idempotent{op=Relu},dce,op-count";
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::string flag = "--pipeline=";
    if (arg.rfind(flag, 0) == 0) {
      pipeline = arg.substr(flag.size());
    } else if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
      return Fail(absl::StrCat("unknown option '", arg,
                               "' (usage: qopt-embed-example [--pipeline=TEXT] [INPUT] [OUTPUT.onnx])"));
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() > 2) return Fail("at most one input and one output path");
  const std::string input = positional.empty() ? "" : positional[0];
  const std::string output = positional.size() > 1 ? positional[1] : "";

  // The built-in passes and ours share one registry, so pipeline text can
  // name any of them.
  qopt::PassRegistry registry;
  qopt::RegisterBuiltinPasses(registry);
  if (absl::Status s = registry.Register([] { return std::make_unique<CollapseIdempotentPass>(); }); !s.ok()) {
    return Fail(s.message());
  }

  auto passes = qopt::BuildPipeline(pipeline, registry);
  if (!passes.ok()) return Fail(passes.status().message());
  qopt::PassManager manager;
  for (auto& pass : *passes) manager.AddPass(std::move(pass));

  auto model = ReadModel(input);
  if (!model.ok()) return Fail(model.status().message());

  qopt::Report report;
  report.set_input(input.empty() || input == "-" ? "<built-in model>" : input);
  report.set_output(output);
  qopt::PassContext context{&report};
  if (absl::Status s = manager.Run(**model, context); !s.ok()) return Fail(s.message());

  std::cout << report.ToText();
  for (const qopt::PassRun& run : report.passes()) {
    for (const auto& [stat, value] : run.statistics.items()) {
      std::cout << "stat " << run.name << "." << stat << " = " << value << "\n";
    }
  }

  if (!output.empty()) {
    if (absl::Status s = qopt::ir::SaveModel(**model, output); !s.ok()) return Fail(s.message());
    std::cout << "wrote " << output << "\n";
  }
  return 0;
}
