#include "tests/e2e/daemon.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace keyledger::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// The environment of the test, without KEYLEDGER_* variables (a developer's KEYLEDGER_DATA_DIR
// must not redirect the daemon). ASAN_OPTIONS and friends pass through.
std::vector<std::string> ChildEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.starts_with("KEYLEDGER_")) continue;
    env.emplace_back(entry);
  }
  return env;
}

// posix_spawn with stdin from /dev/null and stdout/stderr into files. Returns the pid or -1.
pid_t Spawn(const std::vector<std::string>& args, const std::string& out_path,
            const std::string& err_path, const SpawnOptions& options, std::string& error) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t mask;
  sigemptyset(&mask);
  if (options.block_sigxfsz) sigaddset(&mask, SIGXFSZ);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGXFSZ);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> argv_storage = args;
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = ChildEnvironment();
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0].c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    error = "cannot run " + args[0] + ": " + std::strerror(rc);
    return -1;
  }
  return pid;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for `pid` until `deadline`; the exit code, or -2 if it is still running.
int WaitUntil(pid_t pid, Clock::time_point deadline) {
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return DecodeStatus(status);
    if (r < 0 && errno != EINTR) return -1;
    if (Clock::now() >= deadline) return -2;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

std::string KeyledgerdPath() { return KEYLEDGERD_BIN; }
std::string AuditToolPath() { return KEYLEDGER_AUDIT_BIN; }

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& scratch_dir,
                         std::chrono::seconds timeout) {
  static std::atomic<int> counter{0};  // distinct capture files, also across threads
  const std::string base = scratch_dir + "/run-" + std::to_string(++counter);
  ProcessResult r;
  std::string error;
  const pid_t pid = Spawn(argv, base + ".out", base + ".err", {}, error);
  if (pid < 0) {
    r.err = error;
    return r;
  }
  int code = WaitUntil(pid, Clock::now() + timeout);
  if (code == -2) {
    ::kill(pid, SIGKILL);
    code = WaitUntil(pid, Clock::now() + std::chrono::seconds(30));
    r.err = "timed out; ";
  }
  r.exit_code = code;
  r.out = ReadWholeFile(base + ".out");
  r.err += ReadWholeFile(base + ".err");
  return r;
}

Daemon::Daemon(std::string data_dir, std::string log_dir)
    : data_dir_(std::move(data_dir)), log_dir_(std::move(log_dir)) {}

Daemon::~Daemon() {
  if (running()) Kill();
}

std::string Daemon::OutPath(int n) const {
  return log_dir_ + "/keyledgerd-" + std::to_string(n) + ".out";
}
std::string Daemon::ErrPath(int n) const {
  return log_dir_ + "/keyledgerd-" + std::to_string(n) + ".err";
}

bool Daemon::Start(const std::vector<std::string>& extra_args, SpawnOptions options) {
  error_.clear();
  if (running()) {
    error_ = "already running";
    return false;
  }
  const int n = ++starts_;
  std::vector<std::string> args = {KeyledgerdPath(), "--data-dir", data_dir_, "--listen",
                                   "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = Spawn(args, OutPath(n), ErrPath(n), options, error_);
  if (pid_ < 0) return false;

  // The ready line: {"ts":...,"level":"info","msg":"keyledgerd ready","url":"http://127.0.0.1:N",
  // ...}. Recovery (and ASan) can take a while on a slow machine, hence the generous bound.
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  constexpr std::string_view kReady = R"("msg":"keyledgerd ready")";
  constexpr std::string_view kUrl = R"(://127.0.0.1:)";
  while (true) {
    const std::string err = ReadWholeFile(ErrPath(n));
    const size_t ready = err.find(kReady);
    if (ready != std::string::npos) {
      const size_t line_end = err.find('\n', ready);
      if (line_end != std::string::npos) {
        const size_t url = err.find(R"("url":")", ready);
        const size_t at = err.find(kUrl, ready);
        if (url == std::string::npos || at == std::string::npos || at > line_end) {
          error_ = "ready line without a url: " + err.substr(ready, line_end - ready);
          Kill();
          return false;
        }
        const size_t digits = at + kUrl.size();
        const size_t end = err.find('"', digits);
        url_ = err.substr(url + 7, end - url - 7);  // http://... or https://...
        port_ = static_cast<uint16_t>(std::stoi(err.substr(digits, end - digits)));
        return true;
      }
    }
    const int code = WaitUntil(pid_, Clock::now());
    if (code != -2) {
      pid_ = -1;
      error_ = "keyledgerd exited with " + std::to_string(code) + " before it was ready: " + err;
      return false;
    }
    if (Clock::now() >= deadline) {
      error_ = "keyledgerd was not ready in time: " + err;
      Kill();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int Daemon::Reap(Clock::time_point deadline) {
  const int code = WaitUntil(pid_, deadline);
  if (code == -2) return -2;
  pid_ = -1;
  return code;
}

int Daemon::Stop(int sig, std::chrono::seconds timeout) {
  if (!running()) return -1;
  ::kill(pid_, sig);
  const int code = Reap(Clock::now() + timeout);
  if (code != -2) return code;
  Kill();
  return -1;
}

void Daemon::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  Reap(Clock::now() + std::chrono::seconds(60));
  pid_ = -1;
}

bool Daemon::Signal(int sig) const { return running() && ::kill(pid_, sig) == 0; }

bool Daemon::LimitFileSize(uint64_t bytes) const {
  if (!running()) return false;
  rlimit limit{};
  limit.rlim_cur = bytes;
  limit.rlim_max = bytes;
  return ::prlimit(pid_, RLIMIT_FSIZE, &limit, nullptr) == 0;
}

std::string Daemon::AllStdout() const {
  std::string out;
  for (int n = 1; n <= starts_; ++n) out += ReadWholeFile(OutPath(n));
  return out;
}

std::string Daemon::AllStderr() const {
  std::string out;
  for (int n = 1; n <= starts_; ++n) out += ReadWholeFile(ErrPath(n));
  return out;
}

std::string Daemon::CurrentStderr() const {
  return starts_ > 0 ? ReadWholeFile(ErrPath(starts_)) : std::string();
}

std::string Daemon::InitialToken() const {
  const std::string out = starts_ > 0 ? ReadWholeFile(OutPath(1)) : std::string();
  for (size_t at = out.find("kl_"); at != std::string::npos; at = out.find("kl_", at + 1)) {
    size_t end = at + 3;
    while (end < out.size() && std::isalnum(static_cast<unsigned char>(out[end]))) ++end;
    if (end - at == 43) return out.substr(at, 43);
  }
  return "";
}

}  // namespace keyledger::e2e
