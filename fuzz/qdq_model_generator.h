// A generator of small random but valid QDQ models, shared by the libFuzzer
// target qopt_rewrite_passes_fuzzer (choices from the fuzzer's bytes) and
// the tool qopt_generate_qdq_models (choices from a seed), whose models the
// CTest ort.generated_exactness runs through the rewrite passes in ONNX
// Runtime. The shapes are those ONNX Runtime's quantizer and other tools
// write: Q -> DQ pairs with uint8 or int8 zero points, per-tensor and
// per-channel int8 Conv weights, Conv with and without bias, activations
// that stay float, DQ -> op -> Q units of element-wise ops, data movement
// between Q and DQ, parameters as Constant nodes or initializers. Which
// element-wise and data-movement ops it writes comes from ir/op_traits.def.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace qopt::fuzz {

// Where the generator's decisions come from.
class Choices {
 public:
  virtual ~Choices() = default;
  // An integer in [lo, hi], both included (lo <= hi).
  virtual int IntInRange(int lo, int hi) = 0;
  virtual bool Bool() = 0;
  // True once the source has nothing more to say (the fuzzer's bytes are
  // used up): the generator stops adding nodes.
  virtual bool Exhausted() const = 0;
};

// Choices from a std::mt19937 seeded with `seed`: the same seed gives the
// same model on every run and machine (no std:: distribution, whose
// results the standard leaves to the library).
class SeededChoices : public Choices {
 public:
  explicit SeededChoices(uint32_t seed) : engine_(seed) {}
  int IntInRange(int lo, int hi) override;
  bool Bool() override { return (engine_() & 1u) != 0; }
  bool Exhausted() const override { return false; }

 private:
  std::mt19937 engine_;
};

// A model in ONNX textual syntax (opset 14): one input X and one or two
// outputs, every activation float[1,C,4,4]; it parses with
// ir::ParseModelText and passes the verifier.
std::string GenerateQdqModelText(Choices& choices);

}  // namespace qopt::fuzz
