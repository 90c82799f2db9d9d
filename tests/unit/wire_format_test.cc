// Tensor payloads kept out of protobuf (issue 15, ir/wire_format.h): loading
// leaves raw_data in the mapped file, saving splices it back in; both must
// give exactly protobuf's bytes, and broken framing a one-line error.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "ir/mapped_file.h"
#include "ir/serialization.h"
#include "ir/wire_format.h"

namespace qopt {
namespace {

namespace fs = std::filesystem;

std::string Floats(int count, float scale) {
  std::string bytes;
  for (int i = 0; i < count; ++i) {
    float v = scale * static_cast<float>(i % 97) - 1.5f;
    bytes.append(reinterpret_cast<const char*>(&v), sizeof(v));
  }
  return bytes;
}

onnx::ValueInfoProto FloatInfo(const std::string& name, int64_t dim) {
  onnx::ValueInfoProto info;
  info.set_name(name);
  auto* t = info.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  t->mutable_shape()->add_dim()->set_dim_value(dim);
  return info;
}

void RawTensor(onnx::TensorProto* t, const std::string& name, int count, float scale) {
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(count);
  t->set_raw_data(Floats(count, scale));
}

// Y = ((X + W) * C) + S, W an initializer with raw_data, C a Constant node
// with a raw_data tensor, S a small initializer (left to protobuf), with doc
// strings and unknown fields on every message on the way to the payloads.
onnx::ModelProto PayloadModel(int count = 1024) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("qopt-test");
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  m.set_doc_string("a model");
  auto* g = m.mutable_graph();
  g->set_name("g");
  g->set_doc_string("its graph");
  *g->add_input() = FloatInfo("X", count);
  *g->add_output() = FloatInfo("Y", count);
  RawTensor(g->add_initializer(), "W", count, 0.5f);
  RawTensor(g->add_initializer(), "S", 1, 2.f);
  g->mutable_initializer(0)->set_doc_string("weights");
  auto add_node = [&](const std::string& op, std::vector<std::string> in, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    for (auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  };
  auto* c = add_node("Constant", {}, "C");
  auto* value = c->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  RawTensor(value->mutable_t(), "", count, 0.25f);
  add_node("Add", {"X", "W"}, "A");
  add_node("Mul", {"A", "C"}, "M");
  add_node("Add", {"M", "S"}, "Y");
  // Fields newer than libonnx, which protobuf writes after the known ones.
  auto unknown = [](google::protobuf::Message* message, int number) {
    message->GetReflection()->MutableUnknownFields(message)->AddVarint(number, 7);
  };
  unknown(&m, 99);
  unknown(g, 98);
  unknown(g->mutable_initializer(0), 97);
  unknown(value, 96);
  unknown(value->mutable_t(), 95);
  return m;
}

class WireFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qopt_wire_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  // Loads `bytes` from a file, saves the model, and returns what was saved.
  std::string RoundTrip(const std::string& bytes) {
    auto model = ir::LoadModel(Write("in.onnx", bytes));
    EXPECT_TRUE(model.ok()) << model.status();
    if (!model.ok()) return "";
    const std::string out = (dir_ / "out.onnx").string();
    absl::Status s = ir::SaveModel(**model, out);
    EXPECT_TRUE(s.ok()) << s;
    return Read(out);
  }
  fs::path dir_;
};

TEST_F(WireFormat, PayloadsStayInTheFileAndRoundTripBitExact) {
  const std::string bytes = PayloadModel().SerializeAsString();
  auto model = ir::LoadModel(Write("in.onnx", bytes));
  ASSERT_TRUE(model.ok()) << model.status();
  const ir::Graph& graph = (*model)->graph();
  const ir::Tensor* w = graph.FindValue("W")->constant();
  ASSERT_EQ(w->storage(), ir::Tensor::Storage::kRaw);
  ASSERT_NE(w->raw_file(), nullptr) << "W's raw_data should be a view into the mapped file";
  EXPECT_EQ(*w->RawBytes(), Floats(1024, 0.5f));
  const ir::Tensor* c = graph.FindValue("C")->constant();
  ASSERT_NE(c, nullptr);
  ASSERT_NE(c->raw_file(), nullptr) << "the Constant's raw_data should be a view into the mapped file";
  EXPECT_EQ(*c->RawBytes(), Floats(1024, 0.25f));
  EXPECT_EQ(graph.FindValue("S")->constant()->raw_file(), nullptr) << "4 bytes are not worth a view";

  // Written back by splicing, read back by protobuf: the same bytes.
  EXPECT_EQ(ir::ExportModel(**model).SerializeAsString(), bytes);
  const std::string out = (dir_ / "out.onnx").string();
  ASSERT_TRUE(ir::SaveModel(**model, out).ok());
  EXPECT_EQ(Read(out), bytes);
}

TEST_F(WireFormat, SavedBytesAreProtobufsAfterAChange) {
  auto model = ir::LoadModel(Write("in.onnx", PayloadModel().SerializeAsString()));
  ASSERT_TRUE(model.ok()) << model.status();
  ir::Value* w = (*model)->graph().FindValue("W");
  w->SetInitializerData(Floats(1024, 3.f));
  const std::string out = (dir_ / "out.onnx").string();
  ASSERT_TRUE(ir::SaveModel(**model, out).ok());
  EXPECT_EQ(Read(out), ir::ExportModel(**model).SerializeAsString());
  onnx::ModelProto back;
  ASSERT_TRUE(back.ParseFromString(Read(out)));
  EXPECT_EQ(back.graph().initializer(0).raw_data(), Floats(1024, 3.f));
}

TEST_F(WireFormat, LargePayloadsAtAnyOffsetAreCopiedWhole) {
  // Payloads over 1 MiB are copied file to file through a pipe, in batches
  // cut on the output's 64 KiB boundaries (ir/file_copy.h). Their offsets moved by the model's doc string, in the input
  // and then in the output only (a longer producer name): the bytes are still protobuf's.
  constexpr int kCount = 300000;  // 1.2 MiB a payload
  for (size_t doc : {size_t{0}, size_t{1}, size_t{3000}, size_t{65535}, size_t{70000}}) {
    SCOPED_TRACE(absl::StrCat("doc string of ", doc, " bytes"));
    onnx::ModelProto proto = PayloadModel(kCount);
    proto.set_doc_string(std::string(doc, 'd'));
    const std::string bytes = proto.SerializeAsString();
    EXPECT_EQ(RoundTrip(bytes), bytes);

    auto model = ir::LoadModel(Write("in.onnx", bytes));
    ASSERT_TRUE(model.ok()) << model.status();
    ASSERT_NE((*model)->graph().FindValue("W")->constant()->raw_file(), nullptr);
    (*model)->mutable_proto_shell()->set_producer_name(std::string(doc % 4093 + 1, 'p'));
    const std::string out = (dir_ / "shifted.onnx").string();
    ASSERT_TRUE(ir::SaveModel(**model, out).ok());
    EXPECT_EQ(Read(out), ir::ExportModel(**model).SerializeAsString());
  }
}

TEST_F(WireFormat, SubgraphTensorsAndPayloadSizesRoundTrip) {
  // Payloads of every size class around the varint boundaries of their
  // length prefixes, and a payload inside an If branch (parsed by protobuf,
  // spliced on the way out).
  for (int count : {64, 65, 4095, 4096, 40000}) {
    onnx::ModelProto m = PayloadModel(count);
    auto* cond = m.mutable_graph()->add_initializer();
    cond->set_name("cond");
    cond->set_data_type(onnx::TensorProto::BOOL);
    cond->add_int32_data(1);
    auto* if_node = m.mutable_graph()->add_node();
    if_node->set_op_type("If");
    if_node->add_input("cond");
    if_node->add_output("Z");
    auto* branch = if_node->add_attribute();
    branch->set_name("then_branch");
    branch->set_type(onnx::AttributeProto::GRAPH);
    branch->mutable_g()->set_name("then");
    RawTensor(branch->mutable_g()->add_initializer(), "T", count, 1.f);
    *branch->mutable_g()->add_output() = FloatInfo("T", count);
    auto* other = if_node->add_attribute();
    *other = *branch;
    other->set_name("else_branch");
    other->mutable_g()->set_name("else");
    const std::string bytes = m.SerializeAsString();
    EXPECT_EQ(RoundTrip(bytes), bytes) << count << " floats";
  }
}

TEST_F(WireFormat, ExternalDataInlinedIsSpliced) {
  onnx::ModelProto m = PayloadModel();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  const std::string data = w->raw_data();
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* location = w->add_external_data();
  location->set_key("location");
  location->set_value("w.bin");
  Write("w.bin", data);
  auto model = ir::LoadModel(Write("in.onnx", m.SerializeAsString()));
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string out = (dir_ / "out.onnx").string();
  ir::SaveOptions inline_all;
  inline_all.external_data = ir::SaveOptions::ExternalData::kInline;
  ASSERT_TRUE(ir::SaveModel(**model, out, inline_all).ok());
  EXPECT_EQ(Read(out), ir::ExportModel(**model).SerializeAsString());
  onnx::ModelProto back;
  ASSERT_TRUE(back.ParseFromString(Read(out)));
  EXPECT_EQ(back.graph().initializer(0).raw_data(), data);
  EXPECT_EQ(back.graph().initializer(0).external_data_size(), 0);
}

std::string LengthDelimited(int number, const std::string& bytes) {
  std::string out;
  auto varint = [&](uint64_t v) {
    for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    out.push_back(static_cast<char>(v));
  };
  varint(static_cast<uint64_t>(number) << 3 | 2);
  varint(bytes.size());
  return out + bytes;
}

TEST_F(WireFormat, FieldsProtobufMergesAreLeftToIt) {
  // Two graph fields: protobuf merges them into one graph.
  std::string two_graphs = PayloadModel().SerializeAsString();
  onnx::ModelProto second;
  RawTensor(second.mutable_graph()->add_initializer(), "V", 512, 1.f);
  two_graphs += second.SerializeAsString();
  // Two raw_data in one tensor: the last one wins.
  onnx::TensorProto first_raw;
  RawTensor(&first_raw, "V", 300, 1.f);
  onnx::TensorProto second_raw;
  second_raw.set_raw_data(Floats(300, 2.f));
  onnx::ModelProto shell = PayloadModel();
  shell.clear_graph();
  std::string two_raw = shell.SerializeAsString() +
                        LengthDelimited(
                            7, LengthDelimited(5, first_raw.SerializeAsString() + second_raw.SerializeAsString()));
  for (const std::string& bytes : {two_graphs, two_raw}) {
    ir::wire::FilePayloads payloads;
    auto stripped = ir::wire::StripTensorPayloads(bytes, &payloads);
    ASSERT_TRUE(stripped.ok()) << stripped.status();
    EXPECT_EQ(payloads.bytes, 0u) << "nothing may be taken out of fields protobuf merges";
    onnx::ModelProto merged;
    ASSERT_TRUE(merged.ParseFromString(bytes));
    auto model = ir::LoadModel(Write("in.onnx", bytes));
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_EQ(ir::ExportModel(**model).SerializeAsString(), merged.SerializeAsString());
    EXPECT_EQ(*(*model)->graph().FindValue("V")->constant()->RawBytes(),
              merged.graph().initializer(merged.graph().initializer_size() - 1).raw_data());
  }
}

// Loading `bytes` fails with a one-line message containing `expect`.
void ExpectLoadError(const std::string& path, const std::string& expect) {
  auto model = ir::LoadModel(path);
  ASSERT_FALSE(model.ok()) << expect;
  const std::string message(model.status().message());
  EXPECT_NE(message.find(expect), std::string::npos) << message;
  EXPECT_NE(message.find("not a valid ONNX protobuf"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST_F(WireFormat, BrokenFramingIsAOneLineError) {
  const std::string bytes = PayloadModel(4096).SerializeAsString();
  // Cut in the middle of W's payload: its length runs past the end.
  const size_t w_at = bytes.find(Floats(4096, 0.5f));
  ASSERT_NE(w_at, std::string::npos);
  ExpectLoadError(Write("truncated.onnx", bytes.substr(0, w_at + 100)), "truncated");
  ExpectLoadError(Write("truncated.onnx", bytes.substr(0, w_at + 100)), "needs");

  // A raw_data length running past the end of its tensor, the file itself
  // intact: the length prefix of W's raw_data (field 9) doubled.
  {
    std::string bad = bytes;
    // 16384 bytes: varint 0x80 0x80 0x01 right before the payload.
    ASSERT_EQ(bad.substr(w_at - 3, 3), std::string("\x80\x80\x01", 3));
    bad[w_at - 1] = '\x02';
    ExpectLoadError(Write("overrun.onnx", bad), "field 9 at byte");
    ExpectLoadError(Write("overrun.onnx", bad), "needs 32768 bytes");
  }

  // A varint of 11 bytes where the first tag should be.
  ExpectLoadError(Write("varint.onnx", std::string(11, '\xff') + bytes), "malformed varint at byte 0");
  // A varint cut by the end of the file.
  ExpectLoadError(Write("cut_varint.onnx", std::string("\x08\xff\xff", 3)), "runs past the end");
  // tests/malformed's garbage file.
  ExpectLoadError(Write("garbage.onnx", std::string(64, '\xff')), "malformed varint");
  // Wire type 7 does not exist.
  ExpectLoadError(Write("wire_type7.onnx", std::string("\x0f\x00", 2)), "invalid wire type 7");
}

TEST(WireFormatPieces, SplicedModelIsProtobufsSerialization) {
  onnx::ModelProto m = PayloadModel(300);
  const std::string expected = m.SerializeAsString();
  // Take W's and C's raw_data out and hand them over as payloads.
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  onnx::TensorProto* c = m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_t();
  const std::string w_bytes = w->raw_data();
  const std::string c_bytes = c->raw_data();
  w->clear_raw_data();
  c->clear_raw_data();
  ir::wire::PayloadMap payloads;
  payloads[w] = ir::wire::Payload{w_bytes};
  payloads[c] = ir::wire::Payload{c_bytes};
  ir::wire::Pieces pieces = ir::wire::SerializeModel(m, payloads);
  EXPECT_EQ(pieces.size(), expected.size());
  EXPECT_EQ(pieces.Flatten(), expected);
  int views = 0;
  for (const auto& piece : pieces.pieces()) views += piece.is_payload;
  EXPECT_EQ(views, 2);
}

}  // namespace
}  // namespace qopt
