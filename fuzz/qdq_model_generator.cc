#include "fuzz/qdq_model_generator.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/element_type.h"
#include "ir/op_traits.h"
#include "ir/op_types.h"

namespace qopt::fuzz {

int SeededChoices::IntInRange(int lo, int hi) {
  const uint32_t span = static_cast<uint32_t>(hi - lo) + 1u;
  // span is 0 only for the full 32-bit range, which nobody asks for.
  return lo + static_cast<int>(span == 0 ? engine_() : engine_() % span);
}

namespace {

constexpr int kOpset = 14;

// An element-wise op of the table that computes on float activations: its
// required inputs (one or two, every one taking float) and whether it has
// two optional float inputs after them (Clip's bounds).
struct FloatOp {
  std::string op_type;
  int required_inputs = 0;
  bool optional_bounds = false;
  bool integer_kernel = false;  // ONNX Runtime's CPU provider fuses a DQ -> op -> Q unit of it
};

// The activations of ir/op_traits.def (element-wise and cheap) that the
// opset's schema lets take float data, with their arity from that schema:
// a trait added to or removed from the table changes what is generated.
const std::vector<FloatOp>& FloatOps() {
  static const std::vector<FloatOp> ops = [] {
    std::vector<FloatOp> out;
    for (const std::string& name : ir::OpsWithTrait(ir::kActivation)) {
      const ir::OpTraits* traits = ir::FindOpTraits("", name);
      const ir::OpSignature* sig = ir::FindOpSignature("", name, kOpset);
      if (!traits->Has(ir::kElementwise) || sig == nullptr || sig->outputs.size() != 1) continue;
      FloatOp op{name};
      int optional = 0;
      bool usable = true;
      for (const ir::FormalParam& in : sig->inputs) {
        if (in.variadic || !in.Accepts(ir::ElementType::kFloat)) usable = false;
        (in.optional ? optional : op.required_inputs) += 1;
      }
      if (!usable || op.required_inputs < 1 || op.required_inputs > 2) continue;
      op.optional_bounds = optional == 2;
      op.integer_kernel = !traits->Kernel(ir::Target::kOrtCpu).empty();
      out.push_back(op);
    }
    return out;
  }();
  return ops;
}

class ModelWriter;
// Writes a chain of nodes from an integer value of shape [1,C,4,4] back to
// that shape through the op (and its inverse where the op changes the
// shape); returns the chain's last value.
using MovementWriter = std::function<std::string(ModelWriter&, const std::string&)>;

// Writes a model in ONNX textual syntax: every activation is float[1,C,4,4].
class ModelWriter {
 public:
  explicit ModelWriter(Choices& choices) : choices_(choices) {
    channels_ = choices_.IntInRange(1, 3);
    params_as_initializers_ = choices_.Bool();
  }

  std::string Write() {
    std::vector<std::string> values = {"X"};
    const int steps = choices_.IntInRange(1, 12);
    for (int i = 0; i < steps && !choices_.Exhausted(); ++i) {
      const std::string v = values[choices_.IntInRange(0, static_cast<int>(values.size()) - 1)];
      values.push_back(Step(v, values));
    }
    std::vector<std::string> outputs = {values.back()};
    if (values.size() > 2 && choices_.Bool()) outputs.push_back(values[values.size() / 2]);
    std::vector<std::string> output_decls;
    for (const std::string& o : outputs) output_decls.push_back(absl::StrCat(Type(), " ", o, "_out"));
    for (const std::string& o : outputs) body_ += absl::StrCat("  ", o, "_out = Identity(", o, ")\n");
    std::string inits = initializers_.empty() ? "" : absl::StrCat("<", absl::StrJoin(initializers_, ", "), ">");
    return absl::StrCat("<ir_version: 8, opset_import: [\"\" : ", kOpset, "]>\n", "generated (", Type(), " X) => (",
                        absl::StrJoin(output_decls, ", "), ") ", inits, " {\n", body_, "}\n");
  }

