// The keyring: envelope encryption, tampering, shredding, master-key rotation (also under a
// running writer), wrong keys, and what reaches the disk and the logs. One typed suite runs
// against the in-memory log and RocksDB; storage-residue tests are RocksDB only.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>
#include <utility>

#include "events/crypto.hpp"
#include "events/json_writer.hpp"
#include "events/memory_event_log.hpp"
#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"
#include "tests/support/file_scan.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::events {
namespace {

using keyledger::testing::FindInFiles;
using keyledger::testing::TempDir;

MasterKey Key(const std::string& bytes) { return MasterKey::FromBytes(bytes).value(); }

// What the registry will append for a new key: a KeyCreated event carrying the sealed secret,
// its mask and fingerprint, plus the wrapped DEK and the KEK guard, in one request. Re-seals when
// a rotation committed in between (kVersionConflict on the guard).
Result<SealedSecret> CommitSecret(EventLog& log, Keyring& keyring, const std::string& key_id,
                                  uint64_t version, std::string_view secret,
                                  int* conflicts = nullptr) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    KL_ASSIGN_OR_RETURN(Keyring::Sealed sealed, keyring.SealNew(key_id, version, secret));
    json::Writer w;
    w.BeginObject()
        .Member("key_id", key_id)
        .Member("secret_version", version)
        .Key("secret")
        .Raw(sealed.secret.ToJson())
        .Member("mask", MaskSecret(secret))
        .Member("fingerprint", keyring.Fingerprint(secret))
        .EndObject();
    NewEvent event;
    event.type = version == 1 ? EventType::kKeyCreated : EventType::kKeyUpdated;
    event.payload = w.Take();
    AppendRequest req;
    req.streams.push_back(
        StreamAppend{"key-" + key_id, kAnyVersion, {"tester", "127.0.0.1", "", {}}, {event}});
    req.streams.push_back(sealed.kek_guard);
    req.aux.push_back(sealed.dek_write);
    auto appended = log.Append(std::move(req));
    if (appended.ok()) return sealed.secret;
    if (appended.error().code != ErrorCode::kVersionConflict) return appended.error();
    if (conflicts != nullptr) ++*conflicts;
  }
  return MakeError(ErrorCode::kInternal, "too many conflicts");
}

// What the registry will append to delete a key: the fact (naming the destroyed DEK) and the
// shredding of the DEK, atomically.
Status ShredKey(EventLog& log, const std::string& key_id, const SealedSecret& sealed) {
  json::Writer w;
  w.BeginObject().Member("key_id", key_id).Member("dek_destroyed", sealed.dek_id).EndObject();
  NewEvent event;
  event.type = EventType::kKeyDeleted;
  event.payload = w.Take();
  AppendRequest req;
  req.streams.push_back(
      StreamAppend{"key-" + key_id, kAnyVersion, {"tester", "", "", {}}, {event}});
  req.aux.push_back(Keyring::ShredDek(sealed.dek_id));
  return log.Append(std::move(req)).status();
}

Status PutAux(EventLog& log, const std::string& key, std::optional<std::string> value) {
  AppendRequest req;
  req.aux.push_back({AuxSpace::kKeyring, key, std::move(value)});
  return log.Append(std::move(req)).status();
}

std::string GetAux(EventLog& log, const std::string& key) {
  auto v = log.GetAux(AuxSpace::kKeyring, key);
  EXPECT_TRUE(v.ok());
  return v.ok() && v->has_value() ? **v : std::string();
}

// Every form in which a key could leak: raw, base64, hex.
std::vector<std::string> KeyForms(const std::string& raw) {
  return {raw, crypto::Base64Encode(raw), crypto::HexEncode(raw)};
}

struct MemoryLogFactory {
  static constexpr bool kDurable = false;
  MemoryEventLog log;
  EventLog* Open() { return &log; }
  void Close() {}
};

struct RocksLogFactory {
  static constexpr bool kDurable = true;
  TempDir dir;
  std::unique_ptr<RocksEventLog> log;
  EventLog* Open() {
    auto opened = RocksEventLog::Open(dir.Sub("data"), {});
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok()) return nullptr;
    log = std::move(opened).value();
    return log.get();
  }
  void Close() {
    if (log) EXPECT_OK(log->Close());
    log.reset();
  }
  ~RocksLogFactory() { Close(); }
};

template <typename Factory>
class KeyringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = factory_.Open();
    ASSERT_NE(log_, nullptr);
  }
  void TearDown() override { factory_.Close(); }

  // Closes and reopens the log (RocksDB); the in-memory log simply stays.
  void ReopenLog() {
    factory_.Close();
    log_ = factory_.Open();
    ASSERT_NE(log_, nullptr);
  }

  std::unique_ptr<Keyring> OpenKeyring(const std::string& key_bytes, LogSink sink = {}) {
    auto keyring = Keyring::Open(*log_, Key(key_bytes), std::move(sink));
    EXPECT_TRUE(keyring.ok()) << keyring.status().ToString();
    return keyring.ok() ? std::move(keyring).value() : nullptr;
  }

  Factory factory_;
  EventLog* log_ = nullptr;
  const std::string k1_ = crypto::RandomBytes(kMasterKeySize);
};

using Implementations = ::testing::Types<MemoryLogFactory, RocksLogFactory>;
TYPED_TEST_SUITE(KeyringTest, Implementations);

