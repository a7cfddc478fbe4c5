#pragma once
// The real keyledgerd as a child process, for end-to-end tests: started on 127.0.0.1:0 over a
// data directory, its port read from the "keyledgerd ready" log line, stdout and stderr captured
// in files (one pair per start) so tests can read the first-start token and check the logs.
// Every wait is bounded; a daemon still running when its Daemon is destroyed is SIGKILLed.
//
// Not thread-safe: one test thread drives a Daemon (other threads may only read port()).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace keyledger::e2e {

// Paths of the binaries under test (compile definitions set by tests/e2e/CMakeLists.txt).
std::string KeyledgerdPath();
std::string AuditToolPath();

struct SpawnOptions {
  // Block SIGXFSZ in the child, so that a file-size limit set with LimitFileSize() makes writes
  // fail with EFBIG instead of killing the process.
  bool block_sigxfsz = false;
};

struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128 + signal number
  std::string out;
  std::string err;
};

// Runs a command to completion (bounded: SIGKILL after `timeout`), output captured.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& scratch_dir,
                         std::chrono::seconds timeout = std::chrono::seconds(120));

class Daemon {
 public:
  // `data_dir` is passed as --data-dir; the captured output of each start goes to
  // `log_dir`/keyledgerd-<n>.{out,err}. Both directories must exist.
  Daemon(std::string data_dir, std::string log_dir);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts `keyledgerd --data-dir D --listen 127.0.0.1:0 <extra_args>` and waits (bounded) for
  // the ready line. Returns false, with the reason in error(), if the process exits or does not
  // become ready in time (it is then killed).
  bool Start(const std::vector<std::string>& extra_args = {}, SpawnOptions options = {});
  // Sends `sig` and waits (bounded) for the exit. Returns the exit code (128 + signal number if
  // a signal ended it); on timeout the process is SIGKILLed and -1 returned.
  int Stop(int sig, std::chrono::seconds timeout = std::chrono::seconds(120));
  // SIGKILL and reap.
  void Kill();
  bool Signal(int sig) const;
  // Sets RLIMIT_FSIZE of the running process (prlimit). False on failure.
  bool LimitFileSize(uint64_t bytes) const;

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& url() const { return url_; }
  const std::string& error() const { return error_; }
  const std::string& data_dir() const { return data_dir_; }
  int starts() const { return starts_; }

  // Everything the process wrote so far, over all starts.
  std::string AllStdout() const;
  std::string AllStderr() const;
  // What the current (or last) start wrote to stderr.
  std::string CurrentStderr() const;
  // The admin token printed on stdout by the first start ("kl_" + 40 characters), or "".
  std::string InitialToken() const;

 private:
  std::string OutPath(int n) const;
  std::string ErrPath(int n) const;
  int Reap(std::chrono::steady_clock::time_point deadline);

  std::string data_dir_;
  std::string log_dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string url_;
  std::string error_;
  int starts_ = 0;
};

std::string ReadWholeFile(const std::string& path);

}  // namespace keyledger::e2e
