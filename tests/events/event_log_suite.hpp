#pragma once
// The typed EventLog suite every implementation passes (type-parameterized: each backend's test
// file instantiates it with its factory). A factory has `std::unique_ptr<EventLog> Open()` and
// `void SetFailWrites(bool)` (the next writes fail as the storage failing would: kIoError).
// Instantiations: tests/events/event_log_test.cpp (in memory, RocksDB) and
// tests/events/etcd_event_log_test.cpp (etcd).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "events/event_log.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::events::suite {

inline NewEvent Ev(std::string payload = R"({"n":1})", EventType type = EventType::kKeyUpdated) {
  NewEvent e;
  e.type = type;
  e.payload = std::move(payload);
  return e;
}

template <typename Factory>
class EventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = factory_.Open();
    ASSERT_NE(log_, nullptr);
  }
  void TearDown() override {
    if (log_) EXPECT_OK(log_->Close());
  }
  Factory factory_;
  std::unique_ptr<EventLog> log_;
};

TYPED_TEST_SUITE_P(EventLogTest);

TYPED_TEST_P(EventLogTest, EmptyLogHasGenesisHead) {
  Head h = this->log_->GetHead();
  EXPECT_EQ(h.sequence, 0u);
  EXPECT_EQ(h.hash, GenesisHash());
  ASSERT_OK_AND_ASSIGN(auto v, this->log_->StreamVersion("key-a"));
  EXPECT_EQ(v, 0u);
  ASSERT_OK_AND_ASSIGN(auto report, this->log_->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok);
}

TYPED_TEST_P(EventLogTest, AppendAssignsSequencesVersionsAndChainsHashes) {
  EventMetadata meta{"ops", "127.0.0.1", "req-1", std::string("rotation")};
  ASSERT_OK_AND_ASSIGN(auto r1,
                       this->log_->Append("key-a", kNoStream, {Ev(), Ev(R"({"n":2})")}, meta));
  EXPECT_EQ(r1.sequences, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(r1.stream_versions, (std::vector<uint64_t>{2}));
  ASSERT_OK_AND_ASSIGN(auto r2, this->log_->Append("key-b", kNoStream, {Ev()}));
  EXPECT_EQ(r2.sequences, (std::vector<uint64_t>{3}));
  EXPECT_EQ(this->log_->GetHead(), r2.head);

  ASSERT_OK_AND_ASSIGN(auto all, this->log_->ReadRange(1, 100));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].prev_hash, GenesisHash());
  EXPECT_EQ(all[1].prev_hash, all[0].hash);
  EXPECT_EQ(all[2].prev_hash, all[1].hash);
  EXPECT_EQ(all[2].hash, r2.head.hash);
  EXPECT_EQ(all[0].metadata, meta);
  EXPECT_EQ(all[1].payload, R"({"n":2})");
  EXPECT_EQ(all[1].stream_version, 2u);
  EXPECT_LE(all[0].time_us, all[1].time_us);
  for (const auto& r : all) EXPECT_TRUE(VerifyRecordHash(r));

  ASSERT_OK_AND_ASSIGN(auto stream_a, this->log_->ReadStream("key-a", 2, 10));
  ASSERT_EQ(stream_a.size(), 1u);
  EXPECT_EQ(stream_a[0].sequence, 2u);
  ASSERT_OK_AND_ASSIGN(auto va, this->log_->StreamVersion("key-a"));
  EXPECT_EQ(va, 2u);
  ASSERT_OK_AND_ASSIGN(auto report, this->log_->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.checked, 3u);
  EXPECT_EQ(report.last_hash, r2.head.hash);
}

TYPED_TEST_P(EventLogTest, ExpectedVersionMismatchIsAConflictWithTheActualVersion) {
  ASSERT_OK(this->log_->Append("key-a", kNoStream, {Ev()}));
  auto again = this->log_->Append("key-a", kNoStream, {Ev()});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kVersionConflict);
  EXPECT_EQ(again.error().actual_version, 1u);

  auto stale = this->log_->Append("key-a", 5, {Ev()});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().actual_version, 1u);

  ASSERT_OK(this->log_->Append("key-a", 1, {Ev()}));
  ASSERT_OK(this->log_->Append("key-a", kAnyVersion, {Ev()}));
  EXPECT_EQ(this->log_->GetHead().sequence, 3u);
}

