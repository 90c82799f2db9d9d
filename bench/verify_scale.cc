// The verification a pass manager runs after every pass, alone: for each
// model given, fuse-qdq once (the graph a pipeline leaves, its nodes where
// the passes put them), then the structural check with and without the
// element-type check, each timed --rounds times, and the time per node of
// each size against the first size; with --shapes also the shape check as
// the pass manager runs it after a pipeline, and the type inference under
// it both ways (on the IR, and libonnx's whole-graph driver on an export).
// bench/node_scale.sh sums these checks over a pipeline, where a 10^4-node
// model's few milliseconds are mostly noise; here each is measured on its
// own, many times.
//
//   build/bench/qopt_verify_scale build/bench/nodes/n10000.onnx build/bench/nodes/n1000000.onnx
//   build/bench/qopt_verify_scale --rounds=50 MODEL...
//   build/bench/qopt_verify_scale --shapes --rounds=5 MODEL...
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "ir/inferred_types.h"
#include "ir/serialization.h"
#include "ir/verifier.h"
#include "pass/pass_manager.h"
#include "pass/pipeline.h"
#include "pass/registry.h"
#include "passes/builtin_passes.h"

namespace {

// Where a row leaves what it computed, so that the compiler keeps the work.
const void* volatile benchmark_sink = nullptr;

struct Timing {
  double min_ms = 0;
  double median_ms = 0;
};

// `check` run `rounds` times; a failed check ends the bench (a broken graph
// has nothing to time).
template <typename Check>
Timing Time(int rounds, const Check& check) {
  std::vector<double> ms;
  for (int r = 0; r < rounds; ++r) {
    const absl::Time start = absl::Now();
    if (absl::Status s = check(); !s.ok()) {
      std::fprintf(stderr, "verify_scale: %s\n", std::string(s.message()).c_str());
      std::exit(1);
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  std::sort(ms.begin(), ms.end());
  return Timing{ms.front(), ms[ms.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 20;
  bool shapes = false;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (absl::StartsWith(arg, "--rounds=")) {
      if (!absl::SimpleAtoi(arg.substr(9), &rounds) || rounds < 1) {
        std::fprintf(stderr, "verify_scale: --rounds wants a positive count, not '%s'\n", arg.c_str() + 9);
        return 2;
      }
    } else if (arg == "--shapes") {
      shapes = true;
    } else {
      models.push_back(arg);
    }
  }
  if (models.empty()) {
    std::fprintf(stderr, "usage: qopt_verify_scale [--rounds=20] [--shapes] MODEL...\n");
    return 2;
  }
  qopt::PassRegistry registry;
  qopt::RegisterBuiltinPasses(registry);
  qopt::ir::VerifyOptions structure;
  structure.element_types = false;
  structure.shapes = false;
  qopt::ir::VerifyOptions with_types;
  with_types.shapes = false;
  qopt::ir::VerifyOptions shapes_only;
  shapes_only.element_types = false;
  // A row: what it times on the fused model.
  struct Row {
    const char* name;
    std::function<absl::Status(const qopt::ir::Model&)> check;
  };
  auto verify = [](qopt::ir::VerifyOptions options) {
    return [options](const qopt::ir::Model& m) { return qopt::ir::Verify(m, options); };
  };
  // The inference alone, both ways side by side (ir/inferred_types.h); the
  // types of the graph's first output are read so that nothing is elided.
  auto infer = [](auto way) {
    return [way](const qopt::ir::Model& m) {
      const qopt::ir::InferredTypes types = way(m);
      const auto& outputs = m.graph().outputs();
      if (!outputs.empty() && outputs[0] != nullptr) benchmark_sink = types.Find(*outputs[0]);
      return absl::OkStatus();
    };
  };
  std::vector<Row> rows = {{"structure", verify(structure)}, {"structure + element types", verify(with_types)}};
  if (shapes) {
    rows.push_back({"structure + shapes", verify(shapes_only)});
    rows.push_back({"types on the IR", infer([](const qopt::ir::Model& m) {
                      auto on_ir = qopt::ir::InferTypesOnIr(m);
                      return on_ir ? std::move(*on_ir) : qopt::ir::InferredTypes();
                    })});
    rows.push_back({"types through an export", infer(qopt::ir::InferTypesThroughExport)});
  }
  std::vector<double> first_ns(rows.size(), 0);
  std::printf("%-10s %-10s %-26s %10s %10s %9s %10s\n", "nodes", "values", "check", "min ms", "median ms", "ns/node",
              "/ first");
  for (const std::string& path : models) {
    auto model = qopt::ir::LoadModel(path);
    if (!model.ok()) {
      std::fprintf(stderr, "verify_scale: %s\n", std::string(model.status().message()).c_str());
      return 1;
    }
    auto passes = qopt::BuildPipeline("fuse-qdq", registry);
    if (!passes.ok()) {
      std::fprintf(stderr, "verify_scale: %s\n", std::string(passes.status().message()).c_str());
      return 1;
    }
    qopt::PassManager manager;
    for (auto& p : *passes) manager.AddPass(std::move(p));
    qopt::PassContext context{nullptr};
    if (absl::Status s = manager.Run(**model, context); !s.ok()) {
      std::fprintf(stderr, "verify_scale: fuse-qdq on %s: %s\n", path.c_str(), std::string(s.message()).c_str());
      return 1;
    }
    const int64_t nodes = (*model)->graph().num_nodes();
    const int64_t values = (*model)->graph().num_values();
    for (size_t k = 0; k < rows.size(); ++k) {
      const Timing t = Time(rounds, [&] { return rows[k].check(**model); });
      const double ns = 1e6 * t.median_ms / static_cast<double>(nodes);
      if (first_ns[k] == 0) first_ns[k] = ns;
      std::printf("%-10lld %-10lld %-26s %10.3f %10.3f %9.1f %9.2fx\n", static_cast<long long>(nodes),
                  static_cast<long long>(values), rows[k].name, t.min_ms, t.median_ms, ns, ns / first_ns[k]);
    }
  }
  return 0;
}
