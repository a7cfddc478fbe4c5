// keyledger-rebuild: rebuilds the projections from sequence 1 with the one fold, proves the result
// equal (state digest) to the stored snapshots and to a live server, and can replace the
// snapshots with the rebuilt state. Links only the events and projections layers.
//
//   keyledger-rebuild (--data-dir DIR | --etcd-endpoints URL,...) [--dry-run] [--write-snapshot]
//                     [--compare-url URL] ...
//
// Exit status (src/cli/exit_code.hpp): 0 everything matched (or the snapshot was replaced), 1 a
// mismatch or a broken chain, 2 usage error, 3 could not run (missing directory, server
// unreachable, I/O).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "events/crypto.hpp"
#include "projections/audit.hpp"
#include "projections/fold.hpp"
#include "projections/snapshot.hpp"
#include "tools/common/http_client.hpp"
#include "tools/common/tool_support.hpp"

namespace keyledger::tools::rebuild {
namespace {

using projections::State;

constexpr const char* kProgram = "keyledger-rebuild";

// The options, each declared once with its variable, default and help (src/cli).
cli::Command RebuildCommand() {
  cli::Command cmd(kProgram);
  cmd.Usage(
         "usage: keyledger-rebuild (--data-dir DIR | --etcd-endpoints URL,...) [--dry-run]\n"
         "                         [--write-snapshot]\n"
         "                         [--compare-url URL] [--token TOKEN] [--timeout SECONDS]\n"
         "                         [--progress auto|bar|lines|none] [--progress-interval "
         "SECONDS]\n"
         "                         [--format text|json]\n"
         "\n"
         "Rebuilds every projection from sequence 1 with the same fold the server uses, checking\n"
         "the hash chain on the way, and prints the state digest. Then compares the rebuilt "
         "state,\n"
         "at each one's sequence, with every stored snapshot and with a live server, and names\n"
         "the first entity (provider:<id>, endpoint:<id>, key:<id>) that differs. Reads the\n"
         "directory read-only (as a RocksDB secondary instance while keyledgerd runs) unless\n"
         "--write-snapshot is given.\n"
         "\n"
         "On etcd (--etcd-endpoints instead of --data-dir) it reads the log from etcd, needs no\n"
         "running keyledgerd, and rebuilds in memory: the snapshots of an etcd log are each\n"
         "node's own (under the node's --data-dir), so there are none to compare or replace here;\n"
         "--compare-url compares with a node.\n")
      .Epilogue(
          "Exit status: 0 all digests match (or the snapshots were replaced), 1 a mismatch or a\n"
          "broken chain, 2 usage error, 3 could not run.\n");
  AddStoreOptions(cmd);
  cmd.Add({.name = "write-snapshot",
           .kind = cli::Option::Kind::kFlag,
           .help = "replace every snapshot, in one atomic write, with one of the rebuilt state "
                   "at the head. Refused while a server holds DIR"})
      .Add({.name = "dry-run",
            .kind = cli::Option::Kind::kFlag,
            .help = "verify only: never write, even with --write-snapshot (then it says what it "
                    "would replace)"})
      .Add({.name = "compare-url",
            .value_name = "URL",
            .help = "a running server: GET URL/api/admin/audit/digest?entities=true (when URL "
                    "has no path; otherwise URL as given). Fetched first, then the rebuild is "
                    "compared at the server's sequence"})
      .Add({.name = "token",
            .value_name = "TOKEN",
            .help = "bearer token for --compare-url (an auditor token suffices)",
            .env = "KEYLEDGER_TOKEN"})
      .Add({.name = "timeout",
            .value_name = "SECONDS",
            .help = "for the request to the server",
            .default_value = "30"})
      .Add({.name = "progress",
            .value_name = "MODE",
            .help = "auto (a bar with events/s and ETA on a terminal, plain lines otherwise), "
                    "bar, lines, none; on stderr",
            .default_value = "auto",
            .choices = {"auto", "bar", "lines", "none"}})
      .Add({.name = "progress-interval",
            .value_name = "SECONDS",
            .help = "seconds between plain progress lines",
            .default_value = "5"})
      .Add({.name = "format",
            .value_name = "FORMAT",
            .help = "text, or json: one JSON object with the figures",
            .default_value = "text",
            .choices = {"text", "json"}});
  return cmd;
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "keyledger-rebuild: %s\n", message.c_str());
  return code;
}

int UsageError(const std::string& message) {
  std::fputs(cli::UsageErrorText(kProgram, message).c_str(), stderr);
  return kExitUsage;
}

// URL of the digest route: the server's base URL gets the route appended.
Result<std::string> DigestUrl(const std::string& url) {
  KL_ASSIGN_OR_RETURN(HttpUrl u, ParseHttpUrl(url));
  if (u.target != "/") return url;
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/api/admin/audit/digest?entities=true";
}

struct SnapshotCheck {
  projections::SnapshotInfo info;
  std::string rebuilt_digest;
  bool match = false;
  std::string problem;           // when !match
  std::string first_difference;  // when known
};

// Why a snapshot differs from the rebuilt state at its sequence, naming the first entity when
// its body still decodes.
void ExplainSnapshot(const projections::SnapshotStore& store, const State& rebuilt,
                     SnapshotCheck& check) {
  auto body = store.ReadBody(check.info.sequence);
  if (!body.ok()) {
    check.problem += "; its body cannot be read: " + body.error().message;
    return;
  }
  auto decoded = projections::DeserializeState(*body);
  if (!decoded.ok()) {
    check.problem += "; its body does not decode: " + decoded.error().message;
    return;
  }
  check.first_difference = projections::FirstDifference(rebuilt, *decoded);
}

}  // namespace

