// Element types of ONNX tensors.
//
// Kept as the raw TensorProto.DataType number so that types newer than the
// libonnx on this machine (int4 = 22 and later) are read, rewritten and
// written back without loss; the helpers below know every type ONNX has
// defined so far and answer conservatively for numbers they do not know.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

namespace qopt::ir {

enum class ElementType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kUint8 = 2,
  kInt8 = 3,
  kUint16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kDouble = 11,
  kUint32 = 12,
  kUint64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUint4 = 21,
  kInt4 = 22,
  kFloat4E2M1 = 23,
  kFloat8E8M0 = 24,
  kUint2 = 25,
  kInt2 = 26,
};

// The name used by the ONNX textual syntax ("float", "uint8", "int4", ...);
// "dtype<N>" for a number this build does not know.
std::string ElementTypeName(ElementType type);
std::optional<ElementType> ElementTypeFromName(absl::string_view name);

// Storage bits per element in raw_data (4 for int4, 16 for float16); 0 when
// the type has no fixed width (string) or is unknown.
int ElementTypeBits(ElementType type);

// Bytes that `num_elements` elements occupy in raw_data (sub-byte types are
// packed, rounding up); nullopt when the width is not fixed.
std::optional<int64_t> RawByteSize(ElementType type, int64_t num_elements);

bool IsKnownElementType(ElementType type);
bool IsFloatingPoint(ElementType type);   // float, double, float16, bfloat16, float8*, float4
bool IsInteger(ElementType type);         // signed and unsigned integers of any width, not bool
bool IsSignedInteger(ElementType type);

// Values of 16-bit float encodings (IEEE half, and bfloat16 = the top half
// of a float), exact in float.
float Float16BitsToFloat(uint16_t bits);
float BFloat16BitsToFloat(uint16_t bits);

// The largest type number libonnx 1.12 (this machine's schema) can name;
// anything above passes through qopt untouched.
inline constexpr int32_t kLastElementTypeKnownToLibOnnx = 16;

}  // namespace qopt::ir
