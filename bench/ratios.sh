#!/usr/bin/env bash
# Runs the IR benchmark and prints, per model, the cost of going through
# qopt's IR relative to protobuf alone (from one interleaved run).
# Usage: bench/ratios.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
"$build/bench/qopt_ir_bench" --benchmark_format=csv --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true 2>/dev/null |
  awk -F, '/_median"?,/ { gsub(/"/, "", $1); split($1, p, "[/_]"); name = $1;
             sub(/_median$/, "", name); split(name, q, "/"); kind = q[1]; model = q[2]; t[model, kind] = $3;
             models[model] = 1 }
           END { printf "%-6s %14s %14s %14s %10s %10s\n", "model", "protobuf ms", "IR ms", "IR+passes ms", "IR/pb", "passes/pb";
                 for (m in models) printf "%-6s %14.2f %14.2f %14.2f %9.2fx %9.2fx\n", m, t[m,"ProtobufOnly"], t[m,"ThroughIr"],
                   t[m,"ThroughIrWithPasses"], t[m,"ThroughIr"] / t[m,"ProtobufOnly"], t[m,"ThroughIrWithPasses"] / t[m,"ProtobufOnly"] }'
