// What qopt's IR costs on top of protobuf, on the real PaddleOCR models:
// parse+serialize with protobuf alone against load (import) + export through
// the IR, measured side by side in one run; the ratio is what to read (these
// machines are shared and noisy, so absolute times mean little).
//
//   build/bench/qopt_ir_bench                 # all models
//   build/bench/qopt_ir_bench --benchmark_filter=det
#include <benchmark/benchmark.h>

#include <fstream>
#include <string>

#include "ir/serialization.h"
#include "pass/pass_manager.h"
#include "pass/pipeline.h"
#include "pass/registry.h"
#include "passes/builtin_passes.h"

namespace {

std::string ModelPath(const std::string& name) {
  return std::string(QOPT_SOURCE_DIR) + "/testdata/models/paddleocr-" + name + ".onnx";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void ProtobufOnly(benchmark::State& state, const std::string& name) {
  const std::string bytes = ReadFile(ModelPath(name));
  for (auto _ : state) {
    onnx::ModelProto proto;
    proto.ParseFromString(bytes);
    std::string out = proto.SerializeAsString();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}

void ThroughIr(benchmark::State& state, const std::string& name) {
  const std::string bytes = ReadFile(ModelPath(name));
  for (auto _ : state) {
    onnx::ModelProto proto;
    proto.ParseFromString(bytes);
    auto model = qopt::ir::ImportModel(std::move(proto));
    if (!model.ok()) {
      state.SkipWithError(std::string(model.status().message()).c_str());
      return;
    }
    std::string out = qopt::ir::ExportModel(**model).SerializeAsString();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}

void ThroughIrWithPasses(benchmark::State& state, const std::string& name) {
  const std::string bytes = ReadFile(ModelPath(name));
  qopt::PassRegistry registry;
  qopt::RegisterBuiltinPasses(registry);
  for (auto _ : state) {
    onnx::ModelProto proto;
    proto.ParseFromString(bytes);
    auto model = qopt::ir::ImportModel(std::move(proto));
    auto passes = qopt::BuildPipeline("canonicalize-constants,dce", registry);
    qopt::PassManager manager;
    for (auto& p : *passes) manager.AddPass(std::move(p));
    qopt::Report report;
    qopt::PassContext context{&report};
    if (!model.ok() || !manager.Run(**model, context).ok()) {
      state.SkipWithError("pipeline failed");
      return;
    }
    std::string out = qopt::ir::ExportModel(**model).SerializeAsString();
    benchmark::DoNotOptimize(out);
  }
}

}  // namespace

// Interleaved per model so that each ratio is measured under the same load.
BENCHMARK_CAPTURE(ProtobufOnly, det, std::string("det"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ThroughIr, det, std::string("det"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ThroughIrWithPasses, det, std::string("det"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ProtobufOnly, rec, std::string("rec"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ThroughIr, rec, std::string("rec"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ThroughIrWithPasses, rec, std::string("rec"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ProtobufOnly, cls, std::string("cls"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ThroughIr, cls, std::string("cls"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ThroughIrWithPasses, cls, std::string("cls"))->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
