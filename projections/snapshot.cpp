#include "projections/snapshot.hpp"

#include <algorithm>

#include "events/crypto.hpp"
#include "projections/codec_internal.hpp"
#include "projections/fold.hpp"
#include "projections/telemetry.hpp"

namespace keyledger::projections {

namespace {

template <typename E>
void WriteSorted(json::Writer& w, const PersistentMap<E>& map,
                 void (*write)(json::Writer&, const E&, FieldSet)) {
  w.BeginArray();
  for (const std::string& id : map.SortedKeys()) write(w, *map.Find(id), FieldSet::kAll);
  w.EndArray();
}

std::string SnapshotPrefix(uint64_t seq) {
  std::string k = "s/";
  events::PutBigEndian64(k, seq);
  return k;
}

std::string ChunkKey(uint64_t seq, uint32_t i) {
  std::string k = SnapshotPrefix(seq) + "/c/";
  for (int shift = 24; shift >= 0; shift -= 8) k += static_cast<char>((i >> shift) & 0xFF);
  return k;
}

std::string EntityDigest(const std::string& json) {
  return crypto::HexEncode(crypto::AsBytes(crypto::Sha256(json)));
}

void WriteSystemConfig(json::Writer& w, const SystemConfigState& c) {
  w.BeginObject()
      .Member("key", c.key)
      .Member("version", c.version)
      .Key("value")
      .Raw(c.value)
      .Key("description");
  if (c.description) {
    w.String(*c.description);
  } else {
    w.Null();
  }
  w.Member("created_at", c.created_at).Member("updated_at", c.updated_at).EndObject();
}

Status ReadSystemConfig(simdjson::dom::object obj, SystemConfigState& c) {
  for (auto member : obj) {
    std::string_view k = member.key;
    if (k == "key") {
      KL_RETURN_IF_ERROR(GetString(member.value, c.key, k));
    } else if (k == "version") {
      KL_RETURN_IF_ERROR(GetUint(member.value, c.version, k));
    } else if (k == "value") {
      c.value = ToJsonText(member.value);
    } else if (k == "description") {
      if (member.value.is_null()) {
        c.description.reset();
      } else {
        std::string text;
        KL_RETURN_IF_ERROR(GetString(member.value, text, k));
        c.description = std::move(text);
      }
    } else if (k == "created_at") {
      KL_RETURN_IF_ERROR(GetInt(member.value, c.created_at, k));
    } else if (k == "updated_at") {
      KL_RETURN_IF_ERROR(GetInt(member.value, c.updated_at, k));
    } else {
      return Corrupt("system config member " + std::string(k));
    }
  }
  if (c.key.empty() || c.value.empty()) return Corrupt("system config");
  return Status::Ok();
}

}  // namespace

std::string SerializeState(const State& s) {
  json::Writer w(1 << 16);
  w.BeginObject();
  w.Member("format", int64_t{kSnapshotFormat});
  w.Member("sequence", s.sequence);
  w.Member("time_us", s.time_us);
  w.Member("keyring_version", s.keyring_version);
  w.Key("providers");
  WriteSorted(w, s.providers, &WriteProvider);
  w.Key("endpoints");
  WriteSorted(w, s.endpoints, &WriteEndpoint);
  // Keys as the log folds them: health telemetry is not in snapshots or the digest
  // (projections/telemetry.hpp; FORMAT.md "Health telemetry").
  w.Key("keys").BeginArray();
  KeyState scratch;
  for (const std::string& id : s.keys.SortedKeys()) {
    WriteKey(w, KeyFromLog(s, *s.keys.Find(id), scratch), FieldSet::kAll);
  }
  w.EndArray();
  if (!s.system_configs.empty()) {
    w.Key("system_configs").BeginArray();
    for (const auto& [key, config] : s.system_configs) WriteSystemConfig(w, config);
    w.EndArray();
  }
  w.EndObject();
  return w.Take();
}

Result<State> DeserializeState(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size(), true).get(doc)) return Corrupt("snapshot JSON");
  simdjson::dom::object root;
  if (doc.get_object().get(root)) return Corrupt("snapshot root");
  State s;
  for (auto member : root) {
    std::string_view k = member.key;
    if (k == "format") {
      int64_t format = 0;
      KL_RETURN_IF_ERROR(GetInt(member.value, format, "format"));
      if (format != kSnapshotFormat) {
        return MakeError(ErrorCode::kUnsupported,
                         "snapshot format " + std::to_string(format) + " (this build reads " +
                             std::to_string(kSnapshotFormat) + "; the log is replayed instead)");
      }
    } else if (k == "sequence") {
      KL_RETURN_IF_ERROR(GetUint(member.value, s.sequence, k));
    } else if (k == "time_us") {
      KL_RETURN_IF_ERROR(GetInt(member.value, s.time_us, k));
    } else if (k == "keyring_version") {
      KL_RETURN_IF_ERROR(GetUint(member.value, s.keyring_version, k));
    } else if (k == "providers" || k == "endpoints" || k == "keys") {
      simdjson::dom::array arr;
      if (member.value.get_array().get(arr)) return Corrupt(k);
      for (simdjson::dom::element item : arr) {
        simdjson::dom::object obj;
        if (item.get_object().get(obj)) return Corrupt(k);
        if (k == "providers") {
          auto p = std::make_shared<ProviderState>();
          KL_RETURN_IF_ERROR(ReadProviderObject(obj, *p));
          s.provider_names.Set(p->name, std::make_shared<const std::string>(p->id));
          std::string id = p->id;
          s.providers.Set(id, std::move(p));
        } else if (k == "endpoints") {
          auto e = std::make_shared<EndpointState>();
          KL_RETURN_IF_ERROR(ReadEndpointObject(obj, *e));
          std::string id = e->id;
          s.endpoints.Set(id, std::move(e));
        } else {
          auto key = std::make_shared<KeyState>();
          KL_RETURN_IF_ERROR(ReadKeyObject(obj, *key));
          std::string id = key->id;
          s.keys.Set(id, std::move(key));
        }
      }
    } else if (k == "system_configs") {
      simdjson::dom::array arr;
      if (member.value.get_array().get(arr)) return Corrupt(k);
      for (simdjson::dom::element item : arr) {
        simdjson::dom::object obj;
        if (item.get_object().get(obj)) return Corrupt(k);
        SystemConfigState c;
        KL_RETURN_IF_ERROR(ReadSystemConfig(obj, c));
        std::string key = c.key;
        if (!s.system_configs.emplace(std::move(key), std::move(c)).second) {
          return Corrupt("duplicate system config");
        }
      }
    } else {
      return Corrupt("snapshot member " + std::string(k));
    }
  }
  return s;
}

