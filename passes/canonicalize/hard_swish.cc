#include "passes/canonicalize/hard_swish.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "passes/fuse_qdq/rewrite_util.h"

namespace qopt::canonicalize {
namespace {

bool Near(std::optional<double> v, double want) { return v && std::abs(*v - want) <= 1e-6 * std::abs(want); }

// `v` is read by `user` alone and is no graph output.
bool OnlyUser(const ir::Value* v, const ir::Node* user) {
  return v != nullptr && !v->is_graph_output() && v->uses().size() == 1 && v->uses()[0].user == user;
}

ir::Node* Producer(const ir::Value* v) { return v == nullptr ? nullptr : v->producer(); }

// Clip(Add(x, 3), 0, top) read only by `user`: returns x.
ir::Value* MatchRelu6Shift(ir::Node* clip, const ir::Node* user, bool accept_lower_top,
                           std::vector<ir::Node*>& interior) {
  if (clip == nullptr || !clip->Is("Clip") || !OnlyUser(clip->output(), user)) return nullptr;
  std::optional<fuse_qdq::ClampBounds> bounds = fuse_qdq::ReadClampBounds(*clip);
  if (!bounds || bounds->lo != 0) return nullptr;
  if (accept_lower_top ? (bounds->hi > 6 * (1 + 1e-6) || bounds->hi <= 3) : !Near(bounds->hi, 6)) return nullptr;
  ir::Node* add = Producer(clip->input(0));
  if (add == nullptr || !add->Is("Add") || !OnlyUser(add->output(), clip)) return nullptr;
  for (int k = 0; k < 2; ++k) {
    if (Near(fuse_qdq::ScalarConstant(add->input(1 - k)), 3) && add->input(k) != nullptr) {
      interior.push_back(clip);
      interior.push_back(add);
      return add->input(k);
    }
  }
  return nullptr;
}

// HardSigmoid(x; 1/6, 0.5) read only by `user`: returns x.
ir::Value* MatchGate(ir::Node* gate, const ir::Node* user, std::vector<ir::Node*>& interior) {
  if (gate == nullptr || !gate->Is("HardSigmoid") || !OnlyUser(gate->output(), user)) return nullptr;
  if (!Near(gate->GetFloat("alpha").value_or(0.2f), 1.0 / 6) || !Near(gate->GetFloat("beta").value_or(0.5f), 0.5)) {
    return nullptr;
  }
  interior.push_back(gate);
  return gate->input(0);
}

}  // namespace

std::optional<HardSwishMatch> MatchHardSwish(ir::Node& last, bool accept_lower_top) {
  if (!last.is_default_domain() || last.num_outputs() != 1) return std::nullopt;
  // Mul(x, HardSigmoid(x)): the two-op form.
  if (last.Is("Mul")) {
    for (int k = 0; k < 2; ++k) {
      std::vector<ir::Node*> interior;
      ir::Value* x = MatchGate(Producer(last.input(k)), &last, interior);
      if (x != nullptr && x == last.input(1 - k)) return HardSwishMatch{x, &last, interior};
    }
  }
  // Div(product, 6) or Mul(product, 1/6), product = Mul(x, Clip(Add(x, 3), 0, 6)).
  ir::Node* product = nullptr;
  if (last.Is("Div") && Near(fuse_qdq::ScalarConstant(last.input(1)), 6)) {
    product = Producer(last.input(0));
  } else if (last.Is("Mul")) {
    for (int k = 0; k < 2 && product == nullptr; ++k) {
      if (Near(fuse_qdq::ScalarConstant(last.input(1 - k)), 1.0 / 6)) product = Producer(last.input(k));
    }
  }
  if (product == nullptr || !product->Is("Mul") || !OnlyUser(product->output(), &last)) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    std::vector<ir::Node*> interior = {product};
    ir::Value* x = MatchRelu6Shift(Producer(product->input(k)), product, accept_lower_top, interior);
    if (x != nullptr && x == product->input(1 - k)) return HardSwishMatch{x, &last, interior};
  }
  return std::nullopt;
}

std::vector<ir::Node*> RewriteHardSwish(ir::Graph& graph, const HardSwishMatch& match, bool single_op) {
  ir::Node& last = *match.last;
  const std::string name = last.output()->name();
  const std::string node_name = last.name().empty() ? name : last.name();
  std::vector<ir::Node*> made;
  ir::Node* result = nullptr;
  if (single_op) {
    result = graph.AddNode("HardSwish", {match.x}, 1, &last, "", node_name);
    made.push_back(result);
  } else {
    ir::Node* gate = graph.AddNode("HardSigmoid", {match.x}, 1, &last, "", absl::StrCat(node_name, "_hard_sigmoid"));
    gate->SetFloat("alpha", 1.0f / 6);
    gate->SetFloat("beta", 0.5f);
    result = graph.AddNode("Mul", {match.x, gate->output()}, 1, &last, "", node_name);
    made = {gate, result};
  }
  if (last.output()->has_type_info()) result->output()->set_type_info(last.output()->type_info());
  graph.ReplaceAllUsesWith(last.output(), result->output());
  graph.EraseNode(&last);
  for (ir::Node* dead : match.interior) graph.EraseNode(dead);
  if (result->output()->name() != name) graph.RenameValue(result->output(), name);
  return made;
}

}  // namespace qopt::canonicalize
