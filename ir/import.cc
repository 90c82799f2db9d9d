// ONNX protobuf -> IR.
//
// Real files are messy, so the importer accepts whatever is valid ONNX:
// nodes out of topological order (sorted, keeping the file order where it is
// valid), the default domain spelled "ai.onnx", value_info entries without a
// type or naming nothing (kept and written back), initializers also listed
// as graph inputs (inputs with a default), IR versions and element types
// newer than libonnx knows (passed through). It rejects what is broken:
// dangling names, duplicate definitions, cycles, tensors whose data size
// disagrees with their dims, external data outside the model's folder.
#include <filesystem>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ir/mapped_file.h"
#include "ir/printer.h"
#include "ir/serialization.h"
#include "ir/wire_format.h"
#include "onnx/defs/parser.h"

namespace qopt::ir {

namespace fs = std::filesystem;

class Importer {
 public:
  Importer(Model* model, std::string base_dir) : model_(model), base_dir_(std::move(base_dir)) {}

  // The payloads of the main graph's tensors that LoadModel left in the
  // model's bytes (ir/wire_format.h), kept alive by `owner`; `file` is the
  // mapping they lie in, if they do.
  void SetFilePayloads(std::shared_ptr<const void> owner, const MappedFile* file, const wire::FilePayloads* payloads) {
    payload_owner_ = std::move(owner);
    file_ = file;
    payloads_ = payloads;
  }

  // `main` is the model's graph (payloads are known for it only).
  absl::Status ImportGraph(onnx::GraphProto&& proto, Graph* graph, bool main = false);

 private:
  absl::StatusOr<Tensor> ImportTensor(onnx::TensorProto&& proto, absl::string_view what,
                                      absl::string_view payload = {});
  absl::StatusOr<SharedBytes> ReadExternal(const onnx::TensorProto& proto, absl::string_view what);
  // The mapped data file a tensor's external-data location names, refused
  // when it escapes the model's folder.
  absl::StatusOr<std::shared_ptr<MappedFile>> OpenExternal(const std::string& location, absl::string_view what);
  absl::Status ImportAttributes(google::protobuf::RepeatedPtrField<onnx::AttributeProto>&& protos, Node* node,
                                const absl::flat_hash_map<int, absl::string_view>& payloads);

  // The name tables of a large graph do not fit any cache, and each name
  // lookup there waits for memory; asking for the slots of a node's names
  // this many nodes ahead lets those waits overlap (as ir/prefetch.h does
  // for walks of the IR).
  static constexpr int kNamesAhead = 8;
  // The table slots node `index` will look its outputs up and define them in
  // (`outputs`), or look its inputs up in.
  void PrefetchNames(const google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes, int index, const Graph* graph,
                     bool outputs) const {
    if (index >= nodes.size()) return;
    const onnx::NodeProto& np = nodes[index];
    if (outputs) {
      if (!np.name().empty()) model_->PrefetchName(np.name());
      for (const std::string& name : np.output()) {
        graph->values_by_name_.prefetch(name);
        model_->PrefetchName(name);
      }
    } else {
      for (const std::string& name : np.input()) graph->values_by_name_.prefetch(name);
    }
  }

  Model* model_;
  std::string base_dir_;
  fs::path canonical_base_;                                                    // of base_dir_, once needed
  absl::flat_hash_map<std::string, std::shared_ptr<MappedFile>> mapped_;       // by canonical path
  absl::flat_hash_map<std::string, std::shared_ptr<MappedFile>> by_location_;  // by location as written
  std::shared_ptr<const void> payload_owner_;
  const MappedFile* file_ = nullptr;
  const wire::FilePayloads* payloads_ = nullptr;
};

namespace {

std::string Quote(absl::string_view s) { return absl::StrCat("'", s, "'"); }

// "node 'conv1' (Conv)" or "node #3 (Conv)" for messages about NodeProtos.
std::string DescribeProto(const onnx::NodeProto& node, int index) {
  if (!node.name().empty()) return absl::StrCat("node '", node.name(), "' (", node.op_type(), ")");
  return absl::StrCat("node #", index, " (", node.op_type(), ")");
}

}  // namespace

absl::StatusOr<std::shared_ptr<MappedFile>> Importer::OpenExternal(const std::string& location,
                                                                   absl::string_view what) {
  // Resolved once a location: models with thousands of tensors name the
  // same data file in each, and resolving a path reads every link on it.
  if (auto known = by_location_.find(location); known != by_location_.end()) return known->second;
  fs::path rel(location);
  bool escapes = rel.is_absolute();
  for (const auto& part : rel) escapes |= part == "..";
  if (canonical_base_.empty()) canonical_base_ = fs::weakly_canonical(fs::path(base_dir_));
  const fs::path& base = canonical_base_;
  const fs::path full = fs::weakly_canonical(base / rel);
  auto [base_end, full_it] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  escapes |= base_end != base.end();
  if (escapes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": external data location ", Quote(location), " escapes the model folder"));
  }
  auto it = mapped_.find(full.string());
  if (it == mapped_.end()) {
    auto file = MappedFile::Open(full.string());
    if (!file.ok()) {
      return absl::NotFoundError(
          absl::StrCat(what, ": missing external data file ", Quote(location), " (", file.status().message(), ")"));
    }
    it = mapped_.emplace(full.string(), *std::move(file)).first;
  }
  by_location_.emplace(location, it->second);
  return it->second;
}

