// IR -> ONNX protobuf, and atomic saving with external data.
//
// Every object carries a "shell" proto with the fields qopt does not model;
// exporting starts from the shell and fills in what the IR owns, so untouched
// parts of a model are written back as they were read.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ir/file_copy.h"
#include "ir/mapped_file.h"
#include "ir/serialization.h"
#include "ir/temp_files.h"
#include "ir/wire_format.h"

namespace qopt::ir {

namespace fs = std::filesystem;

// Decides, per tensor, whether its bytes go inline or to an external file.
// Returns true when it wrote `proto` itself (external), false to inline.
using ExternalSink = std::function<bool(const Tensor&, onnx::TensorProto*)>;

class Exporter {
 public:
  // With `payloads`, inline raw data of at least wire::kMinPayloadBytes is
  // left out of the protos and listed there, for the writer to splice in
  // from where it is (ir/wire_format.h).
  Exporter(bool keep_external, ExternalSink sink, wire::PayloadMap* payloads = nullptr)
      : keep_external_(keep_external), sink_(std::move(sink)), payloads_(payloads) {}

  // Tensors written as ExportTensorForShapeInference writes them (see
  // ExportModelForShapeInference).
  void ForShapeInference() { for_shape_inference_ = true; }

  void ExportGraph(const Graph& graph, onnx::GraphProto* proto);

 private:
  void ExportTensor(const Tensor& tensor, onnx::TensorProto* proto);
  void ExportNode(const Node& node, onnx::NodeProto* proto);

