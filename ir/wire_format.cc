#include "ir/wire_format.h"

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/wire_format.h"

namespace qopt::ir::wire {
namespace {

constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kStartGroup = 3;
constexpr uint32_t kEndGroup = 4;
constexpr uint32_t kFixed32 = 5;

// Protobuf's own limit on nesting, which groups could otherwise exceed.
constexpr int kMaxGroupDepth = 100;

// Field numbers on the paths to payloads (onnx.proto).
constexpr uint32_t kModelGraph = 7;
constexpr uint32_t kGraphNode = 1;
constexpr uint32_t kGraphInitializer = 5;
constexpr uint32_t kNodeAttribute = 5;
constexpr uint32_t kAttributeT = 5;
constexpr uint32_t kAttributeG = 6;
constexpr uint32_t kAttributeTensors = 10;
constexpr uint32_t kAttributeGraphs = 11;
constexpr uint32_t kTensorRawData = 9;

struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  size_t begin = 0;         // offset of the tag in the message
  size_t end = 0;           // one past the value
  absl::string_view value;  // length-delimited: the bytes
};

// Reads the fields of one message. `origin` is where the whole buffer starts,
// so that messages name byte offsets in the file.
class Reader {
 public:
  Reader(absl::string_view message, const char* origin) : data_(message), origin_(origin) {}
  bool done() const { return pos_ >= data_.size(); }

  absl::Status Next(Field* field) { return Next(field, /*depth=*/0); }

 private:
  size_t Offset(size_t pos) const { return static_cast<size_t>(data_.data() - origin_) + pos; }

  absl::Status Varint(uint64_t* value) {
    const size_t start = pos_;
    uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos_ >= data_.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("the varint at byte ", Offset(start), " runs past the end of its message"));
      }
      const uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) {
        *value = v;
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError(absl::StrCat("malformed varint at byte ", Offset(start), ": over 10 bytes"));
  }

  absl::Status Skip(uint64_t n, const Field& field) {
    if (n > data_.size() - pos_) {
      return absl::InvalidArgumentError(absl::StrCat("field ", field.number, " at byte ", Offset(field.begin),
                                                     " needs ", n, " bytes but its message has ", data_.size() - pos_,
                                                     " left"));
    }
    pos_ += static_cast<size_t>(n);
    return absl::OkStatus();
  }

  // An end-group tag is returned as a field (wire type 4) only inside a
  // group (depth > 0).
  absl::Status Next(Field* field, int depth) {
    field->begin = pos_;
    uint64_t tag;
    if (absl::Status s = Varint(&tag); !s.ok()) return s;
    if (tag > 0xffffffffu || (tag >> 3) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid field number ", tag >> 3, " at byte ", Offset(field->begin)));
    }
    field->number = static_cast<uint32_t>(tag >> 3);
    field->wire_type = static_cast<uint32_t>(tag & 7);
    field->value = {};
    uint64_t v;
    switch (field->wire_type) {
      case kVarint:
        if (absl::Status s = Varint(&v); !s.ok()) return s;
        break;
      case kFixed64:
        if (absl::Status s = Skip(8, *field); !s.ok()) return s;
        break;
      case kFixed32:
        if (absl::Status s = Skip(4, *field); !s.ok()) return s;
        break;
      case kLengthDelimited: {
        if (absl::Status s = Varint(&v); !s.ok()) return s;
        const size_t start = pos_;
        if (absl::Status s = Skip(v, *field); !s.ok()) return s;
        field->value = data_.substr(start, pos_ - start);
        break;
      }
      case kStartGroup: {
        if (depth >= kMaxGroupDepth) {
          return absl::InvalidArgumentError(absl::StrCat("groups nested too deeply at byte ", Offset(field->begin)));
        }
        while (true) {
          if (done()) {
            return absl::InvalidArgumentError(
                absl::StrCat("the group (field ", field->number, ") at byte ", Offset(field->begin), " has no end"));
          }
          Field inner;
          if (absl::Status s = Next(&inner, depth + 1); !s.ok()) return s;
          if (inner.wire_type == kEndGroup) {
            if (inner.number != field->number) {
              return absl::InvalidArgumentError(absl::StrCat("the group (field ", field->number, ") at byte ",
                                                             Offset(field->begin), " ends with field ", inner.number));
            }
            break;
          }
        }
        break;
      }
      case kEndGroup:
        if (depth == 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("an end-group tag outside any group at byte ", Offset(field->begin)));
        }
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("invalid wire type ", field->wire_type, " at byte ", Offset(field->begin)));
    }
    field->end = pos_;
    return absl::OkStatus();
  }

  absl::string_view data_;
  const char* origin_;
  size_t pos_ = 0;
};

