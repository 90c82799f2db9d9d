// How serious a finding of an analysis is; the pipeline's Report
// (pass/report.h) collects findings with their severity, and --fail-on
// gates on it.
#pragma once

#include "absl/strings/string_view.h"

namespace qopt {

enum class Severity { kInfo, kWarning, kError };
absl::string_view SeverityName(Severity severity);

}  // namespace qopt
