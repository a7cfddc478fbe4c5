// keyledger-keys: offline key management for a keyledger data directory.
//
//   keyledger-keys rotate-master --data-dir DIR --new-master-key-file NEWF
//                                (--etcd-endpoints instead of --data-dir: refused, see --help)
//                                [--master-key-file F] [--actor NAME] [--reason TEXT]
//                                [--replace-dev-key]
//
// Opens the event log read-write (so it refuses while a server holds the directory), opens the
// keyring with the current master key and rotates it to the new one (events/secrets.hpp,
// FORMAT.md "Keyring"). Exit status (src/cli/exit_code.hpp): 0 done, 1 failed, 2 usage error.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/crypto.hpp"
#include "events/private_file.hpp"
#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"
#include "src/cli/command_line.hpp"
#include "src/cli/exit_code.hpp"
#include "tools/common/tool_support.hpp"

namespace {

using keyledger::ErrorCode;
using keyledger::LogLevel;
using keyledger::Status;
namespace events = keyledger::events;

using keyledger::cli::ExitCode;

constexpr std::string_view kRotateProgram = "keyledger-keys rotate-master";
using keyledger::cli::ToInt;

constexpr const char* kToolUsage =
    "usage: keyledger-keys <command> [options]\n"
    "\n"
    "Offline key management for a keyledger data directory. Stop keyledgerd first.\n"
    "Run 'keyledger-keys <command> --help' for the options of a command.\n";

constexpr const char* kExitStatus = "Exit status: 0 done, 1 failed, 2 usage error.\n";

void PrintError(const std::string& message) {
  std::fprintf(stderr, "keyledger-keys: %s\n", message.c_str());
}

int UsageError(std::string_view program, const std::string& message) {
  std::fputs(keyledger::cli::UsageErrorText(program, message).c_str(), stderr);
  return ToInt(ExitCode::kUsage);
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
    return UsageError(kRotateProgram, "--replace-dev-key applies only when the current key is " +
                                          dev_key_path +
                                          " (no --master-key-file and no KEYLEDGER_MASTER_KEY)");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(opt.data_dir, ec)) {
    PrintError(opt.data_dir + " is not a directory");
    return ToInt(ExitCode::kFailed);
  }
  if (uses_dev_key && !std::filesystem::exists(dev_key_path, ec)) {
    PrintError("no current master key: pass --master-key-file or set KEYLEDGER_MASTER_KEY (" +
               dev_key_path + " does not exist)");
    return ToInt(ExitCode::kFailed);
  }

  auto next = events::LoadMasterKey({opt.new_key_file, "", ""}, sink);
  if (!next.ok()) {
    PrintError("new master key: " + next.error().message);
    return ToInt(ExitCode::kFailed);
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
    return ToInt(ExitCode::kFailed);
  }
  if (keyledger::crypto::ConstantTimeEquals(current->bytes(), next->bytes())) {
    PrintError("the new master key is the same as the current one; generate a new one");
    return ToInt(ExitCode::kFailed);
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
    return ToInt(ExitCode::kFailed);
  }

