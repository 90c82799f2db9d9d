// A builder for the small QDQ models the unit tests write again and again:
// graph inputs and outputs, constants (initializers or Constant nodes),
// quantized activations (X -> QuantizeLinear -> DequantizeLinear), integer
// constants behind a DequantizeLinear (weights, int32 biases), and ops in
// between. It writes ONNX textual syntax, so a test still starts from text:
// Text() is the model as libonnx's parser reads it, and Build() parses it
// (showing the text when it does not parse).
//
//   QdqModelBuilder b;
//   b.Input("X", "float[1,1,2,2]").Output("Y", "float[1,1,2,2]");
//   const QParams act = b.PerTensor("s", 0.5, "z", "uint8", 128);
//   b.QDQ("X", act)                      // Xq = QuantizeLinear(X, s, z); Xd = DequantizeLinear(Xq, s, z)
//       .Weight("W", "int8[1,1,1,1]", {3}, b.PerTensor("ws", 0.25, "wz", "int8", 0))  // Wq; W = DQ(Wq, ws, wz)
//       .Unit("A = Conv(Xd, W)", act, "Y");  // A = Conv(..); Aq = QuantizeLinear(A, s, z); Y = DQ(Aq, s, z)
//   auto model = b.Build();
//
// Names follow one convention: the QuantizeLinear of `X` writes `Xq`, the
// DequantizeLinear after it `Xd`; a weight `W` is stored as `Wq`.
#pragma once

#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "ir/model.h"
#include "ir/serialization.h"

namespace qopt::testing {

// What one QuantizeLinear or DequantizeLinear reads besides its data: the
// names of its scale and zero point (constants or graph inputs; an empty
// zero point is left out) and its attributes. QParams("S", "z") reads a
// scale that is a graph input, say; QParams("s", "z").Axis(1) per channel.
struct QParams {
  explicit QParams(std::string scale_name, std::string zero_point_name = "")
      : scale(std::move(scale_name)), zero_point(std::move(zero_point_name)) {}

  // Copies with one attribute set.
  QParams Axis(int64_t value) const { return With(&QParams::axis, value); }
  QParams BlockSize(int64_t value) const { return With(&QParams::block_size, value); }
  QParams OutputDtype(int64_t value) const { return With(&QParams::output_dtype, value); }

  std::string scale;
  std::string zero_point;
  std::optional<int64_t> axis;
  std::optional<int64_t> block_size;
  std::optional<int64_t> output_dtype;  // written on QuantizeLinear only

 private:
  QParams With(std::optional<int64_t> QParams::*field, int64_t value) const {
    QParams copy = *this;
    copy.*field = value;
    return copy;
  }
};

class QdqModelBuilder {
 public:
  // Where a constant goes: the graph's initializers, or a Constant node
  // (written where it is declared, so before the nodes that read it).
  enum class Storage { kInitializer, kConstantNode };

  explicit QdqModelBuilder(int64_t opset = 13, int64_t ir_version = 8) : ir_version_(ir_version) {
    opsets_.emplace_back("", opset);
  }

  // Imports another domain, e.g. Opset("com.microsoft", 1).
  QdqModelBuilder& Opset(const std::string& domain, int64_t version) {
    opsets_.emplace_back(domain, version);
    return *this;
  }

  // A graph input or output; `type` in text syntax: "float[1,3,N,N]", "float".
  QdqModelBuilder& Input(const std::string& name, const std::string& type) {
    inputs_.push_back(absl::StrCat(type, " ", name));
    return *this;
  }
  QdqModelBuilder& Output(const std::string& name, const std::string& type) {
    outputs_.push_back(absl::StrCat(type, " ", name));
    return *this;
  }

  // A constant of `type` ("int8[2,1,1,1]"; "float" is a scalar) holding
  // `values` (whole numbers for the integer types).
  QdqModelBuilder& Constant(const std::string& name, const std::string& type, const std::vector<double>& values,
                            Storage storage = Storage::kInitializer) {
    const std::string literal = Literal(type, values);
    if (storage == Storage::kInitializer) {
      constants_.push_back(absl::StrCat(type, " ", name, " = ", literal));
    } else {
      Node(absl::StrCat(name, " = Constant <value = ", type, " ", literal, "> ()"));
    }
    return *this;
  }

  // Declares a scalar scale `scale_name` and zero point `zp_name` of type
  // `zp_type`; the parameters that read them.
  QParams PerTensor(const std::string& scale_name, double scale, const std::string& zp_name,
                    const std::string& zp_type, int64_t zero_point, Storage storage = Storage::kInitializer) {
    Constant(scale_name, "float", {scale}, storage);
    Constant(zp_name, zp_type, {static_cast<double>(zero_point)}, storage);
    return QParams(scale_name, zp_name);
  }

  // Declares one scale and zero point per channel along `axis`.
  QParams PerChannel(const std::string& scale_name, const std::vector<double>& scales, const std::string& zp_name,
                     const std::string& zp_type, const std::vector<int64_t>& zero_points, int64_t axis) {
    Constant(scale_name, absl::StrCat("float[", scales.size(), "]"), scales);
    Constant(zp_name, absl::StrCat(zp_type, "[", zero_points.size(), "]"),
             std::vector<double>(zero_points.begin(), zero_points.end()));
    return QParams(scale_name, zp_name).Axis(axis);
  }

