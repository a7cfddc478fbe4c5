// keyledger-audit export and import: the log as JSONL, and back into an empty data directory
// with the same records, hash chain and head hash.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "events/crypto.hpp"
#include "events/private_file.hpp"
#include "projections/audit.hpp"
#include "projections/fold.hpp"
#include "projections/snapshot.hpp"
#include "tools/audit/audit_commands.hpp"
#include "tools/common/tool_support.hpp"

namespace keyledger::tools::audit {
namespace {

using events::EventRecord;
using events::EventType;

constexpr const char* kExportUsage =
    "usage: keyledger-audit export (--data-dir DIR | --etcd-endpoints URL,...) [--after N]\n"
    "                              [--output FILE]\n"
    "\n"
    "Every event after sequence N (default 0: all) as JSONL, one record per line, for\n"
    "archiving. Secrets stay ciphertext: the export never holds a data key or the master key,\n"
    "so it is crypto-shredded by construction (see README \"Recovery runbook\"). Each line:\n"
    "{\"seq\",\"stream\",\"stream_version\",\"type\",\"type_id\",\"schema_version\",\"time\",\n"
    "\"time_us\",\"actor\",\"client_ip\",\"request_id\",\"reason\",\"payload\",\"prev_hash\","
    "\"hash\"}\n"
    "with \"payload\" the exact stored payload text as a JSON string. The chain is checked while\n"
    "exporting: a broken log is not exported (run verify).\n"
    "\n"
    "  --data-dir DIR  the data directory; or --etcd-endpoints URL,... (and --etcd-prefix, ...:\n"
    "                  keyledger-audit --help) for a log on etcd\n"
    "  --after N       start after sequence N (incremental archives: pass the last exported)\n"
    "  --output FILE   write FILE (via FILE.tmp, fsynced, renamed) instead of stdout\n";

constexpr const char* kImportUsage =
    "usage: keyledger-audit import (--data-dir NEWDIR | --etcd-endpoints URL,...) [FILE | -]\n"
    "                              [--keyring-from BACKUP_DIR]\n"
    "\n"
    "Loads an export (FILE, or standard input) into NEWDIR, which must not exist or hold an\n"
    "empty log, or into an etcd prefix (--etcd-endpoints, --etcd-prefix and the other\n"
    "--etcd-* options: keyledger-audit --help) that holds no log or an empty one. Records are "
    "appended in order with their own times, stream versions, metadata\n"
    "and payloads, so the log assigns the same sequences and hashes; every recomputed hash is\n"
    "compared with the exported one and the import stops at the first difference. Offline:\n"
    "refused while a server holds NEWDIR. Concatenated incremental exports import as one.\n"
    "\n"
    "An export holds no keys: after an import every secret is unreadable (as if shredded)\n"
    "unless the keyring is restored too:\n"
    "  --keyring-from BACKUP_DIR  copy the keyring (data keys and server keys, still wrapped by\n"
    "                             the master key; nothing is decrypted) from a backup copy of\n"
    "                             the original data directory whose log is a prefix of the\n"
    "                             export and that has seen every master-key rotation in it.\n"
    "                             Data keys that the imported events shredded are not copied.\n"
    "\n"
    "Then run keyledger-rebuild --data-dir NEWDIR --write-snapshot, and start keyledgerd with\n"
    "the master key of the backup. On etcd, start the nodes (keyledgerd --store etcd) with that\n"
    "master key: each folds the log and writes its own snapshots (README \"Moving onto etcd\").\n";

constexpr size_t kImportBatchEvents = 1000;
constexpr size_t kImportBatchBytes = 8 << 20;
constexpr size_t kAuxWritesPerAppend = 50'000;
// On etcd an append is one transaction when it fits etcd's limits (events/ETCD.md "Size": 128
// operations, 2 per record and 1 per stream plus the head; 1.25 MiB): 40 events of 40 streams
// take 121. A bigger one would be split, and the stream versions of a split append must fit its
// last transaction, which 1000 streams do not.
constexpr size_t kEtcdImportBatchEvents = 40;
constexpr size_t kEtcdImportBatchBytes = 1 << 20;
constexpr size_t kEtcdAuxWritesPerAppend = 100;

std::string Hex(const events::Hash& h) { return crypto::HexEncode(crypto::AsBytes(h)); }

// Writes to stdout, or to FILE.tmp that becomes FILE once complete and durable
// (events::AtomicFileWriter; not a private file: the mode is 0666 less the umask, as any file the
// operator creates).
class ExportSink {
 public:
  static Result<ExportSink> Open(const std::optional<std::string>& path) {
    ExportSink s;
    if (!path) return s;
    KL_ASSIGN_OR_RETURN(
        events::AtomicFileWriter file,
        events::AtomicFileWriter::Create(
            *path, {.mode = 0666, .apply_umask = true, .temp_path = *path + ".tmp"}));
    s.file_.emplace(std::move(file));
    return s;
  }
  ExportSink(ExportSink&&) noexcept = default;
  ExportSink(const ExportSink&) = delete;
  ExportSink& operator=(const ExportSink&) = delete;
  ~ExportSink() = default;  // not committed: the writer leaves no half export behind