TYPED_TEST(KeyringTest, SealedSecretsRoundTripAndFingerprintsAreKeyedAndStable) {
  const std::vector<std::string> secrets = {"sk-ant-api03-abcdefghijklmnopqrstuvwxyz-0123", "short",
                                            "ключ-€-🔑-ünïcödé", std::string(kMaxSecretBytes, 'x')};
  std::vector<SealedSecret> sealed;
  std::string fingerprint, checkpoint;
  {
    auto keyring = this->OpenKeyring(this->k1_);
    ASSERT_NE(keyring, nullptr);
    EXPECT_EQ(keyring->kek_version(), 1u);
    for (size_t i = 0; i < secrets.size(); ++i) {
      ASSERT_OK_AND_ASSIGN(
          auto s, CommitSecret(*this->log_, *keyring, "k" + std::to_string(i), 1, secrets[i]));
      EXPECT_EQ(s.cipher_version, kCipherAes256GcmV1);
      EXPECT_EQ(s.nonce.size(), crypto::kGcmNonceSize);
      EXPECT_EQ(s.ciphertext.size(), secrets[i].size() + crypto::kGcmTagSize);
      EXPECT_EQ(s.ciphertext.find(secrets[i]), std::string::npos);
      ASSERT_OK_AND_ASSIGN(auto back, SealedSecret::FromJson(s.ToJson()));
      EXPECT_EQ(back, s);
      sealed.push_back(s);
    }
    for (size_t i = 0; i < secrets.size(); ++i) {
      ASSERT_OK_AND_ASSIGN(std::string opened,
                           keyring->Open(sealed[i], "k" + std::to_string(i), 1));
      EXPECT_EQ(opened, secrets[i]);
    }
    fingerprint = keyring->Fingerprint(secrets[0]);
    EXPECT_EQ(fingerprint.size(), 64u);
    EXPECT_EQ(keyring->Fingerprint(secrets[0]), fingerprint);
    EXPECT_NE(keyring->Fingerprint(secrets[1]), fingerprint);
    // Keyed: not the plain SHA-256 that anyone could compute from a guessed key.
    EXPECT_NE(fingerprint, crypto::HexEncode(crypto::AsBytes(crypto::Sha256(secrets[0]))));
    checkpoint = keyring->SignCheckpoint("head 42");
    EXPECT_NE(checkpoint, keyring->SignCheckpoint("head 43"));
    EXPECT_NE(checkpoint, keyring->Fingerprint("head 42"));  // separate keys
  }
  this->ReopenLog();
  auto keyring = this->OpenKeyring(this->k1_);
  ASSERT_NE(keyring, nullptr);
  EXPECT_EQ(keyring->Fingerprint(secrets[0]), fingerprint);
  EXPECT_EQ(keyring->SignCheckpoint("head 42"), checkpoint);
  for (size_t i = 0; i < secrets.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(std::string opened, keyring->Open(sealed[i], "k" + std::to_string(i), 1));
    EXPECT_EQ(opened, secrets[i]);
  }
  // A different keyring (other data directory) has another pepper.
  MemoryEventLog other_log;
  ASSERT_OK_AND_ASSIGN(auto other, Keyring::Open(other_log, Key(this->k1_), {}));
  EXPECT_NE(other->Fingerprint(secrets[0]), fingerprint);
}

TYPED_TEST(KeyringTest, SealingNeverReusesANonceOrADataKey) {
  auto keyring = this->OpenKeyring(this->k1_);
  ASSERT_NE(keyring, nullptr);
  constexpr size_t kSeals = 100'000;
  std::unordered_set<std::string> nonces, wrap_nonces, dek_ids, ciphertexts;
  nonces.reserve(kSeals);
  wrap_nonces.reserve(kSeals);
  dek_ids.reserve(kSeals);
  ciphertexts.reserve(kSeals);
  for (size_t i = 0; i < kSeals; ++i) {
    ASSERT_OK_AND_ASSIGN(auto sealed, keyring->SealNew("same-key", 1, "same secret value"));
    EXPECT_TRUE(nonces.insert(sealed.secret.nonce).second) << i;
    EXPECT_TRUE(dek_ids.insert(sealed.secret.dek_id).second) << i;
    EXPECT_TRUE(ciphertexts.insert(sealed.secret.ciphertext).second) << i;
    ASSERT_TRUE(sealed.dek_write.value.has_value());
    EXPECT_TRUE(wrap_nonces.insert(sealed.dek_write.value->substr(4, 12)).second) << i;
  }
  EXPECT_EQ(nonces.size(), kSeals);
  EXPECT_EQ(wrap_nonces.size(), kSeals);
}

TEST(NonceGenerationTest, RandomNoncesDoNotRepeatOver100kDraws) {
  std::unordered_set<std::string> seen;
  seen.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) {
    std::string nonce = crypto::RandomBytes(crypto::kGcmNonceSize);
    ASSERT_EQ(nonce.size(), crypto::kGcmNonceSize);
    ASSERT_TRUE(seen.insert(nonce).second) << i;
  }
}

