// keyledger-keys: offline key management for a keyledger data directory.
//
//   keyledger-keys rotate-master --data-dir DIR --new-master-key-file NEWF
//                                [--master-key-file F] [--actor NAME] [--reason TEXT]
//                                [--replace-dev-key]
//
// Opens the event log read-write (so it refuses while a server holds the directory), opens the
// keyring with the current master key and rotates it to the new one (events/secrets.hpp,
// FORMAT.md "Keyring"). Exit status: 0 done, 1 failed, 2 usage error.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/crypto.hpp"
#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"

namespace {

using keyledger::ErrorCode;
using keyledger::LogLevel;
using keyledger::Status;
namespace events = keyledger::events;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr const char* kToolUsage =
    "usage: keyledger-keys <command> [options]\n"
    "\n"
    "Offline key management for a keyledger data directory. Stop keyledgerd first.\n"
    "\n"
    "commands:\n"
    "  rotate-master   rewrap every data key under a new master key\n"
    "\n"
    "Run 'keyledger-keys <command> --help' for the options of a command.\n";

constexpr const char* kRotateUsage =
    "usage: keyledger-keys rotate-master --data-dir DIR --new-master-key-file NEWF\n"
    "                                    [--master-key-file F] [--actor NAME] [--reason TEXT]\n"
    "                                    [--replace-dev-key]\n"
    "\n"
    "Rewraps every data key and server key of DIR under the key in NEWF as the next KEK\n"
    "version, in one atomic append that also records a MasterKeyRotated event (no key\n"
    "material). Afterwards only the new key opens DIR; the old one can be destroyed, which\n"
    "also makes any residue of shredded keys useless (events/FORMAT.md). The server must be\n"
    "stopped: the directory is opened for writing.\n"
    "\n"
    "  --data-dir DIR              the keyledger data directory (required)\n"
    "  --new-master-key-file NEWF  the new master key: 32 raw bytes or their base64 text, e.g.\n"
    "                              (umask 077; head -c 32 /dev/urandom | base64 > NEWF)\n"
    "  --master-key-file F         the current master key (same formats). Default: the\n"
    "                              KEYLEDGER_MASTER_KEY environment variable (base64), else\n"
    "                              DIR/master.key (the development key)\n"
    "  --actor NAME                recorded as the event's actor (default: keyledger-keys)\n"
    "  --reason TEXT               recorded as the event's reason (optional)\n"
    "  --replace-dev-key           when the current key is DIR/master.key, replace that file\n"
    "                              with the new key once the rotation is durable\n"
    "  -h, --help                  this text\n"
    "\n"
    "Exit status: 0 rotated, 1 failed, 2 usage error.\n";

void PrintError(const std::string& message) {
  std::fprintf(stderr, "keyledger-keys: %s\n", message.c_str());
}

int UsageError(const std::string& message, const char* usage) {
  PrintError(message);
  std::fprintf(stderr, "\n%s", usage);
  return kExitUsage;
}

// Library warnings (e.g. a key file others can read) go to stderr. Never key material: the
// library only passes redacted text to sinks.
keyledger::LogSink StderrSink() {
  return [](LogLevel level, std::string_view message) {
    if (level == LogLevel::kDebug) return;
    const char* tag = level == LogLevel::kError     ? "error"
                      : level == LogLevel::kWarning ? "warning"
                                                    : "note";
    std::fprintf(stderr, "keyledger-keys: %s: %.*s\n", tag, static_cast<int>(message.size()),
                 message.data());
  };
}

std::string ErrnoText() { return std::strerror(errno); }

// Replaces `path` with `contents` atomically: a private temporary file next to it, fsynced,
// renamed over it, and the directory fsynced.
Status ReplaceFileAtomically(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".new";
  ::unlink(tmp.c_str());  // a leftover of an interrupted earlier attempt
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return keyledger::MakeError(ErrorCode::kIoError, "cannot create " + tmp + ": " + ErrnoText());
  }
  auto fail = [&](const std::string& what) -> Status {
    std::string err = ErrnoText();
    ::close(fd);
    ::unlink(tmp.c_str());
    return keyledger::MakeError(ErrorCode::kIoError, what + " " + tmp + ": " + err);
  };
  if (::fchmod(fd, 0600) != 0) return fail("cannot chmod");
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot fsync");
  if (::close(fd) != 0) {
    std::string err = ErrnoText();
    ::unlink(tmp.c_str());
    return keyledger::MakeError(ErrorCode::kIoError, "cannot close " + tmp + ": " + err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = ErrnoText();
    ::unlink(tmp.c_str());
    return keyledger::MakeError(ErrorCode::kIoError, "cannot rename " + tmp + ": " + err);
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) {
    std::string err = ErrnoText();
    if (dfd >= 0) ::close(dfd);
    return keyledger::MakeError(ErrorCode::kIoError, "cannot fsync " + dir + ": " + err);
  }
  ::close(dfd);
  return Status::Ok();
}

struct RotateOptions {
  std::string data_dir;
  std::string new_key_file;
  std::string key_file;
  std::string actor = "keyledger-keys";
  std::optional<std::string> reason;
  bool replace_dev_key = false;
};

int RotateMaster(const RotateOptions& opt) {
  const keyledger::LogSink sink = StderrSink();
  const char* env = std::getenv("KEYLEDGER_MASTER_KEY");
  const std::string env_key = env != nullptr ? env : "";
  const std::string dev_key_path = (std::filesystem::path(opt.data_dir) / "master.key").string();
  const bool uses_dev_key = opt.key_file.empty() && env_key.empty();

  if (opt.replace_dev_key && !uses_dev_key) {
    return UsageError("--replace-dev-key applies only when the current key is " + dev_key_path +
                          " (no --master-key-file and no KEYLEDGER_MASTER_KEY)",
                      kRotateUsage);
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(opt.data_dir, ec)) {
    PrintError(opt.data_dir + " is not a directory");
    return kExitFailed;
  }
  if (uses_dev_key && !std::filesystem::exists(dev_key_path, ec)) {
    PrintError("no current master key: pass --master-key-file or set KEYLEDGER_MASTER_KEY (" +
               dev_key_path + " does not exist)");
    return kExitFailed;
  }

  auto next = events::LoadMasterKey({opt.new_key_file, "", ""}, sink);
  if (!next.ok()) {
    PrintError("new master key: " + next.error().message);
    return kExitFailed;
  }
  // Kept until the new key is installed as master.key; wiped on every path out.
  std::string next_text = keyledger::crypto::Base64Encode(next->bytes());
  struct Wipe {
    std::string& s;
    ~Wipe() { keyledger::crypto::SecureWipe(s); }
  } wipe_next_text{next_text};

  auto current = events::LoadMasterKey({opt.key_file, env_key, opt.data_dir}, sink);
  if (!current.ok()) {
    PrintError("current master key: " + current.error().message);
    return kExitFailed;
  }
  if (keyledger::crypto::ConstantTimeEquals(current->bytes(), next->bytes())) {
    PrintError("the new master key is the same as the current one; generate a new one");
    return kExitFailed;
  }

  events::RocksEventLog::Options log_options;
  log_options.create_if_missing = false;
  log_options.log = sink;
  auto log = events::RocksEventLog::Open(opt.data_dir, log_options);
  if (!log.ok()) {
    if (log.error().code == ErrorCode::kUnavailable) {
      PrintError(log.error().message + "; stop the server, then run this again");
    } else {
      PrintError("cannot open the event log: " + log.error().message);
    }
    return kExitFailed;
  }

  uint32_t from = 0;
  uint32_t to = 0;
  std::string event_payload;
  {
    auto keyring = events::Keyring::Open(**log, std::move(current).value(), sink);
    if (!keyring.ok()) {
      PrintError(keyring.error().message);
      keyledger::IgnoreError((*log)->Close());  // the refusal is what matters; nothing was written
      return kExitFailed;
    }
    from = (*keyring)->kek_version();
    keyledger::events::EventMetadata metadata;
    metadata.actor = opt.actor;
    metadata.request_id = keyledger::crypto::RandomUuid();
    metadata.reason = opt.reason;
    Status rotated = (*keyring)->RotateMaster(std::move(next).value(), metadata);
    if (!rotated.ok()) {
      PrintError(rotated.error().message);
      keyledger::IgnoreError((*log)->Close());
      return kExitFailed;
    }
    to = (*keyring)->kek_version();
    auto events_read = (*log)->ReadStream("keyring", to - 1, 1);
    if (events_read.ok() && !events_read->empty()) event_payload = events_read->front().payload;
  }
  Status closed = (*log)->Close();
  if (!closed.ok()) {
    // The rotation was acknowledged as durable before; a close error does not undo it.
    PrintError("warning: closing the event log failed after the rotation: " +
               closed.error().message);
  }
  std::printf("rotated the master key of %s: KEK version %u -> %u\n", opt.data_dir.c_str(), from,
              to);
  if (!event_payload.empty()) std::printf("recorded MasterKeyRotated %s\n", event_payload.c_str());

  if (opt.replace_dev_key) {
    std::string contents;
    contents.reserve(next_text.size() + 1);  // no reallocation leaves an unwiped copy behind
    contents += next_text;
    contents += '\n';
    Status replaced = ReplaceFileAtomically(dev_key_path, contents);
    keyledger::crypto::SecureWipe(contents);
    if (!replaced.ok()) {
      PrintError("the rotation is durable, but replacing " + dev_key_path +
                 " failed: " + replaced.error().message + ". It still holds the OLD key, which " +
                 "no longer opens the directory: copy the key from " + opt.new_key_file +
                 " into it (mode 0600)");
      return kExitFailed;
    }
    std::printf("replaced %s with the new key\n", dev_key_path.c_str());
  } else if (uses_dev_key) {
    std::fprintf(stderr,
                 "keyledger-keys: warning: %s still holds the OLD master key, which no longer "
                 "opens this directory. Start keyledgerd with --master-key-file %s, or replace "
                 "%s with that key (mode 0600).\n",
                 dev_key_path.c_str(), opt.new_key_file.c_str(), dev_key_path.c_str());
  }
  std::printf("new KEK version: %u\n", to);
  std::printf("only the new key opens %s now; the old master key can be destroyed\n",
              opt.data_dir.c_str());
  return kExitOk;
}

int RunRotateMaster(const std::vector<std::string>& args) {
  RotateOptions opt;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string& out) -> bool {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kRotateUsage, stdout);
      return kExitOk;
    }
    bool ok = true;
    if (arg == "--data-dir") {
      ok = value(opt.data_dir);
    } else if (arg == "--new-master-key-file") {
      ok = value(opt.new_key_file);
    } else if (arg == "--master-key-file") {
      ok = value(opt.key_file);
    } else if (arg == "--actor") {
      ok = value(opt.actor);
    } else if (arg == "--reason") {
      std::string reason;
      ok = value(reason);
      opt.reason = reason;
    } else if (arg == "--replace-dev-key") {
      opt.replace_dev_key = true;
    } else {
      return UsageError("unknown option " + arg, kRotateUsage);
    }
    if (!ok) return UsageError(arg + " needs a value", kRotateUsage);
  }
  if (opt.data_dir.empty()) return UsageError("--data-dir is required", kRotateUsage);
  if (opt.new_key_file.empty()) {
    return UsageError("--new-master-key-file is required", kRotateUsage);
  }
  if (opt.actor.empty()) return UsageError("--actor must not be empty", kRotateUsage);
  return RotateMaster(opt);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return UsageError("a command is required", kToolUsage);
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kToolUsage, stdout);
    return kExitOk;
  }
  if (command == "rotate-master") return RunRotateMaster(args);
  return UsageError("unknown command " + command, kToolUsage);
}
