// keyledger-audit: audit replay over a keyledger data directory, offline or next to a running
// server (read-only, or as a RocksDB secondary instance while keyledgerd holds the directory).
//
//   keyledger-audit verify | log | history | state | export | import  [options]
//
// Exit status: 0 ok, 1 a check said no (broken chain, checkpoint mismatch, unknown key),
// 2 usage error, 3 could not run (missing or foreign directory, I/O error).
#include <cstdio>
#include <fstream>
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
    "usage: keyledger-audit <command> --data-dir DIR [options]\n"
    "\n"
    "Audit replay over a keyledger data directory. Read-only (import excepted); works while\n"
    "keyledgerd runs, as a RocksDB secondary instance.\n"
    "\n"
    "commands:\n"
    "  verify    recompute the hash chain; check a signed checkpoint\n"
    "  log       list events, filtered by stream, key, provider, type, actor, time\n"
    "  history   one key's whole life, also after it was deleted\n"
    "  state     the projection as of a sequence or a time, in the API's JSON shapes\n"
    "  export    every event as JSONL (secrets stay ciphertext), for archiving\n"
    "  import    load an export into an empty data directory (same chain, same head hash)\n"
    "\n"
    "Every command takes --data-dir DIR (default: $KEYLEDGER_DATA_DIR) and --help.\n"
    "Exit status: 0 ok, 1 a check failed, 2 usage error, 3 could not run.\n";

constexpr const char* kVerifyUsage =
    "usage: keyledger-audit verify --data-dir DIR [--from N] [--to M] [--checkpoint FILE]\n"
    "                              [--master-key-file F] [--require-signature]\n"
    "                              [--format text|json]\n"
    "\n"
    "Recomputes the hash chain over records N..M (default: all) and prints the head sequence\n"
    "and hash. Checks, in order: contiguous sequences, each record's sequence against its key,\n"
    "the previous-hash link, the recomputed hash, and records missing before the head that the\n"
    "log's metadata records (a truncated tail).\n"
    "\n"
    "  --from N, --to M         the range to check (default 1 .. head)\n"
    "  --checkpoint FILE        a checkpoint as returned by GET /api/admin/audit/checkpoint,\n"
    "                           {\"sequence\",\"hash\",\"time\",\"signature\"}: checks that the "
    "log\n"
    "                           holds that record with that hash, which catches a log\n"
    "                           truncated or rewritten consistently after the checkpoint\n"
    "  --master-key-file F      to check the checkpoint's signature (HMAC under the keyring's\n"
    "                           checkpoint key). Default: KEYLEDGER_MASTER_KEY, else\n"
    "                           DIR/master.key if present; without a key the signature is\n"
    "                           reported as not checked. The keyring is read, never written:\n"
    "                           a directory whose keyring was never initialized has no key\n"
    "  --require-signature      fail (exit 1) when the signature could not be checked\n"
    "  --format text|json       text (default) or one JSON object\n"
    "\n"
    "Exit status: 0 the chain (and checkpoint) hold, 1 they do not (the first bad sequence and\n"
    "why are printed), 2 usage error, 3 could not run.\n";

constexpr const char* kStateUsage =
    "usage: keyledger-audit state --data-dir DIR (--as-of-seq N | --as-of TIME)\n"
    "                             [--view keys|grouped|providers] [--provider ID]\n"
    "                             [--skip N] [--limit N] [--use-snapshots] [--compact]\n"
    "\n"
    "The projection as it was right after sequence N (or the last event at or before TIME),\n"
    "printed in the JSON shapes the API serves for the same as_of_seq / as_of request:\n"
    "  keys       GET /api/admin/endpoints/providers/{ID}/keys (needs --provider; the default\n"
    "             view when --provider is given); --skip/--limit as the API (default 0/100)\n"
    "  grouped    GET /api/admin/endpoints/keys/grouped-by-format\n"
    "  providers  the provider summaries, or one provider's with --provider (the default\n"
    "             view without --provider)\n"
    "\n"
    "  --as-of-seq N      a log position (clamped to the head)\n"
    "  --as-of TIME       RFC 3339 (2026-01-13T05:00:00Z) or microseconds since the epoch\n"
    "  --use-snapshots    start from the newest valid snapshot at or before N (faster); by\n"
    "                     default the state is replayed from the hash-chained log alone\n"
    "  --compact          compact JSON even on a terminal (default: indented on a terminal)\n";

int RunHelp() {
  std::fputs(kToolUsage, stdout);
  return kExitOk;
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
  std::fprintf(stderr, "keyledger-audit: %s\n\n%s", message.c_str(), usage);
  return kExitUsage;
}