TYPED_TEST(KeyringTest, AnyTamperingFailsAuthentication) {
  auto keyring = this->OpenKeyring(this->k1_);
  ASSERT_NE(keyring, nullptr);
  const std::string secret = "sk-proj-TAMPERTEST-0123456789abcdef";
  ASSERT_OK_AND_ASSIGN(SealedSecret a, CommitSecret(*this->log_, *keyring, "a", 3, secret));
  ASSERT_OK_AND_ASSIGN(SealedSecret b, CommitSecret(*this->log_, *keyring, "b", 1, "other secret"));
  auto expect_decrypt_failed = [&](const SealedSecret& s, std::string_view key_id, uint64_t v,
                                   const std::string& what) {
    auto r = keyring->Open(s, key_id, v);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.error().code, ErrorCode::kDecryptFailed) << what << ": " << r.error().message;
    EXPECT_EQ(r.error().message.find(secret), std::string::npos);
  };
  ASSERT_OK(keyring->Open(a, "a", 3));

  for (size_t i = 0; i < a.ciphertext.size(); ++i) {
    SealedSecret bad = a;
    bad.ciphertext[i] ^= 0x01;
    expect_decrypt_failed(bad, "a", 3, "ciphertext byte " + std::to_string(i));
  }
  for (size_t i = 0; i < a.nonce.size(); ++i) {
    SealedSecret bad = a;
    bad.nonce[i] ^= 0x40;
    expect_decrypt_failed(bad, "a", 3, "nonce byte " + std::to_string(i));
  }
  SealedSecret truncated = a;
  truncated.ciphertext.pop_back();
  expect_decrypt_failed(truncated, "a", 3, "truncated ciphertext");
  // The associated data binds key id, secret version and DEK id.
  expect_decrypt_failed(a, "b", 3, "other key id");
  expect_decrypt_failed(a, "a ", 3, "key id with a trailing space");
  expect_decrypt_failed(a, "a", 2, "other secret version");
  expect_decrypt_failed(a, "a", 4, "other secret version");
  SealedSecret moved = a;
  moved.dek_id = b.dek_id;  // an existing DEK that unwraps fine, but is not this secret's
  expect_decrypt_failed(moved, "a", 3, "other DEK id");
  SealedSecret unknown_cipher = a;
  unknown_cipher.cipher_version = 2;
  auto r = keyring->Open(unknown_cipher, "a", 3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);

  // The wrapped DEK in the keyring: every byte, truncation, and another entry's bytes.
  const std::string dek_key = "dek/" + a.dek_id;
  const std::string wrapped = GetAux(*this->log_, dek_key);
  ASSERT_EQ(wrapped.size(), 4u + 12u + 32u + 16u);
  for (size_t i = 0; i < wrapped.size(); ++i) {
    std::string bad = wrapped;
    bad[i] ^= 0x04;
    ASSERT_OK(PutAux(*this->log_, dek_key, bad));
    expect_decrypt_failed(a, "a", 3, "wrapped DEK byte " + std::to_string(i));
  }
  ASSERT_OK(PutAux(*this->log_, dek_key, wrapped.substr(0, wrapped.size() - 1)));
  expect_decrypt_failed(a, "a", 3, "truncated wrapped DEK");
  ASSERT_OK(PutAux(*this->log_, dek_key, GetAux(*this->log_, "dek/" + b.dek_id)));
  expect_decrypt_failed(a, "a", 3, "another DEK's wrapped bytes");
  ASSERT_OK(PutAux(*this->log_, dek_key, wrapped));
  ASSERT_OK_AND_ASSIGN(std::string opened, keyring->Open(a, "a", 3));
  EXPECT_EQ(opened, secret);
}

TYPED_TEST(KeyringTest, ShreddedSecretsReportShreddedAndTheChainStillVerifies) {
  auto keyring = this->OpenKeyring(this->k1_);
  ASSERT_NE(keyring, nullptr);
  ASSERT_OK_AND_ASSIGN(SealedSecret gone, CommitSecret(*this->log_, *keyring, "gone", 1, "s1-xyz"));
  ASSERT_OK_AND_ASSIGN(SealedSecret kept, CommitSecret(*this->log_, *keyring, "kept", 1, "s2-xyz"));
  ASSERT_OK(ShredKey(*this->log_, "gone", gone));
  ASSERT_OK(keyring->PurgeShredded());
  auto r = keyring->Open(gone, "gone", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kShredded);
  EXPECT_EQ(r.error().message, "the secret was crypto-shredded when its key was deleted");
  ASSERT_OK_AND_ASSIGN(std::string still, keyring->Open(kept, "kept", 1));
  EXPECT_EQ(still, "s2-xyz");
  ASSERT_OK_AND_ASSIGN(auto report, this->log_->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.checked, 3u);  // two creations and one deletion; shredding rewrote nothing
}

