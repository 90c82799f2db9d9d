#include "ir/child_process.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace qopt::ir {
namespace {

// The child's answer on the pipe: one byte saying which, then for an error
// one byte of its absl::StatusCode and the message, for a result its bytes.
constexpr char kResult = 'R';
constexpr char kError = 'E';

bool WriteAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool ReadAll(int fd, std::string& out) {
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out.append(buffer, static_cast<size_t>(n));
  }
}

[[noreturn]] void RunChild(int fd, absl::FunctionRef<absl::StatusOr<std::string>()> work) {
  // The parent's handlers remove its temporary files on the first four
  // signals; a child dying of one must leave them to the parent. On the
  // crash signals the child just dies: a sanitizer's or libFuzzer's handler
  // would report the crash the parent is there to survive (and libFuzzer
  // would write the input as a finding).
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGBUS, SIGSEGV, SIGFPE, SIGILL, SIGABRT}) signal(sig, SIG_DFL);
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  absl::StatusOr<std::string> answer = work();
  std::string message;
  if (answer.ok()) {
    message.reserve(answer->size() + 1);
    message.push_back(kResult);
    message.append(*answer);
  } else {
    message.push_back(kError);
    message.push_back(static_cast<char>(answer.status().code()));
    message.append(answer.status().message().data(), answer.status().message().size());
  }
  // _exit: no exit handlers or static destructors of the parent's copy.
  _exit(WriteAll(fd, message) ? 0 : 1);
}

std::string HowItEnded(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return absl::StrCat("signal ", sig, ": ", strsignal(sig));
  }
  if (WIFEXITED(status)) return absl::StrCat("exit status ", WEXITSTATUS(status), " without an answer");
  return absl::StrCat("wait status ", status);
}

}  // namespace

absl::StatusOr<std::string> RunInChildProcess(absl::string_view what,
                                              absl::FunctionRef<absl::StatusOr<std::string>()> work) {
  int fds[2];
  if (pipe(fds) != 0) return work();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return work();
  }
  if (pid == 0) {
    close(fds[0]);
    RunChild(fds[1], work);
  }
  close(fds[1]);
  std::string answer;
  const bool read_ok = ReadAll(fds[0], answer);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat(what, ": waitpid failed: ", strerror(errno)));
  }
  const bool answered = read_ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 && !answer.empty();
  if (!answered) return absl::InternalError(absl::StrCat(what, " crashed (", HowItEnded(status), ")"));
  if (answer[0] == kResult) return answer.erase(0, 1);
  if (answer[0] == kError && answer.size() >= 2) {
    return absl::Status(static_cast<absl::StatusCode>(answer[1]), absl::string_view(answer).substr(2));
  }
  return absl::InternalError(absl::StrCat(what, " answered in an unknown form"));
}

}  // namespace qopt::ir