TYPED_TEST_P(EventLogTest, MultiStreamRequestIsAllOrNothing) {
  ASSERT_OK(this->log_->Append("provider-p", kNoStream, {Ev()}));
  const Head before = this->log_->GetHead();
  AppendRequest req;
  req.streams.push_back({"key-1", kNoStream, {}, {Ev()}});
  req.streams.push_back({"key-2", kNoStream, {}, {Ev(), Ev()}});
  req.streams.push_back({"provider-p", 0, {}, {}});  // guard that fails: provider-p is at 1
  req.aux.push_back({AuxSpace::kKeyring, "dek/1", std::string("wrapped")});
  auto r = this->log_->Append(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kVersionConflict);
  EXPECT_EQ(this->log_->GetHead(), before);
  ASSERT_OK_AND_ASSIGN(auto v1, this->log_->StreamVersion("key-1"));
  EXPECT_EQ(v1, 0u);
  ASSERT_OK_AND_ASSIGN(auto aux, this->log_->GetAux(AuxSpace::kKeyring, "dek/1"));
  EXPECT_FALSE(aux.has_value());

  req.streams[2].expected_version = 1;  // now the guard holds
  ASSERT_OK_AND_ASSIGN(auto ok, this->log_->Append(req));
  EXPECT_EQ(ok.sequences.size(), 3u);
  EXPECT_EQ(ok.stream_versions, (std::vector<uint64_t>{1, 2, 1}));
  ASSERT_OK_AND_ASSIGN(auto aux2, this->log_->GetAux(AuxSpace::kKeyring, "dek/1"));
  EXPECT_EQ(aux2.value_or(""), "wrapped");
  ASSERT_OK_AND_ASSIGN(auto vp, this->log_->StreamVersion("provider-p"));
  EXPECT_EQ(vp, 1u);
}

TYPED_TEST_P(EventLogTest, SameStreamTwiceInOneRequestSeesTheEarlierEntry) {
  AppendRequest req;
  req.streams.push_back({"key-1", kNoStream, {}, {Ev()}});
  req.streams.push_back({"key-1", 1, {}, {Ev()}});
  ASSERT_OK_AND_ASSIGN(auto r, this->log_->Append(req));
  EXPECT_EQ(r.stream_versions, (std::vector<uint64_t>{1, 2}));
  ASSERT_OK_AND_ASSIGN(auto events, this->log_->ReadStream("key-1", 1, 10));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].stream_version, 2u);
}

TYPED_TEST_P(EventLogTest, AuxWritesAndDeletesAndScans) {
  AppendRequest req;
  req.aux.push_back({AuxSpace::kIdempotency, "a/1", std::string("x")});
  req.aux.push_back({AuxSpace::kIdempotency, "a/2", std::string("y")});
  req.aux.push_back({AuxSpace::kIdempotency, "b/1", std::string("z")});
  ASSERT_OK(this->log_->Append(req));
  EXPECT_EQ(this->log_->GetHead().sequence, 0u);  // aux-only writes add no events
  std::vector<std::string> seen;
  ASSERT_OK(this->log_->ScanAux(AuxSpace::kIdempotency, "a/", [&](auto k, auto v) {
    seen.push_back(std::string(k) + "=" + std::string(v));
    return true;
  }));
  EXPECT_EQ(seen, (std::vector<std::string>{"a/1=x", "a/2=y"}));
  AppendRequest del;
  del.aux.push_back({AuxSpace::kIdempotency, "a/1", std::nullopt});
  ASSERT_OK(this->log_->Append(del));
  ASSERT_OK_AND_ASSIGN(auto gone, this->log_->GetAux(AuxSpace::kIdempotency, "a/1"));
  EXPECT_FALSE(gone.has_value());
  EXPECT_OK(this->log_->PurgeDeletedAux(AuxSpace::kIdempotency));
}