  bool Write(std::string_view line) {
    if (!file_) {
      return std::fwrite(line.data(), 1, line.size(), stdout) == line.size() &&
             std::fputc('\n', stdout) != EOF;
    }
    return file_->Append(line).ok() && file_->Append("\n").ok();
  }

  Status Commit() {
    if (!file_) {
      if (std::fflush(stdout) != 0)
        return MakeError(ErrorCode::kIoError, "cannot write the export");
      return Status::Ok();
    }
    Status committed = file_->Commit();
    if (!committed.ok()) {
      return MakeError(ErrorCode::kIoError,
                       "cannot complete " + file_->path() + ": " + committed.error().message);
    }
    return Status::Ok();
  }

 private:
  ExportSink() = default;
  std::optional<events::AtomicFileWriter> file_;  // nullopt: stdout
};

}  // namespace

int RunExport(const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv, StoreOptionSpecs({{"--after", true}, {"--output", true}}));
  if (!args.ok()) return UsageError(args.error().message, kExportUsage);
  if (args->help()) {
    std::fputs(kExportUsage, stdout);
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return UsageError("unexpected argument " + args->positionals().front(), kExportUsage);
  }
  auto target = StoreTargetFrom(*args);
  if (!target.ok()) return UsageError(target.error().message, kExportUsage);
  uint64_t after = 0;
  if (auto v = args->Get("--after")) {
    auto n = ParseUint(*v, "--after");
    if (!n.ok()) return UsageError(n.error().message, kExportUsage);
    after = *n;
  }

  auto opened =
      OpenTarget(*target, Access::kRead, /*check_head=*/true, StderrSink("keyledger-audit"));
  if (!opened.ok()) return Fail(kExitError, opened.error().message);
  events::EventLog& log = (*opened)->log();
  const events::Head head = log.GetHead();  // the export is this consistent prefix
  if (after > head.sequence) {
    return Fail(kExitError, "--after " + std::to_string(after) + " is beyond the head (" +
                                std::to_string(head.sequence) + ")");
  }
  events::Hash prev = events::GenesisHash();
  if (after > 0) {
    auto before = log.ReadRange(after, 1);
    if (!before.ok()) return Fail(kExitError, before.error().message);
    if (before->empty() || before->front().sequence != after) {
      return Fail(kExitCheckFailed, "record " + std::to_string(after) + " is missing");
    }
    prev = before->front().hash;
  }
  auto sink = ExportSink::Open(args->Get("--output"));
  if (!sink.ok()) return Fail(kExitError, sink.error().message);

