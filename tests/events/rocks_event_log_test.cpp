// RocksDB-specific behaviour: persistence, recovery checks at open, tamper and corruption
// detection, crash durability with SIGKILL, read-only and secondary modes, group commit.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "events/rocks_event_log.hpp"
#include "tests/support/fault_fs.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::events {
namespace {

using keyledger::testing::TempDir;

NewEvent Ev(std::string payload = R"({"n":1})") {
  NewEvent e;
  e.type = EventType::kKeyUpdated;
  e.payload = std::move(payload);
  return e;
}

std::unique_ptr<RocksEventLog> OpenLog(const std::string& path,
                                       RocksEventLog::Options o = RocksEventLog::Options{}) {
  auto log = RocksEventLog::Open(path, std::move(o));
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

// Direct access to the database underneath, to tamper with it as an attacker or a bad disk would.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (auto& n : names) descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(rocksdb::DBOptions(), path, descs, &handles_, &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db_.reset(raw);
    for (size_t i = 0; i < names.size(); ++i) cf_[names[i]] = handles_[i];
  }
  ~RawDb() {
    for (auto* h : handles_) EXPECT_TRUE(db_->DestroyColumnFamilyHandle(h).ok());
    EXPECT_TRUE(db_->Close().ok());
  }
  std::string Get(const std::string& cf, const std::string& key) {
    std::string v;
    EXPECT_TRUE(db_->Get(rocksdb::ReadOptions(), cf_.at(cf), key, &v).ok());
    return v;
  }
  void Put(const std::string& cf, const std::string& key, const std::string& value) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    EXPECT_TRUE(db_->Put(wo, cf_.at(cf), key, value).ok());
  }
  void Delete(const std::string& cf, const std::string& key) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    EXPECT_TRUE(db_->Delete(wo, cf_.at(cf), key).ok());
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> cf_;
};

// Writes `n` events over a few streams and closes the log; returns the final head.
Head WriteSample(const std::string& path, int n) {
  auto log = OpenLog(path);
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(log->Append("key-" + std::to_string(i % 3), kAnyVersion,
                            {Ev("{\"i\":" + std::to_string(i) + ",\"pad\":\"abcdefghij\"}")})
                    .ok());
  }
  Head h = log->GetHead();
  EXPECT_TRUE(log->Close().ok());
  return h;
}

RocksEventLog::Options Lenient() {
  RocksEventLog::Options o;
  o.check_head_on_open = false;
  return o;
}

TEST(RocksEventLogTest, ReopenRecoversHeadAndStreamVersionsAndContinuesTheChain) {
  TempDir dir;
  const std::string path = dir.Sub("data");
  Head written = WriteSample(path, 10);
  auto log = OpenLog(path);
  EXPECT_EQ(log->GetHead(), written);
  ASSERT_OK_AND_ASSIGN(auto v0, log->StreamVersion("key-0"));
  EXPECT_EQ(v0, 4u);
  auto conflict = log->Append("key-0", 3, {Ev()});
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().actual_version, 4u);
  ASSERT_OK_AND_ASSIGN(auto r, log->Append("key-0", 4, {Ev()}));
  EXPECT_EQ(r.sequences[0], 11u);
  ASSERT_OK_AND_ASSIGN(auto rec, log->ReadRange(11, 1));
  EXPECT_EQ(rec[0].prev_hash, written.hash);
  ASSERT_OK_AND_ASSIGN(auto report, log->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.checked, 11u);
  ASSERT_OK(log->Close());
}

TEST(RocksEventLogTest, HeadComesFromTheLogNotOnlyFromMeta) {
  TempDir dir;
  const std::string path = dir.Sub("data");
  WriteSample(path, 5);
  {
    RawDb raw(path);
    std::string head = raw.Get("meta", "head");
    head[7] = static_cast<char>(head[7] + 1);  // meta now claims sequence 6
    raw.Put("meta", "head", head);
  }
  auto refused = RocksEventLog::Open(path, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kCorruption);
  EXPECT_NE(refused.error().message.find("meta says the head is sequence 6"), std::string::npos)
      << refused.error().message;
}