TYPED_TEST_P(EventLogTest, ConditionalAuxPutsOnlyReplaceExistingEntries) {
  auto put = [](std::string key, std::string value, bool only_if_present) {
    AuxWrite w{AuxSpace::kKeyring, std::move(key), std::move(value)};
    w.only_if_present = only_if_present;
    return w;
  };
  auto get = [&](std::string_view key) {
    auto v = this->log_->GetAux(AuxSpace::kKeyring, key);
    EXPECT_TRUE(v.ok());
    return v.ok() && v->has_value() ? **v : std::string("<absent>");
  };
  AppendRequest seed;
  seed.aux.push_back(put("k/present", "old", false));
  seed.aux.push_back(put("k/deleted", "old", false));
  ASSERT_OK(this->log_->Append(seed));

  AppendRequest req;
  req.aux.push_back({AuxSpace::kKeyring, "k/deleted", std::nullopt});
  req.aux.push_back(put("k/present", "new", true));
  req.aux.push_back(put("k/absent", "new", true));
  req.aux.push_back(put("k/deleted", "new", true));  // deleted earlier in the same request
  req.aux.push_back(put("k/created", "first", false));
  req.aux.push_back(put("k/created", "second", true));  // created earlier in the same request
  ASSERT_OK(this->log_->Append(req));
  EXPECT_EQ(get("k/present"), "new");
  EXPECT_EQ(get("k/absent"), "<absent>");
  EXPECT_EQ(get("k/deleted"), "<absent>");
  EXPECT_EQ(get("k/created"), "second");

  // Across requests of one group (RocksDB) or in sequence (memory): the later request sees the
  // earlier one's delete.
  AppendRequest del;
  del.aux.push_back({AuxSpace::kKeyring, "k/present", std::nullopt});
  AppendRequest again;
  again.aux.push_back(put("k/present", "resurrected?", true));
  std::promise<void> first_done, second_done;
  this->log_->AppendAsync(del, [&](Result<AppendResult> r) {
    EXPECT_TRUE(r.ok());
    first_done.set_value();
  });
  this->log_->AppendAsync(again, [&](Result<AppendResult> r) {
    EXPECT_TRUE(r.ok());
    second_done.set_value();
  });
  first_done.get_future().wait();
  second_done.get_future().wait();
  EXPECT_EQ(get("k/present"), "<absent>");
}

TYPED_TEST_P(EventLogTest, BadInputIsRejectedAndNothingIsAppended) {
  ASSERT_OK(this->log_->Append("key-a", kNoStream, {Ev()}));
  const Head before = this->log_->GetHead();
  struct Case {
    const char* name;
    AppendRequest req;
  };
  auto one = [](std::string stream, NewEvent e, EventMetadata m = {}) {
    AppendRequest r;
    r.streams.push_back({std::move(stream), kAnyVersion, std::move(m), {std::move(e)}});
    return r;
  };
  NewEvent unknown_type = Ev();
  unknown_type.type = static_cast<EventType>(65000);
  NewEvent zero_schema = Ev();
  zero_schema.schema_version = 0;
  NewEvent early = Ev();
  early.time_us = 1;  // before the head's time
  std::vector<Case> cases = {
      {"empty request", AppendRequest{}},
      {"empty stream id", one("", Ev())},
      {"stream id with NUL", one(std::string("key\0a", 5), Ev())},
      {"stream id with space", one("key a", Ev())},
      {"stream id too long", one(std::string(201, 'k'), Ev())},
      {"oversized payload", one("key-a", Ev("\"" + std::string(kMaxPayloadBytes, 'x') + "\""))},
      {"empty payload", one("key-a", Ev(""))},
      {"payload not JSON", one("key-a", Ev("{not json"))},
      {"payload invalid UTF-8", one("key-a", Ev("\"\xC3\x28\""))},
      {"actor invalid UTF-8", one("key-a", Ev(), EventMetadata{"\xFF", "", "", std::nullopt})},
      {"ip invalid UTF-8", one("key-a", Ev(), EventMetadata{"", "\xC0\xAF", "", std::nullopt})},
      {"request id too long",
       one("key-a", Ev(), EventMetadata{"", "", std::string(300, 'r'), std::nullopt})},
      {"reason invalid UTF-8",
       one("key-a", Ev(), EventMetadata{"", "", "", std::string("\xE2\x82")})},
      {"unknown event type", one("key-a", unknown_type)},
      {"schema version zero", one("key-a", zero_schema)},
      {"time before head", one("key-a", early)},
  };
  AppendRequest bad_expected = one("key-a", Ev());
  bad_expected.streams[0].expected_version = -7;
  cases.push_back({"negative expected version", bad_expected});
  AppendRequest empty_aux_key;
  empty_aux_key.aux.push_back({AuxSpace::kKeyring, "", std::string("v")});
  cases.push_back({"empty aux key", empty_aux_key});

  for (auto& c : cases) {
    auto r = this->log_->Append(c.req);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_TRUE(r.error().code == ErrorCode::kInvalidArgument ||
                r.error().code == ErrorCode::kPayloadTooLarge)
        << c.name << ": " << r.status().ToString();
    EXPECT_FALSE(r.error().message.empty()) << c.name;
    EXPECT_EQ(this->log_->GetHead(), before) << c.name;
  }
  EXPECT_FALSE(this->log_->ReadStream("", 0, 1).ok());
  EXPECT_FALSE(this->log_->StreamVersion("bad stream").ok());
  ASSERT_OK_AND_ASSIGN(auto report, this->log_->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok);
}

