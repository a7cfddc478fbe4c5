// Threads: the writer thread ("kl-etcd-writer") owns planning and every write transaction;
// readers call etcd on their own threads through the client's connection pool. CatchUp() takes
// the writer role (writer_mu_) for its duration. The follower thread ("kl-etcd-follow") watches
// and probes the head on its own client and adopts other writers' heads (Adopt).
//
// Two heads: `head_` is what readers see (GetHead, every read is clamped to it) and moves when
// this node commits or learns of another writer's commit; `plan_head_` is what the writer plans
// and compares on, and moves only when this node commits or an append loses a race
// (kHeadConflict). So an append never lands on a head its caller was not told about: a caller
// that decided against the state at sequence S either appends right after S or is told to
// catch up (the registry checks that its state has reached GetHead() before deciding).
#include "events/etcd_event_log.hpp"

#include <pthread.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "events/crypto.hpp"
#include "events/head_codec.hpp"
#include "events/time_format.hpp"

namespace keyledger::events {
namespace {

using etcd::Compare;
using etcd::Op;
using SteadyClock = std::chrono::steady_clock;

// Rough cost of one op in a transaction besides its key and value (gRPC framing, lease, tags).
constexpr size_t kOpOverheadBytes = 32;
// Records read per transaction when fetching a stream's records by sequence.
constexpr size_t kRecordsPerFetch = 64;
// Stream versions read per transaction before planning.
constexpr size_t kVersionsPerFetch = 100;

std::string Hex16(uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kHex[v & 15];
    v >>= 4;
  }
  return out;
}

std::optional<uint64_t> ParseHex16(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v |= static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
  }
  return v;
}

std::string RandomHex(size_t bytes) {
  std::random_device rd;
  std::string raw;
  for (size_t i = 0; i < bytes; ++i) raw += static_cast<char>(rd() & 0xFF);
  return crypto::HexEncode(raw);
}

Error WriteFailure() {
  return MakeError(ErrorCode::kIoError, "the event store could not write; retry later");
}

Error HeadConflict(const Head& etcd_head) {
  Error e = MakeError(ErrorCode::kHeadConflict,
                      "another writer appended to the shared log (its head is at sequence " +
                          std::to_string(etcd_head.sequence) + "); catch up and retry");
  e.actual_version = etcd_head.sequence;
  return e;
}

Op Put(std::string key, std::string value, int64_t lease = 0) {
  Op op;
  op.kind = Op::Kind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}

Op Delete(std::string key) {
  Op op;
  op.kind = Op::Kind::kDelete;
  op.key = std::move(key);
  return op;
}

Op Get(std::string key) {
  Op op;
  op.kind = Op::Kind::kRange;
  op.key = std::move(key);
  return op;
}

Compare ValueIs(std::string key, std::string value) {
  Compare c;
  c.key = std::move(key);
  c.target = Compare::Target::kValue;
  c.value = std::move(value);
  return c;
}

Compare Absent(std::string key) {
  Compare c;
  c.key = std::move(key);
  c.target = Compare::Target::kCreate;
  c.number = 0;
  return c;
}

size_t OpBytes(const Op& op) { return op.key.size() + op.value.size() + kOpOverheadBytes; }

// What a request will cost in one transaction, estimated before planning.
struct Cost {
  size_t ops = 0;
  size_t bytes = 0;
};

Cost EstimateCost(const AppendRequest& r) {
  Cost c;
  for (const StreamAppend& s : r.streams) {
    if (!s.events.empty()) c.ops += 1;  // its version
    for (const NewEvent& e : s.events) {
      c.ops += 2;  // the record and its stream index entry
      c.bytes += e.payload.size() + 2 * s.stream.size() + s.metadata.actor.size() +
                 s.metadata.client_ip.size() + s.metadata.request_id.size() +
                 s.metadata.reason.value_or("").size() + 160 + 2 * kOpOverheadBytes;
    }
  }
  for (const AuxWrite& w : r.aux) {
    c.ops += 1;
    c.bytes += w.key.size() + 64 + (w.value ? w.value->size() : 0) + kOpOverheadBytes;
  }
  return c;
}

bool OnlySnapshots(const AppendRequest& r) {
  return r.streams.empty() && !r.aux.empty() &&
         std::all_of(r.aux.begin(), r.aux.end(),
                     [](const AuxWrite& w) { return w.space == AuxSpace::kSnapshots; });
}

bool AnySnapshots(const AppendRequest& r) {
  return std::any_of(r.aux.begin(), r.aux.end(),
                     [](const AuxWrite& w) { return w.space == AuxSpace::kSnapshots; });
}

// The aux writes of a transaction, one entry per key (etcd refuses a key twice in one
// transaction), in the order the requests gave them.
class AuxPlan {
 public:
  void Add(const AuxWrite& w, const std::string& etcd_key) {
    auto [it, inserted] = entries_.try_emplace(etcd_key);
    Entry& e = it->second;
    if (inserted) e.space = w.space;
    if (!w.value) {
      e.kind = Kind::kDelete;
    } else if (!w.only_if_present) {
      e.kind = Kind::kPut;
      e.value = *w.value;
    } else if (e.kind == Kind::kNone || e.kind == Kind::kPutIfPresent) {
      // Present before the transaction decides (a nested compare sees the state before it).
      e.kind = Kind::kPutIfPresent;
      e.value = *w.value;
    } else if (e.kind == Kind::kPut) {
      e.value = *w.value;  // present: put earlier in this transaction
    }
    // After a delete in this transaction the key is absent: the conditional put is skipped.
  }
  size_t size() const { return entries_.size(); }
  bool NeedsLease() const {
    return std::any_of(entries_.begin(), entries_.end(), [](const auto& kv) {
      return kv.second.space == AuxSpace::kIdempotency && kv.second.kind != Kind::kDelete;
    });
  }
  void Emit(std::vector<Op>& ops, int64_t idempotency_lease) const {
    for (const auto& [key, e] : entries_) {
      const int64_t lease = e.space == AuxSpace::kIdempotency ? idempotency_lease : 0;
      switch (e.kind) {
        case Kind::kNone:
          break;
        case Kind::kDelete:
          ops.push_back(Delete(key));
          break;
        case Kind::kPut:
          ops.push_back(Put(key, e.value, lease));
          break;
        case Kind::kPutIfPresent: {
          Op op = Put(key, e.value, lease);
          op.kind = Op::Kind::kPutIfPresent;
          ops.push_back(std::move(op));
          break;
        }
      }
    }
  }