void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// The tag and length of a length-delimited field of `size` bytes.
std::string LengthDelimitedHeader(uint32_t number, size_t size) {
  std::string header;
  AppendVarint(&header, (static_cast<uint64_t>(number) << 3) | kLengthDelimited);
  AppendVarint(&header, size);
  return header;
}

void Append(std::string* out, absl::string_view bytes) { out->append(bytes.data(), bytes.size()); }

void AppendLengthDelimited(std::string* out, uint32_t number, absl::string_view bytes) {
  out->append(LengthDelimitedHeader(number, bytes.size()));
  Append(out, bytes);
}

// How many length-delimited fields `number` a message has.
absl::StatusOr<int> CountFields(absl::string_view message, const char* origin, uint32_t number) {
  Reader reader(message, origin);
  int count = 0;
  while (!reader.done()) {
    Field f;
    if (absl::Status s = reader.Next(&f); !s.ok()) return s;
    count += f.number == number && f.wire_type == kLengthDelimited;
  }
  return count;
}

class Stripper {
 public:
  Stripper(absl::string_view file, FilePayloads* payloads) : file_(file), payloads_(payloads) {}

  absl::StatusOr<std::string> Model() {
    auto graphs = CountFields(file_, file_.data(), kModelGraph);
    if (!graphs.ok()) return graphs.status();
    // Two graph fields are merged by protobuf: leave that to protobuf.
    if (*graphs != 1) return std::string(file_);
    std::string out;
    absl::Status status = CopyFields(file_, &out, [&](const Field& f, std::string* inner) -> absl::StatusOr<bool> {
      if (f.number != kModelGraph) return false;
      if (absl::Status s = Graph(f.value, inner); !s.ok()) return s;
      return true;
    });
    if (!status.ok()) return status;
    return out;
  }

