#include "analysis/quant_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace qopt::analysis {

absl::StatusOr<IntRange> FullRange(ir::ElementType type) {
  switch (type) {
    case ir::ElementType::kUint8: return IntRange{0, 255};
    case ir::ElementType::kInt8: return IntRange{-128, 127};
    case ir::ElementType::kUint16: return IntRange{0, 65535};
    case ir::ElementType::kInt16: return IntRange{-32768, 32767};
    case ir::ElementType::kUint4: return IntRange{0, 15};
    case ir::ElementType::kInt4: return IntRange{-8, 7};
    case ir::ElementType::kInt32: return IntRange{std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default:
      return absl::InvalidArgumentError(absl::StrCat(ir::ElementTypeName(type), " is not a quantized integer type"));
  }
}

absl::StatusOr<IntRange> QuantizedRange(ir::ElementType type, bool symmetric, bool reduce_range) {
  auto full = FullRange(type);
  if (!full.ok()) return full.status();
  if (type == ir::ElementType::kInt32) return full;
  if (reduce_range) {
    switch (type) {
      case ir::ElementType::kUint8: return IntRange{0, 127};
      case ir::ElementType::kInt8: return IntRange{-64, 64};
      case ir::ElementType::kUint16: return IntRange{0, 32767};
      case ir::ElementType::kInt16: return IntRange{-16384, 16384};
      case ir::ElementType::kUint4: return IntRange{0, 7};
      case ir::ElementType::kInt4: return IntRange{-4, 3};
      default: break;
    }
  }
  if (symmetric) {
    switch (type) {
      case ir::ElementType::kUint8: return IntRange{0, 254};
      case ir::ElementType::kInt8: return IntRange{-127, 127};
      case ir::ElementType::kUint16: return IntRange{0, 65534};
      case ir::ElementType::kInt16: return IntRange{-32767, 32767};
      default: break;  // 4-bit types keep their full range
    }
  }
  return full;
}

namespace {

// Half to even, as numpy.round: the default floating-point rounding mode.
double RoundHalfEven(double x) { return std::nearbyint(x); }

}  // namespace

ScaleZeroPoint ComputeScaleZeroPoint(double rmin, double rmax, IntRange range, bool symmetric) {
  rmin = std::min(rmin, 0.0);
  rmax = std::max(rmax, 0.0);
  if (symmetric) {
    double a = std::max(std::abs(rmin), std::abs(rmax));
    rmin = -a;
    rmax = a;
  }
  const double scale = (rmax - rmin) / static_cast<double>(range.max - range.min);
  ScaleZeroPoint out;
  if (!(scale >= std::numeric_limits<float>::min())) return out;  // scale 1, zero point 0
  if (symmetric) {
    out.zero_point = static_cast<int64_t>(RoundHalfEven((range.min + range.max) / 2.0));
  } else {
    out.zero_point = static_cast<int64_t>(RoundHalfEven(range.min - rmin / scale));
  }
  out.scale = static_cast<float>(scale);
  return out;
}

int64_t QuantizeValue(float x, float scale, int64_t zero_point, IntRange clip) {
  const float scaled = x / scale;  // float division, as ONNX Runtime does
  if (std::isnan(scaled)) return std::clamp<int64_t>(zero_point, clip.min, clip.max);
  double q = RoundHalfEven(static_cast<double>(scaled)) + static_cast<double>(zero_point);
  q = std::clamp(q, static_cast<double>(clip.min), static_cast<double>(clip.max));
  return static_cast<int64_t>(q);
}

namespace {

// Channel of element i for a per-axis layout, and the number of channels.
struct ChannelIndex {
  int64_t channels = 1;
  int64_t inner = 1;
  int64_t operator()(size_t i) const { return channels == 1 ? 0 : (static_cast<int64_t>(i) / inner) % channels; }
};

ChannelIndex MakeChannelIndex(const std::vector<int64_t>& dims, int axis) {
  ChannelIndex index;
  if (axis < 0 || axis >= static_cast<int>(dims.size())) return index;
  index.channels = dims[axis];
  for (size_t d = axis + 1; d < dims.size(); ++d) index.inner *= dims[d];
  return index;
}

}  // namespace

TensorParams ComputeTensorParams(const std::vector<double>& data, const std::vector<int64_t>& dims, int axis,
                                 IntRange range, bool symmetric) {
  TensorParams params;
  if (axis >= static_cast<int>(dims.size())) axis = -1;  // as ONNX Runtime: fall back to per tensor
  const ChannelIndex channel = MakeChannelIndex(dims, axis);
  std::vector<double> lo(channel.channels, 0.0), hi(channel.channels, 0.0);
  for (size_t i = 0; i < data.size(); ++i) {
    lo[channel(i)] = std::min(lo[channel(i)], data[i]);
    hi[channel(i)] = std::max(hi[channel(i)], data[i]);
  }
  for (int64_t c = 0; c < channel.channels; ++c) {
    ScaleZeroPoint sz = ComputeScaleZeroPoint(lo[c], hi[c], range, symmetric);
    params.scales.push_back(sz.scale);
    params.zero_points.push_back(sz.zero_point);
  }
  params.axis = axis;
  return params;
}

std::optional<float> WeightScaleForBias(float weight_scale, double input_scale, double bias_absmax) {
  const double smallest = 1.0001 * 2.0 * bias_absmax / 4294967294.0;
  const double product = input_scale * weight_scale;
  if (!(product > 0 && product < smallest)) return std::nullopt;
  return static_cast<float>(weight_scale * (smallest / product));
}

std::vector<int64_t> QuantizeTensor(const std::vector<double>& data, const std::vector<int64_t>& dims,
                                    const TensorParams& params, IntRange clip) {
  const ChannelIndex channel = MakeChannelIndex(dims, params.axis);
  std::vector<int64_t> q(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    const int64_t c = params.scales.size() == 1 ? 0 : channel(i);
    q[i] = QuantizeValue(static_cast<float>(data[i]), params.scales[c], params.zero_points[c], clip);
  }
  return q;
}

std::string PackIntegers(const std::vector<int64_t>& values, ir::ElementType type) {
  std::string out;
  auto append = [&out](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  switch (type) {
    case ir::ElementType::kUint4:
    case ir::ElementType::kInt4:
      out.assign((values.size() + 1) / 2, '\0');
      for (size_t i = 0; i < values.size(); ++i) {
        uint8_t nibble = static_cast<uint8_t>(values[i]) & 0xf;
        out[i / 2] = static_cast<char>(static_cast<uint8_t>(out[i / 2]) | (i % 2 == 0 ? nibble : nibble << 4));
      }
      return out;
    case ir::ElementType::kUint8:
    case ir::ElementType::kInt8:
      for (int64_t v : values) out.push_back(static_cast<char>(v));
      return out;
    case ir::ElementType::kUint16:
    case ir::ElementType::kInt16:
      for (int64_t v : values) {
        uint16_t u = static_cast<uint16_t>(v);
        append(&u, 2);
      }
      return out;
    case ir::ElementType::kInt32:
      for (int64_t v : values) {
        int32_t u = static_cast<int32_t>(v);
        append(&u, 4);
      }
      return out;
    default:
      for (int64_t v : values) append(&v, 8);
      return out;
  }
}

}  // namespace qopt::analysis
