// The protobuf wire format, just enough to keep tensor payloads out of
// protobuf (issue 15). A model file is mostly the raw_data of its tensors;
// parsing it with protobuf copies every byte into a std::string, and
// serializing copies it again. Here:
//
// - reading: the file is scanned along the paths that lead to payloads
//   (ModelProto.graph -> GraphProto.initializer -> TensorProto.raw_data, and
//   GraphProto.node -> NodeProto.attribute -> AttributeProto.t ->
//   TensorProto.raw_data); the payloads stay where they are (views into the
//   mapped file) and protobuf parses a copy of the rest;
// - writing: the model proto is serialized without the payloads and each is
//   spliced in where protobuf would have put it, with the length prefixes of
//   the enclosing messages computed around it, so that the bytes are exactly
//   protobuf's (fields in number order, unknown fields last).
//
// Wire format: each field is a varint tag (number << 3 | wire type) and a
// value: a varint (0), 8 bytes (1), a varint length and that many bytes (2),
// a group up to its end tag (3, 4), or 4 bytes (5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"

namespace qopt::ir {
class MappedFile;
}

namespace qopt::ir::wire {

// ---- reading ---------------------------------------------------------------

// Where the raw_data of a model file's tensors is, by the position of the
// tensor in the parsed proto: the i-th initializer of the main graph, and the
// tensor attribute `t` of attribute a of node n of the main graph. Every
// payload is a view into the scanned bytes.
struct FilePayloads {
  absl::flat_hash_map<int, absl::string_view> initializers;
  absl::flat_hash_map<std::pair<int, int>, absl::string_view> node_attributes;
  size_t bytes = 0;  // their total size
};

// raw_data shorter than this is left to protobuf: copying it costs less than
// the bookkeeping.
inline constexpr size_t kMinPayloadBytes = 256;

// Scans a serialized ModelProto and returns it without the payloads listed in
// `payloads` (the lengths of the enclosing messages adjusted), for protobuf to
// parse. Malformed framing on the scanned paths (a varint running past the
// end or longer than 10 bytes, a length running past the end of its message,
// an invalid wire type or field number) is an InvalidArgumentError with a
// one-line message naming the byte offset. Where protobuf would merge a field
// that appears twice (two graphs, two `t` in one attribute, two raw_data in
// one tensor) the message is left as it is, for protobuf to merge.
absl::StatusOr<std::string> StripTensorPayloads(absl::string_view file, FilePayloads* payloads);

// ---- writing ---------------------------------------------------------------

// A payload to splice in: bytes in memory, or in a file mapping (`file` set),
// which a writer may copy file to file without reading it through memory.
struct Payload {
  absl::string_view bytes;
  const MappedFile* file = nullptr;
};

// The tensors whose raw_data is to be spliced in (their protos hold none).
using PayloadMap = absl::flat_hash_map<const onnx::TensorProto*, Payload>;

// A serialized message as a sequence of pieces: bytes built here, and
// payloads viewed where they are.
class Pieces {
 public:
  struct Piece {
    std::string bytes;  // when !is_payload
    Payload payload;    // when is_payload
    bool is_payload = false;
  };

  void Append(absl::string_view bytes);
  void AppendPayload(const Payload& payload);
  void Append(Pieces&& other);

  size_t size() const { return size_; }
  const std::vector<Piece>& pieces() const { return pieces_; }
  // All pieces in one string (for tests and small models).
  std::string Flatten() const;

 private:
  std::vector<Piece> pieces_;
  size_t size_ = 0;
};

// Serializes `model` to the bytes protobuf's SerializeToString would give had
// each tensor of `payloads` its payload as raw_data. Takes the graph (and the
// node, attribute and tensor lists on the way to payloads) out of `model`.
Pieces SerializeModel(onnx::ModelProto& model, const PayloadMap& payloads);

}  // namespace qopt::ir::wire