 private:
  // Copies `message` field by field. For each length-delimited field,
  // `rewrite(field, &inner)` may take it (true) and write its new contents
  // to `inner`, which goes out under the same number; the other fields are
  // copied as they are.
  template <typename Rewrite>
  absl::Status CopyFields(absl::string_view message, std::string* out, Rewrite rewrite) {
    Reader reader(message, file_.data());
    while (!reader.done()) {
      Field f;
      if (absl::Status s = reader.Next(&f); !s.ok()) return s;
      std::string inner;
      absl::StatusOr<bool> taken = false;
      if (f.wire_type == kLengthDelimited) taken = rewrite(f, &inner);
      if (!taken.ok()) return taken.status();
      if (*taken) {
        AppendLengthDelimited(out, f.number, inner);
      } else {
        Append(out, message.substr(f.begin, f.end - f.begin));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Graph(absl::string_view message, std::string* out) {
    return CopyFields(message, out, [&](const Field& f, std::string* inner) -> absl::StatusOr<bool> {
      if (f.number == kGraphInitializer) {
        absl::string_view raw;
        if (absl::Status s = Tensor(f.value, inner, &raw); !s.ok()) return s;
        if (!raw.empty()) {
          payloads_->initializers[initializer_index_] = raw;
          payloads_->bytes += raw.size();
        }
        ++initializer_index_;
        return true;
      }
      if (f.number == kGraphNode) {
        if (absl::Status s = Node(f.value, inner, node_index_++); !s.ok()) return s;
        return true;
      }
      return false;
    });
  }

  absl::Status Node(absl::string_view message, std::string* out, int node) {
    int attribute = 0;
    return CopyFields(message, out, [&](const Field& f, std::string* inner) -> absl::StatusOr<bool> {
      if (f.number != kNodeAttribute) return false;
      if (absl::Status s = Attribute(f.value, inner, node, attribute++); !s.ok()) return s;
      return true;
    });
  }

  absl::Status Attribute(absl::string_view message, std::string* out, int node, int attribute) {
    auto tensors = CountFields(message, file_.data(), kAttributeT);
    if (!tensors.ok()) return tensors.status();
    if (*tensors != 1) {
      out->append(message.data(), message.size());
      return absl::OkStatus();
    }
    return CopyFields(message, out, [&](const Field& f, std::string* inner) -> absl::StatusOr<bool> {
      if (f.number != kAttributeT) return false;
      absl::string_view raw;
      if (absl::Status s = Tensor(f.value, inner, &raw); !s.ok()) return s;
      if (!raw.empty()) {
        payloads_->node_attributes[{node, attribute}] = raw;
        payloads_->bytes += raw.size();
      }
      return true;
    });
  }

  // Copies a TensorProto without its raw_data when it has exactly one of at
  // least kMinPayloadBytes; `raw` is then the payload, else empty.
  absl::Status Tensor(absl::string_view message, std::string* out, absl::string_view* raw) {
    Reader reader(message, file_.data());
    Field raw_field;
    int raw_fields = 0;
    while (!reader.done()) {
      Field f;
      if (absl::Status s = reader.Next(&f); !s.ok()) return s;
      if (f.number == kTensorRawData && f.wire_type == kLengthDelimited) {
        raw_field = f;
        ++raw_fields;
      }
    }
    *raw = {};
    if (raw_fields != 1 || raw_field.value.size() < kMinPayloadBytes) {
      out->append(message.data(), message.size());
      return absl::OkStatus();
    }
    *raw = raw_field.value;
    out->append(message.data(), raw_field.begin);
    Append(out, message.substr(raw_field.end));
    return absl::OkStatus();
  }

  absl::string_view file_;
  FilePayloads* payloads_;
  int initializer_index_ = 0;
  int node_index_ = 0;
};

// ---- writing -----------------------------------------------------------------

// The repeated or singular message fields of one message to be put back,
// each element already serialized.
struct Insert {
  uint32_t number;
  std::vector<Pieces> elements;
};

// Where protobuf writes field `number` in `known` (a message's known fields,
// serialized without that field): before the first field with a larger
// number, since generated code writes fields in number order.
size_t InsertionPoint(absl::string_view known, uint32_t number) {
  Reader reader(known, known.data());
  while (!reader.done()) {
    Field f;
    if (!reader.Next(&f).ok()) break;  // protobuf's own output: never
    if (f.number > number) return f.begin;
  }
  return known.size();
}

// `message`, whose fields in `inserts` (in ascending order of number) have
// been taken out, serialized with them put back where protobuf puts them:
// known fields in number order, then the unknown fields.
Pieces Splice(const google::protobuf::Message& message, std::vector<Insert>& inserts) {
  const std::string bytes = message.SerializeAsString();
  const size_t unknown = google::protobuf::internal::WireFormat::ComputeUnknownFieldsSize(
      message.GetReflection()->GetUnknownFields(message));
  const absl::string_view known(bytes.data(), bytes.size() - unknown);
  Pieces out;
  size_t at = 0;
  for (Insert& insert : inserts) {
    if (insert.elements.empty()) continue;
    const size_t point = InsertionPoint(known, insert.number);
    out.Append(absl::string_view(bytes).substr(at, point - at));
    at = point;
    for (Pieces& element : insert.elements) {
      out.Append(LengthDelimitedHeader(insert.number, element.size()));
      out.Append(std::move(element));
    }
  }
  out.Append(absl::string_view(bytes).substr(at));
  return out;
}

Pieces Flat(const google::protobuf::Message& message) {
  Pieces out;
  out.Append(message.SerializeAsString());
  return out;
}

bool Has(const PayloadMap& payloads, const onnx::GraphProto& graph);

bool Has(const PayloadMap& payloads, const onnx::AttributeProto& attribute) {
  if (attribute.has_t() && payloads.contains(&attribute.t())) return true;
  for (const auto& t : attribute.tensors()) {
    if (payloads.contains(&t)) return true;
  }
  if (attribute.has_g() && Has(payloads, attribute.g())) return true;
  for (const auto& g : attribute.graphs()) {
    if (Has(payloads, g)) return true;
  }
  return false;
}

bool Has(const PayloadMap& payloads, const onnx::NodeProto& node) {
  for (const auto& a : node.attribute()) {
    if (Has(payloads, a)) return true;
  }
  return false;
}

bool Has(const PayloadMap& payloads, const onnx::GraphProto& graph) {
  for (const auto& t : graph.initializer()) {
    if (payloads.contains(&t)) return true;
  }
  for (const auto& n : graph.node()) {
    if (Has(payloads, n)) return true;
  }
  return false;
}

Pieces SerializeTensor(onnx::TensorProto& tensor, const PayloadMap& payloads) {
  auto it = payloads.find(&tensor);
  if (it == payloads.end()) return Flat(tensor);
  std::vector<Insert> inserts(1);
  inserts[0].number = kTensorRawData;
  inserts[0].elements.emplace_back();
  inserts[0].elements[0].AppendPayload(it->second);
  return Splice(tensor, inserts);
}

Pieces SerializeGraph(onnx::GraphProto& graph, const PayloadMap& payloads);

Pieces SerializeAttribute(onnx::AttributeProto& attribute, const PayloadMap& payloads) {
  if (!Has(payloads, attribute)) return Flat(attribute);
  std::unique_ptr<onnx::TensorProto> t(attribute.has_t() ? attribute.release_t() : nullptr);
  std::unique_ptr<onnx::GraphProto> g(attribute.has_g() ? attribute.release_g() : nullptr);
  google::protobuf::RepeatedPtrField<onnx::TensorProto> tensors;
  tensors.Swap(attribute.mutable_tensors());
  google::protobuf::RepeatedPtrField<onnx::GraphProto> graphs;
  graphs.Swap(attribute.mutable_graphs());
  std::vector<Insert> inserts{{kAttributeT, {}}, {kAttributeG, {}}, {kAttributeTensors, {}}, {kAttributeGraphs, {}}};
  if (t) inserts[0].elements.push_back(SerializeTensor(*t, payloads));
  if (g) inserts[1].elements.push_back(SerializeGraph(*g, payloads));
  for (auto& tensor : tensors) inserts[2].elements.push_back(SerializeTensor(tensor, payloads));
  for (auto& sub : graphs) inserts[3].elements.push_back(SerializeGraph(sub, payloads));
  return Splice(attribute, inserts);
}

Pieces SerializeNode(onnx::NodeProto& node, const PayloadMap& payloads) {
  if (!Has(payloads, node)) return Flat(node);
  google::protobuf::RepeatedPtrField<onnx::AttributeProto> attributes;
  attributes.Swap(node.mutable_attribute());
  std::vector<Insert> inserts{{kNodeAttribute, {}}};
  for (auto& a : attributes) inserts[0].elements.push_back(SerializeAttribute(a, payloads));
  return Splice(node, inserts);
}

Pieces SerializeGraph(onnx::GraphProto& graph, const PayloadMap& payloads) {
  if (!Has(payloads, graph)) return Flat(graph);
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  nodes.Swap(graph.mutable_node());
  google::protobuf::RepeatedPtrField<onnx::TensorProto> initializers;
  initializers.Swap(graph.mutable_initializer());
  std::vector<Insert> inserts{{kGraphNode, {}}, {kGraphInitializer, {}}};
  inserts[0].elements.reserve(nodes.size());
  for (auto& n : nodes) inserts[0].elements.push_back(SerializeNode(n, payloads));
  inserts[1].elements.reserve(initializers.size());
  for (auto& t : initializers) inserts[1].elements.push_back(SerializeTensor(t, payloads));
  return Splice(graph, inserts);
}

}  // namespace

absl::StatusOr<std::string> StripTensorPayloads(absl::string_view file, FilePayloads* payloads) {
  *payloads = FilePayloads();
  return Stripper(file, payloads).Model();
}

void Pieces::Append(absl::string_view bytes) {
  if (bytes.empty()) return;
  if (pieces_.empty() || pieces_.back().is_payload) pieces_.emplace_back();
  pieces_.back().bytes.append(bytes.data(), bytes.size());
  size_ += bytes.size();
}

void Pieces::AppendPayload(const Payload& payload) {
  Piece piece;
  piece.payload = payload;
  piece.is_payload = true;
  pieces_.push_back(std::move(piece));
  size_ += payload.bytes.size();
}

void Pieces::Append(Pieces&& other) {
  for (Piece& piece : other.pieces_) {
    if (piece.is_payload) {
      AppendPayload(piece.payload);
    } else if (!pieces_.empty() && !pieces_.back().is_payload) {
      Append(piece.bytes);
    } else {
      size_ += piece.bytes.size();
      pieces_.push_back(std::move(piece));
    }
  }
  other.pieces_.clear();
  other.size_ = 0;
}

std::string Pieces::Flatten() const {
  std::string out;
  out.reserve(size_);
  for (const Piece& piece : pieces_) {
    if (piece.is_payload) {
      out.append(piece.payload.bytes.data(), piece.payload.bytes.size());
    } else {
      out.append(piece.bytes);
    }
  }
  return out;
}

Pieces SerializeModel(onnx::ModelProto& model, const PayloadMap& payloads) {
  if (!model.has_graph() || !Has(payloads, model.graph())) return Flat(model);
  std::unique_ptr<onnx::GraphProto> graph(model.release_graph());
  std::vector<Insert> inserts{{kModelGraph, {}}};
  inserts[0].elements.push_back(SerializeGraph(*graph, payloads));
  return Splice(model, inserts);
}

}  // namespace qopt::ir::wire
