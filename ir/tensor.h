// A constant tensor: element type, dims and data.
//
// Data is not copied when a model is loaded and a pass leaves the tensor
// alone: raw bytes stay where the loader put them (the memory mapping of the
// model file or of an external-data file; small payloads in the buffer
// protobuf parsed them into, moved rather than copied) and are shared by
// reference. A pass that changes the data calls
// SetRawData(), after which the tensor owns its new bytes. Typed-field storage
// (float_data, int32_data, ...) is kept as it was read, so untouched tensors
// are written back byte for byte; RawBytes() decodes it on demand.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "ir/element_type.h"
#include "onnx/onnx_pb.h"

namespace qopt::ir {

class MappedFile;

// A view of bytes kept alive by `owner` (a mapped file or a moved buffer).
// `file` is set when the bytes lie in a file mapping (the model file itself or
// an external-data file), so a writer can copy them file to file.
struct SharedBytes {
  std::shared_ptr<const void> owner;
  absl::string_view bytes;
  const MappedFile* file = nullptr;
};

class Tensor {
 public:
  enum class Storage {
    kRaw,          // raw_data in the model file
    kExternal,     // raw bytes in an external-data file
    kTypedFields,  // float_data / int32_data / int64_data / ... in the proto
    kEmpty,        // no data at all (zero elements, or a proto without data)
  };

  Tensor() = default;
  Tensor(ElementType type, std::vector<int64_t> dims);

  // Builds a tensor from a parsed TensorProto, taking its raw_data buffer
  // without copying. External data must already have been resolved by the
  // importer into `external` (see ir/import.cc).
  static Tensor FromProto(onnx::TensorProto&& proto);
  // Same, for a proto whose raw_data was left where it is (in the mapped
  // model file, ir/wire_format.h): `raw_data` views it.
  static Tensor FromProto(onnx::TensorProto&& proto, SharedBytes raw_data);
  static Tensor FromExternal(onnx::TensorProto&& proto, SharedBytes external);

  // Writes the tensor into `proto`, restoring every field it was read with.
  void ToProto(onnx::TensorProto* proto) const;
  // Same without the raw_data, for a writer that takes the bytes from
  // RawBytes() (raw_file()) itself.
  void ToProtoWithoutRawData(onnx::TensorProto* proto) const;

  const std::string& name() const { return proto_shell_.name(); }
  void set_name(std::string name) { proto_shell_.set_name(std::move(name)); }

  ElementType type() const { return type_; }
  const std::vector<int64_t>& dims() const { return dims_; }
  int64_t num_elements() const;
  Storage storage() const { return storage_; }
  bool modified() const { return modified_; }

  // The data in raw little-endian layout. For raw and external storage this
  // is a view of the loaded bytes; typed-field storage is converted once and
  // cached. Fails for string tensors and for types whose width is unknown.
  absl::StatusOr<absl::string_view> RawBytes() const;
  // RawBytes() with what keeps them alive, for a view that may outlive the
  // tensor (an embedding program's read-only buffer).
  absl::StatusOr<SharedBytes> SharedRawBytes() const;
  // The file mapping RawBytes() views, for raw and external storage read
  // from a file and not changed since; else null.
  const MappedFile* raw_file() const { return raw_.file; }

  // Checks that the stored data matches type x dims (raw byte count, typed
  // field count). `what` names the tensor in the message.
  absl::Status CheckDataSize(absl::string_view what) const;

  // Replaces the data (and optionally type/dims); the tensor then owns it and
  // is written back as raw_data.
  void SetRawData(std::string bytes);
  void Reset(ElementType type, std::vector<int64_t> dims, std::string raw_bytes);

  // Convenience for small tensors (scales, zero points, shapes, weights in
  // tests): values converted to double / int64. Fails for types that do not
  // convert (strings, complex) or unknown types.
  absl::StatusOr<std::vector<double>> ToDoubles() const;
  absl::StatusOr<std::vector<int64_t>> ToInt64s() const;

  // Fields qopt does not interpret (doc_string, metadata_props, segment,
  // external_data entries of the source file, and fields newer than libonnx).
  const onnx::TensorProto& proto_shell() const { return proto_shell_; }

  // The external-data location it was read from ("" if none).
  std::string external_location() const;

  static Tensor Scalar(float value);
  static Tensor FromFloats(std::vector<int64_t> dims, const std::vector<float>& values);
  static Tensor FromInt64s(std::vector<int64_t> dims, const std::vector<int64_t>& values);

 private:
  ElementType type_ = ElementType::kUndefined;
  std::vector<int64_t> dims_;
  Storage storage_ = Storage::kEmpty;
  bool modified_ = false;
  SharedBytes raw_;                    // kRaw and kExternal
  mutable std::shared_ptr<std::string> decoded_;  // cache for kTypedFields
  onnx::TensorProto proto_shell_;      // all fields except raw_data
};

}  // namespace qopt::ir