TYPED_TEST(KeyringTest, RotationRewrapsEveryKeyAndRecordsNoKeyMaterial) {
  const std::string k2 = crypto::RandomBytes(kMasterKeySize);
  const std::string k3 = crypto::RandomBytes(kMasterKeySize);
  std::vector<std::pair<std::string, SealedSecret>> committed;
  SealedSecret shredded;
  std::string fingerprint;
  {
    auto keyring = this->OpenKeyring(this->k1_);
    ASSERT_NE(keyring, nullptr);
    fingerprint = keyring->Fingerprint("fp-input");
    for (int i = 0; i < 5; ++i) {
      const std::string secret = "rotation-secret-" + std::to_string(i) + "-abcdefghij";
      ASSERT_OK_AND_ASSIGN(auto s,
                           CommitSecret(*this->log_, *keyring, std::to_string(i), 1, secret));
      committed.emplace_back(secret, s);
    }
    ASSERT_OK_AND_ASSIGN(shredded, CommitSecret(*this->log_, *keyring, "x", 1, "shred-me-secret"));
    ASSERT_OK(ShredKey(*this->log_, "x", shredded));

    auto same = keyring->RotateMaster(Key(this->k1_), {"ops", "", "", {}});
    ASSERT_FALSE(same.ok());
    EXPECT_EQ(same.code(), ErrorCode::kInvalidArgument);

    ASSERT_OK(keyring->RotateMaster(Key(k2), {"ops", "10.0.0.1", "req-1", std::string("yearly")}));
    EXPECT_EQ(keyring->kek_version(), 2u);
    ASSERT_OK(keyring->RotateMaster(Key(k3), {"ops", "", "", {}}));
    EXPECT_EQ(keyring->kek_version(), 3u);
    for (size_t i = 0; i < committed.size(); ++i) {
      ASSERT_OK_AND_ASSIGN(auto opened, keyring->Open(committed[i].second, std::to_string(i), 1));
      EXPECT_EQ(opened, committed[i].first);
    }
    auto r = keyring->Open(shredded, "x", 1);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kShredded);           // rotation did not resurrect it
    EXPECT_EQ(keyring->Fingerprint("fp-input"), fingerprint);  // the pepper survives rotation
  }

  // Every keyring entry is now wrapped under KEK version 3.
  size_t entries = 0;
  ASSERT_OK(
      this->log_->ScanAux(AuxSpace::kKeyring, "", [&](std::string_view k, std::string_view v) {
        ++entries;
        if (k != "meta/kek") {
          EXPECT_EQ(v.substr(0, 4), std::string("\0\0\0\3", 4)) << k;
        }
        return true;
      }));
  EXPECT_EQ(entries, 1u + 2u + committed.size());  // meta, two server keys, five DEKs

  ASSERT_OK_AND_ASSIGN(auto events, this->log_->ReadStream("keyring", 1, 10));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, EventType::kMasterKeyRotated);
  EXPECT_EQ(events[0].payload, R"({"from_kek_version":1,"to_kek_version":2,"rewrapped_deks":5})");
  EXPECT_EQ(events[0].metadata.actor, "ops");
  EXPECT_EQ(events[0].metadata.reason, std::optional<std::string>("yearly"));
  EXPECT_EQ(events[1].payload, R"({"from_kek_version":2,"to_kek_version":3,"rewrapped_deks":5})");
  ASSERT_OK_AND_ASSIGN(auto all, this->log_->ReadRange(1, 1000));
  for (const auto& record : all) {
    for (const std::string& key : {this->k1_, k2, k3}) {
      for (const std::string& form : KeyForms(key)) {
        EXPECT_EQ(record.payload.find(form), std::string::npos) << record.sequence;
      }
    }
  }

  this->ReopenLog();
  for (const std::string& old_key : {this->k1_, k2}) {
    auto refused = Keyring::Open(*this->log_, Key(old_key), {});
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::kDecryptFailed);
    EXPECT_NE(refused.error().message.find("does not match this data directory"),
              std::string::npos);
  }
  auto keyring = this->OpenKeyring(k3);
  ASSERT_NE(keyring, nullptr);
  EXPECT_EQ(keyring->kek_version(), 3u);
  EXPECT_EQ(keyring->Fingerprint("fp-input"), fingerprint);
  for (size_t i = 0; i < committed.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(auto opened, keyring->Open(committed[i].second, std::to_string(i), 1));
    EXPECT_EQ(opened, committed[i].first);
  }
}

TYPED_TEST(KeyringTest, ASealFromBeforeARotationConflictsAndASecondSealCommits) {
  auto keyring = this->OpenKeyring(this->k1_);
  ASSERT_NE(keyring, nullptr);
  ASSERT_OK_AND_ASSIGN(auto stale, keyring->SealNew("k", 1, "value-1"));
  ASSERT_OK(keyring->RotateMaster(MasterKey::Generate(), {}));
  AppendRequest req;
  req.streams.push_back({"key-k", kNoStream, {}, {NewEvent{EventType::kKeyCreated, 1, "{}", 0}}});
  req.streams.push_back(stale.kek_guard);
  req.aux.push_back(stale.dek_write);
  auto r = this->log_->Append(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kVersionConflict);
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> absent,
                       this->log_->GetAux(AuxSpace::kKeyring, stale.dek_write.key));
  EXPECT_FALSE(absent.has_value());  // nothing of the conflicting request was written
  ASSERT_OK_AND_ASSIGN(auto s, CommitSecret(*this->log_, *keyring, "k", 1, "value-1"));
  ASSERT_OK_AND_ASSIGN(auto opened, keyring->Open(s, "k", 1));
  EXPECT_EQ(opened, "value-1");
}

// Forwards everything to another log; runs a hook just before forwarding the append that
// carries a MasterKeyRotated event, i.e. after the rotation planned its batch.
class RotationHookLog final : public EventLog {
 public:
  explicit RotationHookLog(EventLog& inner) : inner_(inner) {}
  std::function<void()> before_rotation_append;

  Head GetHead() const override { return inner_.GetHead(); }
  Result<std::vector<EventRecord>> ReadRange(uint64_t from, size_t limit) const override {
    return inner_.ReadRange(from, limit);
  }
  Status Scan(uint64_t from, uint64_t to, const RecordVisitor& visit) const override {
    return inner_.Scan(from, to, visit);
  }
  Result<std::vector<EventRecord>> ReadStream(std::string_view stream, uint64_t from_version,
                                              size_t limit) const override {
    return inner_.ReadStream(stream, from_version, limit);
  }
  Result<uint64_t> StreamVersion(std::string_view stream) const override {
    return inner_.StreamVersion(stream);
  }
  Result<VerifyReport> Verify(uint64_t from, uint64_t to) const override {
    return inner_.Verify(from, to);
  }
  Result<std::optional<std::string>> GetAux(AuxSpace space, std::string_view key) const override {
    return inner_.GetAux(space, key);
  }
  Status ScanAux(AuxSpace space, std::string_view prefix, const AuxVisitor& visit) const override {
    return inner_.ScanAux(space, prefix, visit);
  }
  void AppendAsync(AppendRequest request, AppendCallback done) override {
    const bool is_rotation =
        std::any_of(request.streams.begin(), request.streams.end(), [](const StreamAppend& s) {
          return std::any_of(s.events.begin(), s.events.end(), [](const NewEvent& e) {
            return e.type == EventType::kMasterKeyRotated;
          });
        });
    if (is_rotation && before_rotation_append) std::exchange(before_rotation_append, nullptr)();
    inner_.AppendAsync(std::move(request), std::move(done));
  }
  Status PurgeDeletedAux(AuxSpace space) override { return inner_.PurgeDeletedAux(space); }
  Status Close() override { return Status::Ok(); }