  bool keep_external_;
  ExternalSink sink_;
  wire::PayloadMap* payloads_;
  bool for_shape_inference_ = false;
};

namespace {

// Strings and types of unknown width count as small: kept as they are.
int64_t DataBytes(const Tensor& tensor) { return RawByteSize(tensor.type(), tensor.num_elements()).value_or(0); }

// The tensor's name, type and dims, with its data marked as lying elsewhere:
// an operator's shape rule that reads it as data fails on that node (as for
// any external tensor) instead of reading values that are not there.
void ExportWithoutData(const Tensor& tensor, onnx::TensorProto* proto) {
  proto->set_name(tensor.name());
  proto->set_data_type(static_cast<int32_t>(tensor.type()));
  for (int64_t d : tensor.dims()) proto->add_dims(d);
  proto->set_data_location(onnx::TensorProto::EXTERNAL);
  onnx::StringStringEntryProto* location = proto->add_external_data();
  location->set_key("location");
  location->set_value("(data left out for shape inference)");
}

}  // namespace

void Exporter::ExportTensor(const Tensor& tensor, onnx::TensorProto* proto) {
  if (sink_ && sink_(tensor, proto)) return;
  if (for_shape_inference_) {
    ExportTensorForShapeInference(tensor, proto);
    return;
  }
  const bool inline_external = tensor.storage() == Tensor::Storage::kExternal && !keep_external_;
  if (payloads_ != nullptr && (tensor.storage() == Tensor::Storage::kRaw || inline_external)) {
    auto bytes = tensor.RawBytes();
    if (bytes.ok() && bytes->size() >= wire::kMinPayloadBytes) {
      tensor.ToProtoWithoutRawData(proto);
      proto->clear_raw_data();
      if (inline_external) {
        proto->clear_external_data();
        proto->clear_data_location();
      }
      (*payloads_)[proto] = wire::Payload{*bytes, tensor.raw_file()};
      return;
    }
  }
  tensor.ToProto(proto);
  if (inline_external) {
    auto bytes = tensor.RawBytes();
    proto->clear_external_data();
    proto->clear_data_location();
    proto->set_raw_data(bytes->data(), bytes->size());
  }
}

namespace {

// Sets a string field only where the IR's value differs from what the shell
// holds, so absent-vs-empty presence survives a round trip.
template <typename HasFn, typename GetFn, typename SetFn>
void SetIfChanged(const std::string& value, HasFn has, GetFn get, SetFn set) {
  if (get() != value || (!has() && !value.empty())) set(value);
}

}  // namespace

void Exporter::ExportNode(const Node& node, onnx::NodeProto* proto) {
  *proto = node.proto_shell();
  SetIfChanged(node.op_type(), [&] { return proto->has_op_type(); }, [&] { return proto->op_type(); },
               [&](const std::string& v) { proto->set_op_type(v); });
  SetIfChanged(node.domain(), [&] { return proto->has_domain(); }, [&] { return proto->domain(); },
               [&](const std::string& v) { proto->set_domain(v); });
  SetIfChanged(node.name(), [&] { return proto->has_name(); }, [&] { return proto->name(); },
               [&](const std::string& v) { proto->set_name(v); });
  for (const Value* in : node.inputs()) proto->add_input(in ? in->name() : "");
  for (const Value* out : node.outputs()) proto->add_output(out ? out->name() : "");
  for (const Attribute& attribute : node.attributes()) {
    onnx::AttributeProto* a = proto->add_attribute();
    *a = attribute.proto();
    const auto& tensors = attribute.tensors();
    if (attribute.type() == onnx::AttributeProto::TENSOR && !tensors.empty()) {
      ExportTensor(*tensors[0], a->mutable_t());
    } else {
      for (const auto& t : tensors) ExportTensor(*t, a->add_tensors());
    }
    const auto& graphs = attribute.graphs();
    if (attribute.type() == onnx::AttributeProto::GRAPH && !graphs.empty()) {
      ExportGraph(*graphs[0], a->mutable_g());
    } else {
      for (const auto& g : graphs) ExportGraph(*g, a->add_graphs());
    }
  }
}

void Exporter::ExportGraph(const Graph& graph, onnx::GraphProto* proto) {
  *proto = graph.proto_shell();
  for (const Value* in : graph.inputs()) {
    onnx::ValueInfoProto* info = proto->add_input();
    *info = in->type_info();
    info->set_name(in->name());
  }
  for (const Value* v : graph.initializers()) ExportTensor(*v->initializer(), proto->add_initializer());
  for (const Node* node : graph.node_list()) ExportNode(*node, proto->add_node());
  for (int i = 0; i < static_cast<int>(graph.outputs().size()); ++i) {
    onnx::ValueInfoProto* info = proto->add_output();
    *info = graph.output_info(i);
    info->set_name(graph.outputs()[i]->name());
  }
  // value_info in the file's order; entries added by passes come last.
  struct Entry {
    int64_t rank;
    int64_t order;
    const onnx::ValueInfoProto* info;
  };
  std::vector<Entry> entries;
  int64_t order = 0;
  for (const Value* v : graph.values()) {
    if (v->has_info_ && v->kind() != Value::Kind::kGraphInput) entries.push_back({v->info_rank_, order++, &v->info_});
  }
  for (size_t i = 0; i < graph.orphan_value_infos_.size(); ++i) {
    // An entry naming a value of this graph is a second entry for it (files
    // list some tensors twice) or a graph input's: the value's own type is
    // the one passes keep true, and a stale copy (float where a rewrite made
    // uint8) is a file ONNX Runtime refuses.
    if (graph.FindValue(graph.orphan_value_infos_[i].name()) != nullptr) continue;
    int64_t rank = i < graph.orphan_ranks_.size() ? graph.orphan_ranks_[i] : INT64_MAX;
    entries.push_back({rank, order++, &graph.orphan_value_infos_[i]});
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.order < b.order;
  });
  for (const Entry& e : entries) *proto->add_value_info() = *e.info;
}

onnx::ModelProto ExportModel(const Model& model, bool keep_external) {
  onnx::ModelProto proto = model.proto_shell();
  Exporter(keep_external, nullptr).ExportGraph(model.graph(), proto.mutable_graph());
  return proto;
}

void ExportTensorForShapeInference(const Tensor& tensor, onnx::TensorProto* proto) {
  if (tensor.storage() != Tensor::Storage::kEmpty && DataBytes(tensor) > kShapeInferenceMaxDataBytes) {
    ExportWithoutData(tensor, proto);
  } else {
    tensor.ToProto(proto);
  }
}

onnx::ModelProto ExportModelForShapeInference(const Model& model) {
  onnx::ModelProto proto;
  ExportModelForShapeInference(model, &proto);
  return proto;
}

void ExportModelForShapeInference(const Model& model, onnx::ModelProto* out) {
  *out = model.proto_shell();
  Exporter exporter(/*keep_external=*/true, nullptr);
  exporter.ForShapeInference();
  exporter.ExportGraph(model.graph(), out->mutable_graph());
}

