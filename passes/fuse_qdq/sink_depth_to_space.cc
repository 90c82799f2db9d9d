// sink-depth-to-space: moves a DepthToSpace below the 1x1 Conv that reads
// it, so that the data movement happens on the Conv's (narrower) output and
// the Conv reads the DepthToSpace's input directly. PaddleOCR's detection
// head, after convtranspose-to-conv, is Conv1x1 -> DepthToSpace(2) ->
// Conv1x1 (24 -> 4 channels) -> DepthToSpace(2) -> Sigmoid; the first
// DepthToSpace moves the wide [N, 96, H, W] map (in ONNX Runtime a uint8
// DepthToSpace plus NCHW <-> NHWC transposes around it).
//
// DepthToSpace with block size b sends input channel k(s, c) to output
// channel c at sub-pixel s = i*b + j of the b x b block of each pixel:
//   DCR: k(s, c) = s*C + c        CRD: k(s, c) = c*b*b + s
// A 1x1 Conv (group 1, stride 1, dilation 1, no padding) mixes channels
// pixel by pixel, so with W [Co, C, 1, 1] and bias B [Co]
//   Conv_W(DepthToSpace(x)) = DepthToSpace(Conv_W'(x)),
//   W'[k(s, o; Co), k(s, c; C)] = W[o, c],  B'[k(s, o; Co)] = B[o],
// every other entry of W' zero: W' is [b*b*Co, b*b*C, 1, 1], one copy of W
// per sub-pixel, and the new DepthToSpace keeps the old one's attributes
// (both modes are handled by the same k).
//
// Two forms:
//   float: y = DepthToSpace(x); z = Conv(y, W, B)
//       => t = Conv(x, W', B'); z = DepthToSpace(t)
//   QDQ, as propagate-qdq leaves it (the DQ sunk below the DepthToSpace):
//       y_q = DepthToSpace(x_q); y = DQ(y_q); z = Conv(y, DQ(Wq), DQ(Bq)); z_q = Q(z)
//       => DQ(x_q) -> Conv(DQ(Wq'), DQ(Bq')) -> Q -> DepthToSpace = z_q
//   (W and B may each be a float constant or a DQ of an integer constant in
//   either form; a float-form Conv whose output only a per-tensor Q reads
//   gets the DepthToSpace after that Q too, so it stays a QDQ unit).
//   z / z_q keep their names and users.
// Per-channel weight and bias parameters (axis 0) are spread with the rows:
// row k(s, o; Co) takes channel o's scale and zero point. The entries off the
// copies are stored as the row's weight zero point, so they dequantize to
// exactly 0.
//
// Why it is exact: each output pixel of the new Conv adds up the same
// products W[o, c] * x (the integer (w - wz) * (x - xz) in a QLinearConv)
// plus exact zeros, with the same bias and, in the QDQ form, the same
// per-tensor Q (which commutes with the DepthToSpace, element by element).
// In integer arithmetic (QLinearConv, ONNX Runtime's fused QDQ Conv) the
// int32 accumulator is therefore the same and so is every output bit,
// where the kernel accumulates exactly in int32 (VNNI, and every kernel ONNX
// Runtime uses on this project's CPUs; x86 without VNNI adds u8*s8 products
// in saturating int16 pairs, and the zeros change the pairing). A
// float Conv sums the same nonzero products in the same order, but a GEMM
// that splits the longer b*b*C reduction into blocks may associate the
// partial sums differently, which moves float results by rounding.
// The Conv's MACs grow b*b times (b*b*Co x b*b*C per pixel, on b*b fewer
// pixels); what is saved is the DepthToSpace on the wide tensor.
//
// Declined (and counted): a kernel other than 1x1, group != 1, strides,
// dilations or pads other than trivial (auto_pad other than NOTSET/VALID), W
// or B not a constant (or a DQ of one), a DepthToSpace output (or the DQ
// after it) read by anything else, an unknown mode, block-wise Q/DQ, weight or
// bias types not handled (float/float16/bfloat16/double constants; 8, 16 and
// 32-bit integers behind a DQ), and in the QDQ form activation Q/DQ that are
// not per tensor, a Conv output not read by exactly one Q, or per-channel
// parameters along another axis than 0.
#include <variant>