 private:
  enum class Kind : uint8_t { kNone, kDelete, kPut, kPutIfPresent };
  struct Entry {
    AuxSpace space = AuxSpace::kKeyring;
    Kind kind = Kind::kNone;
    std::string value;
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace

std::string EtcdEventLog::Keys::Record(uint64_t sequence) const {
  return prefix + "/e/" + Hex16(sequence);
}
std::string EtcdEventLog::Keys::StreamIndex(std::string_view stream, uint64_t version) const {
  return prefix + "/s/" + std::string(stream) + "/" + Hex16(version);
}
std::string EtcdEventLog::Keys::Version(std::string_view stream) const {
  return prefix + "/v/" + std::string(stream);
}
std::string EtcdEventLog::Keys::Aux(AuxSpace space, std::string_view key) const {
  return prefix + "/a/" + std::string(AuxSpaceName(space)) + "/" + std::string(key);
}

// Requests planned into one transaction.
struct EtcdEventLog::Batch {
  explicit Batch(const Head& start) : start_head(start) {}
  Head start_head;
  std::vector<AppendCallback> done;
  std::vector<Result<AppendResult>> results;
  std::vector<const AppendRequest*> requests;
  std::vector<EventRecord> records;
  AuxPlan aux;
  std::vector<std::pair<std::string, uint64_t>> versions;  // after the batch
  Head end_head;
  Cost cost;
  bool guards = false;      // some request names a stream (with or without events)
  uint64_t generation = 0;  // versions_generation_ when planned
};

EtcdEventLog::EtcdEventLog(Options options) : options_(std::move(options)) {
  if (!options_.clock) options_.clock = SystemClockMicros;
  keys_.prefix = options_.prefix;
  head_.hash = GenesisHash();
  plan_head_.hash = GenesisHash();
}

EtcdEventLog::~EtcdEventLog() { IgnoreError(Close()); }

void EtcdEventLog::LogError(std::string_view what) const {
  if (options_.log) options_.log(LogLevel::kError, what);
}

Result<std::unique_ptr<EtcdEventLog>> EtcdEventLog::Open(Options options) {
  const std::string& p = options.prefix;
  if (p.size() < 2 || p.front() != '/' || p.back() == '/') {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--etcd-prefix must start with '/' and not end with one, got '" + p + "'");
  }
  if (options.local_dir.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the etcd log needs a local directory");
  }
  if (options.max_txn_ops < 8 || options.max_txn_bytes < (kMaxPayloadBytes + (64 << 10))) {
    return MakeError(ErrorCode::kInvalidArgument, "etcd transaction limits are too small");
  }
  if (options.page_records == 0) options.page_records = 1;
  std::unique_ptr<EtcdEventLog> log(new EtcdEventLog(std::move(options)));
  KL_ASSIGN_OR_RETURN(log->client_, etcd::Client::Create(log->options_.client));
  KL_RETURN_IF_ERROR(log->Init());
  log->writer_ = std::thread([raw = log.get()] { raw->WriterLoop(); });
  if (log->options_.follow) {
    etcd::ClientOptions follower = log->options_.client;
    follower.request_timeout = std::min(follower.request_timeout, log->options_.probe_timeout);
    follower.max_idle_connections = 2;
    KL_ASSIGN_OR_RETURN(log->follower_client_, etcd::Client::Create(std::move(follower)));
    log->follower_ = std::thread([raw = log.get()] { raw->FollowerLoop(); });
  }
  return log;
}

Status EtcdEventLog::Init() {
  // Create the layout if the prefix is empty, else read it: one transaction either way.
  etcd::TxnRequest init;
  init.compare.push_back(Absent(keys_.FormatKey()));
  const std::string new_id = RandomHex(16);
  init.success = {Put(keys_.FormatKey(), EncodeFormatValue(kEtcdLayoutVersion)),
                  Put(keys_.HeadKey(), EncodeHeadValue(Head{0, GenesisHash(), 0})),
                  Put(keys_.IdKey(), new_id)};
  init.failure = {Get(keys_.FormatKey()), Get(keys_.HeadKey()), Get(keys_.IdKey())};
  KL_ASSIGN_OR_RETURN(etcd::TxnResponse r, client_->Txn(init));
  Head head{0, GenesisHash(), 0};
  if (r.succeeded) {
    log_id_ = new_id;
  } else {
    if (r.ranges.size() != 3 || r.ranges[0].kvs.size() != 1) {
      return MakeError(ErrorCode::kCorruption, "etcd answered the layout read incompletely");
    }
    const std::string& format = r.ranges[0].kvs[0].value;
    uint32_t version = 0;
    for (char c : format) version = version << 8 | static_cast<uint8_t>(c);
    if (format.size() != 4 || version != kEtcdLayoutVersion) {
      return MakeError(ErrorCode::kUnsupported,
                       "etcd prefix " + keys_.prefix + " holds layout version " +
                           std::to_string(version) + "; this build reads version " +
                           std::to_string(kEtcdLayoutVersion));
    }
    if (r.ranges[1].kvs.size() != 1 || r.ranges[2].kvs.size() != 1) {
      return MakeError(ErrorCode::kCorruption,
                       "etcd prefix " + keys_.prefix + " has a format but no head or id");
    }
    KL_ASSIGN_OR_RETURN(head, DecodeHeadValue(r.ranges[1].kvs[0].value, "the head stored in etcd"));
    log_id_ = r.ranges[2].kvs[0].value;
    if (log_id_.empty() || log_id_.size() > 64 ||
        log_id_.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return MakeError(ErrorCode::kCorruption, "the log id stored in etcd is malformed");
    }
  }
  if (head.sequence > 0) {
    // The head record must be there and be the one the head names.
    etcd::RangeRequest get;
    get.key = keys_.Record(head.sequence);
    KL_ASSIGN_OR_RETURN(etcd::RangeResponse rr, client_->Range(get));
    if (rr.kvs.size() != 1) {
      return MakeError(ErrorCode::kCorruption,
                       "etcd's head names sequence " + std::to_string(head.sequence) +
                           " but that record is missing (run keyledger-audit verify)");
    }
    KL_ASSIGN_OR_RETURN(EventRecord rec, DecodeRecord(rr.kvs[0].value));
    if (rec.sequence != head.sequence || rec.hash != head.hash || !VerifyRecordHash(rec)) {
      return MakeError(ErrorCode::kCorruption,
                       "the hash chain is broken at the head stored in etcd (run keyledger-audit "
                       "verify)");
    }
  }
  {
    std::lock_guard lock(head_mu_);
    head_ = head;
  }
  plan_head_ = head;
  namespace fs = std::filesystem;
  const std::string local = (fs::path(options_.local_dir) / "etcd-snapshots" / log_id_).string();
  std::error_code ec;
  fs::create_directories(fs::path(local).parent_path(), ec);
  if (ec) {
    return MakeError(ErrorCode::kIoError, "cannot create " + local + ": " + ec.message());
  }
  RocksEventLog::Options local_options;
  local_options.log = options_.log;
  local_options.block_cache_bytes = options_.local_block_cache_bytes;
  local_options.write_buffer_bytes = options_.local_write_buffer_bytes;
  KL_ASSIGN_OR_RETURN(local_, RocksEventLog::Open(local, local_options));
  return Status::Ok();
}

Head EtcdEventLog::GetHead() const {
  std::lock_guard lock(head_mu_);
  return head_;
}

void EtcdEventLog::SetCommitting(std::optional<Head> head) {
  std::lock_guard lock(head_mu_);
  committing_ = head;
}

bool EtcdEventLog::stale() const {
  std::lock_guard lock(head_mu_);
  return stale_;
}

void EtcdEventLog::SetStale(bool value) {
  std::lock_guard lock(head_mu_);
  stale_ = value;
}

Result<Head> EtcdEventLog::ReadStoredHead() const {
  etcd::RangeRequest get;
  get.key = keys_.HeadKey();
  KL_ASSIGN_OR_RETURN(etcd::RangeResponse r, client_->Range(get));
  if (r.kvs.size() != 1) return MakeError(ErrorCode::kCorruption, "etcd holds no head");
  return DecodeHeadValue(r.kvs[0].value, "the head stored in etcd");
}

// ---- Following other writers (ETCD.md "Several nodes").

bool EtcdEventLog::Adopt(const Head& stored) {
  {
    std::lock_guard lock(head_mu_);
    if (stored.sequence <= head_.sequence || committing_ == stored) return false;
  }
  {
    // Before the head moves, so nobody decides on the new head with an old version.
    std::lock_guard lock(versions_mu_);
    versions_.clear();
    ++versions_generation_;
  }
  {
    std::lock_guard lock(head_mu_);
    if (stored.sequence <= head_.sequence) return false;
    head_ = stored;
    stale_ = false;
  }
  std::lock_guard lock(listener_mu_);
  if (listener_) listener_(stored);
  return true;
}

void EtcdEventLog::SetHeadListener(HeadListener listener) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(listener);
}

Status EtcdEventLog::Health() const {
  std::lock_guard lock(health_mu_);
  if (healthy_) return Status::Ok();
  return MakeError(ErrorCode::kUnavailable, "etcd: no quorum or unreachable since " +
                                                FormatTimestampZ(unhealthy_since_us_) + ": " +
                                                unhealthy_why_);
}

bool EtcdEventLog::FollowerStopping() {
  std::lock_guard lock(follower_mu_);
  return follower_stopping_;
}

Status EtcdEventLog::Probe(int64_t& revision, int64_t& head_mod) {
  etcd::RangeRequest get;
  get.key = keys_.HeadKey();
  auto r = follower_client_->Range(get);  // linearizable: needs a leader and a quorum
  Result<Head> head = MakeError(ErrorCode::kCorruption, "etcd holds no head");
  if (r.ok() && r->kvs.size() == 1) {
    head = DecodeHeadValue(r->kvs[0].value, "the head stored in etcd");
  }
  const Status outcome = !r.ok() ? Status(r.error()) : head.status();
  {
    std::lock_guard lock(health_mu_);
    if (outcome.ok()) {
      if (!healthy_) {
        healthy_ = true;
        unhealthy_why_.clear();
      }
    } else {
      if (healthy_) {
        healthy_ = false;
        unhealthy_since_us_ = SystemClockMicros();
      }
      unhealthy_why_ = outcome.error().message;
    }
  }
  if (!outcome.ok()) return outcome;
  revision = r->revision;
  head_mod = r->kvs[0].mod_revision;
  Adopt(*head);
  return Status::Ok();
}

void EtcdEventLog::FollowerLoop() {
  pthread_setname_np(pthread_self(), "kl-etcd-follow");
  using std::chrono::milliseconds;
  // Waits up to `d` unless Close() is called meanwhile; false once stopping.
  auto pause = [this](SteadyClock::duration d) {
    std::unique_lock lock(follower_mu_);
    follower_cv_.wait_for(lock, d, [this] { return follower_stopping_; });
    return !follower_stopping_;
  };
  bool logged_failure = false;
  bool restarting = false;
  while (!FollowerStopping()) {
    // (Re)start: read the head (catching up on anything missed), then watch from just after.
    if (restarting) follower_restarts_.fetch_add(1);  // the telemetry watcher re-reads too
    restarting = true;
    int64_t revision = 0;
    int64_t head_mod = 0;
    if (Status s = Probe(revision, head_mod); !s.ok()) {
      if (!logged_failure) LogError("etcd follower: " + s.ToString());
      logged_failure = true;
      if (!pause(options_.probe_interval)) return;
      continue;
    }
    logged_failure = false;
    etcd::WatchRequest watch;
    watch.key = keys_.HeadKey();
    watch.start_revision = revision + 1;
    const auto started = SteadyClock::now();
    auto next_probe = started + options_.probe_interval;
    int64_t last_probe_revision = revision;
    int64_t watched = revision;  // the newest head write the watch delivered (or the start)
    bool created = false;
    Status s = follower_client_->Watch(watch, [&](const etcd::WatchMessage& m) {
      if (FollowerStopping()) return false;
      if (!m.tick) {
        created = created || m.created;
        for (const etcd::WatchEvent& e : m.events) {
          watched = std::max(watched, e.kv.mod_revision);
          if (e.deleted) continue;
          auto head = DecodeHeadValue(e.kv.value, "the head stored in etcd");
          if (head.ok()) Adopt(*head);
        }
        if (m.canceled) {
          LogError("etcd follower: the watch was canceled (" +
                   (m.compact_revision > 0 ? "compacted" : m.cancel_reason) + "); resuming");
        }
      }
      const auto now = SteadyClock::now();
      if (!created && now - started > options_.probe_interval + options_.probe_timeout) {
        return false;  // the member never confirmed the watch: another one
      }
      if (now < next_probe) return true;
      next_probe = now + options_.probe_interval;
      if (Status d = DefragmentWhenDue(false); !d.ok()) {
        LogError("etcd: defragmenting the members failed (tried again later): " + d.ToString());
      }
      int64_t probe_revision = 0;
      int64_t probe_head_mod = 0;
      if (!Probe(probe_revision, probe_head_mod).ok()) return false;  // re-watch once healthy
      // The head was written before the previous probe and the watch still has not delivered
      // it: the stream is stuck (a stopped member keeps the TCP connection open). Re-watch.
      const bool stuck = probe_head_mod > watched && probe_head_mod <= last_probe_revision;
      last_probe_revision = probe_revision;
      return !stuck;
    });
    if (!s.ok()) {
      if (!logged_failure) LogError("etcd follower: " + s.ToString() + "; resuming");
      logged_failure = true;
    }
    if (!pause(milliseconds(100))) return;
  }
}

// ---- Health telemetry of other nodes (ETCD.md "Health telemetry on several nodes").

Status EtcdEventLog::WatchAux(AuxSpace space, Listener listener) {
  if (space != AuxSpace::kTelemetry) {
    return MakeError(ErrorCode::kUnsupported, "only health telemetry can be watched");
  }
  if (!options_.follow) {
    return MakeError(ErrorCode::kUnsupported, "this etcd log runs without its follower");
  }
  std::lock_guard lock(aux_listener_mu_);
  aux_listener_ = std::move(listener);
  if (aux_listener_ && !telemetry_watcher_.joinable() && !FollowerStopping()) {
    etcd::ClientOptions o = options_.client;
    o.request_timeout = std::min(o.request_timeout, options_.probe_timeout);
    o.max_idle_connections = 1;
    KL_ASSIGN_OR_RETURN(telemetry_client_, etcd::Client::Create(std::move(o)));
    telemetry_watcher_ = std::thread([this] { TelemetryLoop(); });
  }
  return Status::Ok();
}

void EtcdEventLog::DeliverTelemetry(std::vector<AuxChange> changes, bool complete) {
  if (changes.empty() && !complete) return;
  std::lock_guard lock(aux_listener_mu_);
  if (aux_listener_) aux_listener_(std::move(changes), complete);
}

Status EtcdEventLog::ReadTelemetry(int64_t& revision, std::vector<AuxChange>& out) {
  const std::string space_prefix = keys_.Aux(AuxSpace::kTelemetry, "");
  std::string from = space_prefix;
  const std::string end = etcd::PrefixEnd(space_prefix);
  size_t page = options_.page_records;
  revision = 0;
  while (true) {
    etcd::RangeRequest range;
    range.key = from;
    range.range_end = end;
    range.limit = static_cast<int64_t>(page);
    range.revision = revision;  // the first page's revision for every later page
    auto r = telemetry_client_->Range(range);
    if (!r.ok() && r.error().code == ErrorCode::kPayloadTooLarge && page > 1) {
      page = std::max<size_t>(1, page / 4);
      continue;
    }
    if (!r.ok()) return r.error();
    if (revision == 0) revision = r->revision;
    for (etcd::KeyValue& kv : r->kvs) {
      out.push_back(AuxChange{kv.key.substr(space_prefix.size()), std::move(kv.value)});
    }
    if (!r->more || r->kvs.empty()) return Status::Ok();
    from = r->kvs.back().key + '\0';
  }
}

void EtcdEventLog::TelemetryLoop() {
  pthread_setname_np(pthread_self(), "kl-etcd-telem");
  auto pause = [this](SteadyClock::duration d) {
    std::unique_lock lock(follower_mu_);
    follower_cv_.wait_for(lock, d, [this] { return follower_stopping_; });
    return !follower_stopping_;
  };
  const std::string space_prefix = keys_.Aux(AuxSpace::kTelemetry, "");
  bool logged_failure = false;
  while (!FollowerStopping()) {
    // Everything first (changes may have been missed while no watch ran), then the changes
    // from the revision that read saw.
    const uint64_t restarts = follower_restarts_.load();
    int64_t revision = 0;
    std::vector<AuxChange> all;
    if (Status s = ReadTelemetry(revision, all); !s.ok()) {
      if (!logged_failure) LogError("etcd telemetry watcher: " + s.ToString());
      logged_failure = true;
      if (!pause(options_.probe_interval)) return;
      continue;
    }
    logged_failure = false;
    DeliverTelemetry(std::move(all), true);
    etcd::WatchRequest watch;
    watch.key = space_prefix;
    watch.range_end = etcd::PrefixEnd(space_prefix);
    watch.start_revision = revision + 1;
    Status s = telemetry_client_->Watch(watch, [&](const etcd::WatchMessage& m) {
      if (FollowerStopping()) return false;
      // The head follower restarted: its probe found the stream stuck or the cluster lost.
      if (follower_restarts_.load() != restarts) return false;
      if (m.tick) return true;
      std::vector<AuxChange> changes;
      changes.reserve(m.events.size());
      for (const etcd::WatchEvent& e : m.events) {
        if (!e.kv.key.starts_with(space_prefix)) continue;
        AuxChange c{e.kv.key.substr(space_prefix.size()), std::nullopt};
        if (!e.deleted) c.value = e.kv.value;
        changes.push_back(std::move(c));
      }
      DeliverTelemetry(std::move(changes), false);
      return !m.canceled;
    });
    if (!s.ok() && !logged_failure) {
      LogError("etcd telemetry watcher: " + s.ToString() + "; resuming");
      logged_failure = true;
    }
    if (!pause(std::chrono::milliseconds(100))) return;
  }
}

// ---- Reads.

Status EtcdEventLog::ScanRaw(uint64_t from, uint64_t to,
                             const std::function<bool(uint64_t, std::string_view)>& visit) const {
  if (from == 0) from = 1;
  to = std::min(to, GetHead().sequence);  // never past the head: ETCD.md "Splitting"
  size_t page = options_.page_records;
  const std::string record_prefix = keys_.prefix + "/e/";
  while (from <= to) {
    etcd::RangeRequest range;
    range.key = keys_.Record(from);
    range.range_end = keys_.Record(to + 1);
    range.limit = static_cast<int64_t>(std::min<uint64_t>(page, to - from + 1));
    auto r = client_->Range(range);
    if (!r.ok() && r.error().code == ErrorCode::kPayloadTooLarge && page > 1) {
      page = std::max<size_t>(1, page / 4);  // large records: fewer per page
      continue;
    }
    if (!r.ok()) return r.error();
    if (r->kvs.empty()) return Status::Ok();  // the rest is missing (Verify reports it)
    for (const etcd::KeyValue& kv : r->kvs) {
      std::optional<uint64_t> seq;
      if (kv.key.starts_with(record_prefix)) seq = ParseHex16(kv.key.substr(record_prefix.size()));
      if (!seq) return MakeError(ErrorCode::kCorruption, "malformed record key in etcd");
      if (!visit(*seq, kv.value)) return Status::Ok();
      from = *seq + 1;
    }
  }
  return Status::Ok();
}

Status EtcdEventLog::Scan(uint64_t from, uint64_t to, const RecordVisitor& visit) const {
  Status decode_error;
  KL_RETURN_IF_ERROR(ScanRaw(from, to, [&](uint64_t seq, std::string_view value) {
    auto r = DecodeRecord(value);
    if (!r.ok()) {
      decode_error = r.error();
      return false;
    }
    if (r->sequence != seq) {
      decode_error =
          MakeError(ErrorCode::kCorruption, "a record is stored under the wrong sequence");
      return false;
    }
    return visit(*r);
  }));
  return decode_error;
}

Result<std::vector<EventRecord>> EtcdEventLog::ReadRange(uint64_t from_sequence,
                                                         size_t limit) const {
  std::vector<EventRecord> out;
  if (limit == 0) return out;
  KL_RETURN_IF_ERROR(Scan(from_sequence, UINT64_MAX, [&](const EventRecord& r) {
    out.push_back(r);
    return out.size() < limit;
  }));
  return out;
}

Result<std::optional<uint64_t>> EtcdEventLog::ReadVersion(std::string_view stream) const {
  etcd::RangeRequest get;
  get.key = keys_.Version(stream);
  KL_ASSIGN_OR_RETURN(etcd::RangeResponse r, client_->Range(get));
  if (r.kvs.empty()) return std::optional<uint64_t>(uint64_t{0});
  auto v = ParseHex16(r.kvs[0].value);
  if (!v) return MakeError(ErrorCode::kCorruption, "malformed stream version in etcd");
  return v;
}

void EtcdEventLog::RememberVersion(const std::string& stream, uint64_t version,
                                   uint64_t generation) const {
  std::lock_guard lock(versions_mu_);
  if (generation == versions_generation_) versions_.emplace(stream, version);
}

Result<uint64_t> EtcdEventLog::StreamVersion(std::string_view stream) const {
  KL_RETURN_IF_ERROR(ValidateStreamId(stream));
  uint64_t generation;
  {
    std::lock_guard lock(versions_mu_);
    auto it = versions_.find(std::string(stream));
    if (it != versions_.end()) return it->second;
    generation = versions_generation_;
  }
  KL_ASSIGN_OR_RETURN(std::optional<uint64_t> v, ReadVersion(stream));
  RememberVersion(std::string(stream), *v, generation);
  return *v;
}

Result<std::vector<EventRecord>> EtcdEventLog::ReadStream(std::string_view stream,
                                                          uint64_t from_version,
                                                          size_t limit) const {
  KL_RETURN_IF_ERROR(ValidateStreamId(stream));
  std::vector<EventRecord> out;
  KL_ASSIGN_OR_RETURN(uint64_t version, StreamVersion(stream));
  if (from_version == 0) from_version = 1;
  if (limit == 0 || from_version > version) return out;
  const uint64_t last = version - from_version + 1 <= limit ? version : from_version + limit - 1;
  const std::string index_prefix = keys_.prefix + "/s/" + std::string(stream) + "/";
  uint64_t next = from_version;
  while (next <= last) {
    // The index entries (version -> sequence) of one page, then their records in one read.
    etcd::RangeRequest range;
    range.key = keys_.StreamIndex(stream, next);
    range.range_end = keys_.StreamIndex(stream, last + 1);
    range.limit = static_cast<int64_t>(std::min<uint64_t>(kRecordsPerFetch, last - next + 1));
    KL_ASSIGN_OR_RETURN(etcd::RangeResponse index, client_->Range(range));
    if (index.kvs.empty()) {
      return MakeError(ErrorCode::kCorruption, "stream index in etcd is missing entries");
    }
    etcd::TxnRequest fetch;
    std::vector<uint64_t> versions;
    for (const etcd::KeyValue& kv : index.kvs) {
      auto v = ParseHex16(std::string_view(kv.key).substr(index_prefix.size()));
      auto seq = ParseHex16(kv.value);
      if (!kv.key.starts_with(index_prefix) || !v || !seq) {
        return MakeError(ErrorCode::kCorruption, "malformed stream index entry in etcd");
      }
      versions.push_back(*v);
      fetch.success.push_back(Get(keys_.Record(*seq)));
    }
    KL_ASSIGN_OR_RETURN(etcd::TxnResponse got, client_->Txn(fetch));
    if (got.ranges.size() != versions.size()) {
      return MakeError(ErrorCode::kIoError, "etcd answered a record read incompletely");
    }
    for (size_t i = 0; i < versions.size(); ++i) {
      if (got.ranges[i].kvs.size() != 1) {
        return MakeError(ErrorCode::kCorruption, "stream index points at a missing record");
      }
      KL_ASSIGN_OR_RETURN(EventRecord r, DecodeRecord(got.ranges[i].kvs[0].value));
      // Index entries above a stream's version may be left by a failed split; entries at or
      // below it were written by the commit that made them so, but check anyway.
      if (r.stream != stream || r.stream_version != versions[i]) {
        return MakeError(ErrorCode::kCorruption, "stream index points at another record");
      }
      out.push_back(std::move(r));
    }
    next = versions.back() + 1;
  }
  return out;
}

Result<VerifyReport> EtcdEventLog::Verify(uint64_t from, uint64_t to) const {
  if (from == 0) from = 1;
  to = std::min(to, GetHead().sequence);
  Hash prev = GenesisHash();
  if (from > 1) {
    etcd::RangeRequest get;
    get.key = keys_.Record(from - 1);
    KL_ASSIGN_OR_RETURN(etcd::RangeResponse r, client_->Range(get));
    auto decoded = r.kvs.size() == 1 ? DecodeRecord(r.kvs[0].value)
                                     : Result<EventRecord>(MakeError(ErrorCode::kNotFound, ""));
    if (!decoded.ok()) {
      VerifyReport report;
      report.ok = false;
      report.first_bad = from - 1;
      report.reason =
          "record " + std::to_string(from - 1) + " (before the range) is missing or unreadable";
      return report;
    }
    prev = decoded->hash;
  }
  ChainVerifier verifier(from, prev);
  Status s = ScanRaw(
      from, to, [&](uint64_t seq, std::string_view value) { return verifier.Next(seq, value); });
  if (!s.ok()) return s.error();
  verifier.Finish(to);
  return verifier.report();
}

Result<std::optional<std::string>> EtcdEventLog::GetAux(AuxSpace space,
                                                        std::string_view key) const {
  if (space == AuxSpace::kSnapshots) return local_->GetAux(space, key);
  etcd::RangeRequest get;
  get.key = keys_.Aux(space, key);
  KL_ASSIGN_OR_RETURN(etcd::RangeResponse r, client_->Range(get));
  if (r.kvs.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(r.kvs[0].value));
}

Status EtcdEventLog::ScanAux(AuxSpace space, std::string_view prefix,
                             const AuxVisitor& visit) const {
  if (space == AuxSpace::kSnapshots) return local_->ScanAux(space, prefix, visit);
  const std::string space_prefix = keys_.Aux(space, "");
  std::string from = space_prefix + std::string(prefix);
  const std::string end = etcd::PrefixEnd(from);
  size_t page = options_.page_records;
  while (true) {
    etcd::RangeRequest range;
    range.key = from;
    range.range_end = end;
    range.limit = static_cast<int64_t>(page);
    auto r = client_->Range(range);
    if (!r.ok() && r.error().code == ErrorCode::kPayloadTooLarge && page > 1) {
      page = std::max<size_t>(1, page / 4);
      continue;
    }
    if (!r.ok()) return r.error();
    for (const etcd::KeyValue& kv : r->kvs) {
      if (!visit(std::string_view(kv.key).substr(space_prefix.size()), kv.value)) {
        return Status::Ok();
      }
    }
    if (!r->more || r->kvs.empty()) return Status::Ok();
    from = r->kvs.back().key + '\0';  // the next key after the last one read
  }
}

// ---- Appends.

void EtcdEventLog::AppendAsync(AppendRequest request, AppendCallback done) {
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_) {
      queue_.push_back(Pending{std::move(request), std::move(done)});
      queue_cv_.notify_one();
      return;
    }
  }
  done(MakeError(ErrorCode::kUnavailable, "event log is closed"));
}

