#include "pass/report.h"

#include "absl/strings/str_cat.h"

namespace qopt {

void Report::AddAnalysis(std::string name, nlohmann::json data, std::string text) {
  analyses_.push_back(Section{std::move(name), std::move(data), std::move(text)});
}

int64_t Report::CountFindings(Severity at_least) const {
  int64_t n = 0;
  for (const Finding& f : findings_) n += static_cast<int>(f.severity) >= static_cast<int>(at_least);
  return n;
}

nlohmann::json Report::ToJson() const {
  nlohmann::json j;
  j["schema"] = kSchema;
  j["input"] = input_;
  j["output"] = output_.empty() ? nlohmann::json(nullptr) : nlohmann::json(output_);
  j["passes"] = nlohmann::json::array();
  for (const PassRun& p : passes_) {
    j["passes"].push_back({{"name", p.name},
                           {"options", p.options},
                           {"changed", p.changed},
                           {"statistics", p.statistics},
                           {"seconds", p.seconds},
                           {"census", {{"before", p.census_before}, {"after", p.census_after}}}});
  }
  j["analyses"] = nlohmann::json::object();
  for (const Section& s : analyses_) j["analyses"][s.name] = s.data;
  j["findings"] = nlohmann::json::array();
  for (const Finding& f : findings_) {
    j["findings"].push_back({{"severity", std::string(SeverityName(f.severity))},
                             {"pass", f.pass},
                             {"subject", f.subject},
                             {"message", f.message}});
  }
  return j;
}

std::string Report::ToText() const {
  std::string out;
  for (const Section& s : analyses_) absl::StrAppend(&out, s.text, s.text.empty() || s.text.back() == '\n' ? "" : "\n");
  for (const Finding& f : findings_) {
    absl::StrAppend(&out, SeverityName(f.severity), ": [", f.pass, "] ", f.subject.empty() ? "" : f.subject + ": ",
                    f.message, "\n");
  }
  return out;
}

}  // namespace qopt
