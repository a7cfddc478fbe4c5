// The disk fills up under the real keyledgerd, then space returns, all in one process:
//   - writes answer 503 system_error with Retry-After, and change nothing;
//   - reads keep working: the key list, the grouped view, a key's history, the provider list,
//     and a reveal answers the right plaintext or, when its audit event cannot be written,
//     503 (a secret is never shown without its KeyRevealed event);
//   - once there is room again the same process writes again (the event log reopens itself
//     after a failed write: events/FORMAT.md "Failed writes"), reveal decrypts, nothing
//     acknowledged is lost, the chain verifies and the live digest equals a rebuild's.
//
// The full disk is a real one when the machine allows it: the test process enters its own mount
// namespace and mounts a small tmpfs as the data directory (root with CAP_SYS_ADMIN); space
// returns by remounting it larger. Otherwise (no privilege to mount) the daemon runs with
// SIGXFSZ blocked and its file-size limit is lowered below what the next writes need (EFBIG),
// and raised again to give space back. Either way the failure happens on every run; which one
// ran is printed and recorded as the test property "disk".
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "tests/e2e/e2e_support.hpp"

namespace keyledger::faults {
namespace {

using namespace keyledger::e2e;

constexpr const char* kSmallTmpfs = "size=48m,mode=0700";
constexpr const char* kLargerTmpfs = "size=512m,mode=0700";

class DiskFullTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    // A private mount namespace for this test process (and the daemon it starts): the tmpfs is
    // invisible to the rest of the machine and disappears with the process.
    if (::unshare(CLONE_NEWNS) != 0) {
      why_no_tmpfs_ = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
      return;
    }
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      why_no_tmpfs_ = std::string("mount --make-rprivate /: ") + std::strerror(errno);
      return;
    }
    std::filesystem::create_directories(data_dir_);
    if (::mount("keyledger-fault", data_dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, kSmallTmpfs) !=
        0) {
      why_no_tmpfs_ = std::string("mount tmpfs: ") + std::strerror(errno);
      return;
    }
    tmpfs_ = true;
  }

  void TearDown() override {
    E2eTest::TearDown();
    if (tmpfs_) ::umount2(data_dir_.c_str(), MNT_DETACH);
  }

  // Gives the space back: a larger tmpfs, or no file-size limit.
  bool ReturnSpace() {
    if (tmpfs_) {
      return ::mount("keyledger-fault", data_dir_.c_str(), "tmpfs",
                     MS_REMOUNT | MS_NOSUID | MS_NODEV, kLargerTmpfs) == 0;
    }
    return daemon_->LimitFileSize(RLIM_INFINITY);
  }

  bool tmpfs_ = false;
  std::string why_no_tmpfs_;
};

// ~200 KB of allowed_models: a few such updates fill what is left quickly. The names are random
// so that they do not compress: RocksDB's SST files would otherwise hold the same updates in a
// fraction of the WAL's space, and a reopen that flushes the WAL would give most of it back.
std::string BigUpdate(int64_t priority) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::mt19937_64 rng(static_cast<uint64_t>(priority) * 7919u + 1u);
  std::string models = "[";
  for (int i = 0; i < 2000; ++i) {
    std::string name = "model-" + std::to_string(i) + "-";
    for (int c = 0; c < 80; ++c) name += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
    models += (i ? "," : "") + Quote(name);
  }
  models += "]";
  return R"({"allowed_models":)" + models + R"(,"internal_priority":)" + std::to_string(priority) +
         "}";
}