#include "absl/strings/str_cat.h"
#include "analysis/qdq_params.h"
#include "passes/builtin_passes.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt {
namespace {

using analysis::IsDequantizeLinear;
using analysis::IsQuantizeLinear;
using analysis::QdqParams;
using analysis::ReadQdqParams;

// Where DepthToSpace reads output channel c of `channels` at sub-pixel s.
struct BlockLayout {
  int64_t b = 1;
  bool crd = false;
  int64_t Channel(int64_t s, int64_t c, int64_t channels) const { return crd ? c * b * b + s : s * channels + c; }
};

// A constant input of the Conv: a float constant, or a DQ of an integer one.
struct ConstOperand {
  const ir::Value* value = nullptr;  // the Conv's input
  const ir::Tensor* data = nullptr;  // the stored tensor (the DQ's input when there is one)
  const ir::Node* dq = nullptr;
  std::optional<QdqParams> params;  // of the DQ
};

enum class Decline {
  kNotASite,  // no 1x1 Conv behind the DepthToSpace at all: not counted
  kKernel,
  kGroup,
  kGeometry,
  kNotConstant,
  kOtherUsers,
  kMode,
  kBlockWise,
  kType,
  kQuantization,
};

// A matched site: DepthToSpace -> [DQ] -> Conv [-> Q].
struct Site {
  ir::Node* d2s = nullptr;
  ir::Node* act_dq = nullptr;  // QDQ form only
  ir::Node* conv = nullptr;
  ir::Node* out_q = nullptr;   // QDQ form only
  BlockLayout layout;
  int64_t c_in = 0;   // C: the Conv's input channels before the rewrite
  int64_t c_out = 0;  // Co
  ConstOperand weight;
  std::optional<ConstOperand> bias;
};

using Match = std::variant<Site, Decline>;

bool AllEqual(const std::optional<std::vector<int64_t>>& v, int64_t value) {
  if (!v) return true;
  for (int64_t x : *v) {
    if (x != value) return false;
  }
  return true;
}

// The one node reading `v`, at input `index`, when nothing else (nor a graph
// output) reads it; else null.
ir::Node* OnlyUser(const ir::Value* v, int index) {
  if (v == nullptr || v->is_graph_output() || v->uses().size() != 1 || v->uses()[0].index != index) return nullptr;
  return v->uses()[0].user;
}

bool PerTensor(const QdqParams& p) { return p.scales.size() == 1 && p.block_size == 0; }

// Types whose elements are copied byte for byte; a float constant's zero is
// all zero bytes.
bool HandledFloat(ir::ElementType t) {
  return t == ir::ElementType::kFloat || t == ir::ElementType::kFloat16 || t == ir::ElementType::kBFloat16 ||
         t == ir::ElementType::kDouble;
}
bool HandledInteger(ir::ElementType t) {
  return t == ir::ElementType::kInt8 || t == ir::ElementType::kUint8 || t == ir::ElementType::kInt16 ||
         t == ir::ElementType::kUint16 || t == ir::ElementType::kInt32;
}

// Reads input `i` of the Conv (of rank `rank`: 4 for weights, 1 for the
// bias) as a constant operand; per-channel parameters must run along axis 0.
std::variant<ConstOperand, Decline> ReadOperand(const ir::Node& conv, int i, int64_t rank) {
  ConstOperand op;
  op.value = conv.input(i);
  if (op.value->constant() != nullptr) {
    op.data = op.value->constant();
    if (!HandledFloat(op.data->type())) return Decline::kType;
    return op;
  }
  op.dq = analysis::DequantizeProducer(op.value);
  if (op.dq == nullptr || op.dq->input(0) == nullptr || op.dq->input(0)->constant() == nullptr) {
    return Decline::kNotConstant;
  }
  op.data = op.dq->input(0)->constant();
  if (static_cast<int64_t>(op.data->dims().size()) != rank) return Decline::kKernel;
  op.params = ReadQdqParams(*op.dq);
  const ir::Value* scale = op.dq->input(1);
  const ir::Value* zero_point = op.dq->input(2);
  if (scale == nullptr || scale->constant() == nullptr || op.params->scales.empty() ||
      (zero_point != nullptr && zero_point->constant() == nullptr)) {
    return Decline::kNotConstant;
  }
  if (op.params->block_size != 0) return Decline::kBlockWise;
  if (!HandledInteger(op.data->type()) ||
      (zero_point != nullptr && zero_point->constant()->type() != op.data->type())) {
    return Decline::kType;
  }
  if (op.params->per_channel()) {
    const int64_t axis = op.params->axis < 0 ? op.params->axis + rank : op.params->axis;
    if (axis != 0 || static_cast<int64_t>(op.params->scales.size()) != op.data->dims()[0] ||
        (zero_point != nullptr && zero_point->constant()->num_elements() != op.data->dims()[0])) {
      return Decline::kQuantization;
    }
  } else if (zero_point != nullptr && zero_point->constant()->num_elements() != 1) {
    return Decline::kQuantization;
  }
  return op;
}

// The bytes of element `i` of a tensor (element width `width` bytes).
absl::string_view Element(absl::string_view bytes, int64_t width, int64_t i) {
  return bytes.substr(static_cast<size_t>(i * width), static_cast<size_t>(width));
}

void Put(std::string& out, int64_t width, int64_t i, absl::string_view element) {
  out.replace(static_cast<size_t>(i * width), static_cast<size_t>(width), element.data(), element.size());
}

// A per-row tensor (bias, per-channel scale or zero point: dims [Co]) spread
// over the rows of the new Conv: row k(s, o) gets element o.
absl::StatusOr<ir::Tensor> SpreadRows(const ir::Tensor& t, const BlockLayout& layout) {
  absl::StatusOr<absl::string_view> bytes = t.RawBytes();
  if (!bytes.ok()) return bytes.status();
  const int64_t rows = t.num_elements(), bb = layout.b * layout.b;
  const int64_t width = ir::ElementTypeBits(t.type()) / 8;
  std::string out(static_cast<size_t>(bb * rows * width), '\0');
  for (int64_t s = 0; s < bb; ++s) {
    for (int64_t o = 0; o < rows; ++o) Put(out, width, layout.Channel(s, o, rows), Element(*bytes, width, o));
  }
  ir::Tensor spread(t.type(), {bb * rows});
  spread.SetRawData(std::move(out));
  return spread;
}

class SinkDepthToSpace : public Pass {
 public:
  absl::string_view name() const override { return "sink-depth-to-space"; }
  absl::string_view summary() const override {
    return "Move a DepthToSpace below the 1x1 Conv reading it (float or QDQ), with block-diagonal weights (exact in "
           "integer arithmetic)";
  }

  absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override {
    ir::Graph& graph = model.graph();
    bool changed = false;
    // A DepthToSpace moved below one Conv may meet the next one. The sites
    // declined in the last round (every DepthToSpace left) are counted. A
    // last round that still moved something means the limit cut the work
    // short: counted and reported, never silent.
    std::vector<Decline> declined;
    constexpr int kMaxRounds = 16;
    for (int round = 0; round < kMaxRounds; ++round) {
      bool progress = false;
      declined.clear();
      for (ir::Node* node : graph.nodes()) {
        if (!node->Is("DepthToSpace")) continue;
        Match match = MatchSite(*node);
        if (const Decline* why = std::get_if<Decline>(&match)) {
          declined.push_back(*why);
          continue;
        }
        absl::Status s = Rewrite(graph, std::get<Site>(match));
        if (!s.ok()) return s;
        progress = true;
      }
      if (!progress) break;
      changed = true;
      if (round == kMaxRounds - 1) {
        ++not_converged_;
        if (context.report != nullptr) {
          context.report->AddFinding({Severity::kWarning, std::string(name()), "",
                                      absl::StrCat("stopped after ", kMaxRounds,
                                                   " rounds that each moved a DepthToSpace; more sites may be left")});
        }
      }
    }
    for (Decline why : declined) Count(why);
    return changed;
  }

 private:
  // ---- what to match -------------------------------------------------------