TEST(RocksEventLogTest, UnknownFormatVersionIsRefused) {
  TempDir dir;
  const std::string path = dir.Sub("data");
  WriteSample(path, 1);
  {
    RawDb raw(path);
    raw.Put("meta", "format", std::string("\0\0\0\x09", 4));
  }
  auto r = RocksEventLog::Open(path, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(r.error().message.find("format version 9"), std::string::npos) << r.error().message;
}

TEST(RocksEventLogTest, ForeignDirectoriesAreRefusedWithClearErrors) {
  TempDir dir;
  // A plain RocksDB database that is not ours.
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.Sub("foreign"), &raw).ok());
    delete raw;
  }
  auto foreign = RocksEventLog::Open(dir.Sub("foreign"), {});
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.error().message.find("not a keyledger log"), std::string::npos);

  // A directory with unrelated files.
  std::filesystem::create_directories(dir.Sub("junk"));
  std::ofstream(dir.Sub("junk") + "/notes.txt") << "hello";
  auto junk = RocksEventLog::Open(dir.Sub("junk"), {});
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.error().message.find("not empty"), std::string::npos);

  // Missing directory, read-only.
  RocksEventLog::Options ro;
  ro.mode = RocksEventLog::Mode::kReadOnly;
  auto missing = RocksEventLog::Open(dir.Sub("nope"), ro);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(RocksEventLogTest, SecondWriterIsRefusedWhileTheFirstHoldsTheDirectory) {
  TempDir dir;
  auto first = OpenLog(dir.Sub("data"));
  auto second = RocksEventLog::Open(dir.Sub("data"), {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(second.error().message.find("in use"), std::string::npos);
  ASSERT_OK(first->Close());
}

TEST(RocksEventLogTest, ReadOnlyAndSecondaryModesReadWhileTheWriterRuns) {
  TempDir dir;
  const std::string path = dir.Sub("data");
  auto writer = OpenLog(path);
  ASSERT_OK(writer->Append("key-a", kNoStream, {Ev()}));

  RocksEventLog::Options so;
  so.mode = RocksEventLog::Mode::kSecondary;
  so.secondary_path = dir.Sub("secondary");
  auto secondary = OpenLog(path, so);
  EXPECT_EQ(secondary->GetHead().sequence, 1u);
  ASSERT_OK(writer->Append("key-a", 1, {Ev()}));
  ASSERT_OK(secondary->CatchUp());
  EXPECT_EQ(secondary->GetHead(), writer->GetHead());
  auto refused = secondary->Append("key-a", kAnyVersion, {Ev()});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  ASSERT_OK(secondary->Close());
  ASSERT_OK(writer->Close());

  RocksEventLog::Options ro;
  ro.mode = RocksEventLog::Mode::kReadOnly;
  auto reader = OpenLog(path, ro);
  EXPECT_EQ(reader->GetHead().sequence, 2u);
  ASSERT_OK_AND_ASSIGN(auto report, reader->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok);
  ASSERT_OK(reader->Close());
}

struct TamperCase {
  std::string name;
  std::function<void(RawDb&)> tamper;
  uint64_t first_bad;
};

TEST(RocksEventLogTest, VerifyNamesTheFirstBadSequenceForEveryKindOfTampering) {
  const int kEvents = 12;
  std::vector<TamperCase> cases;
  auto flip = [](size_t pos) {
    return [pos](RawDb& raw) {
      std::string v = raw.Get("events", SequenceKey(5));
      v[pos % v.size()] = static_cast<char>(v[pos % v.size()] ^ 0x01);
      raw.Put("events", SequenceKey(5), v);
    };
  };
  // A flipped bit at a spread of positions: header, stream id, metadata, payload, prev hash,
  // hash (the last 64 bytes are the two hashes).
  for (size_t pos : {0ul, 3ul, 9ul, 13ul, 20ul, 40ul, 60ul, 70ul, 1000ul, 2000ul}) {
    cases.push_back({"flip byte " + std::to_string(pos), flip(pos), 5});
  }
  cases.push_back({"flip in prev hash",
                   [](RawDb& raw) {
                     std::string v = raw.Get("events", SequenceKey(5));
                     v[v.size() - 40] ^= 0x10;
                     raw.Put("events", SequenceKey(5), v);
                   },
                   5});
  cases.push_back({"flip in own hash",
                   [](RawDb& raw) {
                     std::string v = raw.Get("events", SequenceKey(5));
                     v[v.size() - 1] ^= 0x10;
                     raw.Put("events", SequenceKey(5), v);
                   },
                   5});
  cases.push_back({"deleted record", [](RawDb& raw) { raw.Delete("events", SequenceKey(7)); }, 7});
  cases.push_back({"reordered pair",
                   [](RawDb& raw) {
                     std::string a = raw.Get("events", SequenceKey(3));
                     std::string b = raw.Get("events", SequenceKey(4));
                     raw.Put("events", SequenceKey(3), b);
                     raw.Put("events", SequenceKey(4), a);
                   },
                   3});
  cases.push_back({"truncated tail",
                   [](RawDb& raw) {
                     raw.Delete("events", SequenceKey(11));
                     raw.Delete("events", SequenceKey(12));
                   },
                   11});
  cases.push_back({"re-hashed forgery",
                   [](RawDb& raw) {
                     // An attacker rewrites record 6 and recomputes its own hash; record 7's
                     // link then breaks.
                     auto r = DecodeRecord(raw.Get("events", SequenceKey(6)));
                     ASSERT_TRUE(r.ok());
                     r->payload = R"({"forged":true})";
                     r->hash = ComputeHash(*r);
                     raw.Put("events", SequenceKey(6), EncodeRecord(*r));
                   },
                   7});

  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const std::string path = dir.Sub("data");
    Head head = WriteSample(path, kEvents);
    {
      RawDb raw(path);
      c.tamper(raw);
    }
    auto log = OpenLog(path, Lenient());
    ASSERT_NE(log, nullptr);
    ASSERT_OK_AND_ASSIGN(auto report, log->Verify(1, head.sequence));
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.first_bad, c.first_bad) << report.reason;
    EXPECT_FALSE(report.reason.empty());
    ASSERT_OK(log->Close());
  }
}

