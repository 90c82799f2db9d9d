// See temp_files.h. The signal handler may only call async-signal-safe
// functions (unlink, write, raise, _exit), so the registry is a fixed array
// of path buffers, each published with an atomic state once fully written.
#include "ir/temp_files.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace qopt::ir {

namespace {

namespace fs = std::filesystem;

enum SlotState : int { kFree = 0, kFilling = 1, kReady = 2 };

struct Slot {
  std::atomic<int> state{kFree};
  char path[PATH_MAX];
};

Slot g_slots[kMaxTempFiles];
const char* g_program_name = "qopt";
int g_bus_error_exit_code = 1;

void RemoveRegistered() {
  for (Slot& slot : g_slots) {
    if (slot.state.load() == kReady) ::unlink(slot.path);
  }
}

void WriteStderr(const char* text) {
  size_t left = std::strlen(text);
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, text, left);
    if (n <= 0) return;
    text += n;
    left -= static_cast<size_t>(n);
  }
}

void OnTerminatingSignal(int signal_number) {
  RemoveRegistered();
  // Die of the same signal, so the parent sees how the run ended.
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void OnBusError(int) {
  RemoveRegistered();
  WriteStderr(g_program_name);
  WriteStderr(
      ": error: bus error on a memory-mapped file: an input model or external-data file was truncated or "
      "rewritten while it was being read\n");
  ::_exit(g_bus_error_exit_code);
}

std::string TempPrefix(const std::string& output) {
  return absl::StrCat(fs::path(output).filename().string(), ".qopt-");
}

}  // namespace

std::string TempFileTemplate(const std::string& output) {
  return absl::StrCat(output, ".qopt-", ::getpid(), ".tmp.XXXXXX");
}

void RegisterTempFile(const std::string& path) {
  if (path.size() >= PATH_MAX) return;
  for (Slot& slot : g_slots) {
    int expected = kFree;
    if (!slot.state.compare_exchange_strong(expected, kFilling)) continue;
    std::memcpy(slot.path, path.c_str(), path.size() + 1);
    slot.state.store(kReady);
    return;
  }
}

void UnregisterTempFile(const std::string& path) {
  for (Slot& slot : g_slots) {
    if (slot.state.load() == kReady && path == slot.path) {
      slot.state.store(kFree);
      return;
    }
  }
}

std::vector<std::string> RemoveStaleTempFiles(const std::string& output) {
  std::vector<std::string> removed;
  const fs::path folder = fs::absolute(fs::path(output)).parent_path();
  const std::string prefix = TempPrefix(output);
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, prefix)) continue;
    // "<output>.qopt-<pid>.tmp.XXXXXX"
    absl::string_view rest = absl::string_view(name).substr(prefix.size());
    const size_t dot = rest.find(".tmp.");
    int pid = 0;
    if (dot == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, dot), &pid) || pid <= 0) continue;
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // still running, or unknown
    if (fs::remove(entry.path(), ec)) removed.push_back(entry.path().string());
  }
  return removed;
}

void InstallFatalSignalCleanup(const char* program_name, int bus_error_exit_code) {
  g_program_name = program_name;
  g_bus_error_exit_code = bus_error_exit_code;
  struct sigaction action = {};
  sigemptyset(&action.sa_mask);
  action.sa_handler = OnTerminatingSignal;
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction previous = {};
    // A signal the parent set to be ignored (nohup) stays ignored.
    if (::sigaction(signal_number, nullptr, &previous) == 0 && previous.sa_handler == SIG_IGN) continue;
    ::sigaction(signal_number, &action, nullptr);
  }
  action.sa_handler = OnBusError;
  ::sigaction(SIGBUS, &action, nullptr);
  ::signal(SIGXFSZ, SIG_IGN);
}

}  // namespace qopt::ir