TEST_F(DiskFullTest, WritesAnswer503ReadsKeepWorkingAndWritesResume) {
  const std::string mode = tmpfs_ ? "tmpfs" : "rlimit-fsize";
  std::printf("disk full by: %s%s\n", mode.c_str(),
              tmpfs_ ? "" : (" (no tmpfs: " + why_no_tmpfs_ + ")").c_str());
  RecordProperty("disk", mode);
  StartServer({}, SpawnOptions{.block_sigxfsz = !tmpfs_});
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "disk-full");
  CreateEndpoint(admin, provider, "CLAUDE", "https://api.example.com");
  const std::string secret = NewSecret("full");
  const CreatedKey key = CreateKey(admin, provider, R"(["CLAUDE"])", secret, "k");
  const std::string other_secret = NewSecret("full2");
  const CreatedKey other = CreateKey(admin, provider, R"(["CLAUDE"])", other_secret, "k2");
  ASSERT_FALSE(key.id.empty());

  if (!tmpfs_) {
    uint64_t largest = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(data_dir_)) {
      if (entry.is_regular_file()) largest = std::max<uint64_t>(largest, entry.file_size());
    }
    ASSERT_TRUE(daemon_->LimitFileSize(largest + 512 * 1024));
  }

  // Fill the disk: big updates until one is refused. Bounded: 1,000 updates (200 MB) is more
  // than the tmpfs holds or the file-size limit allows.
  int attempts = 0;
  TestResponse refused;
  for (; attempts < 1000; ++attempts) {
    TestResponse r = admin.Put(KeyPath(key.id), BigUpdate(attempts));
    if (r.status != 200) {
      refused = r;
      break;
    }
  }
  ASSERT_EQ(refused.status, 503) << "after " << attempts << " writes: " << refused.body;
  EXPECT_EQ(Str(Json(refused.body)["error"], "type"), "system_error") << refused.body;
  EXPECT_FALSE(refused.Header("Retry-After").empty()) << "503 without Retry-After";
  RecordProperty("writes_before_full", attempts);

  // Still full: writes keep being refused the same way. The log reopens itself after a failed
  // write and the reopen may delete obsolete files, so a write that then fits is acknowledged
  // (and becomes the last acknowledged one); keep writing until three in a row are refused.
  int64_t last_acked = attempts - 1;
  int refused_in_a_row = 0;
  for (int i = 0; i < 200 && refused_in_a_row < 3; ++i) {
    const int64_t priority = 9000 + i;
    TestResponse big = admin.Put(KeyPath(key.id), BigUpdate(priority));
    if (big.status == 200) {
      last_acked = priority;
      refused_in_a_row = 0;
      continue;
    }
    EXPECT_EQ(big.status, 503) << big.body.substr(0, 200);
    EXPECT_FALSE(big.Header("Retry-After").empty());
    ++refused_in_a_row;
  }
  ASSERT_EQ(refused_in_a_row, 3) << "the disk never stayed full";
  const uint64_t head = HeadSequence();

  // Reads keep working, from the state of the last acknowledged write.
  TestResponse list = admin.Get(KeysOf(provider));
  ASSERT_EQ(list.status, 200) << list.body.substr(0, 500);
  bool found = false;
  const Json listed(list.body);  // outlives the loop (a temporary in the range would not)
  for (auto k : Items(listed.root())) {
    if (Str(k, "id") == key.id) {
      found = true;
      EXPECT_EQ(Int(k, "internal_priority"), last_acked);
    }
  }
  EXPECT_TRUE(found);
  // (the history of `other`: `key`'s, with every 200 KB update before and after, is tens of MB)
  for (const std::string& path :
       {std::string(kEndpointsBase) + "/keys/grouped-by-format", KeyPath(other.id) + "/history",
        std::string(kProvidersPath), ProviderPath(provider),
        std::string("/api/admin/audit/events?limit=5"), std::string("/healthz")}) {
    TestResponse read = admin.Get(path);
    EXPECT_EQ(read.status, 200) << path << ": " << read.body.substr(0, 300);
  }
  TestResponse reveal = admin.Get(KeyPath(other.id) + "/reveal", {{"X-Audit-Reason", "full"}});
  if (reveal.status == 200) {
    EXPECT_EQ(reveal.body, R"({"api_key":)" + Quote(other_secret) + "}");
  } else {
    EXPECT_EQ(reveal.status, 503) << reveal.body;
    EXPECT_EQ(reveal.body.find("sk-"), std::string::npos);
  }
  RecordProperty("reveal_while_full", reveal.status);
  // Nothing refused reached the state (a reveal that was answered 200 appended its event).
  EXPECT_LE(HeadSequence(), head + (reveal.status == 200 ? 1 : 0));

  // Space returns: the same process writes again (bounded wait for the log to reopen).
  ASSERT_TRUE(ReturnSpace());
  TestResponse resumed;
  for (int i = 0; i < 100; ++i) {
    resumed = admin.Put(KeyPath(key.id), R"({"note":"room again","internal_priority":7})");
    if (resumed.status == 200) break;
    EXPECT_EQ(resumed.status, 503) << resumed.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  TestResponse shown = admin.Get(KeyPath(key.id) + "/reveal", {{"X-Audit-Reason", "after"}});
  EXPECT_EQ(shown.status, 200);
  EXPECT_EQ(shown.body, R"({"api_key":)" + Quote(secret) + "}");
  const CreatedKey fresh = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("fresh"), "k3");
  EXPECT_FALSE(fresh.id.empty());

  // No corruption: the live state equals a rebuild from the log, and the chain verifies.
  ProcessResult rebuild =
      RunProcess({KEYLEDGER_REBUILD_BIN, "--data-dir", data_dir_, "--compare-url", daemon_->url(),
                  "--token", admin_token_, "--format", "json"},
                 scratch_dir_);
  EXPECT_EQ(rebuild.exit_code, 0) << rebuild.out << rebuild.err;
  EXPECT_EQ(daemon_->Stop(SIGTERM), 0) << daemon_->CurrentStderr();
  ProcessResult verify =
      RunProcess({AuditToolPath(), "verify", "--data-dir", data_dir_}, scratch_dir_);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  // And after a restart every acknowledged write is there.
  ASSERT_TRUE(daemon_->Start({}, {})) << daemon_->error();
  Client after = Admin();
  TestResponse now = after.Get(KeysOf(provider));
  const Json keys_now(now.body);
  for (auto k : Items(keys_now.root())) {
    if (Str(k, "id") == key.id) {
      EXPECT_EQ(Str(k, "note"), "room again");
      EXPECT_EQ(Int(k, "internal_priority"), 7);
    }
  }
  EXPECT_EQ(Items(keys_now.root()).size(), 3u) << now.body.substr(0, 500);
}

}  // namespace
}  // namespace keyledger::faults
