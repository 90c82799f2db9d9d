#include "pass/registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ir/check.h"

namespace qopt {

absl::Status PassRegistry::Register(Factory factory) {
  std::unique_ptr<Pass> probe = factory();
  std::string name(probe->name());
  if (factories_.contains(name) || pipelines_.contains(name)) {
    return absl::AlreadyExistsError(absl::StrCat("a pass named '", name, "' is registered already"));
  }
  factories_.emplace(std::move(name), std::move(factory));
  return absl::OkStatus();
}

bool PassRegistry::Contains(absl::string_view name) const { return factories_.find(name) != factories_.end(); }

absl::StatusOr<std::unique_ptr<Pass>> PassRegistry::Create(absl::string_view name) const {
  auto it = factories_.find(name);
  if (it == factories_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown pass '", name, "' (see --list-passes)"));
  }
  return it->second();
}

std::vector<std::unique_ptr<Pass>> PassRegistry::CreateAll() const {
  std::vector<std::unique_ptr<Pass>> out;
  for (const auto& [name, factory] : factories_) out.push_back(factory());
  return out;
}

absl::Status PassRegistry::RegisterPipeline(std::string name, std::string summary, std::string pipeline) {
  if (factories_.contains(name) || pipelines_.contains(name)) {
    return absl::AlreadyExistsError(absl::StrCat("a pass or pipeline named '", name, "' is registered already"));
  }
  pipelines_.emplace(std::move(name), NamedPipeline{std::move(summary), std::move(pipeline)});
  return absl::OkStatus();
}

const PassRegistry::NamedPipeline* PassRegistry::FindPipeline(absl::string_view name) const {
  auto it = pipelines_.find(name);
  return it == pipelines_.end() ? nullptr : &it->second;
}

std::string DescribePasses(const PassRegistry& registry) {
  std::string out = "Available passes:\n";
  for (const auto& pass : registry.CreateAll()) {
    absl::StrAppend(&out, absl::StrFormat("  %-24s %s\n", pass->name(), pass->summary()));
    for (const OptionBase* o : pass->options()) {
      absl::StrAppend(&out, absl::StrFormat("      %-20s %s (%s, default: %s)\n", absl::StrCat(o->name(), "="),
                                            o->help(), o->type_name(),
                                            o->default_text().empty() ? "\"\"" : o->default_text()));
    }
    for (const Statistic* s : pass->statistics()) {
      absl::StrAppend(&out, absl::StrFormat("      statistic %-20s %s\n", s->name(), s->help()));
    }
  }
  if (!registry.pipelines().empty()) absl::StrAppend(&out, "\nNamed pipelines:\n");
  for (const auto& [name, p] : registry.pipelines()) {
    absl::StrAppend(&out, absl::StrFormat("  %-24s %s\n      = %s\n", name, p.summary, p.pipeline));
  }
  return out;
}

}  // namespace qopt
