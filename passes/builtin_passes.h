// Factories of the built-in passes (listed in builtin_passes.def).
#pragma once

#include <memory>

#include "passes/pass.h"

namespace qopt {

#define QOPT_PASS(factory) std::unique_ptr<Pass> factory();
#define QOPT_PIPELINE(name, summary, pipeline)
#include "passes/builtin_passes.def"
#undef QOPT_PIPELINE
#undef QOPT_PASS

}  // namespace qopt