void EtcdEventLog::WriterLoop() {
  pthread_setname_np(pthread_self(), "kl-etcd-writer");
  std::vector<Pending> group;
  while (true) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      const size_t n = std::min(queue_.size(), options_.max_group_requests);
      group.clear();
      for (size_t i = 0; i < n; ++i) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    {
      std::lock_guard writer(writer_mu_);
      ProcessGroup(group);
    }
    group.clear();  // release the callbacks (and what they hold) now
  }
}

// The same cache and read as StreamVersion (the planner has validated the stream already).
Result<uint64_t> EtcdEventLog::WriterVersion(std::string_view stream) {
  return StreamVersion(stream);
}

Status EtcdEventLog::PrefetchVersions(const std::vector<Pending>& group) {
  // One read for every stream the group names that is not cached yet, instead of one each.
  std::vector<std::string> missing;
  uint64_t generation;
  {
    std::lock_guard lock(versions_mu_);
    generation = versions_generation_;
    std::set<std::string_view> seen;
    for (const Pending& p : group) {
      for (const StreamAppend& s : p.request.streams) {
        if (!ValidateStreamId(s.stream).ok() || !seen.insert(s.stream).second) continue;
        if (versions_.find(s.stream) == versions_.end()) missing.push_back(s.stream);
      }
    }
  }
  for (size_t off = 0; off < missing.size(); off += kVersionsPerFetch) {
    const size_t n = std::min(kVersionsPerFetch, missing.size() - off);
    etcd::TxnRequest read;
    for (size_t i = 0; i < n; ++i) read.success.push_back(Get(keys_.Version(missing[off + i])));
    KL_ASSIGN_OR_RETURN(etcd::TxnResponse r, client_->Txn(read));
    if (r.ranges.size() != n) {
      return MakeError(ErrorCode::kIoError, "etcd answered a version read incompletely");
    }
    for (size_t i = 0; i < n; ++i) {
      uint64_t v = 0;
      if (!r.ranges[i].kvs.empty()) {
        auto parsed = ParseHex16(r.ranges[i].kvs[0].value);
        if (!parsed) return MakeError(ErrorCode::kCorruption, "malformed stream version in etcd");
        v = *parsed;
      }
      RememberVersion(missing[off + i], v, generation);
    }
  }
  return Status::Ok();
}

