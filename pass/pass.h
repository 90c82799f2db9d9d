// The Pass interface, after MLIR's PassWrapper and XLA's HloPassInterface: a
// pass has an argument name, a one-line summary, typed options with defaults
// and help text, statistics counters, and one Run method that returns
// whether it changed the model.
//
//   class MyPass : public qopt::Pass {
//    public:
//     absl::string_view name() const override { return "my-pass"; }
//     absl::string_view summary() const override { return "Does one thing"; }
//     absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) override;
//    private:
//     Option<double> alpha_{this, "alpha", "Migration strength", 0.5};
//     Statistic rewritten_{this, "nodes-rewritten", "Nodes rewritten"};
//   };
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pass/report.h"
#include "ir/model.h"

namespace qopt {

class Pass;

// Results a pass hands to later passes of the same run, typed. Passes share
// results here (or through options), never by looking up each other's
// report sections by name: the report is for people and tools, and its
// layout may change.
struct PassResults {
  // Nodes that float-islands put in float on purpose (Node::Describe(), as
  // the boundary analysis names units): fuse-qdq-units gives them "in a
  // float island" as the reason they stay float.
  std::set<std::string> float_island_nodes;
  // Activation ranges {min, max} an earlier pass derived for tensors whose
  // calibrated range no longer holds or that no table can name
  // (dynamic-to-static's MatMul output before a bias ONNX Runtime had fused
  // into the op; smoothquant's rescaled activations): quantize takes them
  // before its calibration table.
  std::map<std::string, std::pair<double, double>> derived_ranges;
};

// What a pass may use besides the model: the report it adds findings and
// analysis sections to, and the results earlier passes left for it.
struct PassContext {
  Report* report = nullptr;
  PassResults results = {};
};

class OptionBase {
 public:
  OptionBase(Pass* owner, std::string name, std::string help);
  virtual ~OptionBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  virtual std::string type_name() const = 0;
  virtual std::string default_text() const = 0;
  virtual std::string value_text() const = 0;
  // Sets the value from pipeline text; the error says what was expected.
  virtual absl::Status Parse(absl::string_view text) = 0;
  bool was_set() const { return was_set_; }

 protected:
  bool was_set_ = false;

 private:
  std::string name_;
  std::string help_;
};

namespace option_internal {
std::string TypeName(bool, const std::vector<std::string>&);
std::string TypeName(int64_t, const std::vector<std::string>&);
std::string TypeName(double, const std::vector<std::string>&);
std::string TypeName(const std::string&, const std::vector<std::string>& allowed);
std::string ToText(bool v);
std::string ToText(int64_t v);
std::string ToText(double v);
std::string ToText(const std::string& v);
absl::Status ParseText(const std::string& name, absl::string_view text, const std::vector<std::string>&, bool* out);
absl::Status ParseText(const std::string& name, absl::string_view text, const std::vector<std::string>&, int64_t* out);
absl::Status ParseText(const std::string& name, absl::string_view text, const std::vector<std::string>&, double* out);
absl::Status ParseText(const std::string& name, absl::string_view text, const std::vector<std::string>& allowed,
                       std::string* out);
}  // namespace option_internal

// A typed pass option: bool, int64_t, double or std::string. String options
// may list the values they accept.
template <typename T>
class Option : public OptionBase {
 public:
  Option(Pass* owner, std::string name, std::string help, T default_value, std::vector<std::string> allowed = {})
      : OptionBase(owner, std::move(name), std::move(help)),
        value_(default_value),
        default_(default_value),
        allowed_(std::move(allowed)) {}
  const T& value() const { return value_; }
  operator const T&() const { return value_; }
  void set(T v) { value_ = std::move(v); was_set_ = true; }
  std::string type_name() const override { return option_internal::TypeName(value_, allowed_); }
  std::string default_text() const override { return option_internal::ToText(default_); }
  std::string value_text() const override { return option_internal::ToText(value_); }
  absl::Status Parse(absl::string_view text) override {
    T parsed;
    if (absl::Status s = option_internal::ParseText(name(), text, allowed_, &parsed); !s.ok()) return s;
    set(std::move(parsed));
    return absl::OkStatus();
  }
  const std::vector<std::string>& allowed() const { return allowed_; }

 private:
  T value_;
  T default_;
  std::vector<std::string> allowed_;
};

// A counter a pass increments; printed by --stats and in the JSON report.
class Statistic {
 public:
  Statistic(Pass* owner, std::string name, std::string help);
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  int64_t value() const { return value_; }
  Statistic& operator++() { ++value_; return *this; }
  Statistic& operator+=(int64_t n) { value_ += n; return *this; }

 private:
  std::string name_;
  std::string help_;
  int64_t value_ = 0;
};

class Pass {
 public:
  virtual ~Pass() = default;
  // The name used in pipelines (`--pass=name{...}`).
  virtual absl::string_view name() const = 0;
  virtual absl::string_view summary() const = 0;
  // Rewrites (or, for an analysis, only inspects) the model; returns whether
  // the model changed. An error aborts the pipeline and no file is written.
  virtual absl::StatusOr<bool> Run(ir::Model& model, PassContext& context) = 0;

  const std::vector<OptionBase*>& options() const { return options_; }
  OptionBase* FindOption(absl::string_view name) const;
  const std::vector<Statistic*>& statistics() const { return statistics_; }

 private:
  friend class OptionBase;
  friend class Statistic;
  std::vector<OptionBase*> options_;
  std::vector<Statistic*> statistics_;
};

}  // namespace qopt
