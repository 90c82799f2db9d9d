#include "ir/tensor.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace qopt::ir {
namespace {

std::string DimsString(ElementType type, const std::vector<int64_t>& dims) {
  return absl::StrCat(ElementTypeName(type), "[", absl::StrJoin(dims, ","), "]");
}

template <typename T>
void AppendBytes(std::string* out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out->append(bytes, sizeof(T));
}

// Number of values a typed field holds for `type`, and a function that
// appends them to raw bytes. Follows the ONNX rules for which field carries
// which type (int32_data also carries 8/16-bit ints, bool, float16 bits and
// float8 bits; uint64_data carries uint32 and uint64).
int64_t TypedFieldCount(const onnx::TensorProto& proto, ElementType type) {
  switch (type) {
    case ElementType::kFloat: return proto.float_data_size();
    case ElementType::kComplex64: return proto.float_data_size() / 2;
    case ElementType::kDouble: return proto.double_data_size();
    case ElementType::kComplex128: return proto.double_data_size() / 2;
    case ElementType::kInt64: return proto.int64_data_size();
    case ElementType::kUint32:
    case ElementType::kUint64: return proto.uint64_data_size();
    case ElementType::kString: return proto.string_data_size();
    case ElementType::kInt4:
    case ElementType::kUint4:
    case ElementType::kFloat4E2M1:
      return proto.int32_data_size() * 2;  // two values packed per int32
    default: return proto.int32_data_size();
  }
}

absl::StatusOr<std::string> DecodeTypedFields(const onnx::TensorProto& proto, ElementType type) {
  std::string out;
  switch (type) {
    case ElementType::kFloat:
    case ElementType::kComplex64:
      for (float v : proto.float_data()) AppendBytes(&out, v);
      return out;
    case ElementType::kDouble:
    case ElementType::kComplex128:
      for (double v : proto.double_data()) AppendBytes(&out, v);
      return out;
    case ElementType::kInt64:
      for (int64_t v : proto.int64_data()) AppendBytes(&out, v);
      return out;
    case ElementType::kUint32:
      for (uint64_t v : proto.uint64_data()) AppendBytes(&out, static_cast<uint32_t>(v));
      return out;
    case ElementType::kUint64:
      for (uint64_t v : proto.uint64_data()) AppendBytes(&out, v);
      return out;
    case ElementType::kInt32:
      for (int32_t v : proto.int32_data()) AppendBytes(&out, v);
      return out;
    case ElementType::kInt16:
    case ElementType::kUint16:
    case ElementType::kFloat16:
    case ElementType::kBFloat16:
      for (int32_t v : proto.int32_data()) AppendBytes(&out, static_cast<uint16_t>(v));
      return out;
    case ElementType::kInt8:
    case ElementType::kUint8:
    case ElementType::kBool:
    case ElementType::kFloat8E4M3FN:
    case ElementType::kFloat8E4M3FNUZ:
    case ElementType::kFloat8E5M2:
    case ElementType::kFloat8E5M2FNUZ:
    case ElementType::kFloat8E8M0:
      for (int32_t v : proto.int32_data()) out.push_back(static_cast<char>(v));
      return out;
    case ElementType::kInt4:
    case ElementType::kUint4:
    case ElementType::kFloat4E2M1:
      // int32_data holds one packed byte (two 4-bit values) per entry.
      for (int32_t v : proto.int32_data()) out.push_back(static_cast<char>(v));
      return out;
    default:
      return absl::UnimplementedError(
          absl::StrCat("tensor '", proto.name(), "': cannot read typed data of type ", ElementTypeName(type)));
  }
}

template <typename T>
T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Element i of raw bytes as double; sub-byte types unpack low nibble first.
absl::StatusOr<std::vector<double>> RawToDoubles(absl::string_view raw, ElementType type, int64_t n) {
  std::vector<double> out;
  out.reserve(n);
  const char* p = raw.data();
  for (int64_t i = 0; i < n; ++i) {
    switch (type) {
      case ElementType::kFloat: out.push_back(Load<float>(p + 4 * i)); break;
      case ElementType::kDouble: out.push_back(Load<double>(p + 8 * i)); break;
      case ElementType::kFloat16: out.push_back(Float16BitsToFloat(Load<uint16_t>(p + 2 * i))); break;
      case ElementType::kBFloat16: out.push_back(BFloat16BitsToFloat(Load<uint16_t>(p + 2 * i))); break;
      case ElementType::kInt8: out.push_back(Load<int8_t>(p + i)); break;
      case ElementType::kUint8: out.push_back(Load<uint8_t>(p + i)); break;
      case ElementType::kBool: out.push_back(Load<uint8_t>(p + i) != 0); break;
      case ElementType::kInt16: out.push_back(Load<int16_t>(p + 2 * i)); break;
      case ElementType::kUint16: out.push_back(Load<uint16_t>(p + 2 * i)); break;
      case ElementType::kInt32: out.push_back(Load<int32_t>(p + 4 * i)); break;
      case ElementType::kUint32: out.push_back(Load<uint32_t>(p + 4 * i)); break;
      case ElementType::kInt64: out.push_back(static_cast<double>(Load<int64_t>(p + 8 * i))); break;
      case ElementType::kUint64: out.push_back(static_cast<double>(Load<uint64_t>(p + 8 * i))); break;
      case ElementType::kInt4:
      case ElementType::kUint4: {
        uint8_t byte = Load<uint8_t>(p + i / 2);
        int nibble = (i % 2 == 0) ? (byte & 0xf) : (byte >> 4);
        if (type == ElementType::kInt4 && nibble >= 8) nibble -= 16;
        out.push_back(nibble);
        break;
      }
      default:
        return absl::UnimplementedError(absl::StrCat("cannot convert ", ElementTypeName(type), " values to numbers"));
    }
  }
  return out;
}

}  // namespace

