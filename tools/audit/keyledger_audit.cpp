// keyledger-audit: audit replay over a keyledger data directory, offline or next to a running
// server (read-only, or as a RocksDB secondary instance while keyledgerd holds the directory).
//
//   keyledger-audit verify | log | history | state | export | import  [options]
//
// Exit status (src/cli/exit_code.hpp): 0 ok, 1 a check said no (broken chain, checkpoint
// mismatch, unknown key), 2 usage error, 3 could not run (missing or foreign directory, I/O).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "events/crypto.hpp"
#include "events/time_format.hpp"
#include "projections/audit.hpp"
#include "projections/snapshot.hpp"
#include "projections/views.hpp"
#include "tools/audit/audit_commands.hpp"
#include "tools/common/tool_support.hpp"

namespace keyledger::tools::audit {
namespace {

constexpr const char* kToolUsage =
    "usage: keyledger-audit <command> (--data-dir DIR | --etcd-endpoints URL,...) [options]\n"
    "\n"
    "Audit replay over a keyledger data directory or an etcd log. Read-only (import excepted);\n"
    "works while keyledgerd runs (on RocksDB as a secondary instance; on etcd it reads etcd\n"
    "directly and needs no running keyledgerd).\n"
    "\n"
    "Every command takes --data-dir DIR (default: $KEYLEDGER_DATA_DIR) or, for a log on etcd,\n"
    "--etcd-endpoints URL,... with --etcd-prefix (default /keyledger/default), --etcd-cacert,\n"
    "--etcd-cert, --etcd-key, --etcd-user, --etcd-password-file (each also KEYLEDGER_ETCD_*),\n"
    "and --help.\n";

constexpr const char* kToolExitStatus =
    "Exit status: 0 ok, 1 a check failed, 2 usage error, 3 could not run.\n";

cli::Command VerifyCommand() {
  cli::Command cmd("keyledger-audit verify");
  cmd.Usage(
         "usage: keyledger-audit verify --data-dir DIR [--from N] [--to M] [--checkpoint FILE]\n"
         "                              [--master-key-file F] [--require-signature]\n"
         "                              [--format text|json]\n"
         "\n"
         "Recomputes the hash chain over records N..M (default: all) and prints the head "
         "sequence\n"
         "and hash. Checks, in order: contiguous sequences, each record's sequence against its "
         "key,\n"
         "the previous-hash link, the recomputed hash, and records missing before the head that "
         "the\n"
         "log's metadata records (a truncated tail).\n")
      .Epilogue(
          "Exit status: 0 the chain (and checkpoint) hold, 1 they do not (the first bad sequence "
          "and\n"
          "why are printed), 2 usage error, 3 could not run.\n");
  AddStoreOptions(cmd);
  cmd.Add({.name = "from", .value_name = "N", .help = "first record to check (default 1)"})
      .Add({.name = "to", .value_name = "M", .help = "last record to check (default: the head)"})
      .Add({.name = "checkpoint",
            .value_name = "FILE",
            .help = "a checkpoint as returned by GET /api/admin/audit/checkpoint, "
                    "{\"sequence\",\"hash\",\"time\",\"signature\"}: checks that the log holds "
                    "that record with that hash, which catches a log truncated or rewritten "
                    "consistently after the checkpoint"})
      .Add({.name = "master-key-file",
            .value_name = "F",
            .help = "to check the checkpoint's signature (HMAC under the keyring's checkpoint "
                    "key). Default: KEYLEDGER_MASTER_KEY, else DIR/master.key if present; "
                    "without a key the signature is reported as not checked. The keyring is "
                    "read, never written: a directory whose keyring was never initialized has no "
                    "key"})
      .Add({.name = "require-signature",
            .kind = cli::Option::Kind::kFlag,
            .help = "fail (exit 1) when the signature could not be checked"})
      .Add({.name = "format",
            .value_name = "FORMAT",
            .help = "text, or json: one JSON object",
            .default_value = "text",
            .choices = {"text", "json"}})
      .Add({.name = "color",
            .value_name = "WHEN",
            .help = "colours in the text: auto (on a terminal), always or never",
            .default_value = "auto",
            .choices = {"auto", "always", "never"}});
  return cmd;
}

cli::Command StateCommand() {
  cli::Command cmd("keyledger-audit state");
  cmd.Usage(
         "usage: keyledger-audit state --data-dir DIR (--as-of-seq N | --as-of TIME)\n"
         "                             [--view keys|grouped|providers] [--provider ID]\n"
         "                             [--skip N] [--limit N] [--use-snapshots] [--compact]\n"
         "\n"
         "The projection as it was right after sequence N (or the last event at or before "
         "TIME),\n"
         "printed in the JSON shapes the API serves for the same as_of_seq / as_of request:\n"
         "  keys       GET /api/admin/endpoints/providers/{ID}/keys (needs --provider; the "
         "default\n"
         "             view when --provider is given); --skip/--limit as the API (default "
         "0/100)\n"
         "  grouped    GET /api/admin/endpoints/keys/grouped-by-format\n"
         "  providers  the provider summaries, or one provider's with --provider (the default\n"
         "             view without --provider)\n")
      .Epilogue(
          "Exit status: 0 printed, 1 the provider did not exist then, 2 usage error, 3 could not "
          "run.\n");
  AddStoreOptions(cmd);
  cmd.Add({.name = "as-of-seq", .value_name = "N", .help = "a log position (clamped to the head)"})
      .Add({.name = "as-of",
            .value_name = "TIME",
            .help = "RFC 3339 (2026-01-13T05:00:00Z) or microseconds since the epoch"})
      .Add({.name = "view",
            .value_name = "VIEW",
            .help = "keys, grouped or providers (see above)",
            .choices = {"keys", "grouped", "providers"}})
      .Add({.name = "provider", .value_name = "ID", .help = "the provider of the keys view"})
      .Add({.name = "skip", .value_name = "N", .help = "keys to skip", .default_value = "0"})
      .Add({.name = "limit", .value_name = "N", .help = "keys to list", .default_value = "100"})
      .Add({.name = "use-snapshots",
            .kind = cli::Option::Kind::kFlag,
            .help = "start from the newest valid snapshot at or before N (faster); by default "
                    "the state is replayed from the hash-chained log alone"})
      .Add({.name = "compact",
            .kind = cli::Option::Kind::kFlag,
            .help = "compact JSON even on a terminal (default: indented on a terminal)"});
  return cmd;
}

// Parses `argv` for `cmd` (the environment included). Returns the exit code when the command ends
// here (help or a usage error), nullopt to go on.
std::optional<int> ParseOrExit(const cli::Command& cmd, const std::vector<std::string>& argv,
                               cli::Args* args) {
  auto parsed = cmd.Parse(argv, cli::SystemEnv);
  if (!parsed.ok()) {
    std::fputs(cli::UsageErrorText(cmd.program(), parsed.error().message).c_str(), stderr);
    return kExitUsage;
  }
  if (parsed->help()) {
    std::fputs(cmd.Help().c_str(), stdout);
    return kExitOk;
  }
  *args = std::move(parsed).value();
  return std::nullopt;
}

// "keyledger-audit log" from "usage: keyledger-audit log --data-dir DIR ...": the lower-case words
// after "usage:", which name the command.
std::string ProgramOf(std::string_view usage) {
  std::string program = "keyledger-audit";
  if (!usage.starts_with("usage: ")) return program;
  usage.remove_prefix(7);
  usage = usage.substr(0, usage.find('\n'));
  std::string out;
  while (!usage.empty()) {
    const size_t space = usage.find(' ');
    const std::string_view word = usage.substr(0, space);
    const bool is_name = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || c == '-';
    }) && word.front() != '-';
    if (!is_name) break;
    out += (out.empty() ? "" : " ") + std::string(word);
    if (space == std::string_view::npos) break;
    usage.remove_prefix(space + 1);
  }
  return out.empty() ? program : out;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Hex(const events::Hash& h) { return crypto::HexEncode(crypto::AsBytes(h)); }

}  // namespace

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "keyledger-audit: %s\n", message.c_str());
  return code;
}