  int channels() const { return channels_; }

  // A constant parameter, as an initializer or a Constant node.
  std::string Param(const std::string& type, const std::string& dims, const std::string& values) {
    const std::string name = Fresh("p");
    const std::string shaped = dims.empty() ? type : absl::StrCat(type, "[", dims, "]");
    if (params_as_initializers_) {
      initializers_.push_back(absl::StrCat(shaped, " ", name, " = {", values, "}"));
    } else {
      body_ += absl::StrCat("  ", name, " = Constant <value = ", shaped, " {", values, "}> ()\n");
    }
    return name;
  }

  std::string Node(const std::string& op, const std::vector<std::string>& inputs, const std::string& attrs = "") {
    const std::string out = Fresh("v");
    body_ += absl::StrCat("  ", out, " = ", op, attrs, "(", absl::StrJoin(inputs, ", "), ")\n");
    return out;
  }

 private:
  std::string Type() const { return absl::StrCat("float[1,", channels_, ",4,4]"); }
  std::string Fresh(const char* stem) { return absl::StrCat(stem, counter_++); }

  std::string Scale() {
    static const char* kScales[] = {"0.0078125", "0.05", "0.1", "0.25", "1e-8", "0.0039215"};
    return kScales[choices_.IntInRange(0, 5)];
  }

  std::string QuantDequant(const std::string& v) {
    const bool signed_zp = choices_.Bool();
    const std::string s = Param("float", "", Scale());
    const std::string z = signed_zp ? Param("int8", "", absl::StrCat(choices_.IntInRange(-128, 127)))
                                    : Param("uint8", "", absl::StrCat(choices_.IntInRange(0, 255)));
    std::string q = Node("QuantizeLinear", {v, s, z});
    if (choices_.Bool()) q = Movement(q);  // data movement between Q and DQ
    return Node("DequantizeLinear", {q, s, z});
  }

  std::string Movement(const std::string& q);

  std::string Weights(int count) {
    std::vector<std::string> w;
    for (int i = 0; i < count; ++i) w.push_back(absl::StrCat(choices_.IntInRange(-127, 127)));
    return absl::StrJoin(w, ", ");
  }

  std::string QuantizedConv(const std::string& v) {
    const int c = channels_;
    const std::string w = Param("int8", absl::StrCat(c, ",", c, ",1,1"), Weights(c * c));
    std::string wd;
    if (choices_.Bool()) {  // per-channel
      std::vector<std::string> scales;
      for (int i = 0; i < c; ++i) scales.push_back(Scale());
      const std::string s = Param("float", absl::StrCat(c), absl::StrJoin(scales, ", "));
      const std::string z = Param("int8", absl::StrCat(c), absl::StrJoin(std::vector<std::string>(c, "0"), ", "));
      wd = Node("DequantizeLinear", {w, s, z}, " <axis = 0> ");
    } else {
      wd = Node("DequantizeLinear", {w, Param("float", "", Scale()), Param("int8", "", "0")});
    }
    std::vector<std::string> inputs = {QuantDequant(v), wd};
    if (choices_.Bool()) inputs.push_back(Param("float", absl::StrCat(c), Weights(c)));
    return QuantDequant(Node("Conv", inputs));
  }

  // An element-wise op of FloatOps() on v (and `other` as its second
  // input); `quantized`: as a DQ -> op -> Q unit, of the ops ONNX Runtime
  // fuses when `fusable`.
  std::string Elementwise(const std::string& v, const std::string& other, bool quantized, bool fusable) {
    std::vector<const FloatOp*> ops;
    for (const FloatOp& op : FloatOps()) {
      if (!fusable || op.integer_kernel) ops.push_back(&op);
    }
    const FloatOp& op = *ops[choices_.IntInRange(0, static_cast<int>(ops.size()) - 1)];
    std::vector<std::string> inputs = {quantized ? QuantDequant(v) : v};
    if (op.required_inputs == 2) inputs.push_back(quantized ? QuantDequant(other) : other);
    if (op.optional_bounds && choices_.Bool()) {
      inputs.push_back(Param("float", "", "0"));
      inputs.push_back(Param("float", "", "6"));
    }
    const std::string out = Node(op.op_type, inputs);
    return quantized ? QuantDequant(out) : out;
  }

