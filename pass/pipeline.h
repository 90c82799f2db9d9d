// Pipeline text, as mlir-opt writes it: `dce,canonicalize-constants{direction=to-nodes},op-count`.
// Options go in braces, separated by spaces; a value may be quoted ("a b"
// or 'a b') to contain spaces, commas or braces.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "pass/pass.h"
#include "pass/registry.h"

namespace qopt {

struct PassSpec {
  std::string name;
  std::vector<std::pair<std::string, std::string>> options;
  std::vector<int> option_columns;  // 1-based column of each option's name
  int column = 1;                   // 1-based column of the name in the pipeline text
};

// Syntax only. Errors read "pipeline:1:COL: message" followed by the text
// and a caret under the column.
absl::StatusOr<std::vector<PassSpec>> ParsePipeline(absl::string_view text);

// Parses and instantiates the passes, setting their options; unknown passes
// and options are errors with the column.
absl::StatusOr<std::vector<std::unique_ptr<Pass>>> BuildPipeline(absl::string_view text,
                                                                  const PassRegistry& registry);

}  // namespace qopt
