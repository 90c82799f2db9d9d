// Factories of the built-in passes (listed in builtin_passes.def).
#pragma once

#include <memory>

#include "pass/pass.h"
#include "pass/registry.h"

namespace qopt {

#define QOPT_PASS(factory) std::unique_ptr<Pass> factory();
#define QOPT_PIPELINE(name, summary, pipeline)
#include "passes/builtin_passes.def"
#undef QOPT_PIPELINE
#undef QOPT_PASS

// Registers the built-in passes and named pipelines of builtin_passes.def
// (the one list --list-passes and docs/passes.md come from).
void RegisterBuiltinPasses(PassRegistry& registry);

}  // namespace qopt