  static Match MatchSite(ir::Node& d2s) {
    Site site;
    site.d2s = &d2s;
    ir::Value* y = d2s.output();
    if (y == nullptr || d2s.input(0) == nullptr) return Decline::kNotASite;
    // The Conv behind the DepthToSpace, directly or behind one DQ.
    ir::Node* conv = nullptr;
    for (const ir::Use& use : y->uses()) {
      if (use.user == nullptr) continue;
      if (use.user->Is("Conv") && use.index == 0) conv = use.user;
      if (IsDequantizeLinear(*use.user) && use.index == 0 && use.user->output() != nullptr) {
        for (const ir::Use& dq_use : use.user->output()->uses()) {
          if (dq_use.user != nullptr && dq_use.user->Is("Conv") && dq_use.index == 0) {
            conv = dq_use.user;
            site.act_dq = use.user;
          }
        }
      }
    }
    if (conv == nullptr) return Decline::kNotASite;
    site.conv = conv;
    if (site.act_dq != nullptr) {
      if (OnlyUser(y, 0) != site.act_dq || OnlyUser(site.act_dq->output(), 0) != conv) return Decline::kOtherUsers;
    } else if (OnlyUser(y, 0) != conv) {
      return Decline::kOtherUsers;
    }

    // The DepthToSpace.
    const std::string mode = d2s.GetString("mode").value_or("DCR");
    const std::optional<int64_t> b = d2s.GetInt("blocksize");
    if ((mode != "DCR" && mode != "CRD") || !b || *b < 1) return Decline::kMode;
    site.layout = BlockLayout{*b, mode == "CRD"};

    // The Conv's geometry: 1x1, one group, nothing that moves the window.
    if (auto kernel = conv->GetInts("kernel_shape"); kernel && (kernel->size() != 2 || !AllEqual(kernel, 1))) {
      return Decline::kKernel;
    }
    if (conv->GetInt("group").value_or(1) != 1) return Decline::kGroup;
    const std::string auto_pad = conv->GetString("auto_pad").value_or("NOTSET");
    if ((auto_pad != "NOTSET" && auto_pad != "VALID") || !AllEqual(conv->GetInts("strides"), 1) ||
        !AllEqual(conv->GetInts("dilations"), 1) || !AllEqual(conv->GetInts("pads"), 0)) {
      return Decline::kGeometry;
    }

    // Weights [Co, C, 1, 1] and bias [Co], constants.
    if (conv->input(1) == nullptr) return Decline::kNotConstant;
    auto weight = ReadOperand(*conv, 1, 4);
    if (const Decline* why = std::get_if<Decline>(&weight)) return *why;
    site.weight = std::get<ConstOperand>(weight);
    const std::vector<int64_t>& w_dims = site.weight.data->dims();
    if (w_dims.size() != 4 || w_dims[2] != 1 || w_dims[3] != 1) return Decline::kKernel;
    site.c_out = w_dims[0];
    site.c_in = w_dims[1];
    if (conv->input(2) != nullptr) {
      auto bias = ReadOperand(*conv, 2, 1);
      if (const Decline* why = std::get_if<Decline>(&bias)) return *why;
      site.bias = std::get<ConstOperand>(bias);
      if (site.bias->data->dims() != std::vector<int64_t>{site.c_out}) return Decline::kKernel;
    }
    // When the input's shape is declared, it must agree with the weights.
    if (auto shape = d2s.input(0)->shape();
        shape && shape->size() == 4 && (*shape)[1].value && *(*shape)[1].value != *b * *b * site.c_in) {
      return Decline::kKernel;
    }

    // The QDQ form: per-tensor activations and one per-tensor Q after the Conv.
    if (site.act_dq != nullptr) {
      auto in = ReadQdqParams(*site.act_dq);
      if (in->block_size != 0) return Decline::kBlockWise;
      if (!PerTensor(*in)) return Decline::kQuantization;
      site.out_q = OnlyUser(conv->output(), 0);
      if (site.out_q == nullptr || !IsQuantizeLinear(*site.out_q)) return Decline::kQuantization;
      auto out = ReadQdqParams(*site.out_q);
      if (out->block_size != 0) return Decline::kBlockWise;
      if (!PerTensor(*out)) return Decline::kQuantization;
    } else if (ir::Node* q = OnlyUser(conv->output(), 0); q != nullptr && IsQuantizeLinear(*q) &&
                                                          PerTensor(*ReadQdqParams(*q))) {
      // A float input but a quantized output: the DepthToSpace goes after
      // the Q, so that the Conv keeps its Q (and moves integers).
      site.out_q = q;
    }
    return site;
  }

