// Reading and writing ONNX files: protobuf <-> IR, external data, atomic
// writes, and the ONNX textual syntax as an input format for tests and users.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "ir/model.h"
#include "onnx/onnx_pb.h"

namespace qopt::ir {

// Reads an .onnx file (binary protobuf), or ONNX textual syntax when the name
// ends in ".onnxtxt". External data is memory-mapped from files inside the
// model's folder; a location escaping it is an error.
absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path);

// Reads a serialized ModelProto held in memory (an embedding program's
// buffer) as LoadModel reads a file: tensor payloads stay in `bytes`, which
// `owner` keeps alive for as long as any tensor views them. External data is
// refused (there is no folder to resolve it against).
absl::StatusOr<std::unique_ptr<Model>> LoadModelFromBytes(absl::string_view bytes, std::shared_ptr<const void> owner);

// Builds the IR from a parsed ModelProto (consumed: tensor bytes are moved,
// not copied). `base_dir` resolves external data ("" refuses external data).
absl::StatusOr<std::unique_ptr<Model>> ImportModel(onnx::ModelProto proto, const std::string& base_dir = "");

// Parses the ONNX textual syntax (onnx/defs/parser.h), as qopt's printer
// writes it and as tests are written; names mangled by the printer are
// restored.
absl::StatusOr<std::unique_ptr<Model>> ParseModelText(absl::string_view text);

// IR -> ModelProto. Untouched parts come back exactly as they were read.
// External tensors are written inline unless `keep_external` is set, in
// which case their TensorProto keeps pointing at the original location.
onnx::ModelProto ExportModel(const Model& model, bool keep_external = false);

// The largest tensor whose data ExportModelForShapeInference passes on.
// Shape rules read only small tensors as data (shapes, axes, pads, sizes,
// scales of Resize, Constant values feeding them): 512 int64s is generous.
inline constexpr int64_t kShapeInferenceMaxDataBytes = 4096;

// IR -> ModelProto for ONNX shape inference: as ExportModel(model, true), but
// tensors over kShapeInferenceMaxDataBytes keep only name, type and dims.
// Inference needs no weights, and copying them would cost the model's size
// in memory on every verification.
onnx::ModelProto ExportModelForShapeInference(const Model& model);
// Same, into `out`, which may live on a protobuf Arena: the shape check
// builds, infers and drops a message per node, and an arena makes that one
// contiguous allocation freed at once instead of millions of small ones.
void ExportModelForShapeInference(const Model& model, onnx::ModelProto* out);
// One tensor as ExportModelForShapeInference writes it (external tensors
// keep pointing at their file).
void ExportTensorForShapeInference(const Tensor& tensor, onnx::TensorProto* proto);

struct SaveOptions {
  enum class ExternalData {
    kAuto,      // tensors loaded from external data stay external; a model
                // that would exceed protobuf's 2 GiB limit goes external
    kInline,    // every tensor inline (fails past 2 GiB)
    kExternal,  // every tensor of at least `external_min_bytes` external
  };
  ExternalData external_data = ExternalData::kAuto;
  int64_t external_min_bytes = 1024;
  // File name (beside the model) for external data; default "<model>.data".
  std::string external_file_name;
  // Flush each written file to the disk (fsync) before renaming it into
  // place, so that the output survives a power loss or a kernel crash, not
  // only a failed or killed run. Off by default, as in cp, LLVM's tools and
  // onnx.save: the rename alone already keeps a failed run from leaving a
  // partial file, and the flush waits for the disk, which on a large
  // model takes longer than the copy itself (bench/io_scale.sh).
  bool fsync = false;
  // Told of what the save did beyond writing (temporary files of a killed
  // earlier run removed); may be empty.
  std::function<void(const std::string&)> note;
};

// Writes atomically: to a temporary file in the target folder, then renamed
// over `path` (flushed to disk first with `fsync`), so a failed save leaves no partial file (a fatal signal too,
// in tools that call InstallFatalSignalCleanup; temporary files of a killed
// run are removed by the next save to the same path). A `path` that is a
// symbolic link is written through: its target is replaced, the link stays.
// Refuses to overwrite the model's own source file or an external-data file
// it reads from.
absl::Status SaveModel(const Model& model, const std::string& path, const SaveOptions& options = {});

// The bytes SaveModel would write with every tensor inline, into a buffer of
// the size asked from `allocate` (which returns null when it cannot): the
// payloads are copied once, from where they are, so an embedding program can
// hand out its own buffer (a Python bytes object) without a second copy.
absl::Status SerializeModelInto(const Model& model, const std::function<char*(size_t)>& allocate);
absl::StatusOr<std::string> SerializeModelToString(const Model& model);

}  // namespace qopt::ir