TYPED_TEST_P(EventLogTest, FailedWriteLeavesHeadHashAndVersionsUnchanged) {
  ASSERT_OK(this->log_->Append("key-a", kNoStream, {Ev()}));
  const Head before = this->log_->GetHead();
  this->factory_.SetFailWrites(true);
  AppendRequest req;
  req.streams.push_back({"key-a", 1, {}, {Ev()}});
  req.streams.push_back({"key-b", kNoStream, {}, {Ev()}});
  req.aux.push_back({AuxSpace::kKeyring, "dek/x", std::string("w")});
  auto failed = this->log_->Append(req);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kIoError);
  EXPECT_EQ(this->log_->GetHead(), before);
  ASSERT_OK_AND_ASSIGN(auto va, this->log_->StreamVersion("key-a"));
  EXPECT_EQ(va, 1u);
  ASSERT_OK_AND_ASSIGN(auto vb, this->log_->StreamVersion("key-b"));
  EXPECT_EQ(vb, 0u);

  this->factory_.SetFailWrites(false);
  ASSERT_OK_AND_ASSIGN(auto ok, this->log_->Append(req));  // same expected versions still hold
  EXPECT_EQ(ok.sequences, (std::vector<uint64_t>{2, 3}));
  ASSERT_OK_AND_ASSIGN(auto records, this->log_->ReadRange(2, 10));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].prev_hash, before.hash);
  ASSERT_OK_AND_ASSIGN(auto report, this->log_->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
}