Result<int64_t> EtcdEventLog::IdempotencyLease() {
  const auto now = SteadyClock::now();
  if (lease_id_ != 0 && now < lease_renew_at_) return lease_id_;
  const auto ttl = options_.idempotency_ttl + options_.idempotency_lease_reuse;
  KL_ASSIGN_OR_RETURN(int64_t id, client_->LeaseGrant(static_cast<int64_t>(ttl.count())));
  lease_id_ = id;
  lease_renew_at_ = now + options_.idempotency_lease_reuse;
  return id;
}

Status EtcdEventLog::Refresh() {
  KL_ASSIGN_OR_RETURN(Head stored, ReadStoredHead());
  if (stored == unknown_head_) {
    // The write whose answer was lost was applied: adopt it, as a RocksDB reopen replays what
    // reached the WAL. Readers (and the registry, through the listener) move to it; plan_head_
    // stays, because the group about to be planned was decided by a caller that was told the
    // write failed and did not see it (it would land after it, e.g. a retried create of a
    // provider whose name the lost write took). Its compare fails and it is told to catch up.
    Adopt(stored);
  } else if (!(stored == plan_head_)) {
    SetStale(true);
  }
  {
    std::lock_guard lock(versions_mu_);
    versions_.clear();
    ++versions_generation_;
  }
  needs_refresh_ = false;
  return Status::Ok();
}

