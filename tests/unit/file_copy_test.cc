// PipeCopier (ir/file_copy.h): ranges of one file appended to another
// through a pipe, at any offsets, over many batches; and the cases where the
// kernel will not splice, which the caller must learn of.
#include "ir/file_copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace qopt::ir {
namespace {

namespace fs = std::filesystem;

class PipeCopierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qopt_file_copy_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // 3 MiB and a bit, no two neighbouring 4-byte words alike, so that a
    // shifted or repeated batch shows.
    for (uint32_t i = 0; input_.size() < (size_t{3} << 20) + 12345; ++i) {
      uint32_t word = i * 2654435761u;
      input_.append(reinterpret_cast<const char*>(&word), sizeof(word));
    }
    std::ofstream(Path("in"), std::ios::binary) << input_;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  fs::path dir_;
  std::string input_;
};

TEST_F(PipeCopierTest, CopiesAnyRangeToAnyPosition) {
  const int in = ::open(Path("in").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(in, 0);
  PipeCopier copier;  // one pipe for every copy, as a save uses it
  struct Case {
    size_t offset;
    size_t prefix;  // bytes already in the output
    size_t size;
  };
  for (const Case& c : {Case{0, 0, input_.size()}, Case{1, 0, input_.size() - 1}, Case{0, 100, input_.size()},
                        Case{3 * 4096 + 7, 65536 - 5, (size_t{2} << 20) + 3}, Case{100, 100, 1},
                        Case{65536, 65536, 65536}, Case{5, 9, 0}}) {
    SCOPED_TRACE(absl::StrCat("offset ", c.offset, ", prefix ", c.prefix, ", size ", c.size));
    const std::string out_path = Path("out");
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(out, 0);
    const std::string prefix(c.prefix, 'p');
    ASSERT_EQ(::write(out, prefix.data(), prefix.size()), static_cast<ssize_t>(prefix.size()));
    absl::StatusOr<size_t> copied = copier.Copy(in, static_cast<int64_t>(c.offset), c.size, out,
                                                static_cast<int64_t>(c.prefix));
    ::close(out);
    ASSERT_TRUE(copied.ok()) << copied.status();
    EXPECT_EQ(*copied, c.size);
    EXPECT_TRUE(copier.usable());
    EXPECT_TRUE(Read(out_path) == prefix + input_.substr(c.offset, c.size)) << "the output differs";
  }
  ::close(in);
}

TEST_F(PipeCopierTest, StopsWhereTheInputEnds) {
  const int in = ::open(Path("in").c_str(), O_RDONLY | O_CLOEXEC);
  const int out = ::open(Path("out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(in, 0);
  ASSERT_GE(out, 0);
  PipeCopier copier;
  const size_t offset = input_.size() - 1000;
  absl::StatusOr<size_t> copied = copier.Copy(in, static_cast<int64_t>(offset), size_t{1} << 20, out, 0);
  ::close(in);
  ::close(out);
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(*copied, 1000u);
  EXPECT_TRUE(copier.usable()) << "a short input is not the kernel refusing";
  EXPECT_TRUE(Read(Path("out")) == input_.substr(offset));
}

TEST_F(PipeCopierTest, AnInputThatCannotBeSplicedIsReportedNotCopied) {
  // Opened for writing only: splice refuses to read it (EBADF).
  const int in = ::open(Path("in").c_str(), O_WRONLY | O_CLOEXEC);
  const int out = ::open(Path("out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(in, 0);
  ASSERT_GE(out, 0);
  PipeCopier copier;
  absl::StatusOr<size_t> copied = copier.Copy(in, 0, 4096, out, 0);
  ::close(in);
  ::close(out);
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(*copied, 0u);
  EXPECT_FALSE(copier.usable());
}

TEST_F(PipeCopierTest, AnOutputThatTakesNoSpliceGetsTheBatchWrittenAndIsReported) {
  // Splice refuses an output opened for appending (EINVAL), after the first
  // batch is already in the pipe: that batch is written from memory.
  const int in = ::open(Path("in").c_str(), O_RDONLY | O_CLOEXEC);
  const int out = ::open(Path("out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(in, 0);
  ASSERT_GE(out, 0);
  PipeCopier copier;
  absl::StatusOr<size_t> copied = copier.Copy(in, 7, input_.size() - 7, out, 0);
  ::close(in);
  ::close(out);
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_FALSE(copier.usable());
  EXPECT_GT(*copied, 0u);
  EXPECT_LT(*copied, input_.size() - 7);
  EXPECT_TRUE(Read(Path("out")) == input_.substr(7, *copied)) << "the output is not the first batch";
}

}  // namespace
}  // namespace qopt::ir
