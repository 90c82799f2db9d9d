// Pipeline text parsing, option typing and the registry.
#include "pass/pipeline.h"

#include "gtest/gtest.h"
#include "pass/registry.h"
#include "passes/builtin_passes.h"

namespace qopt {
namespace {

TEST(Pipeline, ParsesNamesAndOptions) {
  auto specs = ParsePipeline("dce, op-count{compare=a.onnx},x{alpha=0.5 name='a b,c}'}");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 3u);
  EXPECT_EQ((*specs)[0].name, "dce");
  EXPECT_EQ((*specs)[1].name, "op-count");
  EXPECT_EQ((*specs)[1].column, 6);
  ASSERT_EQ((*specs)[1].options.size(), 1u);
  EXPECT_EQ((*specs)[1].options[0], (std::pair<std::string, std::string>{"compare", "a.onnx"}));
  ASSERT_EQ((*specs)[2].options.size(), 2u);
  EXPECT_EQ((*specs)[2].options[1].second, "a b,c}");
}

TEST(Pipeline, SyntaxErrorsShowTheColumn) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& c : {Case{"dce,,x", "pipeline:1:5: expected a pass name"},
                        Case{"dce{a 1}", "pipeline:1:7: expected '=' after option 'a'"},
                        Case{"dce{a=1", "pipeline:1:8: missing '}'"},
                        Case{"dce x", "pipeline:1:5: expected ','"},
                        Case{"dce{a='x}", "pipeline:1:7: unterminated"},
                        Case{"", "empty pipeline"}}) {
    auto specs = ParsePipeline(c.text);
    ASSERT_FALSE(specs.ok()) << c.text;
    EXPECT_NE(specs.status().message().find(c.expect), absl::string_view::npos)
        << c.text << " -> " << specs.status().message();
  }
}

TEST(Pipeline, BuildChecksPassesAndOptions) {
  PassRegistry registry;
  RegisterBuiltinPasses(registry);
  auto ok = BuildPipeline("canonicalize-constants{direction=to-nodes},dce", registry);
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[0]->FindOption("direction")->value_text(), "to-nodes");

  auto unknown = BuildPipeline("dce,nope", registry);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("pipeline:1:5: unknown pass 'nope'"), absl::string_view::npos)
      << unknown.status();
  auto bad_option = BuildPipeline("dce{x=1}", registry);
  ASSERT_FALSE(bad_option.ok());
  EXPECT_NE(bad_option.status().message().find("pipeline:1:5: pass 'dce' has no option 'x'"), absl::string_view::npos)
      << bad_option.status();
  auto bad_value = BuildPipeline("canonicalize-constants{direction=sideways}", registry);
  ASSERT_FALSE(bad_value.ok());
  EXPECT_NE(bad_value.status().message().find("expects one of to-initializers, to-nodes"), absl::string_view::npos)
      << bad_value.status();
}

class Knobs : public Pass {
 public:
  absl::string_view name() const override { return "knobs"; }
  absl::string_view summary() const override { return "test"; }
  absl::StatusOr<bool> Run(ir::Model&, PassContext&) override { return false; }
  Option<bool> flag{this, "flag", "a bool", false};
  Option<int64_t> count{this, "count", "an int", 3};
  Option<double> ratio{this, "ratio", "a float", 0.5};
};

TEST(Options, TypedParsing) {
  Knobs k;
  EXPECT_TRUE(k.flag.Parse("true").ok());
  EXPECT_TRUE(k.flag.value());
  EXPECT_FALSE(k.flag.Parse("maybe").ok());
  EXPECT_TRUE(k.count.Parse("-7").ok());
  EXPECT_EQ(k.count.value(), -7);
  EXPECT_FALSE(k.count.Parse("1.5").ok());
  EXPECT_TRUE(k.ratio.Parse("0.25").ok());
  EXPECT_DOUBLE_EQ(k.ratio.value(), 0.25);
  EXPECT_FALSE(k.ratio.Parse("nan").ok());
  EXPECT_EQ(k.count.default_text(), "3");
  EXPECT_EQ(k.options().size(), 3u);
}

TEST(Registry, RejectsDuplicatesAndListsEveryPass) {
  PassRegistry registry;
  RegisterBuiltinPasses(registry);
  ASSERT_TRUE(registry.Register([] { return std::make_unique<Knobs>(); }).ok());
  absl::Status again = registry.Register([] { return std::make_unique<Knobs>(); });
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("'knobs' is registered already"), absl::string_view::npos) << again;
  EXPECT_TRUE(registry.Contains("knobs"));
  std::string listing = DescribePasses(registry);
  for (const char* name : {"dce", "canonicalize-constants", "op-count", "knobs", "direction=", "nodes-removed"}) {
    EXPECT_NE(listing.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace qopt
