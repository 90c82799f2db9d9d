// Temporary output files that must not outlive the process: the files
// SaveModel writes before renaming them into place. A signal that ends the
// process (SIGINT, SIGTERM, SIGHUP) removes them first, as LLVM's
// sys::RemoveFileOnSignal does; after SIGKILL, which no handler sees, the
// next save to the same output removes what the killed run left.
#pragma once

#include <string>
#include <vector>

namespace qopt::ir {

// The temporary name for `output` that this process uses:
// "<output>.qopt-<pid>.tmp.XXXXXX" (mkstemp template). The pid lets a later
// run tell a file of a dead process from one of a run still writing.
std::string TempFileTemplate(const std::string& output);

// Registers / unregisters a temporary file for removal on a fatal signal.
// At most kMaxTempFiles at once (a save writes two: model and data);
// beyond that a file is simply not covered.
inline constexpr int kMaxTempFiles = 8;
void RegisterTempFile(const std::string& path);
void UnregisterTempFile(const std::string& path);

// Removes the temporary files that earlier runs, killed while writing
// `output`, left beside it (their pid no longer runs). Returns their names.
std::vector<std::string> RemoveStaleTempFiles(const std::string& output);

// For command-line tools (a library embedding qopt keeps its own handlers):
// on SIGINT, SIGTERM and SIGHUP removes the registered files and dies of the
// signal; on SIGBUS, which a memory-mapped input raises when another process
// truncates it while qopt reads it, also removes them and exits with
// `bus_error_exit_code` after a one-line message; ignores SIGXFSZ, so that a
// file-size limit (ulimit -f) fails the write with EFBIG and the normal
// error path runs. `program_name` must outlive the process (a literal).
void InstallFatalSignalCleanup(const char* program_name, int bus_error_exit_code);

}  // namespace qopt::ir