  std::string Step(const std::string& v, const std::vector<std::string>& values) {
    const std::string other = values[choices_.IntInRange(0, static_cast<int>(values.size()) - 1)];
    switch (choices_.IntInRange(0, 6)) {
      case 0: return QuantDequant(v);
      case 1: return QuantizedConv(v);
      case 2:
      case 3: return Elementwise(v, other, /*quantized=*/false, /*fusable=*/false);
      case 4: return Node("MaxPool", {v}, " <kernel_shape = [1, 1]> ");
      case 5: return Elementwise(v, other, /*quantized=*/true, /*fusable=*/false);
      default: return Elementwise(v, other, /*quantized=*/true, /*fusable=*/true);
    }
  }

  Choices& choices_;
  int channels_ = 1;
  bool params_as_initializers_ = false;
  int counter_ = 0;
  std::string body_;
  std::vector<std::string> initializers_;
};

// How to write each layout op of the table so that [1,C,4,4] comes back
// (the table says which ops move data without computing; this says how to
// call them). A layout op without an entry here is not generated.
const std::map<std::string, MovementWriter>& MovementWriters() {
  static const std::map<std::string, MovementWriter> writers = [] {
    std::map<std::string, MovementWriter> w;
    auto squeeze_pair = [](ModelWriter& m, const std::string& q) {
      const std::string u = m.Node("Unsqueeze", {q, m.Param("int64", "1", "0")});
      return m.Node("Squeeze", {u, m.Param("int64", "1", "0")});
    };
    auto depth_pair = [](ModelWriter& m, const std::string& q) {
      const std::string d = m.Node("SpaceToDepth", {q}, " <blocksize = 2> ");
      return m.Node("DepthToSpace", {d}, " <blocksize = 2> ");
    };
    w["Reshape"] = [](ModelWriter& m, const std::string& q) {
      return m.Node("Reshape", {q, m.Param("int64", "4", absl::StrCat("1, ", m.channels(), ", 4, 4"))});
    };
    w["Transpose"] = [](ModelWriter& m, const std::string& q) {
      return m.Node("Transpose", {q}, " <perm = [0, 1, 3, 2]> ");
    };
    w["Flatten"] = [](ModelWriter& m, const std::string& q) {
      const std::string f = m.Node("Flatten", {q}, " <axis = 2> ");
      return m.Node("Reshape", {f, m.Param("int64", "4", absl::StrCat("1, ", m.channels(), ", 4, 4"))});
    };
    w["Identity"] = [](ModelWriter& m, const std::string& q) { return m.Node("Identity", {q}); };
    w["Squeeze"] = squeeze_pair;
    w["Unsqueeze"] = squeeze_pair;
    w["SpaceToDepth"] = depth_pair;
    w["DepthToSpace"] = depth_pair;
    return w;
  }();
  return writers;
}

const std::vector<std::string>& MovementOps() {
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> out;
    for (const std::string& name : ir::OpsWithTrait(ir::kLayout)) {
      if (MovementWriters().count(name)) out.push_back(name);
    }
    return out;
  }();
  return ops;
}

std::string ModelWriter::Movement(const std::string& q) {
  const std::string& op = MovementOps()[choices_.IntInRange(0, static_cast<int>(MovementOps().size()) - 1)];
  return MovementWriters().at(op)(*this, q);
}

}  // namespace

std::string GenerateQdqModelText(Choices& choices) { return ModelWriter(choices).Write(); }

}  // namespace qopt::fuzz