Result<Head> EtcdEventLog::CatchUp() {
  std::lock_guard writer(writer_mu_);
  KL_ASSIGN_OR_RETURN(Head stored, ReadStoredHead());
  {
    std::lock_guard lock(versions_mu_);
    versions_.clear();
    ++versions_generation_;
  }
  plan_head_ = stored;
  needs_refresh_ = false;
  std::lock_guard lock(head_mu_);
  head_ = stored;
  stale_ = false;
  return stored;
}

Error EtcdEventLog::ConflictFor(const AppendRequest& request, const Head& etcd_head) {
  // The caller's own expected version decides first: kVersionConflict with the actual version.
  for (const StreamAppend& s : request.streams) {
    if (s.expected_version == kAnyVersion) continue;
    auto v = ReadVersion(s.stream);
    if (v.ok() && **v != static_cast<uint64_t>(s.expected_version)) {
      Error e = MakeError(ErrorCode::kVersionConflict, "stream " + s.stream + " is at version " +
                                                           std::to_string(**v) + ", expected " +
                                                           std::to_string(s.expected_version));
      e.actual_version = **v;
      return e;
    }
  }
  return HeadConflict(etcd_head);
}

void EtcdEventLog::ProcessGroup(std::vector<Pending>& group) {
  auto fail_all = [&](size_t from, const Error& e) {
    for (size_t i = from; i < group.size(); ++i) group[i].done(e);
  };
  lost_race_ = false;
  if (needs_refresh_) {
    if (Status s = Refresh(); !s.ok()) {
      LogError("etcd: cannot re-read the head: " + s.ToString());
      return fail_all(0, WriteFailure());
    }
  }
  if (stale()) {
    // A race was lost without learning etcd's head: learn it now, and tell the callers to catch
    // up (they decided against an older state). Only readers move to it (Adopt): plan_head_
    // stays, because this group need not be the one whose caller decided on the old head (a
    // snapshot or an idempotency purge may come first, with the registry's append, decided
    // before, queued behind it). That append then fails its head compare and is told to catch
    // up too, instead of being planned on a head its caller never saw (its events' time could
    // even be earlier than that head's: kInvalidArgument, a 400 for a valid request).
    auto stored = ReadStoredHead();
    if (!stored.ok()) return fail_all(0, WriteFailure());
    Adopt(*stored);
    SetStale(false);
    return fail_all(0, HeadConflict(*stored));
  }
  if (Status s = PrefetchVersions(group); !s.ok()) {
    LogError("etcd: cannot read stream versions: " + s.ToString());
    return fail_all(0, WriteFailure());
  }

  const size_t op_budget = options_.max_txn_ops - 2;  // the head put and a spare
  const size_t byte_budget = options_.max_txn_bytes - (8 << 10);
  size_t i = 0;
  while (i < group.size()) {
    if (needs_refresh_ || stale() || lost_race_) {
      // The batch before failed: so do the rest, without planning on an unknown head (or on a
      // head their callers have not seen).
      const bool lost = lost_race_;
      lost_race_ = false;
      return fail_all(i, lost ? HeadConflict(plan_head_) : WriteFailure());
    }
    lost_race_ = false;
    Batch batch(plan_head_);
    {
      std::lock_guard lock(versions_mu_);
      batch.generation = versions_generation_;
    }
    AppendPlanner planner(
        batch.start_head, [this](std::string_view s) { return WriterVersion(s); }, options_.clock,
        json_);
    for (; i < group.size(); ++i) {
      Pending& p = group[i];
      if (OnlySnapshots(p.request)) {
        // Node-local: straight to the local store, in order with the rest of the batch.
        if (!batch.done.empty()) break;
        p.done(local_->Append(std::move(p.request)));
        continue;
      }
      if (AnySnapshots(p.request)) {
        p.done(MakeError(ErrorCode::kUnsupported,
                         "on etcd, snapshot writes are node-local and cannot share an append "
                         "with log writes"));
        continue;
      }
      const Cost cost = EstimateCost(p.request);
      const bool fits =
          batch.cost.ops + cost.ops <= op_budget && batch.cost.bytes + cost.bytes <= byte_budget;
      if (!fits && !batch.done.empty()) break;  // the next transaction takes it
      if (!fits) {
        // Too large for one transaction on its own.
        CommitSplit(p);
        ++i;
        break;
      }
      Result<AppendResult> planned = planner.Plan(p.request, batch.records);
      if (!planned.ok()) {
        p.done(planned.error());
        continue;
      }
      for (const AuxWrite& w : p.request.aux) batch.aux.Add(w, keys_.Aux(w.space, w.key));
      batch.guards = batch.guards || !p.request.streams.empty();
      batch.cost.ops += cost.ops;
      batch.cost.bytes += cost.bytes;
      batch.done.push_back(std::move(p.done));
      batch.results.push_back(std::move(planned));
      batch.requests.push_back(&p.request);
    }
    if (batch.done.empty()) continue;
    batch.end_head = planner.head();
    for (const auto& [stream, version] : planner.versions()) {
      batch.versions.emplace_back(stream, version);
    }
    CommitBatch(batch);
  }
}