  void Count(Decline why) {
    switch (why) {
      case Decline::kNotASite: return;
      case Decline::kKernel: ++declined_kernel_; return;
      case Decline::kGroup: ++declined_group_; return;
      case Decline::kGeometry: ++declined_geometry_; return;
      case Decline::kNotConstant: ++declined_not_constant_; return;
      case Decline::kOtherUsers: ++declined_other_users_; return;
      case Decline::kMode: ++declined_mode_; return;
      case Decline::kBlockWise: ++declined_block_wise_; return;
      case Decline::kType: ++declined_type_; return;
      case Decline::kQuantization: ++declined_quantization_; return;
    }
  }

  // ---- what to do ------------------------------------------------------------

  // W' = one copy of W per sub-pixel on the block diagonal (in the layout's
  // channel order); every other entry is the row's zero (the weight zero
  // point behind a DQ, 0.0 for a float constant).
  static absl::StatusOr<ir::Tensor> BlockDiagonalWeights(const Site& site) {
    const ir::Tensor& w = *site.weight.data;
    absl::StatusOr<absl::string_view> bytes = w.RawBytes();
    if (!bytes.ok()) return bytes.status();
    const int64_t width = ir::ElementTypeBits(w.type()) / 8;
    const int64_t bb = site.layout.b * site.layout.b, co = site.c_out, c = site.c_in;
    const int64_t rows = bb * co, cols = bb * c;
    std::string zero_points;  // one element per channel o (or one for all)
    if (site.weight.dq != nullptr && site.weight.dq->input(2) != nullptr) {
      absl::StatusOr<absl::string_view> zp = site.weight.dq->input(2)->constant()->RawBytes();
      if (!zp.ok()) return zp.status();
      zero_points = std::string(*zp);
    } else {
      zero_points.assign(static_cast<size_t>(width), '\0');
    }
    const bool per_row_zero = static_cast<int64_t>(zero_points.size()) == co * width && co > 1;
    std::string out(static_cast<size_t>(rows * cols * width), '\0');
    for (int64_t s = 0; s < bb; ++s) {
      for (int64_t o = 0; o < co; ++o) {
        const int64_t row = site.layout.Channel(s, o, co);
        const absl::string_view zero = Element(zero_points, width, per_row_zero ? o : 0);
        for (int64_t k = 0; k < cols; ++k) Put(out, width, row * cols + k, zero);
        for (int64_t ci = 0; ci < c; ++ci) {
          Put(out, width, row * cols + site.layout.Channel(s, ci, c), Element(*bytes, width, o * c + ci));
        }
      }
    }
    ir::Tensor spread(w.type(), {rows, cols, 1, 1});
    spread.SetRawData(std::move(out));
    return spread;
  }

  // A node like `like` (op, domain, attributes) reading `inputs`, before
  // `before`; its output is named after `named_after`. It takes over the
  // name of `like` (which goes) when `same_name`, else a new one.
  static ir::Node* AddLike(ir::Graph& graph, const ir::Node& like, const std::vector<ir::Value*>& inputs,
                           ir::Node* before, const ir::Value* named_after, bool same_name) {
    std::string name = like.name();
    if (!same_name && !name.empty()) name = graph.model()->UniqueName(absl::StrCat(name, "_d2s_sunk"));
    ir::Node* node = graph.AddNodeWithOutputNames(
        like.op_type(), inputs, {graph.model()->UniqueName(absl::StrCat(named_after->name(), "_d2s_sunk"))}, before,
        like.domain(), name);
    for (const ir::Attribute& a : like.attributes()) node->mutable_attributes().emplace_back(ir::Attribute(a.proto()));
    return node;
  }

