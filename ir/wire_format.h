// The protobuf wire format, just enough to keep tensor payloads out of
// protobuf (issue 15). A model file is mostly the raw_data of its tensors;
// parsing it with protobuf copies every byte into a std::string, and
// serializing copies it again. Here:
//
// - reading: the file is scanned along the paths that lead to payloads
//   (ModelProto.graph -> GraphProto.initializer -> TensorProto.raw_data, and
//   GraphProto.node -> NodeProto.attribute -> AttributeProto.t ->
//   TensorProto.raw_data); the payloads stay where they are (views into the
//   mapped file) and protobuf parses a copy of the rest.
//
// Wire format: each field is a varint tag (number << 3 | wire type) and a
// value: a varint (0), 8 bytes (1), a varint length and that many bytes (2),
// a group up to its end tag (3, 4), or 4 bytes (5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace qopt::ir::wire {

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

}  // namespace qopt::ir::wire
