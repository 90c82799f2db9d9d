#include "pass/pipeline.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace qopt {
namespace {

absl::Status SyntaxError(absl::string_view text, size_t pos, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("pipeline:1:", pos + 1, ": ", message, "\n  ", text, "\n  ",
                                                 std::string(pos, ' '), "^"));
}

bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.'; }

class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<PassSpec>> Parse() {
    std::vector<PassSpec> specs;
    SkipSpaces();
    if (pos_ == text_.size()) return SyntaxError(text_, pos_, "empty pipeline");
    while (true) {
      SkipSpaces();
      PassSpec spec;
      spec.column = static_cast<int>(pos_) + 1;
      spec.name = ReadName();
      if (spec.name.empty()) return SyntaxError(text_, pos_, "expected a pass name");
      SkipSpaces();
      if (Peek() == '{') {
        ++pos_;
        if (absl::Status s = ParseOptions(&spec); !s.ok()) return s;
      }
      specs.push_back(std::move(spec));
      SkipSpaces();
      if (pos_ == text_.size()) break;
      if (Peek() != ',') return SyntaxError(text_, pos_, "expected ',' between passes");
      ++pos_;
    }
    return specs;
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void SkipSpaces() {
    while (pos_ < text_.size() && absl::ascii_isspace(text_[pos_])) ++pos_;
  }
  std::string ReadName() {
    size_t start = pos_;
    while (pos_ < text_.size() && IsNameChar(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  absl::Status ParseOptions(PassSpec* spec) {
    while (true) {
      SkipSpaces();
      if (Peek() == '}') {
        ++pos_;
        return absl::OkStatus();
      }
      if (pos_ == text_.size()) return SyntaxError(text_, pos_, "missing '}' after the options");
      size_t key_pos = pos_;
      std::string key = ReadName();
      if (key.empty()) return SyntaxError(text_, pos_, "expected an option name");
      SkipSpaces();
      if (Peek() != '=') return SyntaxError(text_, pos_, absl::StrCat("expected '=' after option '", key, "'"));
      ++pos_;
      SkipSpaces();
      std::string value;
      char quote = Peek();
      if (quote == '"' || quote == '\'') {
        size_t end = text_.find(quote, pos_ + 1);
        if (end == absl::string_view::npos) return SyntaxError(text_, pos_, "unterminated quoted value");
        value = std::string(text_.substr(pos_ + 1, end - pos_ - 1));
        pos_ = end + 1;
      } else {
        size_t start = pos_;
        while (pos_ < text_.size() && !absl::ascii_isspace(text_[pos_]) && text_[pos_] != '}') ++pos_;
        value = std::string(text_.substr(start, pos_ - start));
        if (value.empty()) return SyntaxError(text_, pos_, absl::StrCat("expected a value for option '", key, "'"));
      }
      for (const auto& [k, v] : spec->options) {
        if (k == key) return SyntaxError(text_, key_pos, absl::StrCat("option '", key, "' given twice"));
      }
      spec->options.emplace_back(std::move(key), std::move(value));
      spec->option_columns.push_back(static_cast<int>(key_pos) + 1);
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<PassSpec>> ParsePipeline(absl::string_view text) { return Parser(text).Parse(); }

namespace {

absl::Status AppendPipeline(absl::string_view text, const PassRegistry& registry, int depth,
                            std::vector<std::unique_ptr<Pass>>* passes) {
  auto specs = ParsePipeline(text);
  if (!specs.ok()) return specs.status();
  for (const PassSpec& spec : *specs) {
    if (const PassRegistry::NamedPipeline* named = registry.FindPipeline(spec.name)) {
      if (depth > 8) return SyntaxError(text, spec.column - 1, "named pipelines nest too deeply");
      const size_t first = passes->size();
      if (absl::Status s = AppendPipeline(named->pipeline, registry, depth + 1, passes); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("in named pipeline '", spec.name, "': ", s.message()));
      }
      // `fuse-qdq{target=onnx-standard}`: an option of a named pipeline goes
      // to every pass in it that has an option of that name.
      for (size_t i = 0; i < spec.options.size(); ++i) {
        const auto& [key, value] = spec.options[i];
        const size_t column = spec.option_columns[i] - 1;
        int taken = 0;
        for (size_t p = first; p < passes->size(); ++p) {
          OptionBase* option = (*passes)[p]->FindOption(key);
          if (option == nullptr) continue;
          ++taken;
          if (absl::Status s = option->Parse(value); !s.ok()) {
            return SyntaxError(text, column, absl::StrCat("pass '", (*passes)[p]->name(), "': ", s.message()));
          }
        }
        if (taken == 0) {
          return SyntaxError(text, column,
                             absl::StrCat("no pass in named pipeline '", spec.name, "' has an option '", key, "'"));
        }
      }
      continue;
    }
    auto pass = registry.Create(spec.name);
    if (!pass.ok()) return SyntaxError(text, spec.column - 1, pass.status().message());
    for (size_t i = 0; i < spec.options.size(); ++i) {
      const auto& [key, value] = spec.options[i];
      const size_t column = spec.option_columns[i] - 1;
      OptionBase* option = (*pass)->FindOption(key);
      if (option == nullptr) {
        return SyntaxError(text, column,
                           absl::StrCat("pass '", spec.name, "' has no option '", key, "' (see --list-passes)"));
      }
      if (absl::Status s = option->Parse(value); !s.ok()) {
        return SyntaxError(text, column, absl::StrCat("pass '", spec.name, "': ", s.message()));
      }
    }
    passes->push_back(*std::move(pass));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::unique_ptr<Pass>>> BuildPipeline(absl::string_view text,
                                                                  const PassRegistry& registry) {
  std::vector<std::unique_ptr<Pass>> passes;
  if (absl::Status s = AppendPipeline(text, registry, 0, &passes); !s.ok()) return s;
  return passes;
}

}  // namespace qopt