TEST(RocksEventLogTest, BrokenHeadIsRefusedAtOpenButReadableByAuditTools) {
  TempDir dir;
  const std::string path = dir.Sub("data");
  Head head = WriteSample(path, 4);
  {
    RawDb raw(path);
    std::string v = raw.Get("events", SequenceKey(4));
    v[20] ^= 0x04;
    raw.Put("events", SequenceKey(4), v);
  }
  auto refused = RocksEventLog::Open(path, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kCorruption);
  EXPECT_NE(refused.error().message.find("broken at the head"), std::string::npos);

  auto audit = OpenLog(path, Lenient());
  ASSERT_OK_AND_ASSIGN(auto report, audit->Verify(1, head.sequence));
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad, 4u);
  ASSERT_OK(audit->Close());
}

TEST(RocksEventLogTest, FlippedByteInAnSstFileIsReportedWithoutCrashing) {
  TempDir dir;
  const std::string path = dir.Sub("data");
  {
    auto log = OpenLog(path);
    for (int i = 0; i < 200; ++i) ASSERT_OK(log->Append("key-a", kAnyVersion, {Ev()}));
    ASSERT_OK(log->PurgeDeletedAux(AuxSpace::kKeyring));  // flushes every memtable to SSTs
    ASSERT_OK(log->Close());
  }
  // Flip one byte in the middle of every SST file.
  int flipped = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    if (entry.path().extension() != ".sst") continue;
    std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    auto size = static_cast<std::streamoff>(std::filesystem::file_size(entry.path()));
    f.seekg(size / 3);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x20);
    f.seekp(size / 3);
    f.write(&c, 1);
    ++flipped;
  }
  ASSERT_GT(flipped, 0);
  auto log = RocksEventLog::Open(path, Lenient());
  if (!log.ok()) {
    EXPECT_EQ(log.error().code, ErrorCode::kCorruption) << log.error().message;
    return;
  }
  auto report = (*log)->Verify(1, UINT64_MAX);
  if (report.ok()) {
    EXPECT_FALSE(report->ok);
  } else {
    EXPECT_EQ(report.error().code, ErrorCode::kCorruption);
  }
  ASSERT_OK((*log)->Close());
}

