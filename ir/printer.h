// The ONNX textual syntax (onnx/defs/parser.h) for a model, written so that
// libonnx 1.12's parser reads it back: names that are not identifiers
// ([A-Za-z_][A-Za-z0-9_]*) are mangled reversibly, initializers are printed
// with their values (elided beyond a size limit unless asked otherwise) and
// custom domains are kept.
#pragma once

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "ir/model.h"

namespace qopt::ir {

struct PrintOptions {
  // Initializers with more elements are printed as a comment with their
  // type and shape only (the output is then not meant to be parsed back).
  int64_t max_elements = 16;
  bool print_all_elements = false;
};

std::string PrintModel(const Model& model, const PrintOptions& options = {});
std::string PrintGraph(const Graph& graph, const PrintOptions& options = {});

// Reversible mapping between real names ("/conv/Conv_output_0") and
// identifiers the parser accepts. Identifiers that need no mangling and do
// not start with the reserved prefix are returned unchanged.
std::string MangleName(absl::string_view name);
std::string DemangleName(absl::string_view identifier);

}  // namespace qopt::ir