  // out = QuantizeLinear(in, p) and out = DequantizeLinear(in, p).
  QdqModelBuilder& Quantize(const std::string& out, const std::string& in, const QParams& p) {
    return Node(absl::StrCat(out, " = QuantizeLinear", Attributes(p, /*quantize=*/true), "(", Operands(in, p), ")"));
  }
  QdqModelBuilder& Dequantize(const std::string& out, const std::string& in, const QParams& p) {
    return Node(absl::StrCat(out, " = DequantizeLinear", Attributes(p, /*quantize=*/false), "(", Operands(in, p), ")"));
  }

  // x -> Quantize(x + "q") -> Dequantize(dq, x + "d" unless given): a
  // quantized activation (or a Q/DQ pair on a float constant).
  QdqModelBuilder& QDQ(const std::string& x, const QParams& p, const std::string& dq = "") {
    Quantize(x + "q", x, p);
    return Dequantize(dq.empty() ? x + "d" : dq, x + "q", p);
  }

  // A constant stored as integers: `name` + "q" of `type` holding `values`,
  // and name = DequantizeLinear(name + "q", p). For weights and int32 biases.
  QdqModelBuilder& Weight(const std::string& name, const std::string& type, const std::vector<double>& values,
                          const QParams& p) {
    Constant(name + "q", type, values);
    return Dequantize(name, name + "q", p);
  }

  // One node in text syntax: "A = Conv <pads = [1, 1, 1, 1]> (Xd, W)".
  QdqModelBuilder& Node(const std::string& line) {
    nodes_.push_back(line);
    return *this;
  }

  // Node(line), then its output (the name before " = ") -> Q -> DQ with `p`,
  // as QDQ does: the op of a QDQ node unit with its output quantized.
  QdqModelBuilder& Unit(const std::string& line, const QParams& p, const std::string& dq = "") {
    Node(line);
    return QDQ(line.substr(0, line.find(" = ")), p, dq);
  }

  // The model in ONNX textual syntax.
  std::string Text() const {
    std::vector<std::string> imports;
    for (const auto& [domain, version] : opsets_) imports.push_back(absl::StrCat("\"", domain, "\" : ", version));
    std::string text = absl::StrCat("<ir_version: ", ir_version_, ", opset_import: [", absl::StrJoin(imports, ", "),
                                    "]>\ng (", absl::StrJoin(inputs_, ", "), ") => (", absl::StrJoin(outputs_, ", "),
                                    ")");
    if (!constants_.empty()) absl::StrAppend(&text, "\n  <", absl::StrJoin(constants_, ",\n   "), ">");
    absl::StrAppend(&text, " {\n");
    for (const std::string& line : nodes_) absl::StrAppend(&text, "  ", line, "\n");
    return text + "}\n";
  }

  // Parses Text(); fails the test (showing the text) when it does not parse.
  std::unique_ptr<ir::Model> Build() const {
    const std::string text = Text();
    auto model = ir::ParseModelText(text);
    EXPECT_TRUE(model.ok()) << model.status() << "\n" << text;
    return model.ok() ? *std::move(model) : nullptr;
  }

 private:
  // "{1, -2, 0.25}": integers for integer types, the shortest float32 (or
  // float64) text that reads back to the same value otherwise.
  static std::string Literal(const std::string& type, const std::vector<double>& values) {
    const std::string element = type.substr(0, type.find('['));
    const bool integer = element.find("int") != std::string::npos;
    std::vector<std::string> items;
    for (const double v : values) {
      if (integer) {
        items.push_back(absl::StrCat(static_cast<int64_t>(v)));
        continue;
      }
      char buffer[32];
      const auto result = element == "double" ? std::to_chars(buffer, buffer + sizeof(buffer), v)
                                              : std::to_chars(buffer, buffer + sizeof(buffer), static_cast<float>(v));
      items.emplace_back(buffer, result.ptr);
    }
    return absl::StrCat("{", absl::StrJoin(items, ", "), "}");
  }

  static std::string Attributes(const QParams& p, bool quantize) {
    std::vector<std::string> attributes;
    if (p.axis) attributes.push_back(absl::StrCat("axis = ", *p.axis));
    if (p.block_size) attributes.push_back(absl::StrCat("block_size = ", *p.block_size));
    if (quantize && p.output_dtype) attributes.push_back(absl::StrCat("output_dtype = ", *p.output_dtype));
    return attributes.empty() ? "" : absl::StrCat(" <", absl::StrJoin(attributes, ", "), "> ");
  }

  static std::string Operands(const std::string& in, const QParams& p) {
    return p.zero_point.empty() ? absl::StrCat(in, ", ", p.scale) : absl::StrCat(in, ", ", p.scale, ", ", p.zero_point);
  }

  int64_t ir_version_;
  std::vector<std::pair<std::string, int64_t>> opsets_;
  std::vector<std::string> inputs_, outputs_, constants_, nodes_;
};

}  // namespace qopt::testing
