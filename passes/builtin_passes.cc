#include "passes/builtin_passes.h"

#include "ir/check.h"

namespace qopt {

void RegisterBuiltinPasses(PassRegistry& registry) {
#define QOPT_PASS(factory) QOPT_CHECK(registry.Register(factory).ok(), "built-in pass registered twice");
#define QOPT_PIPELINE(name, summary, pipeline) \
  QOPT_CHECK(registry.RegisterPipeline(name, summary, pipeline).ok(), "built-in pipeline registered twice");
#include "passes/builtin_passes.def"
#undef QOPT_PIPELINE
#undef QOPT_PASS
}


}  // namespace qopt