  // Declares `v` as a tensor of `type` with `dims` (when known); nothing
  // when the type is unknown.
  static void Declare(ir::Value* v, ir::ElementType type, const std::optional<std::vector<ir::Dim>>& dims) {
    if (type != ir::ElementType::kUndefined) fuse_qdq::SetTensorType(v, type, dims);
  }

  // The float type a DQ produces: its scale's.
  static ir::ElementType DequantizedType(const ir::Node& dq) {
    const ir::Tensor* scale = dq.input(1) ? dq.input(1)->constant() : nullptr;
    return scale ? scale->type() : ir::ElementType::kUndefined;
  }

  // The new Conv's input for `op` (weights when `weight`, else the bias):
  // a new constant, behind a new DQ when `op` had one.
  static absl::StatusOr<ir::Value*> NewOperand(ir::Graph& graph, const Site& site, const ConstOperand& op,
                                               bool weight, ir::Node* before) {
    absl::StatusOr<ir::Tensor> data = weight ? BlockDiagonalWeights(site) : SpreadRows(*op.data, site.layout);
    if (!data.ok()) return data.status();
    const ir::Value* stored = op.dq != nullptr ? op.dq->input(0) : op.value;
    ir::Value* constant = graph.AddInitializer(absl::StrCat(stored->name(), "_d2s_sunk"), *std::move(data));
    if (op.dq == nullptr) return constant;
    std::vector<ir::Value*> inputs(op.dq->inputs().begin(), op.dq->inputs().end());
    inputs[0] = constant;
    if (op.params->per_channel()) {
      // Spread the scales and zero points with the rows.
      for (int i : {1, 2}) {
        if (op.dq->input(i) == nullptr) continue;
        absl::StatusOr<ir::Tensor> spread = SpreadRows(*op.dq->input(i)->constant(), site.layout);
        if (!spread.ok()) return spread.status();
        inputs[i] = graph.AddInitializer(absl::StrCat(op.dq->input(i)->name(), "_d2s_sunk"), *std::move(spread));
      }
    }
    ir::Node* dq = AddLike(graph, *op.dq, inputs, before, op.value, false);
    Declare(dq->output(), DequantizedType(*op.dq), std::nullopt);
    return dq->output();
  }

  // `replacement` takes over `old`'s users, name and declared type.
  static void TakeOver(ir::Graph& graph, ir::Value* old, ir::Value* replacement) {
    const std::string name = old->name();
    const bool has_info = old->has_type_info();
    const onnx::ValueInfoProto info = old->type_info();
    graph.ReplaceAllUsesWith(old, replacement);  // a graph output's name moves with it
    if (replacement->name() != name) {
      graph.RenameValue(old, graph.model()->UniqueName(absl::StrCat(name, "_before_d2s_sunk")));
      graph.RenameValue(replacement, name);
    }
    if (has_info) replacement->set_type_info(info);
  }