void EtcdEventLog::CommitBatch(Batch& batch) {
  const auto start = SteadyClock::now();
  auto complete = [&](const std::optional<Error>& failure) {
    for (size_t i = 0; i < batch.done.size(); ++i) {
      if (failure) {
        batch.done[i](*failure);
      } else {
        batch.done[i](std::move(batch.results[i]));
      }
    }
  };
  etcd::TxnRequest txn;
  // Every append moves the head, so an unchanged head proves that no stream version read or
  // planned on it moved either (ETCD.md "Transactions").
  if (batch.guards)
    txn.compare.push_back(ValueIs(keys_.HeadKey(), EncodeHeadValue(batch.start_head)));
  for (const EventRecord& r : batch.records) {
    txn.success.push_back(Put(keys_.Record(r.sequence), EncodeRecord(r)));
    txn.success.push_back(Put(keys_.StreamIndex(r.stream, r.stream_version), Hex16(r.sequence)));
  }
  for (const auto& [stream, version] : batch.versions) {
    txn.success.push_back(Put(keys_.Version(stream), Hex16(version)));
  }
  int64_t lease = 0;
  if (batch.aux.NeedsLease()) {
    auto granted = IdempotencyLease();
    if (!granted.ok()) {
      LogError("etcd: cannot grant the idempotency lease: " + granted.status().ToString());
      return complete(WriteFailure());
    }
    lease = *granted;
  }
  batch.aux.Emit(txn.success, lease);
  const bool moves_head = !batch.records.empty();
  if (moves_head) txn.success.push_back(Put(keys_.HeadKey(), EncodeHeadValue(batch.end_head)));
  txn.failure.push_back(Get(keys_.HeadKey()));

  Result<etcd::TxnResponse> r = MakeError(ErrorCode::kIoError, "injected write failure");
  if (!(options_.fail_write && options_.fail_write())) {
    if (moves_head) SetCommitting(batch.end_head);
    r = client_->Txn(txn);
    SetCommitting(std::nullopt);
  }
  if (!r.ok()) {
    ReportCommit(start, batch.done.size(), 0, false);
    LogError("etcd: append transaction failed: " + r.status().ToString());
    lease_id_ = 0;  // a lease etcd lost is granted again
    if (r.error().code != ErrorCode::kPayloadTooLarge && r.error().code != ErrorCode::kInternal &&
        moves_head) {
      needs_refresh_ = true;  // it may have been applied
      unknown_head_ = batch.end_head;
    }
    return complete(r.error().code == ErrorCode::kPayloadTooLarge ? r.error() : WriteFailure());
  }
  bool applied = r->succeeded;
  std::optional<Head> past;  // etcd's head, when it is already past this batch's (applied)
  if (!applied) {
    // The head moved. If it moved to exactly our new head, an earlier attempt of this very
    // transaction was applied (the client retried after a lost answer).
    std::optional<Head> stored;
    if (r->ranges.size() == 1 && r->ranges[0].kvs.size() == 1) {
      auto h = DecodeHeadValue(r->ranges[0].kvs[0].value, "the head stored in etcd");
      if (h.ok()) stored = *h;
    }
    bool ours = moves_head && stored && *stored == batch.end_head;
    if (!ours && moves_head && stored && stored->sequence > batch.end_head.sequence) {
      // Or that attempt was applied and another writer has appended since (it learned our head
      // from its own failed compare): then the record at our last sequence is ours, and since
      // its hash covers the previous hash, so is the whole batch. Taking it for a lost race
      // would have the caller decide and append it again (an update applied twice). When the
      // record cannot be read, the outcome is unknown, as for a transaction without an answer.
      auto hash = StoredRecordHash(batch.end_head.sequence);
      if (!hash.ok()) {
        ReportCommit(start, batch.done.size(), 0, false);
        LogError("etcd: cannot tell whether a retried append was applied: " +
                 hash.status().ToString());
        needs_refresh_ = true;
        unknown_head_ = batch.end_head;
        return complete(WriteFailure());
      }
      ours = *hash == batch.end_head.hash;
      if (ours) past = *stored;
    }
    if (ours) {
      applied = true;
    } else {
      ReportCommit(start, batch.done.size(), 0, false);
      const Head etcd_head = stored.value_or(Head{});
      if (stored) {
        // Refresh before completing (EventLog's contract): the caller reads up to this head.
        plan_head_ = *stored;
        Adopt(*stored);
        lost_race_ = true;
      } else {
        SetStale(true);
      }
      for (size_t i = 0; i < batch.done.size(); ++i) {
        batch.done[i](ConflictFor(*batch.requests[i], etcd_head));
      }
      return;
    }
  }
  ReportCommit(start, batch.done.size(), batch.records.size(), true);
  {
    // A changed generation means the follower adopted a later head meanwhile (this commit's
    // own, seen first on the watch, or one built on it) and cleared the cache: leave it clear.
    std::lock_guard lock(versions_mu_);
    if (versions_generation_ == batch.generation) {
      for (const auto& [stream, version] : batch.versions) versions_[stream] = version;
    }
  }
  if (moves_head) {
    plan_head_ = batch.end_head;
    std::lock_guard lock(head_mu_);
    if (batch.end_head.sequence > head_.sequence) head_ = batch.end_head;
  }
  // Readers learn of the later writes now; the next append, planned on this batch's head, fails
  // its compare and is told to catch up.
  if (past) Adopt(*past);
  complete(std::nullopt);
}

