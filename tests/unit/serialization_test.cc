// Import/export: lossless round trips, messy-but-valid files, element types
// newer than libonnx, external data, atomic saving.
#include <filesystem>
#include <fstream>

#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "ir/serialization.h"
#include "ir/shape_inference.h"
#include "ir/verifier.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::MessageDifferencer;
using testing::OpSequence;

onnx::ModelProto BaseModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  m.set_producer_name("qopt-test");
  m.mutable_graph()->set_name("g");
  return m;
}

onnx::ValueInfoProto FloatInfo(const std::string& name, std::vector<int64_t> dims) {
  onnx::ValueInfoProto info;
  info.set_name(name);
  auto* t = info.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  return info;
}

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                         std::vector<std::string> out, const std::string& name = "") {
  auto* n = g->add_node();
  n->set_op_type(op);
  if (!name.empty()) n->set_name(name);
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}

// A float initializer of `dims` whose raw_data is all zero bytes.
void AddZeroInitializer(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims) {
  onnx::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  int64_t elements = 1;
  for (int64_t d : dims) {
    t->add_dims(d);
    elements *= d;
  }
  t->set_raw_data(std::string(elements * 4, '\0'));
}

void ExpectRoundTrip(const onnx::ModelProto& original) {
  auto model = ir::ImportModel(original);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(ir::Verify(**model).ok()) << ir::Verify(**model);
  onnx::ModelProto exported = ir::ExportModel(**model);
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(original, exported)) << diff;
  EXPECT_EQ(original.SerializeAsString(), exported.SerializeAsString());
}

TEST(Serialization, RoundTripKeepsEverything) {
  onnx::ModelProto m = BaseModel();
  m.set_doc_string("model doc");
  auto* meta = m.add_metadata_props();
  meta->set_key("author");
  meta->set_value("qopt");
  auto* g = m.mutable_graph();
  g->set_doc_string("graph doc");
  *g->add_input() = FloatInfo("X", {2});
  *g->add_output() = FloatInfo("Y", {2});
  auto* w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->add_float_data(1.5f);  // typed-field storage survives as typed fields
  w->add_float_data(-2.f);
  auto* n = AddNode(g, "Add", {"X", "W"}, {"A"}, "add0");
  n->set_doc_string("node doc");
  auto* relu = AddNode(g, "LeakyRelu", {"A"}, {"Y"}, "lrelu");
  auto* alpha = relu->add_attribute();
  alpha->set_name("alpha");
  alpha->set_type(onnx::AttributeProto::FLOAT);
  alpha->set_f(0.1f);
  *g->add_value_info() = FloatInfo("A", {2});
  ExpectRoundTrip(m);
}

// An embedding program's buffer (Python bytes): payloads are read where they
// are, kept alive by the owner, and the model serializes to SaveModel's bytes.
TEST(Serialization, BytesInMemoryAreReadInPlaceAndWrittenAsSaveModelWrites) {
  onnx::ModelProto m = BaseModel();
  onnx::GraphProto* g = m.mutable_graph();
  *g->add_input() = FloatInfo("X", {512});
  *g->add_output() = FloatInfo("Y", {512});
  AddZeroInitializer(g, "W", {512});
  AddNode(g, "Mul", {"X", "W"}, {"Y"});
  auto bytes = std::make_shared<const std::string>(m.SerializeAsString());
  const char* begin = bytes->data();
  const size_t size = bytes->size();
  auto model = ir::LoadModelFromBytes(*bytes, bytes);
  bytes.reset();  // the model's tensors keep the buffer
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<ir::SharedBytes> weight = (*model)->graph().FindValue("W")->constant()->SharedRawBytes();
  ASSERT_TRUE(weight.ok());
  EXPECT_GE(weight->bytes.data(), begin);
  EXPECT_LT(weight->bytes.data(), begin + size);
  EXPECT_NE(weight->owner, nullptr);

  absl::StatusOr<std::string> serialized = ir::SerializeModelToString(**model);
  ASSERT_TRUE(serialized.ok()) << serialized.status();
  EXPECT_EQ(*serialized, m.SerializeAsString());

  const std::string half = serialized->substr(0, serialized->size() / 2);
  auto truncated = ir::LoadModelFromBytes(half, nullptr);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("not a valid ONNX protobuf"), std::string::npos) << truncated.status();
}

