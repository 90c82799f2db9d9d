// The structured result of a qopt run: what each pass did and what each
// analysis found, as text for people and JSON (stable schema, versioned by
// "schema") for scripts. Passes add to it; tools print it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "analysis/severity.h"
#include "nlohmann/json.hpp"

namespace qopt {


struct Finding {
  Severity severity = Severity::kInfo;
  std::string pass;     // the analysis that reported it
  std::string subject;  // the node or tensor it is about
  std::string message;
};

struct PassRun {
  std::string name;
  nlohmann::json options = nlohmann::json::object();
  bool changed = false;
  nlohmann::json statistics = nlohmann::json::object();
  double seconds = 0;
  // The Q/DQ census (analysis::CensusToJson) of the main graph before and
  // after the pass, when the pipeline runs with the census instrumentation
  // (passes/qdq_census_instrumentation.h); null otherwise.
  nlohmann::json census_before;
  nlohmann::json census_after;
};

class Report {
 public:
  static constexpr const char* kSchema = "qopt-report/1";

  void set_input(std::string path) { input_ = std::move(path); }
  void set_output(std::string path) { output_ = std::move(path); }
  void AddPassRun(PassRun run) { passes_.push_back(std::move(run)); }
  // An analysis section: `data` goes under analyses.<name> in JSON, `text`
  // is printed for people.
  void AddAnalysis(std::string name, nlohmann::json data, std::string text);
  void AddFinding(Finding finding) { findings_.push_back(std::move(finding)); }

  const std::vector<PassRun>& passes() const { return passes_; }
  const std::vector<Finding>& findings() const { return findings_; }
  int64_t CountFindings(Severity at_least) const;

  struct Section {
    std::string name;
    nlohmann::json data;
    std::string text;
  };
  const std::vector<Section>& analyses() const { return analyses_; }
  const std::string& input() const { return input_; }
  const std::string& output() const { return output_; }

  nlohmann::json ToJson() const;
  std::string ToText() const;

 private:
  std::string input_;
  std::string output_;
  std::vector<PassRun> passes_;
  std::vector<Section> analyses_;
  std::vector<Finding> findings_;
};

}  // namespace qopt