Result<Hash> EtcdEventLog::StoredRecordHash(uint64_t sequence) const {
  etcd::RangeRequest get;
  get.key = keys_.Record(sequence);
  KL_ASSIGN_OR_RETURN(etcd::RangeResponse r, client_->Range(get));
  if (r.kvs.size() != 1) {
    return MakeError(ErrorCode::kCorruption,
                     "record " + std::to_string(sequence) + " is missing below etcd's head");
  }
  KL_ASSIGN_OR_RETURN(EventRecord rec, DecodeRecord(r.kvs[0].value));
  return rec.hash;
}

void EtcdEventLog::CommitSplit(Pending& pending) {
  // Records first, in transactions that each check the head is unchanged and that this writer
  // holds the split claim; then one final transaction with the versions, the aux writes and the
  // new head. Readers trust nothing past the head, so until the final transaction the records
  // are invisible; a second splitter cannot interleave (the claim), and a plain append that
  // lands meanwhile moves the head, which fails every later transaction of this split.
  const auto start = SteadyClock::now();
  const Head start_head = plan_head_;
  uint64_t generation;
  {
    std::lock_guard lock(versions_mu_);
    generation = versions_generation_;
  }
  AppendPlanner planner(
      start_head, [this](std::string_view s) { return WriterVersion(s); }, options_.clock, json_);
  std::vector<EventRecord> records;
  Result<AppendResult> planned = planner.Plan(pending.request, records);
  if (!planned.ok()) return pending.done(planned.error());

  AuxPlan aux;
  for (const AuxWrite& w : pending.request.aux) aux.Add(w, keys_.Aux(w.space, w.key));
  std::vector<Op> final_ops;
  for (const auto& [stream, version] : planner.versions()) {
    final_ops.push_back(Put(keys_.Version(stream), Hex16(version)));
  }
  int64_t lease = 0;
  if (aux.NeedsLease()) {
    auto granted = IdempotencyLease();
    if (!granted.ok()) return pending.done(WriteFailure());
    lease = *granted;
  }
  aux.Emit(final_ops, lease);
  size_t final_bytes = 0;
  for (const Op& op : final_ops) final_bytes += OpBytes(op);
  const size_t op_budget = options_.max_txn_ops - 3;  // head, claim, a spare
  const size_t byte_budget = options_.max_txn_bytes - (8 << 10);
  if (final_ops.size() > op_budget || final_bytes > byte_budget) {
    return pending.done(MakeError(
        ErrorCode::kPayloadTooLarge,
        "on etcd, one append's stream versions and aux writes must fit one transaction (at most " +
            std::to_string(op_budget) + " of them); this one has " +
            std::to_string(final_ops.size())));
  }
  if (options_.fail_write && options_.fail_write()) return pending.done(WriteFailure());

  const std::string claim = RandomHex(16);
  auto lease_claim = client_->LeaseGrant(static_cast<int64_t>(options_.split_claim_ttl.count()));
  if (!lease_claim.ok()) return pending.done(WriteFailure());
  auto release = [&] { IgnoreError(client_->LeaseRevoke(*lease_claim)); };

  // Chunks of record ops; the last chunk joins the final transaction when it fits.
  std::vector<std::vector<Op>> chunks(1);
  size_t chunk_bytes = 0;
  for (const EventRecord& r : records) {
    Op rec = Put(keys_.Record(r.sequence), EncodeRecord(r));
    Op idx = Put(keys_.StreamIndex(r.stream, r.stream_version), Hex16(r.sequence));
    const size_t bytes = OpBytes(rec) + OpBytes(idx);
    if (chunks.back().size() + 2 > op_budget || chunk_bytes + bytes > byte_budget) {
      chunks.emplace_back();
      chunk_bytes = 0;
    }
    chunks.back().push_back(std::move(rec));
    chunks.back().push_back(std::move(idx));
    chunk_bytes += bytes;
  }
  const bool last_joins = chunks.back().size() + final_ops.size() <= op_budget &&
                          chunk_bytes + final_bytes <= byte_budget;
  if (last_joins) {
    for (Op& op : chunks.back()) final_ops.push_back(std::move(op));
    chunks.pop_back();
  }
  const std::string head_value = EncodeHeadValue(start_head);
  auto fail = [&](const Result<etcd::TxnResponse>& r) {
    ReportCommit(start, 1, 0, false);
    release();
    if (!r.ok()) {
      LogError("etcd: split append failed: " + r.status().ToString());
      needs_refresh_ = true;
      unknown_head_ = planner.head();
      return pending.done(WriteFailure());
    }
    Head etcd_head = start_head;
    if (!r->ranges.empty() && r->ranges[0].kvs.size() == 1) {
      auto h = DecodeHeadValue(r->ranges[0].kvs[0].value, "the head stored in etcd");
      if (h.ok()) etcd_head = *h;
    }
    if (!(etcd_head == start_head)) {
      plan_head_ = etcd_head;
      Adopt(etcd_head);
      lost_race_ = true;
    }
    // Head unchanged: another splitter holds the claim. Either way nothing became visible.
    pending.done(ConflictFor(pending.request, etcd_head));
  };
  for (size_t k = 0; k < chunks.size(); ++k) {
    etcd::TxnRequest txn;
    txn.compare.push_back(ValueIs(keys_.HeadKey(), head_value));
    if (k == 0) {
      txn.compare.push_back(Absent(keys_.ClaimKey()));
      txn.success.push_back(Put(keys_.ClaimKey(), claim, *lease_claim));
    } else {
      txn.compare.push_back(ValueIs(keys_.ClaimKey(), claim));
    }
    for (Op& op : chunks[k]) txn.success.push_back(std::move(op));
    txn.failure = {Get(keys_.HeadKey()), Get(keys_.ClaimKey())};
    auto r = client_->Txn(txn);
    if (!r.ok()) return fail(r);
    const bool ours_already = !r->succeeded && k == 0 && r->ranges.size() == 2 &&
                              r->ranges[1].kvs.size() == 1 && r->ranges[1].kvs[0].value == claim;
    if (!r->succeeded && !ours_already) return fail(r);
  }
  etcd::TxnRequest last;
  last.compare.push_back(ValueIs(keys_.HeadKey(), head_value));
  if (chunks.empty()) {
    last.compare.push_back(Absent(keys_.ClaimKey()));
  } else {
    last.compare.push_back(ValueIs(keys_.ClaimKey(), claim));
    last.success.push_back(Delete(keys_.ClaimKey()));
  }
  last.success.insert(last.success.end(), std::make_move_iterator(final_ops.begin()),
                      std::make_move_iterator(final_ops.end()));
  last.success.push_back(Put(keys_.HeadKey(), EncodeHeadValue(planner.head())));
  last.failure = {Get(keys_.HeadKey())};
  SetCommitting(planner.head());
  auto r = client_->Txn(last);
  SetCommitting(std::nullopt);
  if (!r.ok()) return fail(r);
  if (!r->succeeded) {
    std::optional<Head> stored;
    if (r->ranges.size() == 1 && r->ranges[0].kvs.size() == 1) {
      auto h = DecodeHeadValue(r->ranges[0].kvs[0].value, "the head stored in etcd");
      if (h.ok()) stored = *h;
    }
    if (!stored || !(*stored == planner.head())) return fail(r);
  }
  release();
  ReportCommit(start, 1, records.size(), true);
  {
    std::lock_guard lock(versions_mu_);
    if (versions_generation_ == generation) {
      for (const auto& [stream, version] : planner.versions()) versions_[stream] = version;
    }
  }
  plan_head_ = planner.head();
  {
    std::lock_guard lock(head_mu_);
    if (plan_head_.sequence > head_.sequence) head_ = plan_head_;
  }
  pending.done(std::move(planned));
}