int Run(const std::vector<std::string>& argv) {
  const cli::Command cmd = RebuildCommand();
  auto args = cmd.Parse(argv, cli::SystemEnv);
  if (!args.ok()) return UsageError(args.error().message);
  if (args->help()) {
    std::fputs(cmd.Help().c_str(), stdout);
    return kExitOk;
  }
  auto target = StoreTargetFrom(*args);
  if (!target.ok()) return UsageError(target.error().message);
  const std::string name = target->Name();
  if (target->on_etcd() && args->Has("--write-snapshot") && !args->Has("--dry-run")) {
    // The snapshots of an etcd log live on each node (events/ETCD.md): keyledgerd writes its
    // own every --snapshot-every events and at shutdown. This tool rebuilds in memory.
    return UsageError(
        "--write-snapshot applies to a data directory: on etcd each keyledgerd keeps its own "
        "snapshots (written every --snapshot-every events and at shutdown); rebuild on etcd "
        "rebuilds in memory, and --compare-url checks a node");
  }
  auto progress_mode = ProgressModeFrom(*args);
  if (!progress_mode.ok()) return UsageError(progress_mode.error().message);
  double interval = 5;
  if (auto v = args->Get("--progress-interval")) {
    char* end = nullptr;
    interval = std::strtod(v->c_str(), &end);
    if (end == v->c_str() || *end != '\0' || !(interval > 0)) {
      return UsageError("--progress-interval must be a positive number of seconds");
    }
  }
  auto timeout = args->GetUint("--timeout", 1);
  if (!timeout.ok()) return UsageError("--timeout must be a positive number of seconds");
  const uint64_t timeout_s = *timeout;
  const std::string format = args->Get("--format").value_or("text");
  const bool dry_run = args->Has("--dry-run");
  const bool write = args->Has("--write-snapshot") && !dry_run;
  const std::optional<std::string> compare_url = args->Get("--compare-url");
  if (compare_url && args->Has("--write-snapshot") && !dry_run) {
    return UsageError("--write-snapshot needs the server stopped; --compare-url needs it running");
  }

  // The live digest first: the rebuild then reaches (at least) the server's sequence.
  std::optional<projections::DigestReport> live;
  if (compare_url) {
    auto url = DigestUrl(*compare_url);
    if (!url.ok()) return UsageError("--compare-url: " + url.error().message);
    const std::string token = args->Get("--token").value_or("");
    auto response =
        HttpGet(*url, token, std::chrono::milliseconds(static_cast<int64_t>(timeout_s) * 1000));
    if (!response.ok()) return Fail(kExitError, "--compare-url: " + response.error().message);
    if (response->status != 200) {
      return Fail(kExitError, "--compare-url: the server answered " +
                                  std::to_string(response->status) + ": " +
                                  Printable(response->body.substr(0, 300)));
    }
    auto parsed = projections::ParseDigestJson(response->body);
    if (!parsed.ok()) {
      return Fail(kExitError, "--compare-url: unexpected answer: " + parsed.error().message);
    }
    live = std::move(parsed).value();
  }

  const LogSink sink = StderrSink("keyledger-rebuild");
  auto opened = OpenTarget(*target, write ? Access::kWrite : Access::kRead,
                           /*check_head=*/write, sink);
  if (!opened.ok()) {
    if (write && opened.error().code == ErrorCode::kUnavailable) {
      return Fail(kExitError,
                  "refusing --write-snapshot: " + name +
                      " is held by a running keyledgerd, which owns the snapshots. Stop the "
                      "server first, or run without --write-snapshot to compare only.");
    }
    return Fail(kExitError, opened.error().message);
  }
  events::EventLog& log = (*opened)->log();
  events::Head head = log.GetHead();
  if (live && live->sequence > head.sequence && (*opened)->secondary()) {
    if (Status s = (*opened)->CatchUp(); !s.ok()) return Fail(kExitError, s.error().message);
    head = log.GetHead();
  }
  if (live && live->sequence > head.sequence) {
    return Fail(kExitError, "the server is at sequence " + std::to_string(live->sequence) +
                                " but " + name + " ends at " + std::to_string(head.sequence) +
                                ": is --compare-url the server of this directory?");
  }

  projections::SnapshotStore store(write ? &log : nullptr, log, sink);
  auto infos = store.List();
  if (!infos.ok()) return Fail(kExitError, "cannot list snapshots: " + infos.error().message);

  // The states to keep while folding: at every snapshot's sequence and at the server's.
  std::set<uint64_t> wanted;
  for (const auto& info : *infos) {
    if (info.sequence <= head.sequence) wanted.insert(info.sequence);
  }
  if (live) wanted.insert(live->sequence);
  std::map<uint64_t, State> at;

  projections::Folder folder;
  State state;
  // Keeps the state as of now: the kept copy must never be mutated again (State::Fork shares
  // the nodes its original may still edit in place), so the fold continues on the fork.
  auto keep = [&](uint64_t seq) {
    State frozen = std::move(state);
    state = frozen.Fork();
    at.emplace(seq, std::move(frozen));
  };
  if (wanted.contains(0)) keep(0);
  Progress progress(dry_run ? "verify" : "rebuild", head.sequence, *progress_mode, interval);
  // Two stages on two threads: the reader scans RocksDB, decodes and checks the hash chain;
  // this thread parses and folds, in sequence order. Batches go through a short bounded queue,
  // so memory stays flat whatever the log's length.
  constexpr size_t kBatch = 256;
  constexpr size_t kMaxQueued = 16;
  std::mutex mu;
  std::condition_variable changed;
  std::deque<std::vector<events::EventRecord>> queue;
  bool reader_done = false;
  bool stop_reader = false;
  std::string chain_broken;  // set by the reader
  uint64_t expected = 1;     // the reader's next sequence
  Status scanned = Status::Ok();
  const int64_t start = MonotonicMicros();
  std::thread reader([&] {
    events::Hash prev = events::GenesisHash();
    std::vector<events::EventRecord> batch;
    batch.reserve(kBatch);
    auto hand_over = [&] {
      std::unique_lock lock(mu);
      changed.wait(lock, [&] { return queue.size() < kMaxQueued || stop_reader; });
      if (stop_reader) return false;
      queue.push_back(std::move(batch));
      batch = {};
      batch.reserve(kBatch);
      changed.notify_all();
      return true;
    };
    Status s = log.Scan(1, head.sequence, [&](const events::EventRecord& r) {
      std::string why;
      if (r.sequence != expected) {
        why = "record " + std::to_string(expected) + " is missing";
      } else if (r.prev_hash != prev) {
        why = "record " + std::to_string(r.sequence) + " does not link to its predecessor";
      } else if (!events::VerifyRecordHash(r)) {
        why = "record " + std::to_string(r.sequence) + " does not match its hash";
      }
      if (!why.empty()) {
        std::lock_guard lock(mu);
        chain_broken = std::move(why);
        return false;
      }
      prev = r.hash;
      ++expected;
      batch.push_back(r);
      return batch.size() < kBatch || hand_over();
    });
    if (!batch.empty()) hand_over();
    std::lock_guard lock(mu);
    scanned = std::move(s);
    reader_done = true;
    changed.notify_all();
  });
  std::string fold_broken;
  uint64_t folded_through = 0;
  while (true) {
    std::vector<events::EventRecord> batch;
    {
      std::unique_lock lock(mu);
      changed.wait(lock, [&] { return !queue.empty() || reader_done; });
      if (queue.empty()) break;
      batch = std::move(queue.front());
      queue.pop_front();
      changed.notify_all();
    }
    for (const events::EventRecord& r : batch) {
      if (Status folded = folder.Apply(state, r); !folded.ok()) {
        fold_broken =
            "record " + std::to_string(r.sequence) + " does not fold: " + folded.error().message;
        break;
      }
      folded_through = r.sequence;
      if ((r.sequence & 1023) == 0) progress.Update(r.sequence);
      if (wanted.contains(r.sequence)) keep(r.sequence);
    }
    if (!fold_broken.empty()) {
      std::lock_guard lock(mu);
      stop_reader = true;
      changed.notify_all();
      break;
    }
  }
  reader.join();
  const double seconds = static_cast<double>(MonotonicMicros() - start) / 1e6;
  // The first problem in sequence order: a fold failure stops the reader, so any chain break
  // it reported lies after it.
  std::string broken = !fold_broken.empty() ? fold_broken : chain_broken;
  if (!scanned.ok() && broken.empty()) {
    return Fail(kExitError, "cannot read the log: " + scanned.error().message);
  }
  if (broken.empty() && folded_through != head.sequence) {
    broken = "records " + std::to_string(folded_through + 1) + ".." +
             std::to_string(head.sequence) + " are missing";
  }
  if (!broken.empty()) {
    return Fail(kExitCheckFailed, "the hash chain is broken: " + broken +
                                      "; nothing was compared or written (run keyledger-audit "
                                      "verify)");
  }
  progress.Finish(head.sequence);
  const uint64_t events_folded = head.sequence;
  const double rate = seconds > 0 ? static_cast<double>(events_folded) / seconds : 0;
  const std::string digest = projections::StateDigestHex(state);

  // Snapshots, newest first.
  std::vector<SnapshotCheck> checks;
  for (auto it = infos->rbegin(); it != infos->rend(); ++it) {
    SnapshotCheck c;
    c.info = *it;
    if (it->sequence > head.sequence) {
      c.problem =
          "it is beyond the log's head (" + std::to_string(head.sequence) + "): records were lost";
      checks.push_back(std::move(c));
      continue;
    }
    const State& rebuilt = at.at(it->sequence);
    c.rebuilt_digest = projections::StateDigestHex(rebuilt);
    if (c.rebuilt_digest != it->digest) {
      c.problem = "its digest is " + it->digest + ", the rebuilt state's is " + c.rebuilt_digest;
      ExplainSnapshot(store, rebuilt, c);
    } else if (auto loaded = store.Load(*it); !loaded.ok()) {
      c.problem = "it fails its own checks: " + loaded.error().message;
      ExplainSnapshot(store, rebuilt, c);
    } else {
      c.match = true;
    }
    checks.push_back(std::move(c));
  }
  bool snapshots_ok =
      std::all_of(checks.begin(), checks.end(), [](const auto& c) { return c.match; });

  std::string live_digest, live_difference;
  bool live_ok = true;
  if (live) {
    const State& rebuilt = at.at(live->sequence);
    live_digest = projections::StateDigestHex(rebuilt);
    live_ok = live_digest == live->digest;
    if (!live_ok) {
      live_difference = live->entities ? projections::FirstDifferingEntity(
                                             projections::EntityDigests(rebuilt), *live->entities)
                                       : "(the server sent no entity digests)";
    }
  }

  bool written = false;
  std::string write_error;
  if (write) {
    Status replaced = store.Replace(state);
    written = replaced.ok();
    if (!written) write_error = replaced.error().message;
  }
  const bool ok = live_ok && write_error.empty() && (snapshots_ok || written);

  if (format == "json") {
    json::Writer w;
    w.BeginObject().Member("ok", ok).Member("sequence", head.sequence).Member("digest", digest);
    w.Member("events", events_folded).Member("seconds", seconds);
    w.Member("events_per_second", rate).Member("chain_ok", true);
    w.Key("snapshots").BeginArray();
    for (const SnapshotCheck& c : checks) {
      w.BeginObject().Member("sequence", c.info.sequence).Member("digest", c.info.digest);
      w.Member("rebuilt_digest", c.rebuilt_digest).Member("match", c.match);
      w.Key("problem");
      c.problem.empty() ? w.Null() : w.String(c.problem);
      w.Key("first_difference");
      c.first_difference.empty() ? w.Null() : w.String(c.first_difference);
      w.EndObject();
    }
    w.EndArray();
    w.Key("live");
    if (live) {
      w.BeginObject().Member("sequence", live->sequence).Member("digest", live->digest);
      w.Member("rebuilt_digest", live_digest).Member("match", live_ok);
      w.Key("first_difference");
      live_difference.empty() ? w.Null() : w.String(live_difference);
      w.EndObject();
    } else {
      w.Null();
    }
    w.Member("snapshot_written", written).Member("dry_run", dry_run);
    w.EndObject();
    std::printf("%s\n", w.str().c_str());
  } else {
    const Style s(IsTty(stdout) && std::getenv("NO_COLOR") == nullptr);
    std::printf("%s %s events in %s (%s events/s); hash chain verified\n",
                dry_run ? "verified" : "rebuilt", FormatCount(events_folded).c_str(),
                FormatSeconds(seconds).c_str(), FormatCount(static_cast<uint64_t>(rate)).c_str());
    std::printf("state digest at sequence %llu: %s\n",
                static_cast<unsigned long long>(head.sequence), digest.c_str());
    if (checks.empty()) std::printf("snapshots: none stored\n");
    for (const SnapshotCheck& c : checks) {
      if (c.match) {
        std::printf("snapshot at sequence %llu: digest %s\n",
                    static_cast<unsigned long long>(c.info.sequence), s.Green("matches").c_str());
      } else {
        std::printf("snapshot at sequence %llu: %s: %s\n",
                    static_cast<unsigned long long>(c.info.sequence), s.Red("MISMATCH").c_str(),
                    c.problem.c_str());
        if (!c.first_difference.empty()) {
          std::printf("  first difference: %s\n", c.first_difference.c_str());
        }
      }
    }
    if (live) {
      if (live_ok) {
        std::printf("live server at sequence %llu: digest %s\n",
                    static_cast<unsigned long long>(live->sequence), s.Green("matches").c_str());
      } else {
        std::printf("live server at sequence %llu: %s: server %s, rebuilt %s\n",
                    static_cast<unsigned long long>(live->sequence), s.Red("MISMATCH").c_str(),
                    live->digest.c_str(), live_digest.c_str());
        std::printf("  first difference: %s\n", live_difference.c_str());
      }
    }
    if (args->Has("--write-snapshot") && dry_run) {
      std::printf("dry run: would replace %zu snapshot(s) with one at sequence %llu\n",
                  infos->size(), static_cast<unsigned long long>(head.sequence));
    }
    if (written) {
      std::printf("wrote the snapshot at sequence %llu (digest %s), replacing %zu\n",
                  static_cast<unsigned long long>(head.sequence), digest.c_str(), infos->size());
    }
  }
  if (!write_error.empty()) return Fail(kExitError, "cannot write the snapshot: " + write_error);
  Status closed = (*opened)->Close();
  if (!closed.ok()) return Fail(kExitError, "closing " + name + ": " + closed.error().message);
  return ok ? kExitOk : kExitCheckFailed;
}

}  // namespace keyledger::tools::rebuild

int main(int argc, char** argv) {
  return keyledger::tools::rebuild::Run(std::vector<std::string>(argv + 1, argv + argc));
}