absl::StatusOr<SharedBytes> Importer::ReadExternal(const onnx::TensorProto& proto, absl::string_view what) {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;
  for (const auto& entry : proto.external_data()) {
    if (entry.key() == "location") {
      location = entry.value();
    } else if (entry.key() == "offset" || entry.key() == "length") {
      int64_t v;
      if (!absl::SimpleAtoi(entry.value(), &v) || v < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " has an invalid external-data ", entry.key(), " '", entry.value(), "'"));
      }
      (entry.key() == "offset" ? offset : length) = v;
    }
  }
  if (location.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is external but names no location"));
  if (base_dir_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has external data ", Quote(location), " but the model was not read from a file"));
  }
  absl::StatusOr<std::shared_ptr<MappedFile>> file = OpenExternal(location, what);
  if (!file.ok()) return file.status();
  const std::shared_ptr<MappedFile>& mapped = *file;
  absl::string_view bytes = mapped->bytes();
  if (length < 0) length = static_cast<int64_t>(bytes.size()) - offset;
  if (offset > static_cast<int64_t>(bytes.size()) || length > static_cast<int64_t>(bytes.size()) - offset) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": external data ", Quote(location), " offset ", offset,
                                                   " length ", length, " runs past the end of the file (",
                                                   bytes.size(), " bytes)"));
  }
  return SharedBytes{mapped, bytes.substr(offset, length), mapped.get()};
}

// `payload`: the tensor's raw_data, left in the mapped model file.
absl::StatusOr<Tensor> Importer::ImportTensor(onnx::TensorProto&& proto, absl::string_view what,
                                              absl::string_view payload) {
  Tensor tensor;
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    // raw_data beside external data means nothing, but is written back.
    if (!payload.empty()) proto.set_raw_data(payload.data(), payload.size());
    auto bytes = ReadExternal(proto, what);
    if (!bytes.ok()) return bytes.status();
    tensor = Tensor::FromExternal(std::move(proto), *std::move(bytes));
  } else if (!payload.empty()) {
    tensor = Tensor::FromProto(std::move(proto), SharedBytes{payload_owner_, payload, file_});
  } else {
    tensor = Tensor::FromProto(std::move(proto));
  }
  if (absl::Status s = tensor.CheckDataSize(what); !s.ok()) return s;
  return tensor;
}

