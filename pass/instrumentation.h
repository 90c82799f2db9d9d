// Standard instrumentations: IR printing (--print-ir-before/after[-all],
// --print-ir-after-change) and timing (--timing).
#pragma once

#include <ostream>
#include <set>
#include <string>
#include <utility>
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

// Wall time of the phases of one run, in the order they ran: each pass
// (named as in the pipeline) and each verification and, from the driver,
// reading and writing the model. Rows whose name starts with '(' are not
// passes (a pass name has no parentheses or spaces):
//   (import)            reading the model file into the IR
//   (verify input)      structure and element types of the input, and its
//                       shape check (ONNX shape inference)
//   (verify) PASS       structure and element types after PASS
//   (verify shapes)     the shape check after the pipeline
//   (export)            writing the model file (serialize, write; --fsync:
//                       flush to disk)
// Print gives MLIR's table: one row "  SECONDS ( SHARE%)  NAME" a phase, then
// "  SECONDS (100.0%)  Total".
class TimingReport {
 public:
  void Add(std::string name, absl::Duration elapsed) { rows_.emplace_back(std::move(name), elapsed); }
  const std::vector<std::pair<std::string, absl::Duration>>& rows() const { return rows_; }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::pair<std::string, absl::Duration>> rows_;
};

// Adds a row to `report` after every pass and every verification.
std::unique_ptr<PassInstrumentation> CreateTimingInstrumentation(TimingReport* report);

}  // namespace qopt
