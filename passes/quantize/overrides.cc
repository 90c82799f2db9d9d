#include "passes/quantize/overrides.h"

#include <cmath>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace qopt::quantize {

absl::StatusOr<ir::ElementType> ParseQuantType(const std::string& text) {
  if (text == "u8") return ir::ElementType::kUint8;
  if (text == "s8") return ir::ElementType::kInt8;
  if (text == "u16") return ir::ElementType::kUint16;
  if (text == "s16") return ir::ElementType::kInt16;
  if (text == "u4") return ir::ElementType::kUint4;
  if (text == "s4") return ir::ElementType::kInt4;
  return absl::InvalidArgumentError(absl::StrCat("unknown quantized type '", text, "' (u8, s8, u16, s16, u4, s4)"));
}

absl::StatusOr<std::map<std::string, TensorOverride>> LoadOverrides(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read overrides file '", path, "'"));
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is not a JSON object of tensor overrides"));
  }
  std::map<std::string, TensorOverride> out;
  for (const auto& item : doc.items()) {
    // Not a structured binding: `bad` captures the name, which clang before
    // 16 rejects for a binding.
    const std::string& tensor = item.key();
    const nlohmann::json& raw = item.value();
    const nlohmann::json& entry = raw.is_array() && raw.size() == 1 ? raw[0] : raw;
    auto bad = [&](const std::string& key, const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat("'", path, "': tensor '", tensor, "': ", key, " ", why));
    };
    if (!entry.is_object()) return bad("entry", "must be an object");
    TensorOverride o;
    for (const auto& [key, value] : entry.items()) {
      if (key == "quant_type") {
        if (!value.is_string()) return bad(key, "must be a string");
        auto t = ParseQuantType(value.get<std::string>());
        if (!t.ok()) return bad(key, std::string(t.status().message()));
        o.quant_type = *t;
      } else if (key == "symmetric" || key == "reduce_range") {
        if (!value.is_boolean()) return bad(key, "must be true or false");
        (key == "symmetric" ? o.symmetric : o.reduce_range) = value.get<bool>();
      } else if (key == "rmin" || key == "rmax" || key == "scale") {
        if (!value.is_number() || !std::isfinite(value.get<double>())) return bad(key, "must be a finite number");
        if (key == "rmin") o.rmin = value.get<double>();
        if (key == "rmax") o.rmax = value.get<double>();
        if (key == "scale") {
          if (!(value.get<double>() > 0)) return bad(key, "must be positive");
          o.scale = value.get<float>();
        }
      } else if (key == "zero_point") {
        if (!value.is_number_integer()) return bad(key, "must be an integer");
        o.zero_point = value.get<int64_t>();
      } else {
        return bad(absl::StrCat("key '", key, "'"), "is not known (quant_type, symmetric, reduce_range, rmin, "
                                                    "rmax, scale, zero_point)");
      }
    }
    if (o.scale.has_value() != o.zero_point.has_value()) return bad("scale", "and zero_point must be given together");
    if (o.rmin && o.rmax && *o.rmin > *o.rmax) return bad("rmin", "is above rmax");
    out[tensor] = o;
  }
  return out;
}

}  // namespace qopt::quantize
