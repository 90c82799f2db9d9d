#include "pass/pass.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace qopt {

OptionBase::OptionBase(Pass* owner, std::string name, std::string help)
    : name_(std::move(name)), help_(std::move(help)) {
  owner->options_.push_back(this);
}

Statistic::Statistic(Pass* owner, std::string name, std::string help)
    : name_(std::move(name)), help_(std::move(help)) {
  owner->statistics_.push_back(this);
}

OptionBase* Pass::FindOption(absl::string_view name) const {
  for (OptionBase* o : options_) {
    if (o->name() == name) return o;
  }
  return nullptr;
}

namespace option_internal {

std::string TypeName(bool, const std::vector<std::string>&) { return "bool"; }
std::string TypeName(int64_t, const std::vector<std::string>&) { return "int"; }
std::string TypeName(double, const std::vector<std::string>&) { return "float"; }
std::string TypeName(const std::string&, const std::vector<std::string>& allowed) {
  return allowed.empty() ? "string" : absl::StrJoin(allowed, "|");
}

std::string ToText(bool v) { return v ? "true" : "false"; }
std::string ToText(int64_t v) { return absl::StrCat(v); }
std::string ToText(double v) { return absl::StrCat(v); }
std::string ToText(const std::string& v) { return v; }

absl::Status ParseText(const std::string& name, absl::string_view text, const std::vector<std::string>&, bool* out) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "true" || t == "1" || t == "yes" || t == "on") {
    *out = true;
  } else if (t == "false" || t == "0" || t == "no" || t == "off") {
    *out = false;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("option '", name, "' expects true or false, got '", text, "'"));
  }
  return absl::OkStatus();
}

absl::Status ParseText(const std::string& name, absl::string_view text, const std::vector<std::string>&,
                       int64_t* out) {
  if (!absl::SimpleAtoi(text, out)) {
    return absl::InvalidArgumentError(absl::StrCat("option '", name, "' expects an integer, got '", text, "'"));
  }
  return absl::OkStatus();
}

absl::Status ParseText(const std::string& name, absl::string_view text, const std::vector<std::string>&,
                       double* out) {
  if (!absl::SimpleAtod(text, out) || !std::isfinite(*out)) {
    return absl::InvalidArgumentError(absl::StrCat("option '", name, "' expects a number, got '", text, "'"));
  }
  return absl::OkStatus();
}

absl::Status ParseText(const std::string& name, absl::string_view text, const std::vector<std::string>& allowed,
                       std::string* out) {
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
    return absl::InvalidArgumentError(absl::StrCat("option '", name, "' expects one of ", absl::StrJoin(allowed, ", "),
                                                   "; got '", text, "'"));
  }
  *out = std::string(text);
  return absl::OkStatus();
}

}  // namespace option_internal
}  // namespace qopt