namespace {

// A file written next to its final path and renamed into place on Commit();
// destroyed uncommitted, it removes itself, and a fatal signal removes it
// too (ir/temp_files.h).
class AtomicFile {
 public:
  static absl::StatusOr<std::unique_ptr<AtomicFile>> Create(const std::string& path) {
    std::string tmpl = TempFileTemplate(path);
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    int fd = ::mkstemp(name.data());
    if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot write '", path, "': ", std::strerror(errno)));
    RegisterTempFile(name.data());
    ::fchmod(fd, 0644);  // mkstemp creates 0600
    return std::unique_ptr<AtomicFile>(new AtomicFile(path, name.data(), fd));
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
    UnregisterTempFile(tmp_);
  }
  absl::Status Write(absl::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::DataLossError(absl::StrCat("writing '", path_, "' failed: ", std::strerror(errno)));
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      written_ += n;
    }
    return absl::OkStatus();
  }
  // Bytes that may lie in a file mapping: copied file to file by the kernel
  // (through a pipe, else copy_file_range), so a large model is not read
  // through this process's memory; where the kernel cannot, written from the
  // mapping a chunk at a time, each chunk's pages given back once written.
  absl::Status WritePayload(const wire::Payload& payload) {
    if (payload.file == nullptr) return Write(payload.bytes);
    absl::string_view left = payload.bytes;
    auto offset = static_cast<off64_t>(left.data() - payload.file->bytes().data());
    absl::StatusOr<size_t> piped = copier_.Copy(payload.file->fd(), offset, left.size(), fd_, written_);
    if (!piped.ok()) {
      return absl::DataLossError(absl::StrCat("writing '", path_, "' failed: ", piped.status().message()));
    }
    left.remove_prefix(*piped);
    written_ += static_cast<int64_t>(*piped);
    offset += static_cast<off64_t>(*piped);
    if (left.empty()) return absl::OkStatus();
    if (copier_.usable()) return InputShrank(payload);
    while (!left.empty()) {
      ssize_t n = ::copy_file_range(payload.file->fd(), &offset, fd_, nullptr, left.size(), 0);
      if (n > 0) {
        left.remove_prefix(static_cast<size_t>(n));
        written_ += n;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return InputShrank(payload);
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP && errno != EBADF) {
        return absl::DataLossError(absl::StrCat("writing '", path_, "' failed: ", std::strerror(errno)));
      }
      break;  // not between these files: through memory
    }
    constexpr size_t kChunk = size_t{64} << 20;
    while (!left.empty()) {
      absl::string_view chunk = left.substr(0, kChunk);
      if (absl::Status s = Write(chunk); !s.ok()) return s;
      payload.file->DropPages(chunk);
      left.remove_prefix(chunk.size());
    }
    return absl::OkStatus();
  }
  int64_t size() const { return written_; }

  // Closes the file; with `fsync`, after flushing it to disk. The renames
  // come after every file of a save is closed, so that a failed flush or
  // close leaves none of them in place.
  absl::Status Close(bool fsync) {
    const bool flushed = !fsync || ::fsync(fd_) == 0;
    const int flush_errno = errno;
    const bool closed = ::close(fd_) == 0;
    fd_ = -1;
    if (flushed && closed) return absl::OkStatus();
    return absl::DataLossError(
        absl::StrCat("writing '", path_, "' failed: ", std::strerror(flushed ? errno : flush_errno)));
  }
  // Renames the closed file into place.
  absl::Status Commit() {
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
      return absl::DataLossError(absl::StrCat("cannot move output into '", path_, "': ", std::strerror(errno)));
    }
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  absl::Status InputShrank(const wire::Payload& payload) const {
    return absl::DataLossError(
        absl::StrCat("writing '", path_, "' failed: '", payload.file->path(), "' is shorter than when it was read"));
  }

  AtomicFile(std::string path, std::string tmp, int fd) : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd) {}
  std::string path_;
  std::string tmp_;
  int fd_;
  bool committed_ = false;
  int64_t written_ = 0;
  PipeCopier copier_;
};

bool SameFile(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec);
}