int RunVerify(const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv, {{"--data-dir", true},
                                 {"--from", true},
                                 {"--to", true},
                                 {"--checkpoint", true},
                                 {"--master-key-file", true},
                                 {"--require-signature"},
                                 {"--format", true}});
  if (!args.ok()) return UsageError(args.error().message, kVerifyUsage);
  if (args->help()) {
    std::fputs(kVerifyUsage, stdout);
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return UsageError("unexpected argument " + args->positionals().front(), kVerifyUsage);
  }
  auto dir = DataDirFrom(*args);
  if (!dir.ok()) return UsageError(dir.error().message, kVerifyUsage);
  uint64_t from = 1, to = UINT64_MAX;
  if (auto v = args->Get("--from")) {
    auto n = ParseUint(*v, "--from");
    if (!n.ok()) return UsageError(n.error().message, kVerifyUsage);
    from = std::max<uint64_t>(*n, 1);
  }
  if (auto v = args->Get("--to")) {
    auto n = ParseUint(*v, "--to");
    if (!n.ok()) return UsageError(n.error().message, kVerifyUsage);
    to = *n;
  }
  const std::string format = args->Get("--format").value_or("text");
  if (format != "text" && format != "json") {
    return UsageError("--format must be text or json", kVerifyUsage);
  }
  std::optional<projections::Checkpoint> checkpoint;
  if (auto file = args->Get("--checkpoint")) {
    auto text = ReadWholeFile(*file);
    if (!text.ok()) return Fail(kExitError, text.error().message);
    auto parsed = projections::ParseCheckpointJson(*text);
    if (!parsed.ok()) return Fail(kExitError, *file + ": " + parsed.error().message);
    checkpoint = std::move(parsed).value();
  }

  const LogSink sink = StderrSink("keyledger-audit");
  auto opened = OpenDataDir(*dir, Access::kRead, /*check_head=*/false, sink);
  if (!opened.ok()) return Fail(kExitError, opened.error().message);
  events::RocksEventLog& log = (*opened)->log();
  auto report = log.Verify(from, to);
  for (int retry = 0; report.ok() && !report->ok && (*opened)->secondary() && retry < 3; ++retry) {
    // Next to a running server a real break persists, while a view caught mid-flush does not
    // (events/rocks_event_log.cpp, SettleSecondary): look again before reporting one.
    if (!log.CatchUp().ok()) break;
    report = log.Verify(from, to);
  }
  if (!report.ok()) return Fail(kExitError, "cannot verify: " + report.error().message);
  const events::Head head = log.GetHead();

  projections::CheckpointVerdict verdict;
  std::string signature_note;
  if (checkpoint) {
    std::unique_ptr<events::Keyring> keyring;
    auto key = LoadExistingMasterKey(args->Get("--master-key-file").value_or(""), *dir, sink);
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
  auto args = Args::Parse(argv, {{"--data-dir", true},
                                 {"--as-of-seq", true},
                                 {"--as-of", true},
                                 {"--view", true},
                                 {"--provider", true},
                                 {"--skip", true},
                                 {"--limit", true},
                                 {"--use-snapshots"},
                                 {"--compact"}});
  if (!args.ok()) return UsageError(args.error().message, kStateUsage);
  if (args->help()) {
    std::fputs(kStateUsage, stdout);
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return UsageError("unexpected argument " + args->positionals().front(), kStateUsage);
  }
  auto dir = DataDirFrom(*args);
  if (!dir.ok()) return UsageError(dir.error().message, kStateUsage);
  const auto seq_arg = args->Get("--as-of-seq");
  const auto time_arg = args->Get("--as-of");
  if (seq_arg.has_value() == time_arg.has_value()) {
    return UsageError("give exactly one of --as-of-seq and --as-of", kStateUsage);
  }
  const std::optional<std::string> provider = args->Get("--provider");
  const std::string view = args->Get("--view").value_or(provider ? "keys" : "providers");
  if (view != "keys" && view != "grouped" && view != "providers") {
    return UsageError("--view must be keys, grouped or providers", kStateUsage);
  }
  if (view == "keys" && !provider) {
    return UsageError("--view keys needs --provider (the API lists keys per provider)",
                      kStateUsage);
  }
  if (view == "grouped" && provider) {
    return UsageError("--view grouped lists every provider; drop --provider", kStateUsage);
  }
  uint64_t skip = 0, limit = 100;
  for (auto [name, out] : {std::pair{"--skip", &skip}, std::pair{"--limit", &limit}}) {
    if (auto v = args->Get(name)) {
      auto n = ParseUint(*v, name);
      if (!n.ok()) return UsageError(n.error().message, kStateUsage);
      *out = *n;
    }
  }
  if (limit == 0) return UsageError("--limit must be at least 1", kStateUsage);
  uint64_t seq = 0;
  std::optional<int64_t> as_of_time;
  if (seq_arg) {
    auto n = ParseUint(*seq_arg, "--as-of-seq");
    if (!n.ok()) return UsageError(n.error().message, kStateUsage);
    seq = *n;
  } else {
    auto t = ParseTime(*time_arg, "--as-of");
    if (!t.ok()) return UsageError(t.error().message, kStateUsage);
    as_of_time = *t;
  }

  const LogSink sink = StderrSink("keyledger-audit");
  auto opened = OpenDataDir(*dir, Access::kRead, /*check_head=*/true, sink);
  if (!opened.ok()) return Fail(kExitError, opened.error().message);
  events::RocksEventLog& log = (*opened)->log();
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
    out = projections::KeyListJson(*state, *provider, skip, limit);
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
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return audit::UsageError("a command is required", audit::kToolUsage);
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "-h" || command == "--help" || command == "help") return audit::RunHelp();
  if (command == "verify") return audit::RunVerify(args);
  if (command == "log") return audit::RunLog(args);
  if (command == "history") return audit::RunHistory(args);
  if (command == "state") return audit::RunState(args);
  if (command == "export") return audit::RunExport(args);
  if (command == "import") return audit::RunImport(args);
  return audit::UsageError("unknown command " + command, audit::kToolUsage);
}