int UsageError(const std::string& message, const char* usage) {
  std::fputs(cli::UsageErrorText(ProgramOf(usage), message).c_str(), stderr);
  return kExitUsage;
}

// A usage error of one of the subcommands declared with cli::Command.
int CommandUsageError(const cli::Command& cmd, const std::string& message) {
  std::fputs(cli::UsageErrorText(cmd.program(), message).c_str(), stderr);
  return kExitUsage;
}

int RunVerify(const std::vector<std::string>& argv) {
  const cli::Command cmd = VerifyCommand();
  cli::Args parsed_args;
  if (auto code = ParseOrExit(cmd, argv, &parsed_args)) return *code;
  const cli::Args* args = &parsed_args;
  auto usage_error = [&](const std::string& message) { return CommandUsageError(cmd, message); };
  auto target = StoreTargetFrom(*args);
  if (!target.ok()) return usage_error(target.error().message);
  uint64_t from = 1, to = UINT64_MAX;
  if (args->Has("--from")) {
    auto n = args->GetUint("--from");
    if (!n.ok()) return usage_error(n.error().message);
    from = std::max<uint64_t>(*n, 1);
  }
  if (args->Has("--to")) {
    auto n = args->GetUint("--to");
    if (!n.ok()) return usage_error(n.error().message);
    to = *n;
  }
  const std::string format = args->Get("--format").value_or("text");
  std::optional<projections::Checkpoint> checkpoint;
  if (auto file = args->Get("--checkpoint")) {
    auto text = ReadWholeFile(*file);
    if (!text.ok()) return Fail(kExitError, text.error().message);
    auto parsed = projections::ParseCheckpointJson(*text);
    if (!parsed.ok()) return Fail(kExitError, *file + ": " + parsed.error().message);
    checkpoint = std::move(parsed).value();
  }

  const LogSink sink = StderrSink("keyledger-audit");
  auto opened = OpenTarget(*target, Access::kRead, /*check_head=*/false, sink);
  if (!opened.ok()) return Fail(kExitError, opened.error().message);
  events::EventLog& log = (*opened)->log();
  auto report = log.Verify(from, to);
  for (int retry = 0; report.ok() && !report->ok && (*opened)->secondary() && retry < 3; ++retry) {
    // Next to a running server a real break persists, while a view caught mid-flush does not
    // (events/rocks_event_log.cpp, SettleSecondary): look again before reporting one.
    if (!(*opened)->CatchUp().ok()) break;
    report = log.Verify(from, to);
  }
  if (!report.ok()) return Fail(kExitError, "cannot verify: " + report.error().message);
  const events::Head head = log.GetHead();

  projections::CheckpointVerdict verdict;
  std::string signature_note;
  if (checkpoint) {
    std::unique_ptr<events::Keyring> keyring;
    // On etcd there is no directory holding a development key: the file or the variable.
    auto key = LoadExistingMasterKey(args->Get("--master-key-file").value_or(""),
                                     target->on_etcd() ? std::string() : target->data_dir, sink);
    if (!key.ok()) return Fail(kExitError, "master key: " + key.error().message);
    auto meta = log.GetAux(events::AuxSpace::kKeyring, "meta/kek");
    if (!meta.ok()) return Fail(kExitError, meta.error().message);
    if (!key->has_value()) {
      signature_note = "no master key (pass --master-key-file or set KEYLEDGER_MASTER_KEY)";
    } else if (!meta->has_value()) {
      // Keyring::Open would initialize an empty keyring, i.e. write; there is no key to check.
      signature_note = "the directory's keyring was never initialized";
    } else {
      auto opened_keyring = events::Keyring::Open(log, std::move(**key), sink);
      if (!opened_keyring.ok()) return Fail(kExitError, opened_keyring.error().message);
      keyring = std::move(opened_keyring).value();
    }
    auto checked = projections::VerifyCheckpoint(log, *checkpoint, keyring.get());
    if (!checked.ok())
      return Fail(kExitError, "cannot check the checkpoint: " + checked.error().message);
    verdict = *checked;
  }
  const bool signature_missing =
      checkpoint && verdict.ok && !verdict.signature_checked && args->Has("--require-signature");
  const bool ok = report->ok && (!checkpoint || verdict.ok) && !signature_missing;

  if (format == "json") {
    json::Writer w;
    w.BeginObject().Member("ok", ok).Member("chain_ok", report->ok);
    w.Member("from", from).Member("checked", report->checked);
    w.Key("first_bad");
    report->ok ? w.Null() : w.Uint(report->first_bad);
    w.Key("reason");
    report->ok ? w.Null() : w.String(report->reason);
    w.Key("head").BeginObject().Member("sequence", head.sequence).Member("hash", Hex(head.hash));
    w.Member("time", events::FormatTimestampZ(head.time_us)).EndObject();
    if (checkpoint) {
      w.Key("checkpoint").BeginObject();
      w.Member("sequence", checkpoint->sequence).Member("hash", checkpoint->hash);
      w.Member("ok", verdict.ok).Member("signature_checked", verdict.signature_checked);
      w.Key("reason");
      verdict.ok ? w.Null() : w.String(verdict.reason);
      w.EndObject();
    }
    w.EndObject();
    std::printf("%s\n", w.str().c_str());
  } else {
    auto style = StyleFor(*args, stdout);
    const Style s = style.ok() ? *style : Style(false);
    if (report->ok) {
      std::printf("%s: records %llu..%llu (%s checked)\n", s.Green("chain holds").c_str(),
                  static_cast<unsigned long long>(from),
                  static_cast<unsigned long long>(report->last_sequence),
                  FormatCount(report->checked).c_str());
    } else {
      std::printf("%s at sequence %llu: %s\n", s.Red("chain BROKEN").c_str(),
                  static_cast<unsigned long long>(report->first_bad), report->reason.c_str());
      std::printf("records before it verified: %s\n", FormatCount(report->checked).c_str());
    }
    std::printf("head: sequence %llu, hash %s, time %s\n",
                static_cast<unsigned long long>(head.sequence), Hex(head.hash).c_str(),
                events::FormatTimestampZ(head.time_us).c_str());
    if (checkpoint) {
      if (!verdict.ok) {
        std::printf("checkpoint: %s: %s\n", s.Red("MISMATCH").c_str(), verdict.reason.c_str());
      } else {
        const std::string signature = verdict.signature_checked
                                          ? s.Green("verified")
                                          : s.Yellow("not checked") + ": " + signature_note;
        std::printf("checkpoint: sequence %llu hash %s is in the log; signature %s\n",
                    static_cast<unsigned long long>(checkpoint->sequence), checkpoint->hash.c_str(),
                    signature.c_str());
      }
      if (signature_missing) {
        std::printf("%s: --require-signature was given\n", s.Red("failed").c_str());
      }
    }
  }
  return ok ? kExitOk : kExitCheckFailed;
}