// Shape inference sees small tensors' values (a Reshape's shape) but only
// the type and dims of weights, so verifying a large model copies no weights.
TEST(Serialization, ShapeInferenceExportLeavesOutLargeData) {
  onnx::ModelProto m = BaseModel();
  onnx::GraphProto* g = m.mutable_graph();
  *g->add_input() = FloatInfo("x", {2, 64});
  AddZeroInitializer(g, "W", {64, 64});
  onnx::TensorProto* shape = g->add_initializer();
  shape->set_name("shape");
  shape->set_data_type(onnx::TensorProto::INT64);
  shape->add_dims(2);
  shape->add_int64_data(4);
  shape->add_int64_data(32);
  AddNode(g, "MatMul", {"x", "W"}, {"y"});
  AddNode(g, "Reshape", {"y", "shape"}, {"z"});
  *g->add_output() = FloatInfo("z", {});
  g->mutable_output(0)->clear_type();

  auto model = ir::ImportModel(m);
  ASSERT_TRUE(model.ok()) << model.status();
  onnx::ModelProto proto = ir::ExportModelForShapeInference(**model);
  const onnx::TensorProto& w = proto.graph().initializer(0);
  EXPECT_FALSE(w.has_raw_data());
  EXPECT_EQ(w.data_location(), onnx::TensorProto::EXTERNAL);
  EXPECT_EQ(std::vector<int64_t>(w.dims().begin(), w.dims().end()), (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(proto.graph().initializer(1).int64_data_size(), 2);

  ASSERT_TRUE(ir::RunShapeInference(proto, /*data_propagation=*/false).ok());
  const onnx::TypeProto& z = proto.graph().output(0).type();
  ASSERT_EQ(z.tensor_type().shape().dim_size(), 2);
  EXPECT_EQ(z.tensor_type().shape().dim(0).dim_value(), 4);
  EXPECT_EQ(z.tensor_type().shape().dim(1).dim_value(), 32);
}

TEST(Serialization, UnknownFieldsPassThrough) {
  onnx::ModelProto m = BaseModel();
  auto* g = m.mutable_graph();
  *g->add_input() = FloatInfo("X", {2});
  *g->add_output() = FloatInfo("Y", {2});
  auto* n = AddNode(g, "Relu", {"X"}, {"Y"});
  // Fields a newer ONNX defines (unknown to libonnx 1.12) on several messages.
  n->GetReflection()->MutableUnknownFields(n)->AddVarint(99, 7);
  g->GetReflection()->MutableUnknownFields(g)->AddLengthDelimited(98, "future");
  m.GetReflection()->MutableUnknownFields(&m)->AddVarint(97, 1);
  ExpectRoundTrip(m);
}

TEST(Serialization, MessyButValidFilesImport) {
  onnx::ModelProto m = BaseModel();
  m.set_ir_version(11);                        // newer than libonnx 1.12 knows
  m.mutable_opset_import(0)->set_domain("ai.onnx");  // default domain spelled out
  m.mutable_opset_import(0)->set_version(21);
  auto* custom = m.add_opset_import();
  custom->set_domain("com.example");
  custom->set_version(1);
  auto* g = m.mutable_graph();
  *g->add_input() = FloatInfo("X", {4});
  *g->add_input() = FloatInfo("Bias", {4});  // initializer listed as input too
  *g->add_output() = FloatInfo("Y", {4});
  auto* bias = g->add_initializer();
  bias->set_name("Bias");
  bias->set_data_type(onnx::TensorProto::FLOAT);
  bias->add_dims(4);
  bias->set_raw_data(std::string(16, '\0'));
  auto* q = g->add_initializer();  // int4 (22): packed, 3 values in 2 bytes
  q->set_name("Q4");
  q->set_data_type(22);
  q->add_dims(3);
  q->set_raw_data(std::string("\x21\x03", 2));
  // Out of order: Y's producer comes first.
  AddNode(g, "Custom", {"B", "Q4"}, {"Y"}, "custom")->set_domain("com.example");
  AddNode(g, "Add", {"A", "Bias"}, {"B"}, "add");
  AddNode(g, "Relu", {"X"}, {"A"}, "relu");
  onnx::ValueInfoProto untyped;
  untyped.set_name("A");  // value_info without a type
  *g->add_value_info() = untyped;
  onnx::ValueInfoProto orphan = FloatInfo("not_a_value", {1});
  *g->add_value_info() = orphan;

  auto model = ir::ImportModel(m);
  ASSERT_TRUE(model.ok()) << model.status();
  const ir::Graph& graph = (*model)->graph();
  EXPECT_EQ(OpSequence(graph), "Relu Add Custom");
  EXPECT_EQ((*model)->OpsetVersion(""), 21);
  EXPECT_EQ((*model)->OpsetVersion("ai.onnx"), 21);
  const ir::Value* b = graph.FindValue("Bias");
  EXPECT_EQ(b->kind(), ir::Value::Kind::kGraphInput);
  EXPECT_NE(b->initializer(), nullptr);
  EXPECT_EQ(b->constant(), nullptr);  // overridable input: not a constant
  const ir::Tensor* q4 = graph.FindValue("Q4")->constant();
  ASSERT_NE(q4, nullptr);
  EXPECT_EQ(q4->type(), ir::ElementType::kInt4);
  EXPECT_EQ(*q4->ToDoubles(), (std::vector<double>{1, 2, 3}));

  onnx::ModelProto out = ir::ExportModel(**model);
  EXPECT_EQ(out.ir_version(), 11);
  EXPECT_EQ(out.opset_import(0).domain(), "ai.onnx");
  ASSERT_EQ(out.graph().node_size(), 3);
  EXPECT_EQ(out.graph().node(0).op_type(), "Relu");
  EXPECT_EQ(out.graph().node(2).domain(), "com.example");
  ASSERT_EQ(out.graph().value_info_size(), 2);
  EXPECT_EQ(out.graph().value_info(0).name(), "A");
  EXPECT_FALSE(out.graph().value_info(0).has_type());
  EXPECT_EQ(out.graph().value_info(1).name(), "not_a_value");
  EXPECT_EQ(out.graph().initializer(1).raw_data(), std::string("\x21\x03", 2));
  EXPECT_EQ(out.graph().input_size(), 2);
}

TEST(Serialization, RejectsBrokenGraphsWithNames) {
  struct Case {
    const char* what;
    std::function<void(onnx::GraphProto*)> build;
    const char* expect;
  };
  std::vector<Case> cases = {
      {"dangling", [](onnx::GraphProto* g) { AddNode(g, "Relu", {"nope"}, {"Y"}, "r"); }, "'nope' is not defined"},
      {"twice",
       [](onnx::GraphProto* g) {
         AddNode(g, "Relu", {"X"}, {"Y"}, "r1");
         AddNode(g, "Neg", {"X"}, {"Y"}, "r2");
       },
       "'Y' is defined twice"},
      {"cycle",
       [](onnx::GraphProto* g) {
         AddNode(g, "Add", {"X", "B"}, {"A"}, "a");
         AddNode(g, "Relu", {"A"}, {"B"}, "b");
         AddNode(g, "Relu", {"A"}, {"Y"}, "c");
       },
       "cycle"},
      {"raw size",
       [](onnx::GraphProto* g) {
         auto* t = g->add_initializer();
         t->set_name("W");
         t->set_data_type(onnx::TensorProto::FLOAT);
         t->add_dims(3);
         t->set_raw_data(std::string(8, '\0'));
         AddNode(g, "Add", {"X", "W"}, {"Y"});
       },
       "initializer 'W' has 8 bytes of raw_data but float[3] needs 12"},
      {"missing output", [](onnx::GraphProto* g) { AddNode(g, "Relu", {"X"}, {"Z"}); }, "output 'Y' is not defined"},
  };
  for (const Case& c : cases) {
    onnx::ModelProto m = BaseModel();
    *m.mutable_graph()->add_input() = FloatInfo("X", {3});
    *m.mutable_graph()->add_output() = FloatInfo("Y", {3});
    c.build(m.mutable_graph());
    auto model = ir::ImportModel(m);
    ASSERT_FALSE(model.ok()) << c.what;
    EXPECT_NE(model.status().message().find(c.expect), absl::string_view::npos)
        << c.what << ": " << model.status().message();
  }
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qopt_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "model");
    fs::create_directories(dir_ / "out");
  }
  void TearDown() override { fs::remove_all(dir_); }
  static void WriteFile(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
  }
  static std::string ReadFile(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  fs::path dir_;
};

// A model whose weight lives in an external file "weights.bin" at offset 8.
onnx::ModelProto ExternalModel(const std::string& location) {
  onnx::ModelProto m = BaseModel();
  auto* g = m.mutable_graph();
  *g->add_input() = FloatInfo("X", {2});
  *g->add_output() = FloatInfo("Y", {2});
  auto* w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const char* k, const std::string& v) {
    auto* e = w->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location);
  add("offset", "8");
  add("length", "8");
  AddNode(g, "Add", {"X", "W"}, {"Y"});
  return m;
}

