#include "events/private_file.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/test_support.hpp"

namespace keyledger::events {
namespace {

namespace fs = std::filesystem;
using keyledger::testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// The names in `dir`, to show that nothing but the expected files is left behind.
std::vector<std::string> Names(const TempDir& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Sets the process umask for one scope.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

// A file size limit for one scope, with SIGXFSZ ignored so a write past it fails with EFBIG: a
// real write failure (as on a full disk) after the temporary file was created.
class ScopedFileSizeLimit {
 public:
  explicit ScopedFileSizeLimit(rlim_t bytes) {
    EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &old_), 0);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = old_;
    limit.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  }
  ~ScopedFileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  sighandler_t old_handler_ = SIG_DFL;
};

TEST(PrivateFileTest, WritesExactlyMode0600WhateverTheUmask) {
  TempDir dir;
  const std::string path = dir.Sub("secret.key");
  {
    ScopedUmask permissive(0);
    ASSERT_OK(WriteFileAtomically(path, "key material\n"));
  }
  EXPECT_EQ(ReadFile(path), "key material\n");
  EXPECT_EQ(ModeOf(path), 0600u);
  {
    ScopedUmask strict(0277);  // would leave the owner without write permission
    ASSERT_OK(WriteFileAtomically(path, "replaced\n"));
  }
  EXPECT_EQ(ReadFile(path), "replaced\n");
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(Names(dir), std::vector<std::string>{"secret.key"});
}

TEST(PrivateFileTest, ApplyUmaskKeepsOrdinaryFileSemantics) {
  TempDir dir;
  const std::string path = dir.Sub("export.jsonl");
  {
    ScopedUmask mask(022);
    ASSERT_OK(WriteFileAtomically(path, "x", {.mode = 0666, .apply_umask = true}));
  }
  EXPECT_EQ(ModeOf(path), 0644u);
  {
    ScopedUmask mask(0);
    ASSERT_OK(WriteFileAtomically(path, "y", {.mode = 0666, .apply_umask = true}));
  }
  EXPECT_EQ(ModeOf(path), 0666u);
}

TEST(PrivateFileTest, AFailedWriteLeavesTheOldFileAndNoPartialOne) {
  TempDir dir;
  const std::string path = dir.Sub("tokens.json");
  ASSERT_OK(WriteFileAtomically(path, "old contents"));
  const std::string big(256 * 1024, 'n');
  {
    ScopedFileSizeLimit limit(64 * 1024);
    Status s = WriteFileAtomically(path, big);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), ErrorCode::kIoError);
    EXPECT_NE(s.error().message.find("cannot write"), std::string::npos) << s.ToString();

    // The streaming writer: buffered appends that fail when flushed.
    auto writer = AtomicFileWriter::Create(path);
    ASSERT_OK(writer);
    Status appended = Status::Ok();
    for (int i = 0; i < 8 && appended.ok(); ++i) appended = writer->Append(big.substr(0, 40000));
    EXPECT_FALSE(appended.ok());
    EXPECT_FALSE(writer->Commit().ok());
  }
  EXPECT_EQ(ReadFile(path), "old contents");
  EXPECT_EQ(Names(dir), std::vector<std::string>{"tokens.json"});

  // A new file that fails is never visible at all.
  const std::string fresh = dir.Sub("fresh.key");
  {
    ScopedFileSizeLimit limit(1024);
    EXPECT_FALSE(WriteFileAtomically(fresh, big).ok());
  }
  EXPECT_FALSE(fs::exists(fresh));
  EXPECT_EQ(Names(dir), std::vector<std::string>{"tokens.json"});
}

TEST(PrivateFileTest, AnUncommittedWriterLeavesNothing) {
  TempDir dir;
  const std::string path = dir.Sub("out.jsonl");
  std::string temp;
  {
    auto writer = AtomicFileWriter::Create(path);
    ASSERT_OK(writer);
    temp = writer->temp_path();
    EXPECT_TRUE(temp.starts_with(path + ".tmp.")) << temp;
    EXPECT_EQ(fs::path(temp).parent_path(), fs::path(path).parent_path());
    ASSERT_OK(writer->Append(std::string(100 * 1024, 'a')));  // past the buffer: on disk
    EXPECT_TRUE(fs::exists(temp));
    EXPECT_FALSE(fs::exists(path));
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(path));

  auto writer = AtomicFileWriter::Create(path);
  ASSERT_OK(writer);
  for (int i = 0; i < 1000; ++i) ASSERT_OK(writer->Append("line " + std::to_string(i) + "\n"));
  EXPECT_FALSE(fs::exists(path));  // not before the commit
  ASSERT_OK(writer->Commit());
  std::string expected;
  for (int i = 0; i < 1000; ++i) expected += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(ReadFile(path), expected);
  EXPECT_EQ(Names(dir), std::vector<std::string>{"out.jsonl"});
}