std::string StateDigestHex(const State& s) {
  return crypto::HexEncode(crypto::AsBytes(crypto::Sha256(SerializeState(s))));
}

std::vector<std::pair<std::string, std::string>> EntityDigests(const State& s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& id : s.providers.SortedKeys()) {
    json::Writer w;
    WriteProvider(w, *s.providers.Find(id), FieldSet::kAll);
    out.emplace_back("provider:" + id, EntityDigest(w.str()));
  }
  for (const std::string& id : s.endpoints.SortedKeys()) {
    json::Writer w;
    WriteEndpoint(w, *s.endpoints.Find(id), FieldSet::kAll);
    out.emplace_back("endpoint:" + id, EntityDigest(w.str()));
  }
  KeyState scratch;
  for (const std::string& id : s.keys.SortedKeys()) {
    json::Writer w;
    WriteKey(w, KeyFromLog(s, *s.keys.Find(id), scratch), FieldSet::kAll);
    out.emplace_back("key:" + id, EntityDigest(w.str()));
  }
  for (const auto& [key, config] : s.system_configs) {
    json::Writer w;
    WriteSystemConfig(w, config);
    out.emplace_back("system-config:" + key, EntityDigest(w.str()));
  }
  return out;
}

std::string FirstDifference(const State& a, const State& b) {
  auto da = EntityDigests(a);
  auto db = EntityDigests(b);
  size_t i = 0, j = 0;
  while (i < da.size() || j < db.size()) {
    if (i == da.size()) return db[j].first;
    if (j == db.size()) return da[i].first;
    if (da[i].first != db[j].first) return std::min(da[i].first, db[j].first);
    if (da[i].second != db[j].second) return da[i].first;
    ++i;
    ++j;
  }
  if (a.sequence != b.sequence) return "sequence";
  if (a.keyring_version != b.keyring_version) return "keyring_version";
  return "";
}

