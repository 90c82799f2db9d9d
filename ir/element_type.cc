#include "ir/element_type.h"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace qopt::ir {
namespace {

struct TypeInfo {
  ElementType type;
  const char* name;
  int bits;
};

constexpr std::array<TypeInfo, 27> kTypes = {{
    {ElementType::kUndefined, "undefined", 0},
    {ElementType::kFloat, "float", 32},
    {ElementType::kUint8, "uint8", 8},
    {ElementType::kInt8, "int8", 8},
    {ElementType::kUint16, "uint16", 16},
    {ElementType::kInt16, "int16", 16},
    {ElementType::kInt32, "int32", 32},
    {ElementType::kInt64, "int64", 64},
    {ElementType::kString, "string", 0},
    {ElementType::kBool, "bool", 8},
    {ElementType::kFloat16, "float16", 16},
    {ElementType::kDouble, "double", 64},
    {ElementType::kUint32, "uint32", 32},
    {ElementType::kUint64, "uint64", 64},
    {ElementType::kComplex64, "complex64", 64},
    {ElementType::kComplex128, "complex128", 128},
    {ElementType::kBFloat16, "bfloat16", 16},
    {ElementType::kFloat8E4M3FN, "float8e4m3fn", 8},
    {ElementType::kFloat8E4M3FNUZ, "float8e4m3fnuz", 8},
    {ElementType::kFloat8E5M2, "float8e5m2", 8},
    {ElementType::kFloat8E5M2FNUZ, "float8e5m2fnuz", 8},
    {ElementType::kUint4, "uint4", 4},
    {ElementType::kInt4, "int4", 4},
    {ElementType::kFloat4E2M1, "float4e2m1", 4},
    {ElementType::kFloat8E8M0, "float8e8m0", 8},
    {ElementType::kUint2, "uint2", 2},
    {ElementType::kInt2, "int2", 2},
}};

const TypeInfo* Find(ElementType type) {
  auto index = static_cast<int32_t>(type);
  if (index < 0 || index >= static_cast<int32_t>(kTypes.size())) return nullptr;
  return &kTypes[index];
}

}  // namespace

std::string ElementTypeName(ElementType type) {
  if (const TypeInfo* info = Find(type)) return info->name;
  return absl::StrCat("dtype", static_cast<int32_t>(type));
}

std::optional<ElementType> ElementTypeFromName(absl::string_view name) {
  for (const TypeInfo& info : kTypes) {
    if (name == info.name) return info.type;
  }
  return std::nullopt;
}

int ElementTypeBits(ElementType type) {
  const TypeInfo* info = Find(type);
  return info ? info->bits : 0;
}

std::optional<int64_t> RawByteSize(ElementType type, int64_t num_elements) {
  int bits = ElementTypeBits(type);
  if (bits == 0 || num_elements < 0) return std::nullopt;
  return (num_elements * bits + 7) / 8;
}

bool IsKnownElementType(ElementType type) {
  return Find(type) != nullptr && type != ElementType::kUndefined;
}

bool IsFloatingPoint(ElementType type) {
  switch (type) {
    case ElementType::kFloat:
    case ElementType::kDouble:
    case ElementType::kFloat16:
    case ElementType::kBFloat16:
    case ElementType::kFloat8E4M3FN:
    case ElementType::kFloat8E4M3FNUZ:
    case ElementType::kFloat8E5M2:
    case ElementType::kFloat8E5M2FNUZ:
    case ElementType::kFloat4E2M1:
    case ElementType::kFloat8E8M0:
      return true;
    default:
      return false;
  }
}

bool IsSignedInteger(ElementType type) {
  switch (type) {
    case ElementType::kInt8:
    case ElementType::kInt16:
    case ElementType::kInt32:
    case ElementType::kInt64:
    case ElementType::kInt4:
    case ElementType::kInt2:
      return true;
    default:
      return false;
  }
}

bool IsInteger(ElementType type) {
  switch (type) {
    case ElementType::kUint8:
    case ElementType::kUint16:
    case ElementType::kUint32:
    case ElementType::kUint64:
    case ElementType::kUint4:
    case ElementType::kUint2:
      return true;
    default:
      return IsSignedInteger(type);
  }
}

float Float16BitsToFloat(uint16_t h) {
  const int sign = (h >> 15) & 1;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa == 0 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
  }
  return sign ? -magnitude : magnitude;
}

float BFloat16BitsToFloat(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

}  // namespace qopt::ir
