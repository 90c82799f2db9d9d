#include "tools/qopt-opt/command_line.h"

#include <algorithm>
#include <map>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace qopt::tools {
namespace {

// Flags are spelled with dashes on the command line (--list-passes) and
// defined with underscores (list_passes); -o and -h are short spellings.
std::string Canonical(absl::string_view name) {
  if (name == "o") return "output";
  if (name == "h") return "help";
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

std::string Dashed(absl::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

bool IsOurs(const absl::CommandLineFlag& flag) { return absl::StrContains(flag.Filename(), "tools/"); }

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseCommandLine(int argc, char** argv) {
  std::vector<std::string> positional;
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (only_positional || arg.size() < 2 || arg[0] != '-') {
      positional.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    std::string name;
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = Canonical(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
      has_value = true;
    } else {
      name = Canonical(arg);
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    bool negated = false;
    if ((flag == nullptr || !IsOurs(*flag)) && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* positive = absl::FindCommandLineFlag(name.substr(2));
      if (positive != nullptr && IsOurs(*positive) && positive->IsOfType<bool>() && !has_value) {
        flag = positive;
        negated = true;
      }
    }
    if (flag == nullptr || !IsOurs(*flag)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option '", argv[i], "' (see --help)"));
    }
    if (!has_value) {
      if (flag->IsOfType<bool>()) {
        value = negated ? "false" : "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("option '", argv[i], "' needs a value"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("bad value for --", Dashed(flag->Name()), ": ", error));
    }
  }
  return positional;
}

std::string FlagsHelp() {
  std::map<std::string, const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsOurs(*flag)) flags[std::string(name)] = flag;
  }
  std::string out;
  for (const auto& [name, flag] : flags) {
    std::string shown = name == "output" ? "-o, --output" : absl::StrCat("--", Dashed(name));
    absl::StrAppend(&out, absl::StrFormat("  %-26s %s", shown, flag->Help()));
    std::string def = flag->DefaultValue();
    if (!def.empty() && def != "false") absl::StrAppend(&out, " (default: ", def, ")");
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace qopt::tools
