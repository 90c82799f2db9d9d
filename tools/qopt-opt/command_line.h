// Command-line parsing for qopt-opt on top of abseil flags: the flags are
// ordinary ABSL_FLAGs, but the loop over argv is ours so that every usage
// error becomes exit code 2 with one message (absl's own parser exits with
// 1), and `-o FILE` / `--flag value` / `--flag=value` all work.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qopt::tools {

// Sets the flags named in argv; returns the positional arguments.
absl::StatusOr<std::vector<std::string>> ParseCommandLine(int argc, char** argv);

// Help text listing every flag defined in files under tools/.
std::string FlagsHelp();

}  // namespace qopt::tools
