// Standard instrumentations: IR printing (--print-ir-before/after[-all],
// --print-ir-after-change) and timing (--timing).
#pragma once

#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "pass/pass_manager.h"

namespace qopt {

struct PrintIrOptions {
  std::set<std::string> before;  // pass names
  std::set<std::string> after;
  bool before_all = false;
  bool after_all = false;
  bool after_change = false;     // only after passes that changed the model
};

std::unique_ptr<PassInstrumentation> CreatePrintIrInstrumentation(PrintIrOptions options, std::ostream& out);

// Prints a table of wall time per pass (and the total) when the pipeline ends.
std::unique_ptr<PassInstrumentation> CreateTimingInstrumentation(std::ostream& out);

}  // namespace qopt