// 32 threads, 8 streams, read-then-append with the version read: every success gets exactly
// expected + 1, every conflict reports a newer actual version, and nothing is lost or doubled.
TYPED_TEST_P(EventLogTest, ConcurrentAppendersWithExpectedVersions) {
  constexpr int kThreads = 32;
  constexpr int kStreams = 8;
  constexpr int kAttempts = 40;
  std::atomic<int> successes{0};
  std::atomic<int> conflicts{0};
  std::mutex mu;
  std::vector<uint64_t> all_sequences;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAttempts; ++i) {
        std::string stream = "key-" + std::to_string((t + i) % kStreams);
        auto v = this->log_->StreamVersion(stream);
        if (!v.ok()) {
          std::lock_guard l(mu);
          failures.push_back(v.status().ToString());
          continue;
        }
        auto r = this->log_->Append(stream, static_cast<int64_t>(*v),
                                    {Ev("{\"t\":" + std::to_string(t) + "}")});
        std::lock_guard l(mu);
        if (r.ok()) {
          successes++;
          if (r->stream_versions[0] != *v + 1) failures.push_back("version not expected+1");
          all_sequences.insert(all_sequences.end(), r->sequences.begin(), r->sequences.end());
        } else if (r.error().code == ErrorCode::kVersionConflict) {
          conflicts++;
          if (!(r.error().actual_version.value_or(0) > *v)) {
            failures.push_back("conflict without a newer version");
          }
        } else {
          failures.push_back(r.status().ToString());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_EQ(successes + conflicts, kThreads * kAttempts);

  std::sort(all_sequences.begin(), all_sequences.end());
  ASSERT_EQ(all_sequences.size(), static_cast<size_t>(successes.load()));
  for (size_t i = 0; i < all_sequences.size(); ++i) ASSERT_EQ(all_sequences[i], i + 1);
  EXPECT_EQ(this->log_->GetHead().sequence, static_cast<uint64_t>(successes.load()));

  uint64_t total = 0;
  for (int s = 0; s < kStreams; ++s) {
    std::string stream = "key-" + std::to_string(s);
    ASSERT_OK_AND_ASSIGN(auto events, this->log_->ReadStream(stream, 1, 100000));
    for (size_t i = 0; i < events.size(); ++i) ASSERT_EQ(events[i].stream_version, i + 1);
    ASSERT_OK_AND_ASSIGN(auto version, this->log_->StreamVersion(stream));
    EXPECT_EQ(version, events.size());
    total += events.size();
  }
  EXPECT_EQ(total, static_cast<uint64_t>(successes.load()));
  ASSERT_OK_AND_ASSIGN(auto report, this->log_->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
}

TYPED_TEST_P(EventLogTest, AsyncAppendsCompleteExactlyOnceInSequenceOrder) {
  constexpr int kRequests = 500;
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  std::map<int, uint64_t> seq_of;
  for (int i = 0; i < kRequests; ++i) {
    AppendRequest req;
    req.streams.push_back({"key-" + std::to_string(i % 7), kAnyVersion, {}, {Ev()}});
    this->log_->AppendAsync(std::move(req), [&, i](Result<AppendResult> r) {
      std::lock_guard l(mu);
      EXPECT_TRUE(r.ok());
      if (r.ok()) seq_of[i] = r->sequences[0];
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock l(mu);
  cv.wait(l, [&] { return done == kRequests; });
  // Requests from one thread are committed in the order they were queued.
  uint64_t prev = 0;
  for (auto& [i, seq] : seq_of) {
    EXPECT_GT(seq, prev);
    prev = seq;
  }
}

TYPED_TEST_P(EventLogTest, ClockGoingBackwardsKeepsTimesMonotonic) {
  // Not configurable through the factory, so use caller-supplied times and the clamp.
  NewEvent later = Ev();
  later.time_us = 2'000'000'000'000'000;  // far future
  ASSERT_OK(this->log_->Append("key-a", kAnyVersion, {later}));
  ASSERT_OK(this->log_->Append("key-a", kAnyVersion, {Ev()}));  // system clock is earlier
  ASSERT_OK_AND_ASSIGN(auto records, this->log_->ReadRange(1, 10));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].time_us, records[0].time_us);
  ASSERT_OK_AND_ASSIGN(auto report, this->log_->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok);
}

REGISTER_TYPED_TEST_SUITE_P(
    EventLogTest, EmptyLogHasGenesisHead, AppendAssignsSequencesVersionsAndChainsHashes,
    ExpectedVersionMismatchIsAConflictWithTheActualVersion, MultiStreamRequestIsAllOrNothing,
    SameStreamTwiceInOneRequestSeesTheEarlierEntry, AuxWritesAndDeletesAndScans,
    ConditionalAuxPutsOnlyReplaceExistingEntries, BadInputIsRejectedAndNothingIsAppended,
    FailedWriteLeavesHeadHashAndVersionsUnchanged, ConcurrentAppendersWithExpectedVersions,
    AsyncAppendsCompleteExactlyOnceInSequenceOrder, ClockGoingBackwardsKeepsTimesMonotonic);

}  // namespace keyledger::events::suite