TEST(PrivateFileTest, CreateOnlyRefusesAnExistingFile) {
  TempDir dir;
  const std::string path = dir.Sub("master.key");
  ASSERT_OK(WriteFileAtomically(path, "first", {.create_only = true}));
  Status again = WriteFileAtomically(path, "second", {.create_only = true});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(path), "first");

  // The file appears while the writer is writing: the final step still refuses it.
  const std::string racing = dir.Sub("racing.key");
  auto writer = AtomicFileWriter::Create(racing, {.create_only = true});
  ASSERT_OK(writer);
  ASSERT_OK(writer->Append("mine"));
  ASSERT_OK(WriteFileAtomically(racing, "theirs"));
  Status committed = writer->Commit();
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(committed.code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(racing), "theirs");

  // A dangling symlink counts as existing too: nothing is created through it.
  const std::string link = dir.Sub("link.key");
  ASSERT_EQ(::symlink(dir.Sub("elsewhere").c_str(), link.c_str()), 0);
  EXPECT_EQ(WriteFileAtomically(link, "x", {.create_only = true}).code(),
            ErrorCode::kAlreadyExists);
  EXPECT_FALSE(fs::exists(dir.Sub("elsewhere")));
  EXPECT_EQ(Names(dir), (std::vector<std::string>{"link.key", "master.key", "racing.key"}));
}

TEST(PrivateFileTest, RefusesASymlinkOrAFileAtTheTemporaryPath) {
  TempDir dir;
  const std::string victim = dir.Sub("victim");
  { std::ofstream(victim) << "do not touch"; }
  const std::string path = dir.Sub("out.jsonl");
  const std::string temp = path + ".tmp";
  ASSERT_EQ(::symlink(victim.c_str(), temp.c_str()), 0);
  Status s = WriteFileAtomically(path, "payload", {.temp_path = temp});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kIoError);
  EXPECT_NE(s.error().message.find(temp), std::string::npos) << s.ToString();
  EXPECT_EQ(ReadFile(victim), "do not touch");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_symlink(temp));  // left as it was: not ours to remove

  // A leftover regular file is reported, not reused or truncated.
  ASSERT_EQ(::unlink(temp.c_str()), 0);
  { std::ofstream(temp) << "leftover"; }
  Status leftover = WriteFileAtomically(path, "payload", {.temp_path = temp});
  ASSERT_FALSE(leftover.ok());
  EXPECT_NE(leftover.error().message.find("exists already"), std::string::npos);
  EXPECT_EQ(ReadFile(temp), "leftover");
  EXPECT_FALSE(fs::exists(path));
}

TEST(PrivateFileTest, ASymlinkAtTheTargetIsReplacedNotFollowed) {
  TempDir dir;
  const std::string victim = dir.Sub("victim");
  { std::ofstream(victim) << "do not touch"; }
  const std::string path = dir.Sub("tokens.json");
  ASSERT_EQ(::symlink(victim.c_str(), path.c_str()), 0);
  ASSERT_OK(WriteFileAtomically(path, "new"));
  EXPECT_FALSE(fs::is_symlink(path));
  EXPECT_EQ(ReadFile(path), "new");
  EXPECT_EQ(ReadFile(victim), "do not touch");
}

TEST(PrivateFileTest, ErrorsNameThePath) {
  TempDir dir;
  const std::string missing_dir = dir.Sub("no/such/dir/file");
  Status s = WriteFileAtomically(missing_dir, "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kIoError);
  EXPECT_NE(s.error().message.find(missing_dir), std::string::npos) << s.ToString();
  // The target is a directory: the rename fails, and the temporary file goes away.
  ASSERT_TRUE(fs::create_directory(dir.Sub("a-directory")));
  EXPECT_FALSE(WriteFileAtomically(dir.Sub("a-directory"), "x").ok());
  EXPECT_EQ(Names(dir), std::vector<std::string>{"a-directory"});
}

}  // namespace
}  // namespace keyledger::events
