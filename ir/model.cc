#include "ir/model.h"

#include "absl/strings/str_cat.h"

namespace qopt::ir {

namespace {
bool IsDefaultDomain(absl::string_view domain) { return domain.empty() || domain == "ai.onnx"; }
}  // namespace

Model::Model() : graph_(std::make_unique<Graph>(this, nullptr)) {}

Model::~Model() = default;

std::optional<int64_t> Model::OpsetVersion(absl::string_view domain) const {
  for (const auto& opset : proto_shell_.opset_import()) {
    if (opset.domain() == domain || (IsDefaultDomain(domain) && IsDefaultDomain(opset.domain()))) {
      return opset.version();
    }
  }
  return std::nullopt;
}

void Model::SetOpsetVersion(absl::string_view domain, int64_t version) {
  for (auto& opset : *proto_shell_.mutable_opset_import()) {
    if (opset.domain() == domain || (IsDefaultDomain(domain) && IsDefaultDomain(opset.domain()))) {
      opset.set_version(version);
      return;
    }
  }
  auto* opset = proto_shell_.add_opset_import();
  opset->set_domain(std::string(domain));
  opset->set_version(version);
}

std::string Model::UniqueName(absl::string_view prefix) {
  std::string base(prefix.empty() ? "v" : prefix);
  if (!used_names_.contains(base)) {
    used_names_.insert(base);
    return base;
  }
  while (true) {
    std::string candidate = absl::StrCat(base, "__", next_unique_++);
    if (!used_names_.contains(candidate)) {
      used_names_.insert(candidate);
      return candidate;
    }
  }
}

}  // namespace qopt::ir
