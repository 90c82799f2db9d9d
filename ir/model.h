// A model: the top-level graph plus everything ModelProto carries around it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/container/flat_hash_set.h"
#include "ir/graph.h"
#include "onnx/onnx_pb.h"

namespace qopt::ir {

class Model {
 public:
  Model();
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  Graph& graph() { return *graph_; }
  const Graph& graph() const { return *graph_; }

  int64_t ir_version() const { return proto_shell_.ir_version(); }
  // Opset of a domain; "" and "ai.onnx" name the same default domain.
  std::optional<int64_t> OpsetVersion(absl::string_view domain) const;
  void SetOpsetVersion(absl::string_view domain, int64_t version);

  // ModelProto without its graph: ir_version, opset_import, producer,
  // metadata_props, model-local functions, training_info, newer fields.
  const onnx::ModelProto& proto_shell() const { return proto_shell_; }
  onnx::ModelProto* mutable_proto_shell() { return &proto_shell_; }

  // The folder of the file the model was loaded from; external data paths are
  // relative to it.
  const std::string& base_dir() const { return base_dir_; }
  void set_base_dir(std::string dir) { base_dir_ = std::move(dir); }
  // The file it was loaded from ("" when built in memory).
  const std::string& source_path() const { return source_path_; }
  void set_source_path(std::string path) { source_path_ = std::move(path); }

  // A value or node name not used anywhere in the model, from `prefix`.
  std::string UniqueName(absl::string_view prefix);
  void ReserveName(absl::string_view name) { used_names_.insert(std::string(name)); }
  bool IsNameUsed(absl::string_view name) const { return used_names_.contains(name); }
  // Starts loading the memory that ReserveName(name) will touch (the
  // importer, some nodes ahead of itself).
  void PrefetchName(absl::string_view name) const { used_names_.prefetch(name); }

  // Whether any node holds a graph-valued attribute (If, Loop, Scan): when
  // none does, a walk need not visit each node's attributes to find out.
  bool has_subgraphs() const { return live_subgraphs_ > 0; }

 private:
  friend class Graph;  // counts its sub-graphs in live_subgraphs_

  onnx::ModelProto proto_shell_;
  // Sub-graphs alive in the model. Declared before graph_: destroying graph_
  // destroys the sub-graphs, which still count themselves out.
  int64_t live_subgraphs_ = 0;
  std::unique_ptr<Graph> graph_;
  std::string base_dir_;
  std::string source_path_;
  absl::flat_hash_set<std::string> used_names_;
  int64_t next_unique_ = 0;
};

}  // namespace qopt::ir