  // New nodes go before the old Conv (everything they read is defined by
  // then); the new DepthToSpace's output takes over the old Conv's (float
  // form) or the old Q's (QDQ form) name and users.
  absl::Status Rewrite(ir::Graph& graph, const Site& site) {
    ir::Node* conv = site.conv;
    ir::Value* x = site.d2s->input(0);
    // Shapes: x is [N, b*b*C, H, W]; the new Conv's output [N, b*b*Co, H, W].
    std::optional<std::vector<ir::Dim>> wide = x->shape();
    if (wide && wide->size() == 4) {
      (*wide)[1] = ir::Dim{site.layout.b * site.layout.b * site.c_out, ""};
    } else {
      wide.reset();
    }

    ir::Value* conv_in = x;
    ir::ElementType float_type = x->elem_type();
    if (site.act_dq != nullptr) {
      std::vector<ir::Value*> inputs(site.act_dq->inputs().begin(), site.act_dq->inputs().end());
      inputs[0] = x;
      ir::Node* dq = AddLike(graph, *site.act_dq, inputs, conv, site.act_dq->output(), true);
      float_type = DequantizedType(*site.act_dq);
      Declare(dq->output(), float_type, x->shape());
      conv_in = dq->output();
    }
    absl::StatusOr<ir::Value*> w = NewOperand(graph, site, site.weight, true, conv);
    if (!w.ok()) return w.status();
    std::vector<ir::Value*> conv_inputs = {conv_in, *w};
    if (site.bias) {
      absl::StatusOr<ir::Value*> bias = NewOperand(graph, site, *site.bias, false, conv);
      if (!bias.ok()) return bias.status();
      conv_inputs.push_back(*bias);
    }
    ir::Node* wide_conv = AddLike(graph, *conv, conv_inputs, conv, conv->output(), true);
    Declare(wide_conv->output(), float_type, wide);

    ir::Value* d2s_in = wide_conv->output();
    ir::Value* replaced = conv->output();  // what the new DepthToSpace stands for
    if (site.out_q != nullptr) {
      std::vector<ir::Value*> inputs(site.out_q->inputs().begin(), site.out_q->inputs().end());
      inputs[0] = wide_conv->output();
      // At the old Q's place: its scale and zero point may be Constant nodes
      // between the Conv and the Q.
      ir::Node* q = AddLike(graph, *site.out_q, inputs, site.out_q, site.out_q->output(), true);
      Declare(q->output(), ReadQdqParams(*site.out_q)->quant_type, wide);
      d2s_in = q->output();
      replaced = site.out_q->output();
    }
    ir::Node* d2s = AddLike(graph, *site.d2s, {d2s_in}, site.out_q != nullptr ? site.out_q : conv, replaced, true);
    TakeOver(graph, replaced, d2s->output());

    // The old chain has no users left; weight DQs others read stay (dce
    // removes the rest).
    if (site.out_q != nullptr) graph.EraseNode(site.out_q);
    graph.EraseNode(conv);
    if (site.act_dq != nullptr) graph.EraseNode(site.act_dq);
    graph.EraseNode(site.d2s);
    ++(site.act_dq != nullptr ? sunk_qdq_ : sunk_float_);
    return absl::OkStatus();
  }

  Statistic sunk_float_{this, "sunk-float", "DepthToSpace -> Conv1x1 rewritten as Conv1x1 -> DepthToSpace (float)"};
  Statistic sunk_qdq_{this, "sunk-qdq",
                      "DepthToSpace -> DQ -> Conv1x1 -> Q rewritten as DQ -> Conv1x1 -> Q -> DepthToSpace"};
  Statistic declined_kernel_{this, "declined-kernel",
                             "Conv after a DepthToSpace whose kernel is not 1x1 (or whose weight/bias/input shapes "
                             "disagree)"};
  Statistic declined_group_{this, "declined-group", "Conv after a DepthToSpace with group != 1"};
  Statistic declined_geometry_{this, "declined-geometry",
                               "Conv after a DepthToSpace with strides, dilations or pads other than trivial, or "
                               "auto_pad SAME_*"};
  Statistic declined_not_constant_{this, "declined-not-constant",
                                   "Conv whose weight or bias is not a constant or a DequantizeLinear of one"};
  Statistic declined_other_users_{this, "declined-other-users",
                                  "DepthToSpace whose output (or the DequantizeLinear after it) is read by other "
                                  "nodes or is a graph output"};
  Statistic declined_mode_{this, "declined-mode", "DepthToSpace with a mode other than DCR/CRD or no blocksize"};
  Statistic declined_block_wise_{this, "declined-block-wise",
                                 "Sites with block-wise quantization (a block_size attribute)"};
  Statistic declined_type_{this, "declined-type",
                           "Weights or bias of a type not handled (float constants: float/float16/bfloat16/double; "
                           "behind a DQ: 8/16/32-bit integers)"};
  Statistic declined_quantization_{this, "declined-quantization",
                                   "QDQ sites with per-axis activation Q/DQ, no single per-tensor Q after the Conv, "
                                   "or per-channel weight/bias parameters along another axis than 0"};
  Statistic not_converged_{this, "rounds-exhausted", "1 when the last of the 16 rounds still moved a DepthToSpace"};
};

}  // namespace

std::unique_ptr<Pass> CreateSinkDepthToSpacePass() { return std::make_unique<SinkDepthToSpace>(); }

}  // namespace qopt