TEST_F(TempDir, ExternalDataIsMappedAndRewritten) {
  const float values[2] = {0.25f, -4.f};
  WriteFile(dir_ / "model" / "weights.bin", std::string(8, 'x') + std::string(reinterpret_cast<const char*>(values), 8));
  WriteFile(dir_ / "model" / "m.onnx", ExternalModel("weights.bin").SerializeAsString());

  auto model = ir::LoadModel((dir_ / "model" / "m.onnx").string());
  ASSERT_TRUE(model.ok()) << model.status();
  const ir::Tensor* w = (*model)->graph().FindValue("W")->constant();
  EXPECT_EQ(w->storage(), ir::Tensor::Storage::kExternal);
  EXPECT_EQ(*w->ToDoubles(), (std::vector<double>{0.25, -4}));
  // A copy shares the mapped bytes (no data copy).
  ir::Tensor copy = *w;
  EXPECT_EQ(copy.RawBytes()->data(), w->RawBytes()->data());

  // auto: external stays external, in a new file beside the output.
  ASSERT_TRUE(ir::SaveModel(**model, (dir_ / "out" / "a.onnx").string()).ok());
  EXPECT_TRUE(fs::exists(dir_ / "out" / "a.onnx.data"));
  auto again = ir::LoadModel((dir_ / "out" / "a.onnx").string());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*(*again)->graph().FindValue("W")->constant()->ToDoubles(), (std::vector<double>{0.25, -4}));

  // inline: one self-contained file.
  ir::SaveOptions inline_options;
  inline_options.external_data = ir::SaveOptions::ExternalData::kInline;
  ASSERT_TRUE(ir::SaveModel(**model, (dir_ / "out" / "b.onnx").string(), inline_options).ok());
  EXPECT_FALSE(fs::exists(dir_ / "out" / "b.onnx.data"));
  onnx::ModelProto b;
  ASSERT_TRUE(b.ParseFromString(ReadFile(dir_ / "out" / "b.onnx")));
  EXPECT_EQ(b.graph().initializer(0).raw_data(), std::string(reinterpret_cast<const char*>(values), 8));

  // external: every tensor of at least N bytes goes out.
  ir::SaveOptions external_options;
  external_options.external_data = ir::SaveOptions::ExternalData::kExternal;
  external_options.external_min_bytes = 1;
  auto from_b = ir::LoadModel((dir_ / "out" / "b.onnx").string());
  ASSERT_TRUE(from_b.ok());
  ASSERT_TRUE(ir::SaveModel(**from_b, (dir_ / "out" / "c.onnx").string(), external_options).ok());
  EXPECT_EQ(fs::file_size(dir_ / "out" / "c.onnx.data"), 8u);
}