void CollectExternalSources(const Graph& graph, const std::string& base_dir, absl::flat_hash_set<std::string>* out) {
  auto add = [&](const Tensor& t) {
    if (t.storage() == Tensor::Storage::kExternal) out->insert((fs::path(base_dir) / t.external_location()).string());
  };
  for (const Value* v : graph.initializers()) add(*v->initializer());
  for (const Node* n : graph.node_list()) {
    for (const Attribute& a : n->attributes()) {
      for (const auto& t : a.tensors()) add(*t);
      for (const auto& g : a.graphs()) CollectExternalSources(*g, base_dir, out);
    }
  }
}

int64_t InlineBytes(const Graph& graph) {
  int64_t total = 0;
  auto add = [&](const Tensor& t) {
    auto bytes = t.RawBytes();
    if (bytes.ok()) total += static_cast<int64_t>(bytes->size());
  };
  for (const Value* v : graph.initializers()) add(*v->initializer());
  for (const Node* n : graph.node_list()) {
    for (const Attribute& a : n->attributes()) {
      for (const auto& t : a.tensors()) add(*t);
      for (const auto& g : a.graphs()) total += InlineBytes(*g);
    }
  }
  return total;
}

// Protobuf cannot serialize a message of 2 GiB or more; leave headroom for
// the non-tensor parts of the model.
constexpr int64_t kInlineLimit = (int64_t{1} << 31) - (int64_t{64} << 20);

// Where an output path leads: through a symbolic link to the file it names
// (the link stays a link and its target is replaced), else the path itself.
fs::path ResolveOutput(const std::string& path) {
  fs::path out = fs::absolute(fs::path(path));
  std::error_code ec;
  for (int hops = 0; hops < 40 && fs::is_symlink(out, ec); ++hops) {
    fs::path target = fs::read_symlink(out, ec);
    if (ec) break;
    out = target.is_absolute() ? target : out.parent_path() / target;
  }
  return out.lexically_normal();
}

void RemoveStaleTempFilesOf(const fs::path& output, const SaveOptions& options) {
  for (const std::string& stale : RemoveStaleTempFiles(output.string())) {
    if (options.note) options.note(absl::StrCat("removed '", stale, "', left by an earlier run that was killed"));
  }
}

}  // namespace

