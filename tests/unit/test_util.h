// Helpers shared by the unit tests.
#pragma once

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "ir/model.h"
#include "ir/serialization.h"

namespace qopt::testing {

// Parses ONNX textual syntax; fails the test on a parse error.
inline std::unique_ptr<ir::Model> Parse(const std::string& text) {
  auto model = ir::ParseModelText(text);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

// Op types of the main graph in order, joined by spaces.
inline std::string OpSequence(const ir::Graph& graph) {
  std::string out;
  for (const ir::Node* n : graph.node_list()) out += (out.empty() ? "" : " ") + n->op_type();
  return out;
}

}  // namespace qopt::testing
