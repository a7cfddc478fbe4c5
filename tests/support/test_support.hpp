#pragma once
// Shared test helpers: status-aware assertions and a per-test temporary directory.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "events/status.hpp"

#define ASSERT_OK(expr)                                   \
  do {                                                    \
    const auto& kl_s_ = (expr);                           \
    ASSERT_TRUE(kl_s_.ok()) << kl_s_.status().ToString(); \
  } while (false)

#define EXPECT_OK(expr)                                   \
  do {                                                    \
    const auto& kl_s_ = (expr);                           \
    EXPECT_TRUE(kl_s_.ok()) << kl_s_.status().ToString(); \
  } while (false)

// Assigns the value of a Result to lhs, failing the test (and returning) on error.
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                                           \
  auto KL_CONCAT(kl_r_, __LINE__) = (expr);                                                       \
  ASSERT_TRUE(KL_CONCAT(kl_r_, __LINE__).ok()) << KL_CONCAT(kl_r_, __LINE__).status().ToString(); \
  lhs = std::move(KL_CONCAT(kl_r_, __LINE__)).value()

namespace keyledger::testing {

// A fresh directory under the system temp dir, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Directory of the running test binary (helpers are built next to it).
std::string BinaryDir();

}  // namespace keyledger::testing
