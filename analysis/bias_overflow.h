// bias-overflow: for every quantized Conv/ConvTranspose/Gemm (QDQ node units
// and QLinearConv), whether its int32 bias fits: bias_scale = input_scale *
// weight_scale (per output channel for per-channel weights), so a tiny
// weight scale (the ~1e-8 of some MobileNetV3 layers) makes |bias /
// bias_scale| exceed the int32 range and the bias saturates. Also flags
// biases that lose precision when rounded to that scale, and int32
// accumulators at risk (K * max|x_q| * max|w_q| > 2^31 - 1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"
#include "nlohmann/json.hpp"

namespace qopt::analysis {

struct BiasOverflowOptions {
  double max_relative_error = 0.01;  // per bias value, after rounding to bias_scale
  double tiny_weight_scale = 1e-7;
};

struct BiasChannel {
  int64_t channel = 0;
  double bias = 0;
  double bias_scale = 0;
  double weight_scale = 0;
  double quantized = 0;        // bias / bias_scale, before clipping
  double relative_error = 0;   // of the stored int32 value
};

struct BiasOverflowEntry {
  std::string node;      // Describe() of the conv
  std::string bias;      // the bias tensor's name
  std::string form;      // "float" (about to be quantized), "int32-dq", "qlinear"
  int64_t channels = 0;
  int64_t saturated = 0;
  int64_t lossy = 0;
  int64_t tiny_weight_scales = 0;
  bool scale_mismatch = false;  // int32 bias whose scale is not input_scale * weight_scale
  double min_weight_scale = 0;
  std::vector<BiasChannel> worst;  // up to 5, largest |quantized| first
  // Accumulator: K * max|x_q| * max|w_q|.
  int64_t k = 0;
  int64_t max_abs_x_q = 0;
  int64_t max_abs_w_q = 0;
  bool accumulator_risk = false;
};

std::vector<BiasOverflowEntry> AnalyzeBiasOverflow(const ir::Graph& graph, const BiasOverflowOptions& options);
nlohmann::json BiasOverflowToJson(const std::vector<BiasOverflowEntry>& entries);

}  // namespace qopt::analysis