SnapshotStore::SnapshotStore(events::EventLog* writer, const events::EventReader& reader,
                             LogSink log)
    : writer_(writer), reader_(reader), log_(std::move(log)) {}

std::vector<events::AuxWrite> SnapshotStore::SnapshotWrites(const State& s) {
  const std::string body = SerializeState(s);
  const std::string digest = crypto::HexEncode(crypto::AsBytes(crypto::Sha256(body)));
  std::vector<events::AuxWrite> writes;
  uint32_t chunks = 0;
  for (size_t off = 0; off < body.size() || chunks == 0; off += kSnapshotChunkBytes) {
    writes.push_back({events::AuxSpace::kSnapshots, ChunkKey(s.sequence, chunks),
                      body.substr(off, kSnapshotChunkBytes)});
    ++chunks;
    if (body.empty()) break;
  }
  json::Writer m;
  m.BeginObject()
      .Member("format", int64_t{kSnapshotFormat})
      .Member("sequence", s.sequence)
      .Member("time_us", s.time_us)
      .Member("digest", digest)
      .Member("chunks", int64_t{chunks})
      .Member("bytes", static_cast<uint64_t>(body.size()))
      .EndObject();
  writes.push_back({events::AuxSpace::kSnapshots, SnapshotPrefix(s.sequence) + "/m", m.Take()});
  return writes;
}

Status SnapshotStore::Write(const State& s) {
  if (writer_ == nullptr) {
    return MakeError(ErrorCode::kUnavailable, "snapshots are read-only here");
  }
  events::AppendRequest req;
  req.aux = SnapshotWrites(s);

  // Retire all but the newest kSnapshotsKept (counting the one written now).
  KL_ASSIGN_OR_RETURN(auto existing, List());
  std::vector<uint64_t> older;
  for (const auto& info : existing) {
    if (info.sequence != s.sequence) older.push_back(info.sequence);
  }
  if (older.size() + 1 > kSnapshotsKept) {
    size_t drop = older.size() + 1 - kSnapshotsKept;
    for (size_t i = 0; i < drop; ++i) {
      const std::string prefix = SnapshotPrefix(older[i]);
      KL_RETURN_IF_ERROR(reader_.ScanAux(
          events::AuxSpace::kSnapshots, prefix, [&](std::string_view key, std::string_view) {
            req.aux.push_back({events::AuxSpace::kSnapshots, std::string(key), std::nullopt});
            return true;
          }));
    }
  }
  KL_RETURN_IF_ERROR(writer_->Append(std::move(req)));
  return Status::Ok();
}

Result<std::vector<SnapshotInfo>> SnapshotStore::List() const {
  std::vector<SnapshotInfo> out;
  Status scan = reader_.ScanAux(events::AuxSpace::kSnapshots, "s/",
                                [&](std::string_view key, std::string_view value) {
                                  if (key.size() != 2 + 8 + 2 || key.substr(10) != "/m")
                                    return true;
                                  SnapshotInfo info;
                                  info.sequence = events::GetBigEndian64(key.substr(2, 8));
                                  simdjson::dom::parser parser;
                                  simdjson::dom::element doc;
                                  if (!parser.parse(value.data(), value.size(), true).get(doc)) {
                                    std::string_view digest;
                                    int64_t time = 0;
                                    uint64_t bytes = 0;
                                    if (!doc["digest"].get_string().get(digest))
                                      info.digest = std::string(digest);
                                    if (!doc["time_us"].get_int64().get(time)) info.time_us = time;
                                    if (!doc["bytes"].get_uint64().get(bytes)) info.bytes = bytes;
                                  }
                                  out.push_back(std::move(info));
                                  return true;
                                });
  KL_RETURN_IF_ERROR(scan);
  return out;
}

Result<std::string> SnapshotStore::ReadBody(uint64_t sequence) const {
  std::string body;
  KL_RETURN_IF_ERROR(reader_.ScanAux(events::AuxSpace::kSnapshots, SnapshotPrefix(sequence) + "/c/",
                                     [&](std::string_view, std::string_view value) {
                                       body.append(value);
                                       return true;
                                     }));
  return body;
}

