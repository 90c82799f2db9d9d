// The shape check's inference on the IR (ir/inferred_types.h) against
// libonnx's whole-graph InferShapes on an export, value by value, on every
// model the tests are written in, on seeded generated QDQ models and on the
// PaddleOCR models, each as read and after fuse-qdq. Unknown dims are
// compared as unknown: the whole-graph driver names them (unk__0, ...),
// the IR walk leaves them unnamed, and no check reads the names.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/qdq_model_generator.h"
#include "gtest/gtest.h"
#include "ir/graph.h"
#include "ir/inferred_types.h"
#include "ir/serialization.h"
#include "ir/shape_inference.h"
#include "tests/unit/test_util.h"

namespace qopt {
namespace {

std::string TypeText(const onnx::TypeProto* type) {
  if (type == nullptr) return "(none)";
  if (!type->has_tensor_type()) return type->ShortDebugString();
  const auto& tensor = type->tensor_type();
  std::string text = absl::StrCat("elem ", tensor.elem_type());
  if (!tensor.has_shape()) return text + " rank unknown";
  text += " [";
  for (const auto& d : tensor.shape().dim()) text += d.has_dim_value() ? absl::StrCat(d.dim_value(), ",") : "?,";
  return text + "]";
}

// How many models went the IR way and how many values were compared.
struct Tally {
  int models_on_ir = 0;
  int models_declined = 0;
  int values_typed = 0;
};

void ExpectSameTypes(const ir::Model& model, const std::string& what, Tally& tally) {
  if (!ir::WhyNoShapeInference(model).empty()) return;
  std::optional<ir::InferredTypes> on_ir = ir::InferTypesOnIr(model);
  if (!on_ir) {
    ++tally.models_declined;
    return;
  }
  ++tally.models_on_ir;
  const ir::InferredTypes whole = ir::InferTypesThroughExport(model);
  for (const ir::Value* v : model.graph().values()) {
    const std::string a = TypeText(on_ir->Find(*v));
    const std::string b = TypeText(whole.Find(*v));
    EXPECT_EQ(a, b) << what << ": value '" << v->name() << "'";
    if (on_ir->Find(*v) != nullptr) ++tally.values_typed;
  }
}

// `model` as read, then after fuse-qdq where the pipeline accepts it.
void ExpectSameTypesBeforeAndAfterFusion(ir::Model& model, const std::string& what, Tally& tally) {
  ExpectSameTypes(model, what, tally);
  if (testing::RunPipeline(model, "fuse-qdq").ok()) ExpectSameTypes(model, what + " after fuse-qdq", tally);
}

TEST(InferredTypes, AgreeWithTheWholeGraphDriverOnTheTestModels) {
  Tally tally;
  int files = 0;
  for (const char* dir : {"tests/lit", "tests/ort", "tests/foreign"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(QOPT_SOURCE_DIR) + "/" + dir)) {
      if (entry.path().extension() != ".onnxtxt") continue;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      auto model = ir::ParseModelText(text.str());
      if (!model.ok()) continue;  // a test of a parse error
      ++files;
      ExpectSameTypesBeforeAndAfterFusion(**model, entry.path().string(), tally);
    }
  }
  // Not vacuous: most models go the IR way and values get types.
  EXPECT_GT(files, 60);
  EXPECT_GT(tally.models_on_ir, 60);
  EXPECT_GT(tally.values_typed, 1000);
}

TEST(InferredTypes, AgreeWithTheWholeGraphDriverOnGeneratedModels) {
  Tally tally;
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    fuzz::SeededChoices choices(seed);
    auto model = ir::ParseModelText(fuzz::GenerateQdqModelText(choices));
    ASSERT_TRUE(model.ok()) << "seed " << seed << ": " << model.status();
    ExpectSameTypesBeforeAndAfterFusion(**model, absl::StrCat("generated model, seed ", seed), tally);
  }
  EXPECT_EQ(tally.models_declined, 0);
  EXPECT_EQ(tally.models_on_ir, 300);
}

