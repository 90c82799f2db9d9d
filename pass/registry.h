// The pass registry: pipeline names -> factories. Built-in passes come from
// one list (passes/builtin_passes.def) through RegisterBuiltinPasses() in
// passes/builtin_passes.h; a
// program embedding qopt registers its own passes on the same registry.
// There is no static-initialiser registration (the linker drops it from
// static libraries).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pass/pass.h"

namespace qopt {

class PassRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Pass>()>;

  // Fails if a pass of the same name is registered already.
  absl::Status Register(Factory factory);
  bool Contains(absl::string_view name) const;
  absl::StatusOr<std::unique_ptr<Pass>> Create(absl::string_view name) const;
  // One fresh instance of each pass, sorted by name (for --list-passes).
  std::vector<std::unique_ptr<Pass>> CreateAll() const;

  // A named pipeline (`canonicalize` = 'canonicalize-constants,...'): its
  // name may stand in a pipeline wherever a pass name can, without options.
  struct NamedPipeline {
    std::string summary;
    std::string pipeline;
  };
  absl::Status RegisterPipeline(std::string name, std::string summary, std::string pipeline);
  const NamedPipeline* FindPipeline(absl::string_view name) const;
  const std::map<std::string, NamedPipeline, std::less<>>& pipelines() const { return pipelines_; }

 private:
  std::map<std::string, Factory, std::less<>> factories_;
  std::map<std::string, NamedPipeline, std::less<>> pipelines_;
};

// --list-passes text: every pass with its summary and options.
std::string DescribePasses(const PassRegistry& registry);

}  // namespace qopt
