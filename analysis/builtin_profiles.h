// The measured built-in target profiles, embedded at build time from
// analysis/profiles/*.json (schema qopt-target/1, docs/targets.md), so that
// the library needs no data files at run time.
#pragma once

namespace qopt::analysis {

// analysis/profiles/ort-cpu.json: ONNX Runtime's CPU provider, measured by
// tools/ort/measure_target.js on the machine its `source` names.
extern const char kOrtCpuProfileJson[];

}  // namespace qopt::analysis