 private:
  EventLog& inner_;
};

TYPED_TEST(KeyringTest, AppendsLandingBetweenARotationsScanAndItsCommitAreHandled) {
  RotationHookLog hooked(*this->log_);
  std::vector<std::string> lines;
  ASSERT_OK_AND_ASSIGN(auto keyring,
                       Keyring::Open(hooked, Key(this->k1_),
                                     [&](LogLevel, std::string_view m) { lines.emplace_back(m); }));
  ASSERT_OK_AND_ASSIGN(auto a, CommitSecret(hooked, *keyring, "a", 1, "committed-before"));
  ASSERT_OK_AND_ASSIGN(auto b, CommitSecret(hooked, *keyring, "b", 1, "deleted-during"));
  // Sealed before the rotation, committed while it runs: must be rewrapped, not stranded.
  ASSERT_OK_AND_ASSIGN(auto c, keyring->SealNew("c", 1, "committed-during"));
  // Sealed before the rotation and never committed: must not get a keyring entry.
  ASSERT_OK_AND_ASSIGN(auto d, keyring->SealNew("d", 1, "abandoned"));
  hooked.before_rotation_append = [&] {
    AppendRequest req;
    req.streams.push_back({"key-c", kNoStream, {}, {NewEvent{EventType::kKeyCreated, 1, "{}", 0}}});
    req.streams.push_back(c.kek_guard);
    req.aux.push_back(c.dek_write);
    EXPECT_OK(this->log_->Append(std::move(req)));  // the guard still holds: not rotated yet
    EXPECT_OK(ShredKey(*this->log_, "b", b));
  };
  ASSERT_OK(keyring->RotateMaster(MasterKey::Generate(), {}));
  EXPECT_FALSE(hooked.before_rotation_append);  // the hook ran

  ASSERT_OK_AND_ASSIGN(auto opened_a, keyring->Open(a, "a", 1));
  EXPECT_EQ(opened_a, "committed-before");
  ASSERT_OK_AND_ASSIGN(auto opened_c, keyring->Open(c.secret, "c", 1));
  EXPECT_EQ(opened_c, "committed-during");
  auto opened_b = keyring->Open(b, "b", 1);
  ASSERT_FALSE(opened_b.ok());
  EXPECT_EQ(opened_b.error().code, ErrorCode::kShredded);  // not resurrected by the rewrap
  ASSERT_OK_AND_ASSIGN(auto d_entry, this->log_->GetAux(AuxSpace::kKeyring, d.dek_write.key));
  EXPECT_FALSE(d_entry.has_value());
  ASSERT_OK_AND_ASSIGN(auto events, this->log_->ReadStream("keyring", 1, 10));
  ASSERT_EQ(events.size(), 1u);
  // Planned before c committed and b was deleted: a and b were in the keyring, c and d in flight.
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("(2 data keys rewrapped, 2 in-flight seals covered)"),
            std::string::npos)
      << lines.back();
  EXPECT_EQ(events[0].payload, R"({"from_kek_version":1,"to_kek_version":2,"rewrapped_deks":2})");
}