  uint64_t expected = after + 1, count = 0;
  std::string broken;
  bool write_failed = false;
  json::Writer w(1 << 16);
  Status scanned = log.Scan(after + 1, head.sequence, [&](const EventRecord& r) {
    if (r.sequence != expected || r.prev_hash != prev || !events::VerifyRecordHash(r)) {
      broken = "the hash chain is broken at sequence " + std::to_string(expected) +
               "; refusing to export it (run keyledger-audit verify)";
      return false;
    }
    w = json::Writer(r.payload.size() * 2 + 512);
    projections::WriteExportJson(w, r);
    if (!sink->Write(w.str())) {
      write_failed = true;
      return false;
    }
    prev = r.hash;
    ++expected;
    ++count;
    return true;
  });
  if (!scanned.ok()) return Fail(kExitError, scanned.error().message);
  if (!broken.empty()) return Fail(kExitCheckFailed, broken);
  if (write_failed) return Fail(kExitError, "cannot write the export");
  if (expected != head.sequence + 1) {
    return Fail(kExitCheckFailed, "records " + std::to_string(expected) + ".." +
                                      std::to_string(head.sequence) + " are missing");
  }
  Status committed = sink->Commit();
  if (!committed.ok()) return Fail(kExitError, committed.error().message);
  std::fprintf(stderr, "keyledger-audit: exported %s events (sequences %llu..%llu); head %llu %s\n",
               FormatCount(count).c_str(), static_cast<unsigned long long>(after + 1),
               static_cast<unsigned long long>(head.sequence),
               static_cast<unsigned long long>(head.sequence), Hex(head.hash).c_str());
  return kExitOk;
}