TEST_F(TempDir, ExternalDataOutsideTheModelFolderIsRefused) {
  WriteFile(dir_ / "outside.bin", std::string(16, '\0'));
  for (const std::string& location : {std::string("../outside.bin"), (dir_ / "outside.bin").string()}) {
    WriteFile(dir_ / "model" / "m.onnx", ExternalModel(location).SerializeAsString());
    auto model = ir::LoadModel((dir_ / "model" / "m.onnx").string());
    ASSERT_FALSE(model.ok()) << location;
    EXPECT_NE(model.status().message().find("escapes the model folder"), absl::string_view::npos)
        << model.status();
    EXPECT_NE(model.status().message().find("'W'"), absl::string_view::npos) << model.status();
  }
  WriteFile(dir_ / "model" / "m.onnx", ExternalModel("missing.bin").SerializeAsString());
  auto missing = ir::LoadModel((dir_ / "model" / "m.onnx").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing external data file 'missing.bin'"), absl::string_view::npos)
      << missing.status();
}

TEST_F(TempDir, SaveIsAtomicAndNeverOverwritesTheInput) {
  auto text = testing::Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) { Y = Relu(X) }
)");
  const fs::path in = dir_ / "model" / "in.onnx";
  ASSERT_TRUE(ir::SaveModel(*text, in.string()).ok());
  const std::string before = ReadFile(in);
  auto model = ir::LoadModel(in.string());
  ASSERT_TRUE(model.ok());
  absl::Status s = ir::SaveModel(**model, in.string());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("refusing to overwrite the input"), absl::string_view::npos) << s;
  EXPECT_EQ(ReadFile(in), before);
  EXPECT_FALSE(ir::SaveModel(**model, (dir_ / "no" / "such" / "dir.onnx").string()).ok());
  for (const auto& entry : fs::directory_iterator(dir_ / "model")) {
    EXPECT_EQ(entry.path().filename(), "in.onnx") << "leftover " << entry.path();
  }
}

TEST_F(TempDir, TruncatedAndGarbageFilesAreRejected) {
  auto text = testing::Parse(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) <float[4] W = {1, 2, 3, 4}> { Y = Relu(X) }
)");
  std::string bytes = ir::ExportModel(*text).SerializeAsString();
  WriteFile(dir_ / "t.onnx", bytes.substr(0, bytes.size() / 2));
  WriteFile(dir_ / "g.onnx", "\xff\xfe garbage \x01\x02\x03 not a protobuf");
  WriteFile(dir_ / "e.onnx", "");
  for (const char* name : {"t.onnx", "g.onnx", "e.onnx"}) {
    auto model = ir::LoadModel((dir_ / name).string());
    EXPECT_FALSE(model.ok()) << name;
  }
}

}  // namespace
}  // namespace qopt