TYPED_TEST(KeyringTest, RotationsUnderARunningWriterLoseNoSecret) {
  std::vector<std::string> keys = {this->k1_};
  for (int i = 0; i < 4; ++i) keys.push_back(crypto::RandomBytes(kMasterKeySize));
  struct Entry {
    std::string key_id;
    std::string secret;
    SealedSecret sealed;
    bool deleted = false;
  };
  std::mutex mu;
  std::vector<Entry> entries;
  std::atomic<bool> stop{false};
  std::atomic<int> conflicts{0};
  {
    auto keyring = this->OpenKeyring(keys[0]);
    ASSERT_NE(keyring, nullptr);
    std::thread writer([&] {
      for (int i = 0; !stop; ++i) {
        Entry e{
            "w" + std::to_string(i),
            "writer-secret-" + std::to_string(i) + "-" + crypto::HexEncode(crypto::RandomBytes(8)),
            {},
            false};
        int c = 0;
        auto sealed = CommitSecret(*this->log_, *keyring, e.key_id, 1, e.secret, &c);
        conflicts += c;
        if (!sealed.ok()) {
          ADD_FAILURE() << sealed.status().ToString();
          return;
        }
        e.sealed = *sealed;
        std::lock_guard lock(mu);
        entries.push_back(std::move(e));
      }
    });
    std::thread deleter([&] {
      size_t next = 0;
      while (!stop) {
        std::optional<Entry> victim;
        {
          std::lock_guard lock(mu);
          if (next < entries.size()) {
            entries[next].deleted = true;
            victim = entries[next];
            next += 3;
          }
        }
        if (!victim) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        Status s = ShredKey(*this->log_, victim->key_id, victim->sealed);
        if (!s.ok()) {
          ADD_FAILURE() << s.ToString();
          return;
        }
      }
    });
    // Lets the writer commit at least `n` more secrets (bounded, in case it failed).
    auto let_writer_commit = [&](size_t n) {
      auto committed = [&] {
        std::lock_guard lock(mu);
        return entries.size();
      };
      const size_t target = committed() + n;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (committed() < target && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    };
    for (size_t r = 1; r < keys.size(); ++r) {
      let_writer_commit(15);
      EXPECT_OK(keyring->RotateMaster(Key(keys[r]), {"rotator", "", "", {}}));
      EXPECT_OK(keyring->PurgeShredded());
    }
    let_writer_commit(15);
    stop = true;
    writer.join();
    deleter.join();
    EXPECT_EQ(keyring->kek_version(), keys.size());

    size_t deleted = 0;
    for (const Entry& e : entries) {
      auto opened = keyring->Open(e.sealed, e.key_id, 1);
      if (e.deleted) {
        ++deleted;
        ASSERT_FALSE(opened.ok()) << e.key_id;
        EXPECT_EQ(opened.error().code, ErrorCode::kShredded) << e.key_id;
      } else {
        ASSERT_TRUE(opened.ok()) << e.key_id << ": " << opened.status().ToString();
        EXPECT_EQ(*opened, e.secret);
      }
    }
    EXPECT_GT(deleted, 0u);
    EXPECT_GE(entries.size(), 15u * keys.size());
  }
  ASSERT_OK_AND_ASSIGN(auto report, this->log_->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;

  this->ReopenLog();
  for (size_t r = 0; r + 1 < keys.size(); ++r) {
    auto refused = Keyring::Open(*this->log_, Key(keys[r]), {});
    ASSERT_FALSE(refused.ok()) << r;
    EXPECT_EQ(refused.error().code, ErrorCode::kDecryptFailed);
  }
  auto keyring = this->OpenKeyring(keys.back());
  ASSERT_NE(keyring, nullptr);
  for (const Entry& e : entries) {
    if (e.deleted) continue;
    ASSERT_OK_AND_ASSIGN(auto opened, keyring->Open(e.sealed, e.key_id, 1));
    EXPECT_EQ(opened, e.secret);
  }
}

TYPED_TEST(KeyringTest, WrongMasterKeyIsRefusedAtOpenWithAClearMessage) {
  {
    auto keyring = this->OpenKeyring(this->k1_);
    ASSERT_NE(keyring, nullptr);
    ASSERT_OK(CommitSecret(*this->log_, *keyring, "a", 1, "value"));
  }
  this->ReopenLog();
  const std::string wrong = crypto::RandomBytes(kMasterKeySize);
  auto refused = Keyring::Open(*this->log_, Key(wrong), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kDecryptFailed);
  EXPECT_NE(refused.error().message.find(
                "the master key does not match this data directory (KEK check value differs"),
            std::string::npos)
      << refused.error().message;
  for (const std::string& form : KeyForms(wrong)) {
    EXPECT_EQ(refused.error().message.find(form), std::string::npos);
  }
  // Nothing was written by the refused open.
  ASSERT_OK_AND_ASSIGN(auto v, this->log_->StreamVersion("keyring"));
  EXPECT_EQ(v, 0u);
  EXPECT_NE(this->OpenKeyring(this->k1_), nullptr);
}

TYPED_TEST(KeyringTest, DamagedKeyringMetadataIsRefused) {
  { ASSERT_NE(this->OpenKeyring(this->k1_), nullptr); }
  const std::string meta = GetAux(*this->log_, "meta/kek");
  ASSERT_OK(PutAux(*this->log_, "meta/kek", meta.substr(0, 3)));
  auto r = Keyring::Open(*this->log_, Key(this->k1_), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption);

  ASSERT_OK(PutAux(*this->log_, "meta/kek", std::nullopt));  // gone, but server keys remain
  r = Keyring::Open(*this->log_, Key(this->k1_), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption);

  ASSERT_OK(PutAux(*this->log_, "meta/kek", meta));
  const std::string pepper = GetAux(*this->log_, "server/pepper");
  std::string bad = pepper;
  bad.back() ^= 1;
  ASSERT_OK(PutAux(*this->log_, "server/pepper", bad));
  r = Keyring::Open(*this->log_, Key(this->k1_), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  ASSERT_OK(PutAux(*this->log_, "server/pepper", pepper));
  EXPECT_NE(this->OpenKeyring(this->k1_), nullptr);
}

TYPED_TEST(KeyringTest, AnInstanceThatMissedARotationSaysSo) {
  auto first = this->OpenKeyring(this->k1_);
  auto second = this->OpenKeyring(this->k1_);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_OK_AND_ASSIGN(auto s, CommitSecret(*this->log_, *first, "a", 1, "value"));
  ASSERT_OK(first->RotateMaster(MasterKey::Generate(), {}));
  auto sealed = second->SealNew("b", 1, "value");
  ASSERT_FALSE(sealed.ok());
  EXPECT_EQ(sealed.error().code, ErrorCode::kUnavailable);
  auto opened = second->Open(s, "a", 1);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(second->RotateMaster(MasterKey::Generate(), {}).code(), ErrorCode::kUnavailable);
  ASSERT_OK_AND_ASSIGN(auto fine, first->Open(s, "a", 1));
  EXPECT_EQ(fine, "value");
}

TYPED_TEST(KeyringTest, NoLogLineOrErrorMessageEverContainsASecretOrAKey) {
  TempDir dir;
  std::mutex mu;
  std::vector<std::string> lines;
  LogSink sink = [&](LogLevel, std::string_view m) {
    std::lock_guard lock(mu);
    lines.emplace_back(m);
  };
  const std::string secret = "sk-ant-api03-LOGCANARY-q8Zr3xW0vT6yPe2Jk9LmNb4s-wxyz";
  const std::string middle = secret.substr(8, secret.size() - 12);  // never part of a mask
  ASSERT_OK_AND_ASSIGN(MasterKey dev_key, LoadMasterKey({"", "", dir.Sub("dev")}, sink));
  const std::string k1(dev_key.bytes());
  ASSERT_OK_AND_ASSIGN(MasterKey again, LoadMasterKey({"", "", dir.Sub("dev")}, sink));
  EXPECT_EQ(again.bytes(), k1);
  const std::string k2 = crypto::RandomBytes(kMasterKeySize);
  std::vector<std::string> errors;
  auto note = [&](const Status& s) {
    if (!s.ok()) errors.push_back(s.error().message);
  };
  {
    ASSERT_OK_AND_ASSIGN(auto keyring, Keyring::Open(*this->log_, std::move(dev_key), sink));
    ASSERT_OK_AND_ASSIGN(auto sealed, CommitSecret(*this->log_, *keyring, "a", 1, secret));
    ASSERT_OK_AND_ASSIGN(auto opened, keyring->Open(sealed, "a", 1));
    EXPECT_EQ(opened, secret);
    note(keyring->Open(sealed, "b", 1).status());
    SealedSecret bad = sealed;
    bad.ciphertext[0] ^= 1;
    note(keyring->Open(bad, "a", 1).status());
    note(ValidateSecret(secret + "\x01").status());
    note(ValidateSecret(secret + "\xff").status());
    note(ValidateSecret(secret + std::string(kMaxSecretBytes, 'x')).status());
    note(MasterKey::FromFileContents(secret).status());
    note(LoadMasterKey({"", secret, ""}, sink).status());
    ASSERT_OK(keyring->RotateMaster(Key(k2), {"ops", "", "", {}}));
    ASSERT_OK(ShredKey(*this->log_, "a", sealed));
    ASSERT_OK(keyring->PurgeShredded());
    note(keyring->Open(sealed, "a", 1).status());
  }
  note(Keyring::Open(*this->log_, Key(k1), sink).status());
  EXPECT_GE(errors.size(), 9u);
  std::vector<std::string> all = lines;
  all.insert(all.end(), errors.begin(), errors.end());
  ASSERT_GE(lines.size(), 4u);  // dev key created and reused, keyring initialized, rotated
  for (const std::string& line : all) {
    EXPECT_EQ(line.find(middle), std::string::npos) << line;
    EXPECT_EQ(line.find("LOGCANARY"), std::string::npos) << line;
    for (const std::string& key : {k1, k2}) {
      for (const std::string& form : KeyForms(key)) {
        EXPECT_EQ(line.find(form), std::string::npos) << line;
      }
    }
  }
}

TEST(KeyringFailureTest, AFailedRotationWriteLeavesTheOldKeyInCharge) {
  std::atomic<bool> fail{false};
  MemoryEventLog::Options options;
  options.fail_write = [&] { return fail.load(); };
  MemoryEventLog log(options);
  const std::string k1 = crypto::RandomBytes(kMasterKeySize);
  ASSERT_OK_AND_ASSIGN(auto keyring, Keyring::Open(log, Key(k1), {}));
  ASSERT_OK_AND_ASSIGN(auto sealed, CommitSecret(log, *keyring, "a", 1, "before"));
  fail = true;
  Status rotated = keyring->RotateMaster(MasterKey::Generate(), {});
  fail = false;
  ASSERT_FALSE(rotated.ok());
  EXPECT_EQ(rotated.code(), ErrorCode::kIoError);
  EXPECT_NE(rotated.error().message.find("may or may not have been applied"), std::string::npos);
  EXPECT_EQ(keyring->kek_version(), 1u);
  ASSERT_OK_AND_ASSIGN(auto opened, keyring->Open(sealed, "a", 1));
  EXPECT_EQ(opened, "before");
  ASSERT_OK(CommitSecret(log, *keyring, "b", 1, "after"));
  keyring.reset();
  EXPECT_OK(Keyring::Open(log, Key(k1), {}));  // nothing was applied: the old key still opens
}

// ---------------------------------------------------------------------------------------------
// What reaches the disk (RocksDB only).

struct RocksDir {
  TempDir dir;
  std::string data = dir.Sub("data");
  std::unique_ptr<RocksEventLog> Open() {
    auto log = RocksEventLog::Open(data, {});
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }
};

TEST(KeyringStorageTest, PlaintextSecretsAndMasterKeysNeverReachTheDataDirectory) {
  RocksDir d;
  // The development key: the only file that may hold the master key is master.key itself.
  ASSERT_OK_AND_ASSIGN(MasterKey dev, LoadMasterKey({"", "", d.data}, {}));
  const std::string k1(dev.bytes());
  const std::string k2 = crypto::RandomBytes(kMasterKeySize);
  auto log = d.Open();
  ASSERT_NE(log, nullptr);

  std::vector<std::string> secrets, middles, canaries;
  std::vector<SealedSecret> sealed;
  {
    ASSERT_OK_AND_ASSIGN(auto keyring, Keyring::Open(*log, std::move(dev), {}));
    for (int i = 0; i < 100; ++i) {
      // Distinct random bodies: nothing repeats, so compression cannot hide them either.
      const std::string secret = "sk-ant-api03-" +
                                 crypto::Base64UrlEncode(crypto::RandomBytes(30)) + "-" +
                                 std::to_string(i);
      secrets.push_back(secret);
      middles.push_back(secret.substr(8, secret.size() - 12));
      ASSERT_OK_AND_ASSIGN(auto s,
                           CommitSecret(*log, *keyring, "k" + std::to_string(i), 1, secret));
      sealed.push_back(s);
    }
    // Positive control: plaintext deliberately written into events and into the keyring space
    // must be found by the same scan, or the scan proves nothing.
    for (int i = 0; i < 3; ++i) {
      canaries.push_back("CANARY-" + crypto::Base64UrlEncode(crypto::RandomBytes(24)));
      json::Writer w;
      w.BeginObject().Member("note", canaries.back()).EndObject();
      ASSERT_OK(log->Append("canary-" + std::to_string(i), kNoStream,
                            {NewEvent{EventType::kProviderCreated, 1, w.Take(), 0}}));
    }
    canaries.push_back("CANARY-AUX-" + crypto::Base64UrlEncode(crypto::RandomBytes(24)));
    ASSERT_OK(PutAux(*log, "canary", canaries.back()));
    ASSERT_OK(keyring->RotateMaster(Key(k2), {"ops", "", "", {}}));
    for (size_t i = 0; i < 100; i += 10) {
      ASSERT_OK(ShredKey(*log, "k" + std::to_string(i), sealed[i]));
    }
    ASSERT_OK(keyring->PurgeShredded());
    // More writes after the last flush, so the live WAL holds payloads too.
    for (int i = 100; i < 110; ++i) {
      const std::string secret = "sk-live-" + crypto::Base64UrlEncode(crypto::RandomBytes(30));
      secrets.push_back(secret);
      middles.push_back(secret.substr(8, secret.size() - 12));
      ASSERT_OK(CommitSecret(*log, *keyring, "k" + std::to_string(i), 1, secret));
    }
    canaries.push_back("CANARY-WAL-" + crypto::Base64UrlEncode(crypto::RandomBytes(24)));
    json::Writer w;
    w.BeginObject().Member("note", canaries.back()).EndObject();
    ASSERT_OK(log->Append("canary-wal", kNoStream,
                          {NewEvent{EventType::kProviderCreated, 1, w.Take(), 0}}));
  }
  ASSERT_OK(log->Close());
  log.reset();

  std::vector<std::string> needles = secrets;
  needles.insert(needles.end(), middles.begin(), middles.end());
  needles.insert(needles.end(), canaries.begin(), canaries.end());
  for (const std::string& key : {k1, k2}) {
    for (const std::string& form : KeyForms(key)) needles.push_back(form);
  }
  keyledger::testing::ScanStats stats;
  auto hits = FindInFiles(d.data, needles, &stats);
  EXPECT_GT(stats.files, 5u);
  EXPECT_GT(stats.sst_files, 0u);
  EXPECT_GT(stats.wal_files, 0u);
  for (const std::string& canary : canaries) {
    EXPECT_FALSE(hits[canary].empty()) << "the scan failed to find a planted canary";
  }
  for (const std::string& s : secrets) EXPECT_TRUE(hits[s].empty()) << hits[s].front();
  for (const std::string& m : middles) EXPECT_TRUE(hits[m].empty()) << hits[m].front();
  // The development key's base64 is in master.key and nowhere else; the rotated-to key nowhere.
  EXPECT_EQ(hits[crypto::Base64Encode(k1)], std::vector<std::string>{"master.key"});
  for (const std::string& form : {k1, crypto::HexEncode(k1)}) {
    EXPECT_TRUE(hits[form].empty()) << hits[form].front();
  }
  for (const std::string& form : KeyForms(k2))
    EXPECT_TRUE(hits[form].empty()) << hits[form].front();
}

TEST(KeyringStorageTest, ShreddingRemovesTheWrappedKeyFromLiveFilesAndSurvivesReopen) {
  RocksDir d;
  const std::string k1 = crypto::RandomBytes(kMasterKeySize);
  auto log = d.Open();
  ASSERT_NE(log, nullptr);
  SealedSecret victim, survivor;
  std::string wrapped;
  {
    ASSERT_OK_AND_ASSIGN(auto keyring, Keyring::Open(*log, Key(k1), {}));
    ASSERT_OK_AND_ASSIGN(victim, CommitSecret(*log, *keyring, "victim", 1, "victim-secret-value"));
    ASSERT_OK_AND_ASSIGN(survivor, CommitSecret(*log, *keyring, "other", 1, "other-secret-value"));
    wrapped = GetAux(*log, "dek/" + victim.dek_id);
    ASSERT_EQ(wrapped.size(), 64u);
    // Let the wrapped key reach an SST file first, as it would after days of normal operation,
    // and check that the scan sees it there (otherwise its absence below would prove nothing).
    ASSERT_OK(log->PurgeDeletedAux(AuxSpace::kKeyring));
    auto before = FindInFiles(d.data, {wrapped});
    ASSERT_FALSE(before[wrapped].empty());
    bool in_sst = false;
    for (const auto& f : before[wrapped]) in_sst |= f.ends_with(".sst");
    EXPECT_TRUE(in_sst);

    ASSERT_OK(ShredKey(*log, "victim", victim));
    ASSERT_OK(keyring->PurgeShredded());
  }
  ASSERT_OK(log->Close());
  log.reset();
  log = d.Open();
  ASSERT_NE(log, nullptr);

  keyledger::testing::ScanStats stats;
  auto after = FindInFiles(d.data, {wrapped}, &stats);
  EXPECT_GT(stats.sst_files, 0u);
  EXPECT_TRUE(after[wrapped].empty()) << after[wrapped].front();

  ASSERT_OK_AND_ASSIGN(auto keyring, Keyring::Open(*log, Key(k1), {}));
  auto r = keyring->Open(victim, "victim", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kShredded);
  ASSERT_OK_AND_ASSIGN(auto other, keyring->Open(survivor, "other", 1));
  EXPECT_EQ(other, "other-secret-value");
  ASSERT_OK_AND_ASSIGN(auto report, log->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
  // The fact of the deletion, naming the destroyed DEK, is still in the log.
  ASSERT_OK_AND_ASSIGN(auto history, log->ReadStream("key-victim", 1, 10));
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].type, EventType::kKeyDeleted);
  EXPECT_NE(history[1].payload.find(victim.dek_id), std::string::npos);
  // The ciphertext is still in the log too: shredding did not rewrite history.
  EXPECT_NE(history[0].payload.find(crypto::Base64Encode(victim.ciphertext)), std::string::npos);
  keyring.reset();
  EXPECT_OK(log->Close());
}

}  // namespace
}  // namespace keyledger::events