absl::Status SaveModel(const Model& model, const std::string& path, const SaveOptions& options) {
  const fs::path out_path = ResolveOutput(path);
  if (!model.source_path().empty() && SameFile(out_path, fs::absolute(model.source_path()))) {
    return absl::InvalidArgumentError(absl::StrCat("refusing to overwrite the input model '", path, "'"));
  }
  if (!fs::is_directory(out_path.parent_path())) {
    return absl::NotFoundError(absl::StrCat("cannot write '", path, "': folder '", out_path.parent_path().string(),
                                            "' does not exist"));
  }

  using Policy = SaveOptions::ExternalData;
  Policy policy = options.external_data;
  if (policy == Policy::kInline && InlineBytes(model.graph()) > kInlineLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write '", path, "' inline: its tensors exceed protobuf's 2 GiB limit; use external data"));
  }
  const bool spill_all = policy == Policy::kExternal ||
                         (policy == Policy::kAuto && InlineBytes(model.graph()) > kInlineLimit);

  const std::string data_name =
      options.external_file_name.empty() ? absl::StrCat(out_path.filename().string(), ".data") : options.external_file_name;
  const fs::path data_path = out_path.parent_path() / data_name;
  absl::flat_hash_set<std::string> sources;
  CollectExternalSources(model.graph(), model.base_dir(), &sources);
  for (const std::string& source : sources) {
    if (SameFile(out_path, source)) {
      return absl::InvalidArgumentError(
          absl::StrCat("refusing to overwrite '", path, "': the input model reads its external data from it"));
    }
    if (SameFile(data_path, source)) {
      return absl::InvalidArgumentError(absl::StrCat("refusing to overwrite '", data_path.string(),
                                                     "': the input model reads its external data from it"));
    }
  }

  RemoveStaleTempFilesOf(out_path, options);
  RemoveStaleTempFilesOf(data_path, options);

  std::unique_ptr<AtomicFile> data_file;
  absl::Status data_status;
  ExternalSink sink = [&](const Tensor& tensor, onnx::TensorProto* proto) -> bool {
    const bool was_external = tensor.storage() == Tensor::Storage::kExternal;
    auto bytes = tensor.RawBytes();
    if (!bytes.ok() || tensor.type() == ElementType::kString) return false;
    const bool external = policy != Policy::kInline &&
                          ((policy == Policy::kAuto && was_external) ||
                           (spill_all && static_cast<int64_t>(bytes->size()) >= options.external_min_bytes));
    if (!external || !data_status.ok()) return false;
    if (!data_file) {
      auto created = AtomicFile::Create(data_path.string());
      if (!created.ok()) {
        data_status = created.status();
        return false;
      }
      data_file = *std::move(created);
    }
    // Align each tensor to 64 bytes so that mapped data is aligned for SIMD.
    int64_t offset = (data_file->size() + 63) / 64 * 64;
    if (absl::Status s = data_file->Write(std::string(offset - data_file->size(), '\0')); !s.ok()) data_status = s;
    if (absl::Status s = data_file->WritePayload(wire::Payload{*bytes, tensor.raw_file()}); !s.ok()) {
      data_status = s;
    }
    tensor.ToProto(proto);
    proto->clear_raw_data();
    proto->clear_external_data();
    proto->set_data_location(onnx::TensorProto::EXTERNAL);
    auto add_entry = [&](const char* key, std::string value) {
      auto* e = proto->add_external_data();
      e->set_key(key);
      e->set_value(std::move(value));
    };
    add_entry("location", data_name);
    add_entry("offset", absl::StrCat(offset));
    add_entry("length", absl::StrCat(bytes->size()));
    return true;
  };

  // The model without its large payloads is built in memory; the payloads
  // are spliced in as it is written, from where they are (the mapped input
  // file, or memory for tensors a pass changed): the same bytes protobuf
  // would serialize.
  onnx::ModelProto proto = model.proto_shell();
  wire::PayloadMap payloads;
  Exporter(false, sink, &payloads).ExportGraph(model.graph(), proto.mutable_graph());
  if (!data_status.ok()) return data_status;
  const wire::Pieces pieces = wire::SerializeModel(proto, payloads);
  const size_t size = pieces.size();
  if (size > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write '", path, "': the model is ", size,
                                                   " bytes, over protobuf's 2 GiB limit; use external data"));
  }
  auto model_file = AtomicFile::Create(out_path.string());
  if (!model_file.ok()) return model_file.status();
  for (const wire::Pieces::Piece& piece : pieces.pieces()) {
    absl::Status s = piece.is_payload ? (*model_file)->WritePayload(piece.payload) : (*model_file)->Write(piece.bytes);
    if (!s.ok()) return s;
  }
  if (data_file) {
    if (absl::Status s = data_file->Close(options.fsync); !s.ok()) return s;
  }
  if (absl::Status s = (*model_file)->Close(options.fsync); !s.ok()) return s;
  // The data first, so that the new model file never appears before its data.
  if (data_file) {
    if (absl::Status s = data_file->Commit(); !s.ok()) return s;
  }
  return (*model_file)->Commit();
}

absl::Status SerializeModelInto(const Model& model, const std::function<char*(size_t)>& allocate) {
  // As SaveModel builds its file, every tensor inline: the payloads are
  // copied once, from where they are into the caller's buffer.
  onnx::ModelProto proto = model.proto_shell();
  wire::PayloadMap payloads;
  Exporter(false, nullptr, &payloads).ExportGraph(model.graph(), proto.mutable_graph());
  const wire::Pieces pieces = wire::SerializeModel(proto, payloads);
  if (pieces.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(absl::StrCat("the model is ", pieces.size(),
                                                   " bytes, over protobuf's 2 GiB limit; save it with external data"));
  }
  char* out = allocate(pieces.size());
  if (out == nullptr) return absl::ResourceExhaustedError(absl::StrCat("cannot allocate ", pieces.size(), " bytes"));
  for (const wire::Pieces::Piece& piece : pieces.pieces()) {
    absl::string_view bytes = piece.is_payload ? piece.payload.bytes : absl::string_view(piece.bytes);
    if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
    out += bytes.size();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SerializeModelToString(const Model& model) {
  std::string bytes;
  absl::Status status = SerializeModelInto(model, [&](size_t size) {
    bytes.resize(size);
    return bytes.data();
  });
  if (!status.ok()) return status;
  return bytes;
}

}  // namespace qopt::ir
