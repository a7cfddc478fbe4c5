// keyledger-keys, run as a separate process the way an operator runs it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "events/crypto.hpp"
#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::events {
namespace {

using keyledger::testing::TempDir;

struct ToolRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  ::chmod(path.c_str(), 0600);
}

// Runs the tool with `args` (paths from TempDir need no quoting) and `env_key` as
// KEYLEDGER_MASTER_KEY (unset when empty).
ToolRun RunTool(const TempDir& scratch, const std::string& args, const std::string& env_key = "") {
  const std::string out = scratch.Sub("stdout.txt");
  const std::string err = scratch.Sub("stderr.txt");
  std::string env = env_key.empty() ? "env -u KEYLEDGER_MASTER_KEY "
                                    : "env KEYLEDGER_MASTER_KEY='" + env_key + "' ";
  const std::string cmd =
      env + KEYLEDGER_KEYS_BIN + std::string(" ") + args + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  ToolRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

MasterKey Key(const std::string& bytes) { return MasterKey::FromBytes(bytes).value(); }

// A data directory with one committed secret, keyring opened with `key`.
SealedSecret MakeDirectory(const std::string& data, MasterKey key) {
  auto log = RocksEventLog::Open(data, {});
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return {};
  SealedSecret out;
  {
    auto keyring = Keyring::Open(**log, std::move(key), {});
    EXPECT_TRUE(keyring.ok()) << keyring.status().ToString();
    if (!keyring.ok()) return {};
    auto sealed = (*keyring)->SealNew("k1", 1, "tool-test-secret");
    EXPECT_TRUE(sealed.ok());
    AppendRequest req;
    req.streams.push_back(
        {"key-k1", kNoStream, {}, {NewEvent{EventType::kKeyCreated, 1, "{}", 0}}});
    req.streams.push_back(sealed->kek_guard);
    req.aux.push_back(sealed->dek_write);
    EXPECT_OK((*log)->Append(std::move(req)));
    out = sealed->secret;
  }
  EXPECT_OK((*log)->Close());
  return out;
}

// Opens the directory with `key` and returns the revealed secret (or the error text).
std::string Reveal(const std::string& data, MasterKey key, const SealedSecret& sealed) {
  auto log = RocksEventLog::Open(data, {});
  if (!log.ok()) return "open log: " + log.error().message;
  std::string out;
  {
    auto keyring = Keyring::Open(**log, std::move(key), {});
    if (!keyring.ok()) {
      out = "open keyring: " + keyring.error().message;
    } else {
      auto opened = (*keyring)->Open(sealed, "k1", 1);
      out = opened.ok() ? *opened : "reveal: " + opened.error().message;
    }
  }
  EXPECT_OK((*log)->Close());
  return out;
}

TEST(KeyledgerKeysTest, HelpAndUsageErrors) {
  TempDir scratch;
  ToolRun help = RunTool(scratch, "--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("rotate-master"), std::string::npos);
  ToolRun sub_help = RunTool(scratch, "rotate-master --help");
  EXPECT_EQ(sub_help.exit_code, 0);
  EXPECT_NE(sub_help.out.find("--new-master-key-file"), std::string::npos);
  EXPECT_NE(sub_help.out.find("--replace-dev-key"), std::string::npos);

  EXPECT_EQ(RunTool(scratch, "").exit_code, 2);
  EXPECT_EQ(RunTool(scratch, "frobnicate").exit_code, 2);
  ToolRun missing = RunTool(scratch, "rotate-master --data-dir " + scratch.Sub("d"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--new-master-key-file is required"), std::string::npos);
  ToolRun dangling = RunTool(scratch, "rotate-master --data-dir");
  EXPECT_EQ(dangling.exit_code, 2);
  EXPECT_NE(dangling.err.find("--data-dir needs a value"), std::string::npos);
  ToolRun replace_with_file = RunTool(scratch, "rotate-master --data-dir " + scratch.str() +
                                                   " --new-master-key-file x --master-key-file y "
                                                   "--replace-dev-key");
  EXPECT_EQ(replace_with_file.exit_code, 2);
  EXPECT_NE(replace_with_file.err.find("--replace-dev-key applies only"), std::string::npos);
}

TEST(KeyledgerKeysTest, RotatesTheDevelopmentKeyAndReplacesMasterKey) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_OK_AND_ASSIGN(MasterKey dev, LoadMasterKey({"", "", data}, {}));
  const std::string old_key(dev.bytes());
  const SealedSecret sealed = MakeDirectory(data, std::move(dev));
  const std::string new_key = crypto::RandomBytes(kMasterKeySize);
  WriteFile(dir.Sub("new.key"), crypto::Base64Encode(new_key) + "\n");

  ToolRun r = RunTool(dir, "rotate-master --data-dir " + data + " --new-master-key-file " +
                               dir.Sub("new.key") + " --actor alice --reason 'yearly rotation'" +
                               " --replace-dev-key");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("KEK version 1 -> 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("new KEK version: 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("rewrapped_deks":1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("replaced " + data + "/master.key"), std::string::npos) << r.out;
  for (const std::string& key : {old_key, new_key}) {
    for (const std::string& form : {crypto::Base64Encode(key), crypto::HexEncode(key)}) {
      EXPECT_EQ(r.out.find(form), std::string::npos);
      EXPECT_EQ(r.err.find(form), std::string::npos);
    }
  }

  // master.key now holds the new key, privately, and no temporary file is left behind.
  struct stat st {};
  ASSERT_EQ(::stat((data + "/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(data + "/master.key.new"));
  ASSERT_OK_AND_ASSIGN(MasterKey installed, LoadMasterKey({"", "", data}, {}));
  EXPECT_EQ(installed.bytes(), new_key);
  EXPECT_EQ(Reveal(data, std::move(installed), sealed), "tool-test-secret");
  EXPECT_NE(Reveal(data, Key(old_key), sealed).find("does not match this data directory"),
            std::string::npos);

  // The rotation is an audited event with the operator's name and reason.
  auto log = RocksEventLog::Open(data, {});
  ASSERT_OK(log);
  ASSERT_OK_AND_ASSIGN(auto events, (*log)->ReadStream("keyring", 1, 10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kMasterKeyRotated);
  EXPECT_EQ(events[0].metadata.actor, "alice");
  EXPECT_EQ(events[0].metadata.reason, std::optional<std::string>("yearly rotation"));
  EXPECT_OK((*log)->Close());
}

TEST(KeyledgerKeysTest, RotatesWithKeyFilesAndTheEnvironment) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  const std::string k1 = crypto::RandomBytes(kMasterKeySize);
  const std::string k2 = crypto::RandomBytes(kMasterKeySize);
  const std::string k3 = crypto::RandomBytes(kMasterKeySize);
  const SealedSecret sealed = MakeDirectory(data, Key(k1));
  WriteFile(dir.Sub("k1.key"), k1);  // raw bytes
  WriteFile(dir.Sub("k2.key"), crypto::Base64Encode(k2));
  WriteFile(dir.Sub("k3.key"), crypto::Base64Encode(k3) + "\n");

  ToolRun first =
      RunTool(dir, "rotate-master --data-dir " + data + " --master-key-file " + dir.Sub("k1.key") +
                       " --new-master-key-file " + dir.Sub("k2.key"));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_FALSE(std::filesystem::exists(data + "/master.key"));  // never creates a dev key
  ToolRun second = RunTool(
      dir, "rotate-master --data-dir " + data + " --new-master-key-file " + dir.Sub("k3.key"),
      crypto::Base64Encode(k2));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("KEK version 2 -> 3"), std::string::npos) << second.out;
  EXPECT_EQ(Reveal(data, Key(k3), sealed), "tool-test-secret");
}

TEST(KeyledgerKeysTest, RefusesClearlyAndChangesNothing) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  const std::string k1 = crypto::RandomBytes(kMasterKeySize);
  const SealedSecret sealed = MakeDirectory(data, Key(k1));
  WriteFile(dir.Sub("k1.key"), k1);
  WriteFile(dir.Sub("wrong.key"), crypto::RandomBytes(kMasterKeySize));
  WriteFile(dir.Sub("new.key"), crypto::RandomBytes(kMasterKeySize));
  WriteFile(dir.Sub("bad.key"), "definitely not a key\n");

  ToolRun wrong =
      RunTool(dir, "rotate-master --data-dir " + data + " --master-key-file " +
                       dir.Sub("wrong.key") + " --new-master-key-file " + dir.Sub("new.key"));
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("the master key does not match this data directory"), std::string::npos)
      << wrong.err;

  ToolRun bad_new =
      RunTool(dir, "rotate-master --data-dir " + data + " --master-key-file " + dir.Sub("k1.key") +
                       " --new-master-key-file " + dir.Sub("bad.key"));
  EXPECT_EQ(bad_new.exit_code, 1);
  EXPECT_NE(bad_new.err.find("new master key:"), std::string::npos) << bad_new.err;

  ToolRun same =
      RunTool(dir, "rotate-master --data-dir " + data + " --master-key-file " + dir.Sub("k1.key") +
                       " --new-master-key-file " + dir.Sub("k1.key"));
  EXPECT_EQ(same.exit_code, 1);
  EXPECT_NE(same.err.find("same as the current one"), std::string::npos) << same.err;

  ToolRun no_key = RunTool(
      dir, "rotate-master --data-dir " + data + " --new-master-key-file " + dir.Sub("new.key"));
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.err.find("no current master key"), std::string::npos) << no_key.err;
  EXPECT_FALSE(std::filesystem::exists(data + "/master.key"));

  {
    // A running server holds the directory.
    auto held = RocksEventLog::Open(data, {});
    ASSERT_OK(held);
    ToolRun busy =
        RunTool(dir, "rotate-master --data-dir " + data + " --master-key-file " +
                         dir.Sub("k1.key") + " --new-master-key-file " + dir.Sub("new.key"));
    EXPECT_EQ(busy.exit_code, 1);
    EXPECT_NE(busy.err.find("in use by another process"), std::string::npos) << busy.err;
    EXPECT_NE(busy.err.find("stop the server"), std::string::npos) << busy.err;
    EXPECT_OK((*held)->Close());
  }

  ToolRun not_a_log =
      RunTool(dir, "rotate-master --data-dir " + dir.Sub("nothing") + " --master-key-file " +
                       dir.Sub("k1.key") + " --new-master-key-file " + dir.Sub("new.key"));
  EXPECT_EQ(not_a_log.exit_code, 1);

  // After all of that, the original key still opens everything.
  EXPECT_EQ(Reveal(data, Key(k1), sealed), "tool-test-secret");
}

}  // namespace
}  // namespace keyledger::events