TEST(RocksEventLogTest, GroupCommitSharesOneSyncedWriteAmongConcurrentCallers) {
  TempDir dir;
  std::atomic<size_t> groups{0};
  std::atomic<size_t> requests{0};
  RocksEventLog::Options o;
  o.on_group_commit = [&](const GroupCommitStats& s) {
    groups++;
    requests += s.requests;
  };
  auto log = OpenLog(dir.Sub("data"), o);
  constexpr int kThreads = 32;
  constexpr int kPerThread = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(log->Append("key-" + std::to_string(t), kAnyVersion, {Ev()}).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(requests.load(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_LT(groups.load(), requests.load());
  ASSERT_OK(log->Close());
}

// An append through the pipeline (writer thread, then sync thread), with its result to wait for.
std::future<Result<AppendResult>> AppendThroughPipeline(RocksEventLog& log, AppendRequest req) {
  auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
  auto future = promise->get_future();
  log.AppendAsync(std::move(req),
                  [promise](Result<AppendResult> r) { promise->set_value(std::move(r)); });
  return future;
}

AppendRequest OneEventWithAux(const std::string& stream, const std::string& aux_key) {
  AppendRequest req;
  req.streams.push_back({stream, kNoStream, {}, {Ev()}});
  req.aux.push_back({AuxSpace::kKeyring, aux_key, std::string("wrapped")});
  return req;
}

bool Ready(const std::future<Result<AppendResult>>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

// A log on a file system whose WAL syncs the test can hold (and fail).
class RocksPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RocksEventLog::Options o;
    o.env = fault.env.get();
    log = OpenLog(dir.Sub("data"), o);
    ASSERT_NE(log, nullptr);
  }
  TempDir dir;
  testing::FaultInjectionEnv fault;
  std::unique_ptr<RocksEventLog> log;
};

// A group is written to RocksDB unsynced and made durable by the sync thread; until then no
// reader may see it (head, ranges, streams, versions, aux, verification), since a crash of the
// machine could still take it away.
TEST_F(RocksPipelineTest, WrittenButUnsyncedGroupsStayInvisibleUntilTheirSync) {
  ASSERT_OK(log->Append("key-0", kNoStream, {Ev()}));
  const Head before = log->GetHead();
  ASSERT_EQ(before.sequence, 1u);

  fault.fs->HoldWalSyncs(true);
  auto first = AppendThroughPipeline(*log, OneEventWithAux("key-a", "dek/a"));
  ASSERT_TRUE(fault.fs->WaitForHeldWalSync());  // written; its sync is held
  auto second = AppendThroughPipeline(*log, OneEventWithAux("key-b", "dek/b"));
  // A blocking append queues behind them instead of writing on its own.
  auto third =
      std::async(std::launch::async, [&] { return log->Append("key-c", kNoStream, {Ev()}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  EXPECT_FALSE(Ready(first));
  EXPECT_FALSE(Ready(second));
  EXPECT_FALSE(Ready(third));
  EXPECT_EQ(log->GetHead(), before);
  ASSERT_OK_AND_ASSIGN(auto range, log->ReadRange(1, 10));
  EXPECT_EQ(range.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto stream, log->ReadStream("key-a", 1, 10));
  EXPECT_TRUE(stream.empty());
  ASSERT_OK_AND_ASSIGN(auto version, log->StreamVersion("key-a"));
  EXPECT_EQ(version, 0u);
  ASSERT_OK_AND_ASSIGN(auto aux, log->GetAux(AuxSpace::kKeyring, "dek/a"));
  EXPECT_FALSE(aux.has_value());
  size_t aux_seen = 0;
  ASSERT_OK(log->ScanAux(AuxSpace::kKeyring, "dek/", [&](std::string_view, std::string_view) {
    ++aux_seen;
    return true;
  }));
  EXPECT_EQ(aux_seen, 0u);
  size_t scanned = 0;
  ASSERT_OK(log->Scan(1, UINT64_MAX, [&](const EventRecord&) {
    ++scanned;
    return true;
  }));
  EXPECT_EQ(scanned, 1u);
  ASSERT_OK_AND_ASSIGN(auto report, log->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.last_sequence, 1u);

  fault.fs->HoldWalSyncs(false);
  ASSERT_OK_AND_ASSIGN(auto r1, first.get());
  ASSERT_OK_AND_ASSIGN(auto r2, second.get());
  ASSERT_OK_AND_ASSIGN(auto r3, third.get());
  EXPECT_EQ(r1.sequences, std::vector<uint64_t>{2});
  EXPECT_EQ(r2.sequences, std::vector<uint64_t>{3});
  EXPECT_EQ(r3.sequences, std::vector<uint64_t>{4});
  EXPECT_EQ(log->GetHead().sequence, 4u);
  ASSERT_OK_AND_ASSIGN(auto after, log->ReadStream("key-a", 1, 10));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].sequence, 2u);
  ASSERT_OK_AND_ASSIGN(auto dek, log->GetAux(AuxSpace::kKeyring, "dek/b"));
  EXPECT_EQ(dek, std::optional<std::string>("wrapped"));
  ASSERT_OK_AND_ASSIGN(auto full, log->Verify(1, UINT64_MAX));
  EXPECT_TRUE(full.ok) << full.reason;
  EXPECT_EQ(full.last_sequence, 4u);
  ASSERT_OK(log->Close());
}

// A failed sync fails every group written but not yet durable (their outcome is unknown until
// the store is reopened); the next append reopens the store, whose head is then the truth: the
// failed groups are in it whole or not at all, and the chain continues from it.
TEST_F(RocksPipelineTest, AFailedSyncFailsEveryUnsyncedGroupAndTheNextAppendRecovers) {
  ASSERT_OK(log->Append("key-0", kNoStream, {Ev()}));

  fault.fs->HoldWalSyncs(true);
  auto first = AppendThroughPipeline(*log, OneEventWithAux("key-a", "dek/a"));
  ASSERT_TRUE(fault.fs->WaitForHeldWalSync());
  auto second = AppendThroughPipeline(*log, OneEventWithAux("key-b", "dek/b"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  fault.fs->SetFailWrites(true);
  fault.fs->HoldWalSyncs(false);
  auto r1 = first.get();
  auto r2 = second.get();
  ASSERT_FALSE(r1.ok());
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r1.error().code, ErrorCode::kIoError);
  EXPECT_EQ(r2.error().code, ErrorCode::kIoError);
  EXPECT_EQ(log->GetHead().sequence, 1u);

  fault.fs->SetFailWrites(false);
  ASSERT_OK_AND_ASSIGN(auto next, log->Append("key-c", kNoStream, {Ev()}));
  const Head head = log->GetHead();
  EXPECT_EQ(next.sequences, std::vector<uint64_t>{head.sequence});
  // Each failed group is in the recovered log whole (its event and its aux write) or not at all.
  for (const char* key : {"key-a", "key-b"}) {
    ASSERT_OK_AND_ASSIGN(auto events, log->ReadStream(key, 1, 10));
    ASSERT_OK_AND_ASSIGN(auto dek, log->GetAux(AuxSpace::kKeyring,
                                               std::string("dek/") + std::string(key).substr(4)));
    EXPECT_LE(events.size(), 1u);
    EXPECT_EQ(events.size() == 1, dek.has_value()) << key;
  }
  ASSERT_OK_AND_ASSIGN(auto records, log->ReadRange(1, 100));
  EXPECT_EQ(records.size(), head.sequence);
  ASSERT_OK_AND_ASSIGN(auto report, log->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.last_sequence, head.sequence);
  ASSERT_OK(log->Close());

  // And a reopen from disk agrees.
  auto reopened = OpenLog(dir.Sub("data"));
  EXPECT_EQ(reopened->GetHead(), head);
  ASSERT_OK(reopened->Close());
}

// A write that fails on the pipeline's writer thread (before any sync) fails its group, leaves
// the head where it was, and the next group reopens the store and continues the chain.
TEST_F(RocksPipelineTest, AFailedUnsyncedWriteFailsItsGroupAndTheNextGroupRecovers) {
  ASSERT_OK(log->Append("key-0", kNoStream, {Ev()}));
  const Head before = log->GetHead();
  fault.fs->SetFailWrites(true);
  auto failed = AppendThroughPipeline(*log, OneEventWithAux("key-a", "dek/a")).get();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kIoError);
  EXPECT_EQ(log->GetHead(), before);
  ASSERT_OK_AND_ASSIGN(auto aux, log->GetAux(AuxSpace::kKeyring, "dek/a"));
  EXPECT_FALSE(aux.has_value());

  fault.fs->SetFailWrites(false);
  ASSERT_OK_AND_ASSIGN(auto next,
                       AppendThroughPipeline(*log, OneEventWithAux("key-a", "dek/a")).get());
  EXPECT_EQ(next.sequences, std::vector<uint64_t>{before.sequence + 1});
  ASSERT_OK_AND_ASSIGN(auto records, log->ReadRange(before.sequence + 1, 10));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].prev_hash, before.hash);
  ASSERT_OK_AND_ASSIGN(auto report, log->Verify(1, UINT64_MAX));
  EXPECT_TRUE(report.ok) << report.reason;
  ASSERT_OK(log->Close());
}

// Close() drains: appends waiting for their sync complete, durably, before it returns.
TEST_F(RocksPipelineTest, CloseCompletesAppendsStillWaitingForTheirSync) {
  fault.fs->HoldWalSyncs(true);
  auto first = AppendThroughPipeline(*log, OneEventWithAux("key-a", "dek/a"));
  ASSERT_TRUE(fault.fs->WaitForHeldWalSync());
  auto second = AppendThroughPipeline(*log, OneEventWithAux("key-b", "dek/b"));
  auto closed = std::async(std::launch::async, [&] { return log->Close(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(Ready(first));
  fault.fs->HoldWalSyncs(false);
  ASSERT_OK(closed.get());
  ASSERT_OK(first.get());
  ASSERT_OK(second.get());
  auto after = AppendThroughPipeline(*log, OneEventWithAux("key-c", "dek/c")).get();
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, ErrorCode::kUnavailable);

  auto reopened = OpenLog(dir.Sub("data"));
  EXPECT_EQ(reopened->GetHead().sequence, 2u);
  ASSERT_OK(reopened->Close());
}

// The child appends from several threads and prints "ack <seq> <hash>" for every acknowledged
// append; the parent SIGKILLs it at a random moment and checks that every acknowledged record
// survived with the same hash and that the chain verifies.
TEST(RocksEventLogTest, AcknowledgedAppendsSurviveSigkill) {
  const std::string child = keyledger::testing::BinaryDir() + "/event_log_crash_child";
  ASSERT_TRUE(std::filesystem::exists(child)) << child;
  std::mt19937 rng(std::random_device{}());
  constexpr int kIterations = 20;
  TempDir dir;
  const std::string path = dir.Sub("data");
  uint64_t total_acked = 0;
  for (int iter = 0; iter < kIterations; ++iter) {
    SCOPED_TRACE("iteration " + std::to_string(iter));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      execl(child.c_str(), child.c_str(), path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    // Let it run for 20-150 ms after it reports being ready.
    FILE* in = fdopen(fds[0], "r");
    char line[256];
    ASSERT_NE(fgets(line, sizeof line, in), nullptr);
    ASSERT_EQ(std::string(line), "ready\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 130));
    kill(pid, SIGKILL);
    std::map<uint64_t, std::string> acked;
    while (fgets(line, sizeof line, in) != nullptr) {
      std::istringstream ls(line);
      std::string word, hash;
      uint64_t seq = 0;
      if (ls >> word >> seq >> hash && word == "ack") acked[seq] = hash;
    }
    fclose(in);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));

    auto log = OpenLog(path);
    ASSERT_NE(log, nullptr);
    for (const auto& [seq, hash] : acked) {
      ASSERT_OK_AND_ASSIGN(auto recs, log->ReadRange(seq, 1));
      ASSERT_EQ(recs.size(), 1u);
      ASSERT_EQ(recs[0].sequence, seq);
      EXPECT_EQ(crypto::HexEncode(crypto::AsBytes(recs[0].hash)), hash);
    }
    if (!acked.empty()) {
      EXPECT_GE(log->GetHead().sequence, acked.rbegin()->first);
    }
    ASSERT_OK_AND_ASSIGN(auto report, log->Verify(1, UINT64_MAX));
    EXPECT_TRUE(report.ok) << report.reason;
    total_acked += acked.size();
    ASSERT_OK(log->Close());
  }
  EXPECT_GT(total_acked, 0u);
}

}  // namespace
}  // namespace keyledger::events
