// The Q/DQ census around every pass: nodes, QuantizeLinear and
// DequantizeLinear nodes and float<->integer transitions of the main graph
// before and after each pass, recorded in the report's pass entries (shown
// by the text, JSON and HTML reports, and read by fuse-qdq-units' pipeline
// summary). An instrumentation, so the generic pass manager knows nothing
// about quantization.
#pragma once

#include <memory>

#include "pass/pass_manager.h"

namespace qopt {

std::unique_ptr<PassInstrumentation> CreateQdqCensusInstrumentation();

}  // namespace qopt