namespace {

struct KeyringCopy {
  std::vector<std::pair<std::string, std::string>> entries;
  uint32_t kek_version = 0;
  events::Head backup_head;
};

Result<KeyringCopy> ReadBackupKeyring(const std::string& backup) {
  KL_ASSIGN_OR_RETURN(auto opened, OpenDataDir(backup, Access::kRead, /*check_head=*/true,
                                               StderrSink("keyledger-audit")));
  KeyringCopy copy;
  copy.backup_head = opened->log().GetHead();
  KL_RETURN_IF_ERROR(opened->log().ScanAux(events::AuxSpace::kKeyring, "",
                                           [&](std::string_view k, std::string_view v) {
                                             copy.entries.emplace_back(k, v);
                                             return true;
                                           }));
  for (const auto& [k, v] : copy.entries) {
    if (k == "meta/kek" && v.size() >= 4) {
      for (int i = 0; i < 4; ++i) {
        copy.kek_version = copy.kek_version << 8 | static_cast<uint8_t>(v[static_cast<size_t>(i)]);
      }
    }
  }
  if (copy.kek_version == 0) {
    return MakeError(ErrorCode::kInvalidArgument, backup + " has no initialized keyring");
  }
  return copy;
}

Status AppendAux(events::EventLog& log, std::vector<events::AuxWrite> writes, size_t per_append) {
  for (size_t i = 0; i < writes.size(); i += per_append) {
    events::AppendRequest req;
    const size_t end = std::min(writes.size(), i + per_append);
    for (size_t k = i; k < end; ++k) req.aux.push_back(std::move(writes[k]));
    KL_RETURN_IF_ERROR(log.Append(std::move(req)));
  }
  return Status::Ok();
}

// Secrets in the state whose data key is not in `deks` (keys, and provider/endpoint proxies).
// Every sealed value the state holds.
template <typename F>
void ForEachStoredSecret(const projections::State& s, F&& f) {
  s.keys.ForEach([&](const std::string&, const projections::KeyState& k) { f(k.secret); });
  s.providers.ForEach([&](const std::string&, const projections::ProviderState& p) {
    if (p.proxy && p.proxy->password) f(*p.proxy->password);
    for (const auto& [pointer, v] : p.config_secrets) f(v);
  });
  s.endpoints.ForEach([&](const std::string&, const projections::EndpointState& e) {
    if (e.proxy && e.proxy->password) f(*e.proxy->password);
    for (const auto& [name, v] : e.header_secrets) f(v);
    for (const auto& [pointer, v] : e.config_secrets) f(v);
  });
}

std::vector<std::string> SecretsWithoutKeys(const projections::State& s,
                                            const std::unordered_set<std::string>& deks) {
  std::vector<std::string> out;
  auto check = [&](const std::string& what, const projections::StoredSecret& secret) {
    if (!deks.contains(secret.sealed.dek_id)) out.push_back(what);
  };
  s.keys.ForEach(
      [&](const std::string& id, const projections::KeyState& k) { check("key " + id, k.secret); });
  s.providers.ForEach([&](const std::string& id, const projections::ProviderState& p) {
    if (p.proxy && p.proxy->password) check("provider " + id + " proxy", *p.proxy->password);
    for (const auto& [pointer, v] : p.config_secrets)
      check("provider " + id + " config" + pointer, v);
  });
  s.endpoints.ForEach([&](const std::string& id, const projections::EndpointState& e) {
    if (e.proxy && e.proxy->password) check("endpoint " + id + " proxy", *e.proxy->password);
    for (const auto& [name, v] : e.header_secrets) check("endpoint " + id + " header " + name, v);
    for (const auto& [pointer, v] : e.config_secrets)
      check("endpoint " + id + " config" + pointer, v);
  });
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int RunImport(const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv, StoreOptionSpecs({{"--keyring-from", true}}));
  if (!args.ok()) return UsageError(args.error().message, kImportUsage);
  if (args->help()) {
    std::fputs(kImportUsage, stdout);
    return kExitOk;
  }
  if (args->positionals().size() > 1) {
    return UsageError("import takes at most one FILE", kImportUsage);
  }
  auto target = StoreTargetFrom(*args);
  if (!target.ok()) return UsageError(target.error().message, kImportUsage);
  const std::string name = target->Name();
  const bool on_etcd = target->on_etcd();
  const size_t batch_events = on_etcd ? kEtcdImportBatchEvents : kImportBatchEvents;
  const size_t batch_limit_bytes = on_etcd ? kEtcdImportBatchBytes : kImportBatchBytes;
  const size_t aux_per_append = on_etcd ? kEtcdAuxWritesPerAppend : kAuxWritesPerAppend;
  const std::string input =
      args->positionals().empty() ? std::string("-") : args->positionals().front();

  std::ifstream file;
  if (input != "-") {
    file.open(input, std::ios::binary);
    if (!file) return Fail(kExitError, "cannot read " + input);
  }
  std::istream& in = input == "-" ? std::cin : file;

  std::optional<KeyringCopy> keyring;
  if (auto backup = args->Get("--keyring-from")) {
    auto copy = ReadBackupKeyring(*backup);
    if (!copy.ok()) return Fail(kExitError, "--keyring-from: " + copy.error().message);
    keyring = std::move(copy).value();
  }

  auto opened =
      OpenTarget(*target, Access::kCreate, /*check_head=*/true, StderrSink("keyledger-audit"));
  if (!opened.ok()) return Fail(kExitError, opened.error().message);
  events::EventLog& log = (*opened)->log();
  const std::string empty_target = on_etcd ? "an empty etcd prefix" : "an empty data directory";
  if (log.GetHead().sequence != 0) {
    return Fail(kExitError, name + " already holds " + std::to_string(log.GetHead().sequence) +
                                " events; import needs " + empty_target);
  }
  for (int space = 0; space < events::kAuxSpaceCount; ++space) {
    bool any = false;
    Status scanned = log.ScanAux(static_cast<events::AuxSpace>(space), "",
                                 [&](std::string_view, std::string_view) {
                                   any = true;
                                   return false;
                                 });
    if (!scanned.ok()) return Fail(kExitError, scanned.error().message);
    if (any) {
      return Fail(kExitError,
                  name + " already holds " +
                      std::string(events::AuxSpaceName(static_cast<events::AuxSpace>(space))) +
                      " entries (a server has used it); import needs " + empty_target);
    }
  }

  const std::string partial =
      " (" + name + " now holds a partial import: " +
      (on_etcd ? "delete the prefix (etcdctl del --prefix " + target->etcd.etcd_prefix + "/)"
               : std::string("delete it")) +
      ", then retry)";
  projections::Folder folder;
  projections::State state;
  projections::EventDecoder decoder;
  std::unordered_set<std::string> shredded;
  events::Hash prev = events::GenesisHash();
  std::vector<EventRecord> batch;
  size_t batch_bytes = 0;
  uint64_t line_no = 0;
  uint64_t imported = 0;

  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    events::AppendRequest req;
    for (const EventRecord& r : batch) {
      events::StreamAppend s;
      s.stream = r.stream;
      s.expected_version = static_cast<int64_t>(r.stream_version - 1);
      s.metadata = r.metadata;
      s.events.push_back(events::NewEvent{r.type, r.schema_version, r.payload, r.time_us});
      req.streams.push_back(std::move(s));
    }
    KL_ASSIGN_OR_RETURN(events::AppendResult appended, log.Append(std::move(req)));
    for (size_t i = 0; i < batch.size(); ++i) {
      if (appended.sequences[i] != batch[i].sequence || appended.hashes[i] != batch[i].hash) {
        return MakeError(ErrorCode::kCorruption,
                         "sequence " + std::to_string(batch[i].sequence) + " was stored as " +
                             std::to_string(appended.sequences[i]) + " with hash " +
                             Hex(appended.hashes[i]) + ", the export says " + Hex(batch[i].hash));
      }
    }
    imported += batch.size();
    batch.clear();
    batch_bytes = 0;
    return Status::Ok();
  };

  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const std::string where = "line " + std::to_string(line_no);
    auto parsed = projections::ParseExportJson(line);
    if (!parsed.ok())
      return Fail(kExitCheckFailed, where + ": " + parsed.error().message + partial);
    EventRecord& r = *parsed;
    const uint64_t expected = imported + batch.size() + 1;
    if (r.sequence != expected) {
      return Fail(kExitCheckFailed,
                  where + ": sequence " + std::to_string(r.sequence) + " where " +
                      std::to_string(expected) +
                      " was expected (an import into an empty directory starts at 1; "
                      "concatenate incremental exports in order)" +
                      partial);
    }
    if (r.prev_hash != prev) {
      return Fail(kExitCheckFailed, where + " (sequence " + std::to_string(r.sequence) +
                                        "): prev_hash does not link to the previous record" +
                                        partial);
    }
    if (!events::VerifyRecordHash(r)) {
      return Fail(kExitCheckFailed, where + " (sequence " + std::to_string(r.sequence) +
                                        "): the hash does not match the record (the export "
                                        "was altered)" +
                                        partial);
    }
    if (r.time_us <= 0 || r.stream_version == 0) {
      return Fail(kExitCheckFailed, where + ": time and stream version must be positive" + partial);
    }
    // Decoded once (any schema version upcast; a newer one fails as the fold does), then folded
    // and read for the data keys it shreds.
    Result<projections::Event> event = decoder.Decode(r);
    Status folded = event.ok() ? Status::Ok() : Status(event.error());
    if (folded.ok()) {
      if (const auto* deleted = std::get_if<projections::KeyDeleted>(&*event)) {
        if (!deleted->shredded_dek_id.empty()) shredded.insert(deleted->shredded_dek_id);
      } else if (const auto* updated = std::get_if<projections::KeyUpdated>(&*event)) {
        if (updated->retired_dek_id) shredded.insert(*updated->retired_dek_id);
      }
      folded = folder.Apply(state, r, std::move(event).value());
    }
    if (!folded.ok()) {
      return Fail(kExitCheckFailed, where + ": " + folded.error().message + partial);
    }
    prev = r.hash;
    batch_bytes += r.payload.size();
    batch.push_back(std::move(r));
    if (batch.size() >= batch_events || batch_bytes >= batch_limit_bytes) {
      Status s = flush();
      if (!s.ok()) return Fail(kExitCheckFailed, s.error().message + partial);
    }
  }
  if (in.bad()) return Fail(kExitError, "cannot read " + input + partial);
  if (Status s = flush(); !s.ok()) return Fail(kExitCheckFailed, s.error().message + partial);
  const events::Head head = log.GetHead();

  std::unordered_set<std::string> restored_deks;
  if (keyring) {
    // The backup must be this log's past, and must have seen every rotation the log records.
    if (keyring->backup_head.sequence > head.sequence) {
      return Fail(kExitCheckFailed, "the keyring backup is newer than the export (its head is " +
                                        std::to_string(keyring->backup_head.sequence) + ")" +
                                        partial);
    }
    if (keyring->backup_head.sequence > 0) {
      auto at = log.ReadRange(keyring->backup_head.sequence, 1);
      if (!at.ok() || at->empty() || at->front().hash != keyring->backup_head.hash) {
        return Fail(kExitCheckFailed, "the keyring backup is not a copy of this log (record " +
                                          std::to_string(keyring->backup_head.sequence) +
                                          " differs)" + partial);
      }
    }
    if (keyring->kek_version != state.keyring_version + 1) {
      return Fail(kExitCheckFailed,
                  "the keyring backup is at KEK version " + std::to_string(keyring->kek_version) +
                      " but the export records " + std::to_string(state.keyring_version) +
                      " master-key rotations; use a backup taken after the last rotation" +
                      partial);
    }
    std::unordered_set<std::string> referenced;
    ForEachStoredSecret(state, [&](const projections::StoredSecret& secret) {
      referenced.insert(secret.sealed.dek_id);
    });
    std::vector<events::AuxWrite> writes;
    size_t skipped = 0;
    for (auto& [k, v] : keyring->entries) {
      if (k.starts_with("dek/")) {
        std::string id = k.substr(4);
        // Shredded after the backup was taken: it stays shredded. That includes data keys the
        // final state no longer refers to (a replaced proxy password, header or config value,
        // or one of a deleted endpoint or provider), whose events do not name them.
        if (shredded.contains(id) || !referenced.contains(id)) {
          ++skipped;
          continue;
        }
        restored_deks.insert(std::move(id));
      }
      writes.push_back({events::AuxSpace::kKeyring, k, std::move(v), false});
    }
    if (Status s = AppendAux(log, std::move(writes), aux_per_append); !s.ok()) {
      return Fail(kExitError, "cannot write the keyring: " + s.error().message + partial);
    }
    std::fprintf(stderr,
                 "keyledger-audit: restored the keyring from the backup (KEK version %u); left "
                 "out %zu data keys that the log shredded (or stopped using) after the backup\n",
                 keyring->kek_version, skipped);
  }

  std::printf("imported %s events into %s\n", FormatCount(imported).c_str(), name.c_str());
  std::printf("head: sequence %llu, hash %s\n", static_cast<unsigned long long>(head.sequence),
              Hex(head.hash).c_str());
  std::printf("state digest: %s\n", projections::StateDigestHex(state).c_str());
  const std::vector<std::string> unreadable = SecretsWithoutKeys(state, restored_deks);
  if (!unreadable.empty()) {
    // The operator's to-do list: every one of them, one per line.
    std::printf(
        "%zu secrets have no data key in %s and cannot be revealed until they are set "
        "again:\n",
        unreadable.size(), name.c_str());
    for (const std::string& what : unreadable) std::printf("  %s\n", what.c_str());
  }
  if (!keyring && state.keyring_version > 0) {
    std::printf(
        "warning: the log records %llu master-key rotations; keyledgerd will not "
        "initialize a new keyring over them. Import again with --keyring-from a backup.\n",
        static_cast<unsigned long long>(state.keyring_version));
  }
  if (on_etcd) {
    std::printf("next: start keyledgerd --store etcd --etcd-prefix %s with the master key\n",
                target->etcd.etcd_prefix.c_str());
  } else {
    std::printf("next: keyledger-rebuild --data-dir %s --write-snapshot\n", name.c_str());
  }
  Status closed = (*opened)->Close();
  if (!closed.ok()) return Fail(kExitError, "closing " + name + ": " + closed.error().message);
  return kExitOk;
}

}  // namespace keyledger::tools::audit