int RunState(const std::vector<std::string>& argv) {
  const cli::Command cmd = StateCommand();
  cli::Args parsed_args;
  if (auto code = ParseOrExit(cmd, argv, &parsed_args)) return *code;
  const cli::Args* args = &parsed_args;
  auto usage_error = [&](const std::string& message) { return CommandUsageError(cmd, message); };
  auto target = StoreTargetFrom(*args);
  if (!target.ok()) return usage_error(target.error().message);
  const auto seq_arg = args->Get("--as-of-seq");
  const auto time_arg = args->Get("--as-of");
  if (seq_arg.has_value() == time_arg.has_value()) {
    return usage_error("give exactly one of --as-of-seq and --as-of");
  }
  const std::optional<std::string> provider = args->Get("--provider");
  const std::string view = args->Get("--view").value_or(provider ? "keys" : "providers");
  if (view == "keys" && !provider) {
    return usage_error("--view keys needs --provider (the API lists keys per provider)");
  }
  if (view == "grouped" && provider) {
    return usage_error("--view grouped lists every provider; drop --provider");
  }
  auto skip = args->GetUint("--skip");
  if (!skip.ok()) return usage_error(skip.error().message);
  auto limit = args->GetUint("--limit");
  if (!limit.ok()) return usage_error(limit.error().message);
  if (*limit == 0) return usage_error("--limit must be at least 1");
  uint64_t seq = 0;
  std::optional<int64_t> as_of_time;
  if (seq_arg) {
    auto n = args->GetUint("--as-of-seq");
    if (!n.ok()) return usage_error(n.error().message);
    seq = *n;
  } else {
    auto t = ParseTime(*time_arg, "--as-of");
    if (!t.ok()) return usage_error(t.error().message);
    as_of_time = *t;
  }

  const LogSink sink = StderrSink("keyledger-audit");
  auto opened = OpenTarget(*target, Access::kRead, /*check_head=*/true, sink);
  if (!opened.ok()) return Fail(kExitError, opened.error().message);
  events::EventLog& log = (*opened)->log();
  if (as_of_time) {
    auto at = projections::SequenceAtTime(log, *as_of_time);
    if (!at.ok()) return Fail(kExitError, at.error().message);
    seq = *at;
  }
  projections::SnapshotStore snapshots(nullptr, log, sink);
  auto state =
      projections::StateAsOf(log, args->Has("--use-snapshots") ? &snapshots : nullptr, seq);
  if (!state.ok()) return Fail(kExitError, "cannot rebuild the state: " + state.error().message);

  std::string out;
  if (view == "keys") {
    if (state->providers.Find(*provider) == nullptr) {
      return Fail(kExitCheckFailed, "provider " + *provider + " did not exist at sequence " +
                                        std::to_string(state->sequence));
    }
    out = projections::KeyListJson(*state, *provider, *skip, *limit);
  } else if (view == "grouped") {
    out = projections::GroupedByFormatJson(*state);
  } else if (provider) {
    const projections::ProviderState* p = state->providers.Find(*provider);
    if (p == nullptr) {
      return Fail(kExitCheckFailed, "provider " + *provider + " did not exist at sequence " +
                                        std::to_string(state->sequence));
    }
    out = projections::ProviderSummaryJson(*state, *p);
  } else {
    out = projections::ProviderSummariesJson(*state);
  }
  if (IsTty(stdout) && !args->Has("--compact")) out = PrettyJson(out);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fputc('\n', stdout);
  if (IsTty(stderr)) {
    std::fprintf(stderr, "(state as of sequence %llu, %s)\n",
                 static_cast<unsigned long long>(state->sequence),
                 events::FormatTimestampZ(state->time_us).c_str());
  }
  return kExitOk;
}

}  // namespace keyledger::tools::audit

int main(int argc, char** argv) {
  namespace audit = keyledger::tools::audit;
  const std::vector<keyledger::cli::Subcommand> subcommands = {
      {"verify", "recompute the hash chain; check a signed checkpoint", audit::RunVerify},
      {"log", "list events, filtered by stream, key, provider, type, actor, time", audit::RunLog},
      {"history", "one key's whole life, also after it was deleted", audit::RunHistory},
      {"state", "the projection as of a sequence or a time, in the API's JSON shapes",
       audit::RunState},
      {"export", "every event as JSONL (secrets stay ciphertext), for archiving", audit::RunExport},
      {"import", "load an export into an empty data directory (same chain, same head hash)",
       audit::RunImport},
  };
  return keyledger::cli::RunSubcommands(
      "keyledger-audit", audit::kToolUsage, audit::kToolExitStatus, subcommands,
      std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