Tensor::Tensor(ElementType type, std::vector<int64_t> dims) : type_(type), dims_(std::move(dims)) {
  proto_shell_.set_data_type(static_cast<int32_t>(type));
  for (int64_t d : dims_) proto_shell_.add_dims(d);
}

int64_t Tensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : dims_) n *= d;
  return n;
}

Tensor Tensor::FromProto(onnx::TensorProto&& proto) {
  Tensor t;
  t.type_ = static_cast<ElementType>(proto.data_type());
  t.dims_.assign(proto.dims().begin(), proto.dims().end());
  if (proto.has_raw_data()) {
    // Take protobuf's buffer as it is: a swap, not a copy.
    auto buffer = std::make_shared<std::string>();
    buffer->swap(*proto.mutable_raw_data());
    proto.clear_raw_data();
    t.raw_ = SharedBytes{buffer, absl::string_view(*buffer)};
    t.storage_ = Storage::kRaw;
  } else if (TypedFieldCount(proto, t.type_) > 0) {
    t.storage_ = Storage::kTypedFields;
  } else {
    t.storage_ = Storage::kEmpty;
  }
  t.proto_shell_ = std::move(proto);
  return t;
}

Tensor Tensor::FromProto(onnx::TensorProto&& proto, SharedBytes raw_data) {
  Tensor t;
  t.type_ = static_cast<ElementType>(proto.data_type());
  t.dims_.assign(proto.dims().begin(), proto.dims().end());
  proto.clear_raw_data();
  t.raw_ = std::move(raw_data);
  t.storage_ = Storage::kRaw;
  t.proto_shell_ = std::move(proto);
  return t;
}

Tensor Tensor::FromExternal(onnx::TensorProto&& proto, SharedBytes external) {
  Tensor t;
  t.type_ = static_cast<ElementType>(proto.data_type());
  t.dims_.assign(proto.dims().begin(), proto.dims().end());
  t.raw_ = std::move(external);
  t.storage_ = Storage::kExternal;
  t.proto_shell_ = std::move(proto);
  return t;
}

void Tensor::ToProto(onnx::TensorProto* proto) const {
  ToProtoWithoutRawData(proto);
  if (storage_ == Storage::kRaw) {
    proto->set_raw_data(raw_.bytes.data(), raw_.bytes.size());
  }
  // kExternal: the shell still names the location; the exporter decides
  // whether to inline the bytes or write them to a new data file.
}

void Tensor::ToProtoWithoutRawData(onnx::TensorProto* proto) const {
  *proto = proto_shell_;
  if (modified_) {
    // New data: always raw, inline; the exporter moves it out if asked.
    proto->clear_float_data();
    proto->clear_int32_data();
    proto->clear_int64_data();
    proto->clear_double_data();
    proto->clear_uint64_data();
    proto->clear_external_data();
    proto->clear_data_location();
    proto->set_data_type(static_cast<int32_t>(type_));
    proto->clear_dims();
    for (int64_t d : dims_) proto->add_dims(d);
  }
}

std::string Tensor::external_location() const {
  for (const auto& entry : proto_shell_.external_data()) {
    if (entry.key() == "location") return entry.value();
  }
  return "";
}

absl::StatusOr<absl::string_view> Tensor::RawBytes() const {
  switch (storage_) {
    case Storage::kRaw:
    case Storage::kExternal:
      return raw_.bytes;
    case Storage::kEmpty:
      return absl::string_view();
    case Storage::kTypedFields:
      if (!decoded_) {
        auto decoded = DecodeTypedFields(proto_shell_, type_);
        if (!decoded.ok()) return decoded.status();
        decoded_ = std::make_shared<std::string>(std::move(*decoded));
      }
      return absl::string_view(*decoded_);
  }
  return absl::InternalError("unreachable");
}

absl::StatusOr<SharedBytes> Tensor::SharedRawBytes() const {
  absl::StatusOr<absl::string_view> bytes = RawBytes();
  if (!bytes.ok()) return bytes.status();
  if (storage_ == Storage::kTypedFields) return SharedBytes{decoded_, *bytes};
  return SharedBytes{raw_.owner, *bytes, raw_.file};
}