// `payloads`: raw_data of `t` left in the model file, by attribute index.
absl::Status Importer::ImportAttributes(google::protobuf::RepeatedPtrField<onnx::AttributeProto>&& protos, Node* node,
                                        const absl::flat_hash_map<int, absl::string_view>& payloads) {
  for (int index = 0; index < protos.size(); ++index) {
    onnx::AttributeProto& proto = protos[index];
    const std::string what = absl::StrCat("attribute '", proto.name(), "' of node ", node->Describe());
    std::vector<std::unique_ptr<Tensor>> tensors;
    std::vector<onnx::GraphProto> graph_protos;
    auto payload = payloads.find(index);
    if (payload != payloads.end() && !proto.has_t()) {
      return absl::InternalError(absl::StrCat(what, ": a payload was read for a tensor that is not there"));
    }
    if (proto.has_t()) {
      auto t = ImportTensor(std::move(*proto.mutable_t()), what,
                            payload != payloads.end() ? payload->second : absl::string_view());
      if (!t.ok()) return t.status();
      tensors.push_back(std::make_unique<Tensor>(*std::move(t)));
      proto.clear_t();
    }
    for (auto& tp : *proto.mutable_tensors()) {
      auto t = ImportTensor(std::move(tp), what);
      if (!t.ok()) return t.status();
      tensors.push_back(std::make_unique<Tensor>(*std::move(t)));
    }
    proto.clear_tensors();
    if (proto.has_g()) {
      graph_protos.push_back(std::move(*proto.mutable_g()));
      proto.clear_g();
    }
    for (auto& gp : *proto.mutable_graphs()) graph_protos.push_back(std::move(gp));
    proto.clear_graphs();

    node->mutable_attributes().emplace_back(std::move(proto));
    Attribute& attribute = node->mutable_attributes().back();
    attribute.mutable_tensors() = std::move(tensors);
    for (auto& gp : graph_protos) {
      attribute.mutable_graphs().push_back(std::make_unique<Graph>(model_, node));
      if (absl::Status s = ImportGraph(std::move(gp), attribute.mutable_graphs().back().get()); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat(s.message(), " (in ", what, ")"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Importer::ImportGraph(onnx::GraphProto&& proto, Graph* graph, bool main) {
  const wire::FilePayloads* payloads = main ? payloads_ : nullptr;
  auto node_protos = std::move(*proto.mutable_node());
  auto input_protos = std::move(*proto.mutable_input());
  auto output_protos = std::move(*proto.mutable_output());
  auto initializer_protos = std::move(*proto.mutable_initializer());
  auto value_info_protos = std::move(*proto.mutable_value_info());
  proto.clear_node();
  proto.clear_input();
  proto.clear_output();
  proto.clear_initializer();
  proto.clear_value_info();
  graph->proto_shell_ = std::move(proto);
  const std::string graph_what = graph->name().empty() ? "graph" : absl::StrCat("graph '", graph->name(), "'");

  auto define = [&](const std::string& name, Value::Kind kind, absl::string_view by) -> absl::StatusOr<Value*> {
    if (graph->FindValue(name) != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("value '", name, "' is defined twice in ", graph_what,
                                                     " (again by ", by, ")"));
    }
    return graph->NewValue(name, kind);
  };

  // Graph inputs, then initializers (an initializer named like an input is
  // that input's default value).
  absl::flat_hash_map<std::string, Value*> input_by_name;
  for (onnx::ValueInfoProto& info : input_protos) {
    if (info.name().empty()) return absl::InvalidArgumentError(absl::StrCat(graph_what, " has an input without a name"));
    auto v = define(info.name(), Value::Kind::kGraphInput, "a graph input");
    if (!v.ok()) return v.status();
    (*v)->set_type_info(info);
    graph->inputs_.push_back(*v);
    input_by_name[info.name()] = *v;
  }
  for (int index = 0; index < initializer_protos.size(); ++index) {
    onnx::TensorProto& tp = initializer_protos[index];
    std::string name = tp.name();
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(graph_what, " has an initializer without a name"));
    absl::string_view payload;
    if (payloads != nullptr) {
      if (auto it = payloads->initializers.find(index); it != payloads->initializers.end()) payload = it->second;
    }
    auto tensor = ImportTensor(std::move(tp), absl::StrCat("initializer '", name, "'"), payload);
    if (!tensor.ok()) return tensor.status();
    Value* v;
    if (auto it = input_by_name.find(name); it != input_by_name.end() && !it->second->initializer_) {
      v = it->second;
    } else {
      auto defined = define(name, Value::Kind::kInitializer, "an initializer");
      if (!defined.ok()) return defined.status();
      v = *defined;
    }
    v->SetInitializer(std::make_unique<Tensor>(*std::move(tensor)));
    graph->initializers_.push_back(v);
  }

  // Nodes in two phases: define every output first, then resolve inputs, so
  // nodes listed before their producers are accepted (and sorted below).
  std::vector<Node*> nodes;
  nodes.reserve(node_protos.size());
  for (int i = 0; i < node_protos.size(); ++i) {
    PrefetchNames(node_protos, i + kNamesAhead, graph, /*outputs=*/true);
    onnx::NodeProto& np = node_protos[i];
    if (np.op_type().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(DescribeProto(np, i), " in ", graph_what, " has no op_type"));
    }
    Node* node = graph->NewNode(np.op_type(), np.domain(), np.name(), nullptr);
    if (!np.name().empty()) model_->ReserveName(np.name());
    for (int o = 0; o < np.output_size(); ++o) {
      const std::string& name = np.output(o);
      if (name.empty()) {
        node->outputs_.push_back(nullptr);
        continue;
      }
      auto v = define(name, Value::Kind::kNodeOutput, DescribeProto(np, i));
      if (!v.ok()) return v.status();
      (*v)->SetProducer(node, o);
      node->outputs_.push_back(*v);
    }
    nodes.push_back(node);
  }
  absl::flat_hash_map<int, absl::string_view> attribute_payloads;
  for (int i = 0; i < node_protos.size(); ++i) {
    PrefetchNames(node_protos, i + kNamesAhead, graph, /*outputs=*/false);
    onnx::NodeProto& np = node_protos[i];
    Node* node = nodes[i];
    attribute_payloads.clear();
    if (payloads != nullptr) {
      for (int a = 0; a < np.attribute_size(); ++a) {
        if (auto it = payloads->node_attributes.find({i, a}); it != payloads->node_attributes.end()) {
          attribute_payloads[a] = it->second;
        }
      }
    }
    for (int k = 0; k < np.input_size(); ++k) {
      const std::string& name = np.input(k);
      Value* v = nullptr;
      if (!name.empty()) {
        v = graph->LookUp(name);
        if (v == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(DescribeProto(np, i), " input ", k, " '", name,
                                                         "' is not defined in ", graph_what));
        }
      }
      node->AddInput(v);
    }
    if (absl::Status s = ImportAttributes(std::move(*np.mutable_attribute()), node, attribute_payloads); !s.ok()) {
      return s;
    }
    // Freed, not cleared: a cleared repeated field keeps its strings for
    // reuse, which kept every input and output name of the file allocated a
    // second time in the shell for the model's lifetime.
    google::protobuf::RepeatedPtrField<std::string>().Swap(np.mutable_input());
    google::protobuf::RepeatedPtrField<std::string>().Swap(np.mutable_output());
    google::protobuf::RepeatedPtrField<onnx::AttributeProto>().Swap(np.mutable_attribute());
    node->proto_shell_ = std::move(np);
  }

  for (onnx::ValueInfoProto& info : output_protos) {
    Value* v = graph->LookUp(info.name());
    if (v == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(graph_what, " output '", info.name(), "' is not defined by any node, input or initializer"));
    }
    graph->outputs_.push_back(v);
    graph->output_infos_.push_back(std::move(info));
    v->AddUse(Use{nullptr, static_cast<int>(graph->outputs_.size()) - 1, graph});
  }

  for (int rank = 0; rank < value_info_protos.size(); ++rank) {
    onnx::ValueInfoProto& info = value_info_protos[rank];
    Value* v = graph->FindValue(info.name());
    if (v != nullptr && !v->has_info_ && v->kind() != Value::Kind::kGraphInput) {
      v->set_type_info(info);
      v->info_rank_ = rank;
    } else {
      graph->orphan_value_infos_.push_back(std::move(info));
      graph->orphan_ranks_.push_back(rank);
    }
  }

  return graph->TopologicalSort();
}