TEST(InferredTypes, AgreeWithTheWholeGraphDriverOnPaddleOcr) {
  Tally tally;
  for (const char* name : {"det", "rec", "cls"}) {
    const std::string path = std::string(QOPT_SOURCE_DIR) + "/testdata/models/paddleocr-" + name + ".onnx";
    auto model = ir::LoadModel(path);
    ASSERT_TRUE(model.ok()) << path << ": " << model.status();
    ExpectSameTypes(**model, path, tally);
  }
  EXPECT_EQ(tally.models_on_ir, 3);
  EXPECT_GT(tally.values_typed, 1000);
}

TEST(InferredTypes, SubgraphsGoTheWholeGraphWay) {
  auto model = ir::ParseModelText(R"(
    <ir_version: 8, opset_import: ["" : 13]>
    g (bool c, float[2] x) => (float[2] y) {
      y = If (c) <then_branch = t () => (float[2] a) { a = Identity (x) },
                   else_branch = e () => (float[2] b) { b = Neg (x) }>
    }
  )");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_FALSE(ir::InferTypesOnIr(**model).has_value());
  const ir::InferredTypes types = ir::InferTypes(**model);
  EXPECT_FALSE(types.on_ir());
  const onnx::TypeProto* y = types.Find(*(*model)->graph().outputs()[0]);
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(TypeText(y), "elem 1 [2,]");
}

TEST(InferredTypes, ReadConstantDataAndAttributeTensors) {
  // Reshape's output shape comes from its shape input's data (a Constant
  // node's tensor attribute, and an initializer), ConstantOfShape's element
  // type from its tensor attribute.
  auto model = ir::ParseModelText(R"(
    <ir_version: 8, opset_import: ["" : 13]>
    g (float[2,6] x) => (float[3,4] y, float[4,3] z, int32[2,2] w) <int64[2] s2 = {4, 3}> {
      s = Constant <value = int64[2] {3, 4}> ()
      y = Reshape (x, s)
      z = Reshape (x, s2)
      dims = Constant <value = int64[2] {2, 2}> ()
      w = ConstantOfShape <value = int32[1] {7}> (dims)
    }
  )");
  ASSERT_TRUE(model.ok()) << model.status();
  const ir::InferredTypes types = ir::InferTypes(**model);
  EXPECT_TRUE(types.on_ir());
  const auto& outputs = (*model)->graph().outputs();
  EXPECT_EQ(TypeText(types.Find(*outputs[0])), "elem 1 [3,4,]");
  EXPECT_EQ(TypeText(types.Find(*outputs[1])), "elem 1 [4,3,]");
  EXPECT_EQ(TypeText(types.Find(*outputs[2])), "elem 6 [2,2,]");
}

TEST(InferredTypes, TypeAnInitializerByItsTensorNotItsValueInfo) {
  // As libonnx does under the shape check, which shows inference no
  // value_info: `w`'s declared float[3,2] would make the Add fail.
  auto model = ir::ParseModelText(R"(
    <ir_version: 8, opset_import: ["" : 13]>
    g (float[2,3] x) => (float[2,3] y) <float[2,3] w = {1, 2, 3, 4, 5, 6}> {
      y = Add (x, w)
    }
  )");
  ASSERT_TRUE(model.ok()) << model.status();
  for (ir::Value* v : (*model)->graph().values()) {
    if (v->name() != "w") continue;
    onnx::ValueInfoProto info;
    info.set_name("w");
    auto* tensor = info.mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    tensor->mutable_shape()->add_dim()->set_dim_value(3);
    tensor->mutable_shape()->add_dim()->set_dim_value(2);
    v->set_type_info(info);
  }
  const ir::Value& y = *(*model)->graph().outputs()[0];
  std::optional<ir::InferredTypes> on_ir = ir::InferTypesOnIr(**model);
  ASSERT_TRUE(on_ir.has_value());
  EXPECT_EQ(TypeText(on_ir->Find(y)), "elem 1 [2,3,]");
  EXPECT_EQ(TypeText(ir::InferTypesThroughExport(**model).Find(y)), "elem 1 [2,3,]");
}

}  // namespace
}  // namespace qopt
