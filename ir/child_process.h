// Running code that may crash in a child process, so that the crash ends
// the child and qopt reports it as an error: for libraries qopt cannot fix
// and that crash on some inputs instead of failing (libonnx 1.12's shape
// inference, found by fuzzing; docs/fuzzing.md).
#pragma once

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace qopt::ir {

// Runs `work` in a forked copy of this process and returns what it returned:
// its bytes, or its error. When the child dies instead (a signal, or an exit
// without an answer), the error says "`what` crashed (signal 11: ...)".
//
// `work` sees a copy of the memory as it was at the fork; its side effects
// are lost, so it must return everything the caller needs. The child does
// not run exit handlers, does not remove the parent's temporary files on a
// signal, and writes no core file. Where fork() itself fails (no memory for
// the copy), `work` runs in this process.
absl::StatusOr<std::string> RunInChildProcess(absl::string_view what,
                                              absl::FunctionRef<absl::StatusOr<std::string>()> work);

}  // namespace qopt::ir