namespace {

// ImportModel, with the payloads LoadModel left in the bytes `owner` keeps.
absl::StatusOr<std::unique_ptr<Model>> ImportModelFromFile(onnx::ModelProto proto, const std::string& base_dir,
                                                           std::shared_ptr<const void> owner, const MappedFile* file,
                                                           const wire::FilePayloads* payloads) {
  if (!proto.has_graph()) {
    return absl::InvalidArgumentError("not an ONNX model: it has no graph (truncated, or not a ModelProto?)");
  }
  if (proto.ir_version() <= 0) {
    return absl::InvalidArgumentError("not an ONNX model: ir_version is missing");
  }
  auto model = std::make_unique<Model>();
  onnx::GraphProto graph = std::move(*proto.mutable_graph());
  proto.clear_graph();
  *model->mutable_proto_shell() = std::move(proto);
  model->set_base_dir(base_dir);
  Importer importer(model.get(), base_dir);
  importer.SetFilePayloads(std::move(owner), file, payloads);
  if (absl::Status s = importer.ImportGraph(std::move(graph), &model->graph(), /*main=*/true); !s.ok()) return s;
  return model;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> ImportModel(onnx::ModelProto proto, const std::string& base_dir) {
  return ImportModelFromFile(std::move(proto), base_dir, nullptr, nullptr, nullptr);
}

namespace {

absl::StatusOr<std::unique_ptr<Model>> LoadModelText(const std::string& path) {
  auto file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  auto model = ParseModelText((*file)->bytes());
  if (!model.ok()) return absl::Status(model.status().code(), absl::StrCat(path, ": ", model.status().message()));
  (*model)->set_base_dir(fs::absolute(fs::path(path)).parent_path().string());
  (*model)->set_source_path(path);
  return model;
}

// A serialized ModelProto whose tensor payloads stay in `bytes` (kept alive
// by `owner`; `file` is the mapping they lie in, if they do). `name` names
// the bytes in messages: the file's path.
absl::StatusOr<std::unique_ptr<Model>> ImportSerializedModel(absl::string_view bytes, std::shared_ptr<const void> owner,
                                                             const MappedFile* file, const std::string& name,
                                                             const std::string& base_dir) {
  const std::string what = Quote(name);
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is over 2 GiB: a protobuf file cannot be that large (use external data)"));
  }
  // Tensor payloads stay where they are; protobuf parses the rest.
  wire::FilePayloads payloads;
  auto stripped = wire::StripTensorPayloads(bytes, &payloads);
  if (!stripped.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is not a valid ONNX protobuf (truncated or corrupted file): ", stripped.status().message()));
  }
  absl::string_view to_parse = payloads.bytes > 0 ? absl::string_view(*stripped) : bytes;
  onnx::ModelProto proto;
  if (!proto.ParseFromArray(to_parse.data(), static_cast<int>(to_parse.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not a valid ONNX protobuf (truncated or corrupted file)"));
  }
  *stripped = std::string();
  auto model = ImportModelFromFile(std::move(proto), base_dir, std::move(owner), file, &payloads);
  if (!model.ok()) return absl::Status(model.status().code(), absl::StrCat(name, ": ", model.status().message()));
  return model;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path) {
  if (absl::EndsWith(path, ".onnxtxt")) return LoadModelText(path);
  auto file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  const MappedFile* mapping = file->get();
  std::string base_dir = fs::absolute(fs::path(path)).parent_path().string();
  auto model = ImportSerializedModel(mapping->bytes(), *std::move(file), mapping, path, base_dir);
  if (!model.ok()) return model.status();
  (*model)->set_source_path(path);
  return model;
}

absl::StatusOr<std::unique_ptr<Model>> LoadModelFromBytes(absl::string_view bytes, std::shared_ptr<const void> owner) {
  return ImportSerializedModel(bytes, std::move(owner), nullptr, "<model bytes>", "");
}

namespace {

void DemangleGraph(onnx::GraphProto* g);

void DemangleNames(google::protobuf::RepeatedPtrField<std::string>* names) {
  for (std::string& n : *names) n = DemangleName(n);
}

// The printer mangles symbolic dims too (a dim_param may be any string).
void DemangleType(onnx::TypeProto* type) {
  if (type->has_tensor_type() && type->tensor_type().has_shape()) {
    for (auto& d : *type->mutable_tensor_type()->mutable_shape()->mutable_dim()) {
      if (d.has_dim_param()) d.set_dim_param(DemangleName(d.dim_param()));
    }
  }
}

void DemangleValueInfo(onnx::ValueInfoProto* v) {
  v->set_name(DemangleName(v->name()));
  if (v->has_type()) DemangleType(v->mutable_type());
}

void DemangleGraph(onnx::GraphProto* g) {
  if (g->has_name()) g->set_name(DemangleName(g->name()));
  for (auto& v : *g->mutable_input()) DemangleValueInfo(&v);
  for (auto& v : *g->mutable_output()) DemangleValueInfo(&v);
  for (auto& v : *g->mutable_value_info()) DemangleValueInfo(&v);
  for (auto& t : *g->mutable_initializer()) t.set_name(DemangleName(t.name()));
  for (auto& n : *g->mutable_node()) {
    if (!n.name().empty()) n.set_name(DemangleName(n.name()));
    DemangleNames(n.mutable_input());
    DemangleNames(n.mutable_output());
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t() && a.t().has_name()) a.mutable_t()->set_name(DemangleName(a.t().name()));
      for (auto& t : *a.mutable_tensors()) t.set_name(DemangleName(t.name()));
      if (a.has_g()) DemangleGraph(a.mutable_g());
      for (auto& sub : *a.mutable_graphs()) DemangleGraph(&sub);
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> ParseModelText(absl::string_view text) {
  onnx::ModelProto proto;
  std::string buffer(text);
  onnx::Common::Status status;
  try {
    status = onnx::OnnxParser::Parse(proto, buffer.c_str());
  } catch (const std::exception& e) {
    // libonnx 1.12 converts numbers with std::stoll/stod, which throw on
    // digits it does not expect ("1e", an out-of-range literal).
    return absl::InvalidArgumentError(absl::StrCat("cannot parse ONNX text: a malformed number (", e.what(), ")"));
  }
  if (!status.IsOK()) {
    // libonnx's message spans three lines (position, context, reason); a
    // Status message is one line.
    const std::string& message = status.ErrorMessage();
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot parse ONNX text: ", absl::StrJoin(absl::StrSplit(message, '\n', absl::SkipWhitespace()), " ")));
  }
  DemangleGraph(proto.mutable_graph());
  return ImportModel(std::move(proto));
}

}  // namespace qopt::ir