void EtcdEventLog::ReportCommit(SteadyClock::time_point start, size_t requests, size_t records,
                                bool ok) const {
  if (!options_.on_group_commit) return;
  GroupCommitStats stats;
  stats.requests = requests;
  stats.records = records;
  stats.write_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count();
  stats.ok = ok;
  options_.on_group_commit(stats);
}

Status EtcdEventLog::PurgeDeletedAux(AuxSpace space) {
  if (space == AuxSpace::kSnapshots) return local_->PurgeDeletedAux(space);
  // Deleted keys stay in etcd's history until it is compacted, and in the members' database
  // files until they are defragmented.
  etcd::RangeRequest get;
  get.key = keys_.HeadKey();
  get.keys_only = true;
  KL_ASSIGN_OR_RETURN(etcd::RangeResponse r, client_->Range(get));
  if (r.revision <= 0) return MakeError(ErrorCode::kIoError, "etcd reported no revision");
  KL_RETURN_IF_ERROR(client_->Compact(r.revision));
  return DefragmentWhenDue(true);
}

Status EtcdEventLog::DefragmentWhenDue(bool now_owed) {
  std::lock_guard lock(defrag_mu_);
  defrag_owed_ = defrag_owed_ || now_owed;
  if (!defrag_owed_) return Status::Ok();
  const auto now = SteadyClock::now();
  if (last_defrag_ && now - *last_defrag_ < options_.defrag_interval) return Status::Ok();
  // Paced from the attempt: a member that fails is tried again an interval later, not at once.
  last_defrag_ = now;
  KL_RETURN_IF_ERROR(client_->DefragmentAll());
  defrag_owed_ = false;
  ++defragmentations_;
  return Status::Ok();
}

uint64_t EtcdEventLog::defragmentations() const {
  std::lock_guard lock(defrag_mu_);
  return defragmentations_;
}

Status EtcdEventLog::Close() {
  std::lock_guard close_lock(close_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  {
    std::lock_guard lock(follower_mu_);
    follower_stopping_ = true;
    follower_cv_.notify_all();
  }
  if (follower_.joinable()) follower_.join();
  std::thread telemetry;
  {
    std::lock_guard lock(aux_listener_mu_);
    telemetry = std::move(telemetry_watcher_);
  }
  if (telemetry.joinable()) telemetry.join();
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
    queue_cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  // The idempotency lease is not revoked: the records written under it keep their expiry.
  return local_ ? local_->Close() : Status::Ok();
}

Result<StoreMemory> EtcdEventLog::MemoryUsage() const {
  return local_ ? local_->MemoryUsage() : Result<StoreMemory>(StoreMemory{});
}

}  // namespace keyledger::events
