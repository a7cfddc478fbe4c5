// The exit-code contract (src/cli/exit_code.hpp, README "Exit status") of every program, run as
// an operator runs it: --help, an unknown option, a missing required option or value, and one
// runtime failure each, with what they print where.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/cli/exit_code.hpp"
#include "tests/tools/tool_test_util.hpp"

namespace keyledger::tools::testing {
namespace {

using cli::ExitCode;
using keyledger::testing::TempDir;

struct Case {
  std::string program;  // as the messages name it
  std::string binary;
  std::vector<std::string> args;
  ExitCode code;
  std::string stderr_has;  // for failures
};

// Without the variables the programs read, so the cases mean the same on every machine.
const std::vector<std::string> kCleanEnv = {
    "KEYLEDGER_DATA_DIR=", "KEYLEDGER_MASTER_KEY=", "KEYLEDGER_TOKENS_FILE=", "KEYLEDGER_TOKEN="};

void Check(const Case& c, const TempDir& scratch) {
  SCOPED_TRACE(c.binary + " " + [&] {
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    return joined;
  }());
  ToolRun r = RunTool(c.binary, c.args, scratch, kCleanEnv);
  EXPECT_EQ(r.exit_code, cli::ToInt(c.code)) << r.out << r.err;
  switch (c.code) {
    case ExitCode::kOk:
      EXPECT_TRUE(r.out.starts_with("usage: ")) << r.out;
      EXPECT_NE(r.out.find("--help"), std::string::npos) << r.out;
      EXPECT_TRUE(r.err.empty()) << r.err;
      break;
    case ExitCode::kUsage: {
      // One line naming the problem, then the hint; nothing on stdout.
      EXPECT_TRUE(r.out.empty()) << r.out;
      const std::string hint = "Run '" + c.program + " --help' for usage.\n";
      EXPECT_TRUE(r.err.starts_with(c.program + ": ")) << r.err;
      EXPECT_TRUE(r.err.ends_with(hint)) << r.err;
      EXPECT_EQ(r.err.size(), r.err.find('\n') + 1 + hint.size()) << r.err;
      EXPECT_NE(r.err.find(c.stderr_has), std::string::npos) << r.err;
      break;
    }
    case ExitCode::kFailed:
    case ExitCode::kCannotRun:
      EXPECT_NE(r.err.find(c.stderr_has), std::string::npos) << r.err;
      break;
  }
}

TEST(ExitCodeTest, Keyledgerd) {
  TempDir dir;
  const std::string bin = KEYLEDGERD_BIN;
  const std::string missing_key = dir.Sub("no-such.key");
  for (const Case& c : std::vector<Case>{
           {"keyledgerd", bin, {"--help"}, ExitCode::kOk, ""},
           {"keyledgerd", bin, {"--bogus"}, ExitCode::kUsage, "unknown option --bogus"},
           {"keyledgerd", bin, {"--data-dir"}, ExitCode::kUsage, "--data-dir needs a value"},
           {"keyledgerd", bin, {"--threads", "0"}, ExitCode::kUsage, "--threads must be between"},
           {"keyledgerd", bin, {"--log-level", "loud"}, ExitCode::kUsage, "--log-level must be"},
           {"keyledgerd", bin, {"serve"}, ExitCode::kUsage, "unexpected argument serve"},
           // Runtime: the master key file does not exist (before any port is bound).
           {"keyledgerd",
            bin,
            {"--data-dir", dir.Sub("data"), "--listen", "127.0.0.1:0", "--master-key-file",
             missing_key},
            ExitCode::kFailed,
            "cannot load the master key"},
       }) {
    Check(c, dir);
  }
}

TEST(ExitCodeTest, KeyledgerdTokenAndRoutes) {
  TempDir dir;
  const std::string bin = KEYLEDGERD_BIN;
  const std::string file = dir.Sub("tokens.json");
  for (const Case& c : std::vector<Case>{
           {"keyledgerd token", bin, {"token", "--help"}, ExitCode::kOk, ""},
           {"keyledgerd token create", bin, {"token", "create", "--help"}, ExitCode::kOk, ""},
           {"keyledgerd token", bin, {"token"}, ExitCode::kUsage, "a command is required"},
           {"keyledgerd token", bin, {"token", "rotate"}, ExitCode::kUsage, "unknown command"},
           {"keyledgerd token create",
            bin,
            {"token", "create", "--name", "x", "--role", "admin", "--bogus"},
            ExitCode::kUsage,
            "unknown option --bogus"},
           {"keyledgerd token create",
            bin,
            {"token", "create", "--name", "x", "--tokens-file", file},
            ExitCode::kUsage,
            "--role is required"},
           {"keyledgerd token create",
            bin,
            {"token", "create", "--name", "x", "--role", "root", "--tokens-file", file},
            ExitCode::kUsage,
            "--role must be admin or auditor"},
           {"keyledgerd token list",
            bin,
            {"token", "list", "--tokens-file", file},
            ExitCode::kFailed,
            file},
           {"keyledgerd routes", bin, {"routes", "--help"}, ExitCode::kOk, ""},
           {"keyledgerd routes", bin, {"routes", "--bogus"}, ExitCode::kUsage, "--bogus"},
           {"keyledgerd routes",
            bin,
            {"routes", "--nginx", "--upstream"},
            ExitCode::kUsage,
            "--upstream needs a value"},
       }) {
    Check(c, dir);
  }
}

TEST(ExitCodeTest, KeyledgerAudit) {
  TempDir dir;
  const std::string bin = KEYLEDGER_AUDIT_BIN;
  for (const Case& c : std::vector<Case>{
           {"keyledger-audit", bin, {"--help"}, ExitCode::kOk, ""},
           {"keyledger-audit verify", bin, {"verify", "--help"}, ExitCode::kOk, ""},
           {"keyledger-audit", bin, {}, ExitCode::kUsage, "a command is required"},
           {"keyledger-audit verify",
            bin,
            {"verify", "--data-dir", dir.str(), "--bogus"},
            ExitCode::kUsage,
            "unknown option --bogus"},
           {"keyledger-audit verify",
            bin,
            {"verify"},
            ExitCode::kUsage,
            "--data-dir is required (or set KEYLEDGER_DATA_DIR)"},
           {"keyledger-audit state",
            bin,
            {"state", "--data-dir", dir.str(), "--as-of-seq", "1", "--view", "all"},
            ExitCode::kUsage,
            "--view must be keys, grouped or providers"},
           {"keyledger-audit log",
            bin,
            {"log", "--data-dir", dir.str(), "--limit"},
            ExitCode::kUsage,
            "--limit needs a value"},
           {"keyledger-audit export",
            bin,
            {"export", "--bogus"},
            ExitCode::kUsage,
            "unknown option --bogus"},
           {"keyledger-audit verify",
            bin,
            {"verify", "--data-dir", dir.Sub("nowhere")},
            ExitCode::kCannotRun,
            "does not exist"},
       }) {
    Check(c, dir);
  }
}

TEST(ExitCodeTest, KeyledgerRebuild) {
  TempDir dir;
  const std::string bin = KEYLEDGER_REBUILD_BIN;
  for (const Case& c : std::vector<Case>{
           {"keyledger-rebuild", bin, {"--help"}, ExitCode::kOk, ""},
           {"keyledger-rebuild",
            bin,
            {"--data-dir", dir.str(), "--bogus"},
            ExitCode::kUsage,
            "unknown option --bogus"},
           {"keyledger-rebuild",
            bin,
            {},
            ExitCode::kUsage,
            "--data-dir is required (or set KEYLEDGER_DATA_DIR)"},
           {"keyledger-rebuild",
            bin,
            {"--data-dir", dir.str(), "--format", "yaml"},
            ExitCode::kUsage,
            "--format must be text or json"},
           {"keyledger-rebuild",
            bin,
            {"--data-dir", dir.Sub("nowhere")},
            ExitCode::kCannotRun,
            "does not exist"},
       }) {
    Check(c, dir);
  }
}

TEST(ExitCodeTest, KeyledgerKeys) {
  TempDir dir;
  const std::string bin = KEYLEDGER_KEYS_BIN;
  for (const Case& c : std::vector<Case>{
           {"keyledger-keys", bin, {"--help"}, ExitCode::kOk, ""},
           {"keyledger-keys rotate-master", bin, {"rotate-master", "--help"}, ExitCode::kOk, ""},
           {"keyledger-keys", bin, {"frobnicate"}, ExitCode::kUsage, "unknown command frobnicate"},
           {"keyledger-keys rotate-master",
            bin,
            {"rotate-master", "--bogus"},
            ExitCode::kUsage,
            "unknown option --bogus"},
           {"keyledger-keys rotate-master",
            bin,
            {"rotate-master", "--data-dir", dir.str()},
            ExitCode::kUsage,
            "--new-master-key-file is required"},
           // Runtime: the directory does not exist.
           {"keyledger-keys rotate-master",
            bin,
            {"rotate-master", "--data-dir", dir.Sub("nowhere"), "--new-master-key-file",
             dir.Sub("new.key"), "--master-key-file", dir.Sub("old.key")},
            ExitCode::kFailed,
            "is not a directory"},
       }) {
    Check(c, dir);
  }
}

}  // namespace
}  // namespace keyledger::tools::testing