  uint32_t from = 0;
  uint32_t to = 0;
  std::string event_payload;
  {
    auto keyring = events::Keyring::Open(**log, std::move(current).value(), sink);
    if (!keyring.ok()) {
      PrintError(keyring.error().message);
      keyledger::IgnoreError((*log)->Close());  // the refusal is what matters; nothing was written
      return ToInt(ExitCode::kFailed);
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
      return ToInt(ExitCode::kFailed);
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
    // A private file (0600 whatever the umask) replaced atomically: temporary file, fsync, rename,
    // directory fsync.
    Status replaced = events::WriteFileAtomically(dev_key_path, contents);
    keyledger::crypto::SecureWipe(contents);
    if (!replaced.ok()) {
      PrintError("the rotation is durable, but replacing " + dev_key_path +
                 " failed: " + replaced.error().message + ". It still holds the OLD key, which " +
                 "no longer opens the directory: copy the key from " + opt.new_key_file +
                 " into it (mode 0600)");
      return ToInt(ExitCode::kFailed);
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
  return ToInt(ExitCode::kOk);
}

int RunRotateMaster(const std::vector<std::string>& argv) {
  keyledger::cli::Command cmd{std::string(kRotateProgram)};
  cmd.Usage(
         "usage: keyledger-keys rotate-master --data-dir DIR --new-master-key-file NEWF\n"
         "                                    [--master-key-file F] [--actor NAME] "
         "[--reason TEXT]\n"
         "                                    [--replace-dev-key]\n"
         "\n"
         "Rewraps every data key and server key of DIR under the key in NEWF as the next KEK\n"
         "version, in one atomic append that also records a MasterKeyRotated event (no key\n"
         "material). Afterwards only the new key opens DIR; the old one can be destroyed, which\n"
         "also makes any residue of shredded keys useless (events/FORMAT.md). The server must be\n"
         "stopped: the directory is opened for writing.\n")
      .Epilogue(
          "Exit status: 0 rotated, 1 failed, 2 usage error.\n"
          "\n"
          "On etcd (--etcd-endpoints instead of --data-dir) rotate-master refuses (exit 1): the\n"
          "rewrap of a whole keyring may not fit one etcd transaction, and a safe rotation there\n"
          "(rewrap in chunks under the new KEK version, then switch with one transaction) is not\n"
          "built yet; nodes that keep running would also go on wrapping under the old key.\n");
  keyledger::tools::AddStoreOptions(cmd);
  cmd.Add({.name = "new-master-key-file",
           .value_name = "NEWF",
           .help = "the new master key: 32 raw bytes or their base64 text, e.g.\n"
                   "(umask 077; head -c 32 /dev/urandom | base64 > NEWF)",
           .required = true})
      .Add({.name = "master-key-file",
            .value_name = "F",
            .help = "the current master key (same formats). Default: the KEYLEDGER_MASTER_KEY "
                    "environment variable (base64), else DIR/master.key (the development key)"})
      .Add({.name = "actor",
            .value_name = "NAME",
            .help = "recorded as the event's actor",
            .default_value = "keyledger-keys"})
      .Add({.name = "reason",
            .value_name = "TEXT",
            .help = "recorded as the event's reason (optional)"})
      .Add({.name = "replace-dev-key",
            .kind = keyledger::cli::Option::Kind::kFlag,
            .help = "when the current key is DIR/master.key, replace that file with the new key "
                    "once the rotation is durable"});
  auto args = cmd.Parse(argv, keyledger::cli::NoEnv);
  if (!args.ok()) return UsageError(kRotateProgram, args.error().message);
  if (args->help()) {
    std::fputs(cmd.Help().c_str(), stdout);
    return ToInt(ExitCode::kOk);
  }
  auto target = keyledger::tools::StoreTargetFrom(*args);
  if (!target.ok()) return UsageError(kRotateProgram, target.error().message);
  if (target->on_etcd()) {
    PrintError(
        "rotate-master does not support an etcd log yet: rewrapping the whole keyring may not fit "
        "one etcd transaction, and a chunked rewrap followed by one switch is not built. "
        "Nothing was changed.");
    return ToInt(ExitCode::kFailed);
  }
  RotateOptions opt;
  opt.data_dir = target->data_dir;
  opt.new_key_file = args->Get("new-master-key-file").value_or("");
  opt.key_file = args->Get("master-key-file").value_or("");
  opt.actor = args->Get("actor").value_or("");
  opt.reason = args->Get("reason");
  opt.replace_dev_key = args->Has("replace-dev-key");
  if (opt.data_dir.empty()) return UsageError(kRotateProgram, "--data-dir must not be empty");
  if (opt.new_key_file.empty()) {
    return UsageError(kRotateProgram, "--new-master-key-file must not be empty");
  }
  if (opt.actor.empty()) return UsageError(kRotateProgram, "--actor must not be empty");
  return RotateMaster(opt);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<keyledger::cli::Subcommand> subcommands = {
      {"rotate-master", "rewrap every data key under a new master key", RunRotateMaster},
  };
  return keyledger::cli::RunSubcommands("keyledger-keys", kToolUsage, kExitStatus, subcommands,
                                        std::vector<std::string>(argv + 1, argv + argc), std::cout,
                                        std::cerr);
}