Result<State> SnapshotStore::Load(const SnapshotInfo& info) const {
  KL_ASSIGN_OR_RETURN(std::string body, ReadBody(info.sequence));
  if (body.size() != info.bytes) return Corrupt("snapshot body length");
  if (crypto::HexEncode(crypto::AsBytes(crypto::Sha256(body))) != info.digest) {
    return Corrupt("snapshot body hash");
  }
  KL_ASSIGN_OR_RETURN(State s, DeserializeState(body));
  if (s.sequence != info.sequence) return Corrupt("snapshot sequence");
  // The round trip must reproduce the stored bytes, or the state would not digest the same.
  if (StateDigestHex(s) != info.digest) return Corrupt("snapshot digest after load");
  return s;
}

Result<std::optional<State>> SnapshotStore::LoadNewest(uint64_t at_or_before) const {
  KL_ASSIGN_OR_RETURN(auto infos, List());
  for (auto it = infos.rbegin(); it != infos.rend(); ++it) {
    if (it->sequence > at_or_before) continue;
    auto loaded = Load(*it);
    if (loaded.ok()) return std::optional<State>(std::move(loaded).value());
    if (log_) {
      log_(LogLevel::kWarning, "ignoring snapshot at sequence " + std::to_string(it->sequence) +
                                   ": " + loaded.error().message);
    }
  }
  return std::optional<State>();
}

Status SnapshotStore::DeleteAll() {
  if (writer_ == nullptr) return MakeError(ErrorCode::kUnavailable, "snapshots are read-only");
  events::AppendRequest req;
  KL_RETURN_IF_ERROR(reader_.ScanAux(
      events::AuxSpace::kSnapshots, "s/", [&](std::string_view key, std::string_view) {
        req.aux.push_back({events::AuxSpace::kSnapshots, std::string(key), std::nullopt});
        return true;
      }));
  if (req.aux.empty()) return Status::Ok();
  KL_RETURN_IF_ERROR(writer_->Append(std::move(req)));
  return Status::Ok();
}

Status SnapshotStore::Replace(const State& s) {
  if (writer_ == nullptr) return MakeError(ErrorCode::kUnavailable, "snapshots are read-only");
  std::vector<events::AuxWrite> puts = SnapshotWrites(s);
  events::AppendRequest req;
  // Deletes first, and none of a key written again: within one batch the later write wins.
  KL_RETURN_IF_ERROR(reader_.ScanAux(
      events::AuxSpace::kSnapshots, "s/", [&](std::string_view key, std::string_view) {
        const bool rewritten = std::any_of(puts.begin(), puts.end(),
                                           [&](const events::AuxWrite& w) { return w.key == key; });
        if (!rewritten) {
          req.aux.push_back({events::AuxSpace::kSnapshots, std::string(key), std::nullopt});
        }
        return true;
      }));
  for (auto& w : puts) req.aux.push_back(std::move(w));
  KL_RETURN_IF_ERROR(writer_->Append(std::move(req)));
  return Status::Ok();
}

Status Replay(const events::EventReader& log, State& state, uint64_t to,
              const ReplayProgress& progress) {
  Folder folder;
  Status fold_status;
  KL_RETURN_IF_ERROR(log.Scan(state.sequence + 1, to, [&](const events::EventRecord& r) {
    fold_status = folder.Apply(state, r);
    if (!fold_status.ok()) return false;
    if (progress && (r.sequence & 0x3FFF) == 0) progress(r.sequence);
    return true;
  }));
  return fold_status;
}

Result<State> StateAsOf(const events::EventReader& log, const SnapshotStore* snapshots,
                        uint64_t seq) {
  seq = std::min(seq, log.GetHead().sequence);
  State state;
  if (snapshots != nullptr) {
    KL_ASSIGN_OR_RETURN(auto snap, snapshots->LoadNewest(seq));
    if (snap) state = std::move(*snap);
  }
  KL_RETURN_IF_ERROR(Replay(log, state, seq));
  if (state.sequence < seq) {
    return MakeError(ErrorCode::kCorruption, "the log ends before sequence " + std::to_string(seq));
  }
  return state;
}

Result<uint64_t> SequenceAtTime(const events::EventReader& log, int64_t time_us) {
  uint64_t lo = 0, hi = log.GetHead().sequence;  // answer in [lo, hi]
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2;
    KL_ASSIGN_OR_RETURN(auto recs, log.ReadRange(mid, 1));
    if (recs.empty() || recs[0].sequence != mid) {
      return MakeError(ErrorCode::kCorruption, "record " + std::to_string(mid) + " is missing");
    }
    if (recs[0].time_us <= time_us) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

}  // namespace keyledger::projections