absl::Status Tensor::CheckDataSize(absl::string_view what) const {
  for (int64_t d : dims_) {
    if (d < 0) return absl::InvalidArgumentError(absl::StrCat(what, " has a negative dimension: ", DimsString(type_, dims_)));
  }
  // Dims whose size in bits overflows int64 describe no real data, and would
  // overflow num_elements() and RawByteSize() below.
  int64_t bits = std::max(ElementTypeBits(type_), 8);
  bool overflow = false;
  for (int64_t d : dims_) overflow |= __builtin_mul_overflow(bits, d, &bits);
  if (overflow || bits > std::numeric_limits<int64_t>::max() - 7) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has dims too large for any data: ", DimsString(type_, dims_)));
  }
  const int64_t n = num_elements();
  if (type_ == ElementType::kString) {
    if (storage_ == Storage::kRaw || storage_ == Storage::kExternal) {
      return absl::InvalidArgumentError(absl::StrCat(what, " is a string tensor with raw data; ONNX stores strings in string_data"));
    }
    if (storage_ == Storage::kTypedFields && proto_shell_.string_data_size() != n) {
      return absl::InvalidArgumentError(absl::StrCat(what, " has ", proto_shell_.string_data_size(),
                                                     " strings but its dims ", DimsString(type_, dims_), " need ", n));
    }
    return absl::OkStatus();
  }
  std::optional<int64_t> expected = RawByteSize(type_, n);
  if (!expected) return absl::OkStatus();  // a type this build does not know: pass through
  switch (storage_) {
    case Storage::kRaw:
    case Storage::kExternal:
      if (static_cast<int64_t>(raw_.bytes.size()) != *expected) {
        return absl::InvalidArgumentError(absl::StrCat(what, " has ", raw_.bytes.size(), " bytes of ",
                                                       storage_ == Storage::kRaw ? "raw_data" : "external data",
                                                       " but ", DimsString(type_, dims_), " needs ", *expected));
      }
      return absl::OkStatus();
    case Storage::kTypedFields: {
      int64_t count = TypedFieldCount(proto_shell_, type_);
      int64_t want = n;
      if (ElementTypeBits(type_) == 4) want = (n + 1) / 2 * 2;
      if (count != want) {
        return absl::InvalidArgumentError(absl::StrCat(what, " has ", count, " values in its typed data field but ",
                                                       DimsString(type_, dims_), " needs ", n));
      }
      return absl::OkStatus();
    }
    case Storage::kEmpty:
      if (n != 0) {
        return absl::InvalidArgumentError(absl::StrCat(what, " has no data but ", DimsString(type_, dims_),
                                                       " needs ", n, " elements"));
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

void Tensor::SetRawData(std::string bytes) {
  auto buffer = std::make_shared<std::string>(std::move(bytes));
  raw_ = SharedBytes{buffer, absl::string_view(*buffer)};
  storage_ = Storage::kRaw;
  decoded_.reset();
  modified_ = true;
}

void Tensor::Reset(ElementType type, std::vector<int64_t> dims, std::string raw_bytes) {
  type_ = type;
  dims_ = std::move(dims);
  SetRawData(std::move(raw_bytes));
}

absl::StatusOr<std::vector<double>> Tensor::ToDoubles() const {
  auto raw = RawBytes();
  if (!raw.ok()) return raw.status();
  auto expected = RawByteSize(type_, num_elements());
  if (!expected || static_cast<int64_t>(raw->size()) < *expected) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name(), "' data does not match its shape"));
  }
  return RawToDoubles(*raw, type_, num_elements());
}

absl::StatusOr<std::vector<int64_t>> Tensor::ToInt64s() const {
  if (type_ == ElementType::kInt64) {
    auto raw = RawBytes();
    if (!raw.ok()) return raw.status();
    const int64_t n = num_elements();
    if (static_cast<int64_t>(raw->size()) < n * 8) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name(), "' data does not match its shape"));
    }
    std::vector<int64_t> out(n);
    std::memcpy(out.data(), raw->data(), n * 8);
    return out;
  }
  auto doubles = ToDoubles();
  if (!doubles.ok()) return doubles.status();
  return std::vector<int64_t>(doubles->begin(), doubles->end());
}

Tensor Tensor::Scalar(float value) { return FromFloats({}, {value}); }

Tensor Tensor::FromFloats(std::vector<int64_t> dims, const std::vector<float>& values) {
  Tensor t(ElementType::kFloat, std::move(dims));
  t.SetRawData(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  return t;
}

Tensor Tensor::FromInt64s(std::vector<int64_t> dims, const std::vector<int64_t>& values) {
  Tensor t(ElementType::kInt64, std::move(dims));
  t.SetRawData(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int64_t)));
  return t;
}

}  // namespace qopt::ir
