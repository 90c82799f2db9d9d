// make_malformed DIR: writes the broken models that run_malformed.sh feeds to
// qopt-opt. Each is built here with onnx::ModelProto (or written as raw
// bytes), so the test set is regenerated on every run and no binary model is
// kept in the repository.
//
// Layout written under DIR:
//   DIR/outside.bin          a data file outside the model folder
//   DIR/models/*.onnx        the models (the model folder)
//   DIR/models/*.bin         external data that some of them read
//
// Every broken model differs from models/valid.onnx in one defect only, and
// the program checks the one structural property each needs (a truncated
// file must not parse, a valid one must), so a test that sees qopt-opt reject
// a file knows which defect it rejected.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"

namespace {

namespace fs = std::filesystem;

absl::Status WriteBytes(const fs::path& path, absl::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path.string(), "'"));
  return absl::OkStatus();
}

absl::Status WriteModel(const fs::path& path, const onnx::ModelProto& model) {
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    return absl::InternalError(absl::StrCat("cannot serialize '", path.string(), "'"));
  }
  return WriteBytes(path, bytes);
}

std::string FloatBytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

void SetFloatType(onnx::ValueInfoProto* info, const std::string& name, int64_t dim) {
  info->set_name(name);
  auto* tensor = info->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  tensor->mutable_shape()->add_dim()->set_dim_value(dim);
}

// A float[dim] tensor with inline bytes (raw_data).
void SetRawTensor(onnx::TensorProto* t, const std::string& name, int64_t dim, const std::string& raw) {
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(dim);
  t->set_raw_data(raw);
}

// A float[4] tensor whose bytes live in `location`.
void SetExternalTensor(onnx::TensorProto* t, const std::string& name, const std::string& location,
                       int64_t offset, int64_t length) {
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(4);
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const char* key, const std::string& value) {
    auto* e = t->add_external_data();
    e->set_key(key);
    e->set_value(value);
  };
  add("location", location);
  add("offset", absl::StrCat(offset));
  add("length", absl::StrCat(length));
}

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& name, const std::string& op,
                         const std::vector<std::string>& inputs, const std::vector<std::string>& outputs) {
  onnx::NodeProto* n = g->add_node();
  n->set_name(name);
  n->set_op_type(op);
  for (const auto& in : inputs) n->add_input(in);
  for (const auto& out : outputs) n->add_output(out);
  return n;
}

// X (float[4]) -> Mul(X, W) -> Relu -> Y, with W a float[4] initializer.
// Node and value names are plain identifiers so messages are easy to match.
onnx::ModelProto ValidModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("make_malformed");
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("malformed_case");
  SetFloatType(g->add_input(), "X", 4);
  SetFloatType(g->add_output(), "Y", 4);
  SetRawTensor(g->add_initializer(), "W", 4, FloatBytes({1, 2, 3, 4}));
  AddNode(g, "scale", "Mul", {"X", "W"}, {"XW"});
  AddNode(g, "act", "Relu", {"XW"}, {"Y"});
  return m;
}

// The model with W's bytes moved to `location` (offset, length).
onnx::ModelProto ExternalModel(const std::string& location, int64_t offset, int64_t length) {
  onnx::ModelProto m = ValidModel();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->Clear();
  SetExternalTensor(w, "W", location, offset, length);
  return m;
}

