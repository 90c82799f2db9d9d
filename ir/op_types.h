// Which element types an op accepts at an opset: the type constraints of its
// formal parameters, from libonnx 1.12's schemas (default domain up to opset
// 17, ai.onnx.ml as far as libonnx knows it) and from ir/op_types.def (ONNX
// Runtime's com.microsoft ops, default-domain changes in opsets 18-21).
//
// Where neither knows the op at that opset the answer is "unknown", never a
// guess: callers must not reject what cannot be judged. Look-ups are cached
// per (domain, op, opset), so asking per node is cheap; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "ir/element_type.h"

namespace qopt::ir {

// One input or output of an op's signature.
struct FormalParam {
  std::string name;
  // The type constraint binding it ("T"): every parameter naming the same
  // constraint takes one element type on a node. Empty for a fixed type
  // ("tensor(float)") or a heterogeneous variadic.
  std::string constraint;
  // Element types accepted, bit i for ElementType i, and their names in the
  // schema's order for messages ("float16, float, double").
  uint64_t accepted = 0;
  std::string accepted_text;
  bool optional = false;
  bool variadic = false;  // the last parameter, repeated
  // A variadic whose elements cycle through several types (QLinearConcat's
  // (X, X_scale, X_zero_point) tuples): one entry per position in the cycle.
  std::vector<FormalParam> cycle;

  bool Accepts(ElementType type) const;
};

struct OpSignature {
  std::string source;  // "libonnx" or "op_types.def", for messages and tests
  int64_t since_version = 0;
  std::vector<FormalParam> inputs;
  std::vector<FormalParam> outputs;

  // The formal parameter behind input/output `index` (variadics resolved);
  // null past the end.
  const FormalParam* Input(int index) const;
  const FormalParam* Output(int index) const;
};

// The signature of `op_type` in `domain` ("" and "ai.onnx" are the default
// domain) at opset `opset`; null when unknown.
const OpSignature* FindOpSignature(absl::string_view domain, absl::string_view op_type, int64_t opset);

// Whether input `input_index` of the op accepts `type` at `opset`: nullopt
// when the op, the opset, the index or the type is unknown. A constraint
// shared with other inputs is not checked here (the verifier does that).
std::optional<bool> AcceptsElementType(absl::string_view domain, absl::string_view op_type, int64_t opset,
                                       int input_index, ElementType type);
std::optional<bool> AcceptsOutputElementType(absl::string_view domain, absl::string_view op_type, int64_t opset,
                                             int output_index, ElementType type);

}  // namespace qopt::ir
