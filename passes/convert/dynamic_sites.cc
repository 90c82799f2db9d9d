#include "passes/convert/dynamic_sites.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt::convert {
namespace {

bool IsDefaultOp(const ir::Node* n, absl::string_view op) {
  return n != nullptr && n->Is(op) && n->is_default_domain();
}

// The other input of a two-input node, given one of them.
ir::Value* OtherInput(const ir::Node& node, const ir::Value* one) {
  if (node.num_inputs() != 2) return nullptr;
  if (node.input(0) == one) return node.input(1);
  if (node.input(1) == one) return node.input(0);
  return nullptr;
}

// The single node reading `v`, when exactly one does and `v` is not a graph
// output (the site's intermediate values must not be seen elsewhere).
ir::Node* SoleUser(const ir::Value* v) {
  if (v == nullptr || v->is_graph_output() || v->uses().size() != 1) return nullptr;
  return v->uses()[0].user;
}

// A bias operand traced back to its float constant: through Reshape (whose
// constant target shape gives the broadcast dims) and, for the older int32
// recipe, Cast(int32) <- Floor <- Div(bias, scale).
struct BiasSource {
  const ir::Tensor* values = nullptr;
  std::vector<int64_t> dims;  // as the Add broadcasts it
  bool through_floor_div = false;
};

std::optional<BiasSource> TraceBias(const ir::Value* v) {
  BiasSource source;
  std::optional<std::vector<int64_t>> reshaped;
  bool cast = false, floor = false;
  for (int steps = 0; v != nullptr && steps < 6; ++steps) {
    if (const ir::Tensor* t = v->constant()) {
      if (t->type() != ir::ElementType::kFloat) return std::nullopt;
      source.values = t;
      source.dims = reshaped.value_or(t->dims());
      return source;
    }
    const ir::Node* n = v->producer();
    if (IsDefaultOp(n, "Reshape") && !reshaped && n->input(1) != nullptr && n->input(1)->constant() != nullptr) {
      absl::StatusOr<std::vector<int64_t>> shape = n->input(1)->constant()->ToInt64s();
      if (!shape.ok()) return std::nullopt;
      reshaped = *shape;
      v = n->input(0);
    } else if (IsDefaultOp(n, "Cast") && !cast && n->GetInt("to").value_or(0) == 6 /* int32 */) {
      cast = true;
      v = n->input(0);
    } else if (IsDefaultOp(n, "Floor") && cast && !floor) {
      floor = true;
      v = n->input(0);
    } else if (IsDefaultOp(n, "Div") && floor && !source.through_floor_div) {
      source.through_floor_div = true;
      v = n->input(0);
    } else {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// Whether `dims` broadcasts `channels` values along NCHW's channel axis
// ([C, 1, 1] or [1, C, 1, 1]); a -1 is inferred from the element count.
bool PerChannelOfNchw(std::vector<int64_t> dims, int64_t channels) {
  int64_t known = 1;
  int inferred = 0;
  for (int64_t d : dims) {
    if (d == -1) {
      ++inferred;
    } else if (d <= 0) {
      return false;  // 0 copies an input dim, unknown here
    } else {
      known *= d;
    }
  }
  if (inferred > 1 || (inferred == 1 && (known == 0 || channels % known != 0))) return false;
  for (int64_t& d : dims) {
    if (d == -1) d = channels / known;
  }
  const int64_t non_one = std::count_if(dims.begin(), dims.end(), [](int64_t d) { return d != 1; });
  const size_t rank = dims.size();
  const bool channel_axis = rank >= 3 && dims[rank - 3] == channels;
  return non_one <= 1 && (channels == 1 || channel_axis);
}

// The bias Add reading `v` with the bias in the form `int32` asks for, and
// the bias values; null when the next node is not such an Add.
ir::Node* MatchBiasAdd(const ir::Value* v, int64_t channels, bool int32, std::vector<float>* bias) {
  ir::Node* add = SoleUser(v);
  if (!IsDefaultOp(add, "Add")) return nullptr;
  std::optional<BiasSource> source = TraceBias(OtherInput(*add, v));
  if (!source || source->through_floor_div != int32 || source->values->num_elements() != channels ||
      !PerChannelOfNchw(source->dims, channels)) {
    return nullptr;
  }
  absl::StatusOr<std::vector<double>> values = source->values->ToDoubles();
  if (!values.ok()) return nullptr;
  bias->assign(values->begin(), values->end());
  return add;
}

absl::Status Reason(absl::string_view why) { return absl::FailedPreconditionError(why); }

bool IsMicrosoftOp(const ir::Node& n, absl::string_view op) {
  return n.op_type() == op && n.domain() == "com.microsoft";
}

const ir::Value* OptionalInput(const ir::Node& n, int i) { return i < n.num_inputs() ? n.input(i) : nullptr; }

// The com.microsoft fused MatMul sites: inputs by position, the bias inside.
absl::StatusOr<DynamicSite> MatchFusedMatMulSite(ir::Node& op) {
  DynamicSite site;
  site.integer_op = &op;
  const bool to_float = op.op_type() == "MatMulIntegerToFloat";
  // MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zp, b_zp, bias);
  // DynamicQuantizeMatMul(A, B, b_scale, b_zp, bias).
  const int b_scale = to_float ? 3 : 2, b_zero = to_float ? 5 : 3, bias = to_float ? 6 : 4;
  if (to_float) {
    ir::Node* dql = op.input(0) != nullptr ? op.input(0)->producer() : nullptr;
    if (!IsDefaultOp(dql, "DynamicQuantizeLinear") || dql->output(0) != op.input(0) || op.input(2) != dql->output(1) ||
        OptionalInput(op, 4) != dql->output(2)) {
      return Reason("its input, scale and zero point are not one DynamicQuantizeLinear's");
    }
    site.dynamic_quantize = dql;
    site.x = dql->input(0);
  } else {
    site.x = op.input(0);
  }
  site.weights = op.input(1);
  if (site.weights == nullptr || site.weights->constant() == nullptr) return Reason("its weights are not a constant");
  site.weight_scale = op.num_inputs() > b_scale ? op.input(b_scale) : nullptr;
  if (site.weight_scale == nullptr || site.weight_scale->constant() == nullptr) {
    return Reason("its weight scale is not a constant");
  }
  if (const ir::Value* z = OptionalInput(op, b_zero); z != nullptr) {
    if (z->constant() == nullptr) return Reason("its weight zero point is not a constant");
    site.weight_zero_point = op.input(b_zero);
  }
  const std::vector<int64_t>& dims = site.weights->constant()->dims();
  if (dims.size() != 2) return Reason("weights not 2-D");
  site.channels = dims[1];
  if (const ir::Value* b = OptionalInput(op, bias); b != nullptr) {
    const ir::Tensor* t = b->constant();
    if (t == nullptr || t->type() != ir::ElementType::kFloat || t->num_elements() != site.channels) {
      return Reason("its bias is not a float constant per column");
    }
    absl::StatusOr<std::vector<double>> values = t->ToDoubles();
    if (!values.ok()) return values.status();
    site.bias.assign(values->begin(), values->end());
  }
  site.output = op.output();
  return site;
}

}  // namespace

bool StartsDynamicSite(const ir::Node& node) {
  return (node.is_default_domain() && (node.Is("ConvInteger") || node.Is("MatMulInteger"))) ||
         IsMicrosoftOp(node, "MatMulIntegerToFloat") || IsMicrosoftOp(node, "DynamicQuantizeMatMul");
}

absl::StatusOr<DynamicSite> MatchDynamicSite(ir::Node& op) {
  if (!op.is_default_domain()) {
    absl::StatusOr<DynamicSite> site = MatchFusedMatMulSite(op);
    if (!site.ok()) return site;
    const int64_t scale_count = site->weight_scale->constant()->num_elements();
    const int64_t zero_count = site->weight_zero_point ? site->weight_zero_point->constant()->num_elements() : 1;
    if ((scale_count != 1 && scale_count != site->channels) || (zero_count != 1 && zero_count != site->channels)) {
      return Reason("weight scale or zero point is neither per tensor nor per output channel");
    }
    if (scale_count != 1 || zero_count != 1) site->channel_axis = 1;
    return site;
  }
  DynamicSite site;
  site.integer_op = &op;
  site.conv = op.Is("ConvInteger");
  ir::Node* dql = op.input(0) != nullptr ? op.input(0)->producer() : nullptr;
  if (!IsDefaultOp(dql, "DynamicQuantizeLinear") || dql->output(0) != op.input(0)) {
    return Reason("its input is not made by a DynamicQuantizeLinear");
  }
  if (op.num_inputs() < 3 || op.input(2) != dql->output(2)) {
    return Reason("its input zero point is not the DynamicQuantizeLinear's");
  }
  site.dynamic_quantize = dql;
  site.x = dql->input(0);
  site.weights = op.input(1);
  const ir::Tensor* wq = site.weights != nullptr ? site.weights->constant() : nullptr;
  if (wq == nullptr) return Reason("its weights are not a constant");
  if (op.num_inputs() > 3 && op.input(3) != nullptr) {
    site.weight_zero_point = op.input(3);
    if (site.weight_zero_point->constant() == nullptr) return Reason("its weight zero point is not a constant");
  }
  const std::vector<int64_t>& dims = wq->dims();
  if (dims.size() < 2) return Reason("weights of rank < 2");
  site.channels = site.conv ? dims[0] : dims.back();

  // [-> Add(int32 bias)] -> Cast(float) -> Mul(., Mul(x_scale, w_scale)).
  ir::Value* cur = op.output();
  if (SoleUser(cur) == nullptr) return Reason("its int32 output is not read by one node");
  if (site.conv) {
    if (ir::Node* add = MatchBiasAdd(cur, site.channels, /*int32=*/true, &site.bias)) {
      site.chain.push_back(add);
      cur = add->output();
    }
  }
  ir::Node* cast = SoleUser(cur);
  if (!IsDefaultOp(cast, "Cast") || cast->GetInt("to").value_or(0) != 1) {
    return Reason("its int32 output is not read by one Cast to float");
  }
  site.chain.push_back(cast);
  ir::Node* scale_mul = SoleUser(cast->output());
  if (!IsDefaultOp(scale_mul, "Mul")) return Reason("the Cast is not read by the scale Mul");
  const ir::Value* scales = OtherInput(*scale_mul, cast->output());
  const ir::Node* scales_mul = scales != nullptr ? scales->producer() : nullptr;
  site.weight_scale = IsDefaultOp(scales_mul, "Mul") ? OtherInput(*scales_mul, dql->output(1)) : nullptr;
  if (site.weight_scale == nullptr || site.weight_scale->constant() == nullptr) {
    return Reason("the output is not scaled by x_scale * (constant weight scale)");
  }
  site.chain.push_back(scale_mul);
  cur = scale_mul->output();
  // quantize_dynamic's float bias Add after a ConvInteger.
  if (site.conv && site.bias.empty()) {
    if (ir::Node* add = MatchBiasAdd(cur, site.channels, /*int32=*/false, &site.bias)) {
      site.chain.push_back(add);
      cur = add->output();
    }
  }
  site.output = cur;

  const int64_t scale_count = site.weight_scale->constant()->num_elements();
  const int64_t zero_count = site.weight_zero_point ? site.weight_zero_point->constant()->num_elements() : 1;
  if ((scale_count != 1 && scale_count != site.channels) || (zero_count != 1 && zero_count != site.channels)) {
    return Reason("weight scale or zero point is neither per tensor nor per output channel");
  }
  if (scale_count != 1 || zero_count != 1) {
    site.channel_axis = site.conv ? 0 : static_cast<int64_t>(dims.size()) - 1;
  }
  return site;
}

std::vector<float> FloatWeights(const DynamicSite& site) {
  const ir::Tensor& wq = *site.weights->constant();
  std::vector<int64_t> q = wq.ToInt64s().value_or(std::vector<int64_t>{});
  std::vector<double> s = site.weight_scale->constant()->ToDoubles().value_or(std::vector<double>{1.0});
  std::vector<int64_t> z = {0};
  if (site.weight_zero_point != nullptr) z = site.weight_zero_point->constant()->ToInt64s().value_or(z);
  const std::vector<int64_t>& dims = wq.dims();
  const int64_t block = site.conv ? static_cast<int64_t>(q.size()) / dims[0] : 1;
  std::vector<float> w(q.size());
  for (size_t i = 0; i < q.size(); ++i) {
    const int64_t c = site.conv ? static_cast<int64_t>(i) / block : static_cast<int64_t>(i) % site.channels;
    const double scale = s[s.size() == 1 ? 0 : c];
    const int64_t zero = z[z.size() == 1 ? 0 : c];
    w[i] = static_cast<float>(static_cast<double>(q[i] - zero) * scale);
  }
  return w;
}

ir::Value* AddFloatOp(ir::Graph& graph, const DynamicSite& site, ir::Value* weights, ir::Value** pre_bias) {
  ir::Model& model = *graph.model();
  ir::Node& op = *site.integer_op;
  ir::Node* before = site.chain.empty() ? &op : site.chain.back();
  const std::string name = site.output->name();
  std::vector<ir::Value*> inputs = {site.x, weights};
  const bool bias_input = site.conv && !site.bias.empty();
  if (bias_input) {
    inputs.push_back(
        graph.AddInitializer(absl::StrCat(name, "_bias"), ir::Tensor::FromFloats({site.channels}, site.bias)));
  }
  const bool bias_add = !site.conv && !site.bias.empty();
  ir::Node* float_op = graph.AddNodeWithOutputNames(
      site.conv ? "Conv" : "MatMul", inputs, {model.UniqueName(absl::StrCat(name, bias_add ? "_matmul" : "_float"))},
      before, "", op.name());
  if (site.conv) {
    for (const ir::Attribute& a : op.attributes())
      float_op->mutable_attributes().emplace_back(ir::Attribute(a.proto()));
  }
  if (pre_bias != nullptr) *pre_bias = bias_add ? float_op->output() : nullptr;
  if (!bias_add) {
    fuse_qdq::SetTensorType(float_op->output(), ir::ElementType::kFloat, site.output->shape());
    return float_op->output();
  }
  ir::Value* bias = graph.AddInitializer(absl::StrCat(name, "_bias"),
                                         ir::Tensor::FromFloats({site.channels}, site.bias));
  ir::Node* add = graph.AddNodeWithOutputNames("Add", {float_op->output(), bias},
                                               {model.UniqueName(absl::StrCat(name, "_float"))}, before);
  fuse_qdq::SetTensorType(float_op->output(), ir::ElementType::kFloat, site.output->shape());
  fuse_qdq::SetTensorType(add->output(), ir::ElementType::kFloat, site.output->shape());
  return add->output();
}

void ReplaceDynamicSite(ir::Graph& graph, const DynamicSite& site, ir::Value* replacement) {
  const std::string name = site.output->name();
  graph.ReplaceAllUsesWith(site.output, replacement);
  std::vector<ir::Node*> erase = {site.integer_op};
  erase.insert(erase.end(), site.chain.begin(), site.chain.end());
  std::vector<ir::Value*> fed;
  for (ir::Node* n : erase) {
    for (ir::Value* in : n->inputs()) {
      if (in != nullptr) fed.push_back(in);
    }
  }
  for (auto it = erase.rbegin(); it != erase.rend(); ++it) graph.EraseNode(*it);
  graph.RenameValue(replacement, name);
  // What fed only the erased nodes goes too, producer by producer.
  absl::flat_hash_set<ir::Value*> erased_values;
  while (!fed.empty()) {
    ir::Value* v = fed.back();
    fed.pop_back();
    if (v->has_uses() || v->is_graph_output() || erased_values.contains(v)) continue;
    if (v->kind() == ir::Value::Kind::kInitializer) {
      erased_values.insert(v);
      graph.EraseValue(v);
      continue;
    }
    ir::Node* producer = v->producer();
    if (producer == nullptr || producer->is_erased()) continue;
    const bool dead = std::none_of(producer->outputs().begin(), producer->outputs().end(), [](const ir::Value* out) {
      return out != nullptr && (out->has_uses() || out->is_graph_output());
    });
    if (!dead) continue;
    for (ir::Value* in : producer->inputs()) {
      if (in != nullptr) fed.push_back(in);
    }
    graph.EraseNode(producer);
  }
}

}  // namespace qopt::convert