absl::Status Generate(const fs::path& root) {
  const fs::path dir = root / "models";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create '", dir.string(), "': ", ec.message()));
  const std::string weights = FloatBytes({1, 2, 3, 4});

  // Valid references: the test checks these load, so a rejection of the
  // others is about their defect and not the harness.
  if (auto s = WriteModel(dir / "valid.onnx", ValidModel()); !s.ok()) return s;
  if (auto s = WriteBytes(dir / "weights.bin", weights); !s.ok()) return s;
  if (auto s = WriteModel(dir / "valid_external.onnx", ExternalModel("weights.bin", 0, 16)); !s.ok()) return s;
  // Its external data is named as qopt-opt would name the data file of
  // `-o clash.onnx`, so writing there would overwrite what it reads.
  if (auto s = WriteBytes(dir / "clash.onnx.data", weights); !s.ok()) return s;
  if (auto s = WriteModel(dir / "reads_clash_data.onnx", ExternalModel("clash.onnx.data", 0, 16)); !s.ok()) {
    return s;
  }

  // Truncated: the valid model cut about in half, at a point where protobuf
  // reports a parse error (the check guards against a cut that happens to
  // fall on a field boundary).
  {
    std::string bytes;
    ValidModel().SerializeToString(&bytes);
    size_t cut = bytes.size() / 2;
    onnx::ModelProto probe;
    while (cut > 0 && probe.ParseFromArray(bytes.data(), static_cast<int>(cut))) --cut;
    if (cut == 0) return absl::InternalError("no cut of the valid model fails to parse");
    if (auto s = WriteBytes(dir / "truncated.onnx", bytes.substr(0, cut)); !s.ok()) return s;
  }

  // Garbage: 0xff is field 31 with wire type 7, which does not exist.
  {
    std::string bytes(64, '\xff');
    onnx::ModelProto probe;
    if (probe.ParseFromString(bytes)) return absl::InternalError("the garbage bytes parse as a ModelProto");
    if (auto s = WriteBytes(dir / "garbage.onnx", bytes); !s.ok()) return s;
  }

  if (auto s = WriteBytes(dir / "empty.onnx", ""); !s.ok()) return s;

  // Cycle: node_a reads node_b's output and node_b reads node_a's.
  {
    onnx::ModelProto m = ValidModel();
    onnx::GraphProto* g = m.mutable_graph();
    g->clear_node();
    AddNode(g, "node_a", "Add", {"X", "b_out"}, {"a_out"});
    AddNode(g, "node_b", "Relu", {"a_out"}, {"b_out"});
    AddNode(g, "act", "Mul", {"a_out", "W"}, {"Y"});
    if (auto s = WriteModel(dir / "cycle.onnx", m); !s.ok()) return s;
  }

  // Dangling: an input name nothing defines.
  {
    onnx::ModelProto m = ValidModel();
    m.mutable_graph()->mutable_node(0)->set_input(1, "nowhere_defined");
    if (auto s = WriteModel(dir / "dangling_input.onnx", m); !s.ok()) return s;
  }

  // Defined twice: two nodes with the same output name.
  {
    onnx::ModelProto m = ValidModel();
    AddNode(m.mutable_graph(), "second_writer", "Neg", {"X"}, {"XW"});
    if (auto s = WriteModel(dir / "defined_twice.onnx", m); !s.ok()) return s;
  }

  // raw_data of 8 bytes for a float[4] (16 bytes).
  {
    onnx::ModelProto m = ValidModel();
    m.mutable_graph()->mutable_initializer(0)->set_raw_data(FloatBytes({1, 2}));
    if (auto s = WriteModel(dir / "raw_data_size.onnx", m); !s.ok()) return s;
  }

  // Dims whose element count overflows int64 (2^40 x 2^40), with 4 bytes.
  {
    onnx::ModelProto m = ValidModel();
    onnx::TensorProto* t = m.mutable_graph()->add_initializer();
    t->set_name("HugeDims");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(int64_t{1} << 40);
    t->add_dims(int64_t{1} << 40);
    t->set_raw_data(FloatBytes({1}));
    if (auto s = WriteModel(dir / "huge_dims.onnx", m); !s.ok()) return s;
  }

  // External data escaping the model folder: through "..", through an
  // absolute path, and through a symlink inside the folder. The target file
  // exists in all three, so only the location is wrong.
  if (auto s = WriteBytes(root / "outside.bin", weights); !s.ok()) return s;
  if (auto s = WriteModel(dir / "external_dotdot.onnx", ExternalModel("../outside.bin", 0, 16)); !s.ok()) return s;
  {
    const std::string absolute = fs::absolute(root / "outside.bin").lexically_normal().string();
    if (auto s = WriteModel(dir / "external_absolute.onnx", ExternalModel(absolute, 0, 16)); !s.ok()) return s;
  }
  {
    fs::remove(dir / "outside_link.bin", ec);
    fs::create_symlink(fs::path("..") / "outside.bin", dir / "outside_link.bin", ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot create a symlink: ", ec.message()));
    if (auto s = WriteModel(dir / "external_symlink.onnx", ExternalModel("outside_link.bin", 0, 16)); !s.ok()) {
      return s;
    }
  }

  if (auto s = WriteModel(dir / "external_missing.onnx", ExternalModel("missing_weights.bin", 0, 16)); !s.ok()) {
    return s;
  }

  // short.bin has 16 bytes; offset 8 + length 16 runs 8 past its end.
  if (auto s = WriteBytes(dir / "short.bin", weights); !s.ok()) return s;
  if (auto s = WriteModel(dir / "external_overrun.onnx", ExternalModel("short.bin", 8, 16)); !s.ok()) return s;

  // ONNX text that libonnx's parser rejects (an unclosed call).
  if (auto s = WriteBytes(dir / "bad_syntax.onnxtxt",
                          "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                          "agraph (float[N] X) => (float[N] Y) {\n  Y = Relu(X\n}\n");
      !s.ok()) {
    return s;
  }

  // No graph at all.
  {
    onnx::ModelProto m = ValidModel();
    m.clear_graph();
    if (auto s = WriteModel(dir / "no_graph.onnx", m); !s.ok()) return s;
  }

  // A Constant node whose tensor is float[3] with 4 bytes of raw_data, and
  // one whose typed float_data holds 2 values for float[3].
  {
    onnx::ModelProto m = ValidModel();
    onnx::GraphProto* g = m.mutable_graph();
    g->clear_initializer();
    onnx::NodeProto* c = g->add_node();
    c->set_name("bad_const");
    c->set_op_type("Constant");
    c->add_output("W");
    onnx::AttributeProto* a = c->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    SetRawTensor(a->mutable_t(), "W", 3, FloatBytes({1}));
    if (auto s = WriteModel(dir / "constant_raw_size.onnx", m); !s.ok()) return s;

    onnx::TensorProto* t = a->mutable_t();
    t->clear_raw_data();
    t->add_float_data(1);
    t->add_float_data(2);
    c->set_name("bad_typed_const");
    if (auto s = WriteModel(dir / "constant_typed_size.onnx", m); !s.ok()) return s;
  }

  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_malformed DIR\n";
    return 2;
  }
  if (absl::Status s = Generate(argv[1]); !s.ok()) {
    std::cerr << "make_malformed: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
