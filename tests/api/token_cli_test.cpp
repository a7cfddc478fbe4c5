#include "api/token_cli.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "api/auth.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::api {
namespace {

using keyledger::testing::TempDir;

constexpr int64_t kNow = 1768280400;  // 2026-01-13T05:00:00Z

struct CliResult {
  int code;
  std::string out, err;
};

CliResult RunCli(const std::vector<std::string>& args, const std::string& data_dir) {
  std::ostringstream out, err;
  TokenCliOptions options;
  options.default_data_dir = data_dir;
  options.now_unix = [] { return kNow; };
  const int code = RunTokenCommand(args, out, err, options);
  return {code, out.str(), err.str()};
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TokenCliTest, CreatePrintsTheTokenOnceAndStoresOnlyItsHash) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  CliResult r = RunCli({"create", "--name", "ops", "--role", "admin", "--expires-in", "30d"}, data);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.out.size(), 44u) << r.out;  // "kl_" + 40 + "\n"
  const std::string token = r.out.substr(0, 43);
  EXPECT_EQ(token.substr(0, 3), "kl_");
  EXPECT_EQ(r.err.find(token), std::string::npos);  // printed once, on stdout only

  const std::string path = DefaultTokensFile(data);
  const std::string text = ReadFile(path);
  EXPECT_EQ(text.find(token), std::string::npos);
  EXPECT_EQ(text.find(token.substr(3)), std::string::npos);
  EXPECT_NE(text.find(TokenSha256Hex(token)), std::string::npos);
  EXPECT_NE(text.find("\"expires_at\":\"2026-02-12T05:00:00Z\""), std::string::npos);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(data.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // The file is what the server loads, and the token authenticates against it.
  AuthConfig config;
  config.tokens_file = path;
  config.now_unix = [] { return kNow; };
  ASSERT_OK_AND_ASSIGN(auto auth, Authenticator::Create(config, nullptr, nullptr));
  auto outcome = auth->Authenticate("Bearer " + token, "127.0.0.1", Access::kAdmin);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.principal->name, "ops");
}

TEST(TokenCliTest, DuplicateNamesRevokeAndList) {
  TempDir dir;
  const std::string file = dir.Sub("custom.json");
  ASSERT_EQ(RunCli({"create", "--name=reader", "--role=auditor", "--tokens-file", file, "--cidr",
                    "10.0.0.0/8"},
                   "unused")
                .code,
            0);
  CliResult dup =
      RunCli({"create", "--name", "reader", "--role", "admin", "--tokens-file", file}, "unused");
  EXPECT_EQ(dup.code, 1);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos);
  ASSERT_EQ(RunCli({"create", "--name", "ops", "--role", "admin", "--tokens-file", file}, "x").code,
            0);

  CliResult list = RunCli({"list", "--tokens-file", file}, "unused");
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find("reader"), std::string::npos);
  EXPECT_NE(list.out.find("auditor"), std::string::npos);
  EXPECT_NE(list.out.find("10.0.0.0/8"), std::string::npos);
  EXPECT_NE(list.out.find("never"), std::string::npos);
  EXPECT_EQ(list.out.find("sha256"), std::string::npos);
  auto stored = LoadTokensFile(file);
  ASSERT_OK(stored);
  for (const auto& rec : *stored) {
    EXPECT_EQ(list.out.find(rec.sha256_hex), std::string::npos);
  }

  ASSERT_EQ(RunCli({"revoke", "--name", "reader", "--tokens-file", file}, "x").code, 0);
  CliResult again = RunCli({"revoke", "--name", "reader", "--tokens-file", file}, "x");
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("no token named"), std::string::npos);
  auto records = LoadTokensFile(file);
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].name, "ops");
}

TEST(TokenCliTest, UsageErrors) {
  TempDir dir;
  const std::string data = dir.str();
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"create", "--name", "x"},
      {"create", "--name", "x", "--role", "root"},
      {"create", "--name", "bad name", "--role", "admin"},
      {"create", "--name", "x", "--role", "admin", "--expires-in", "30y"},
      {"create", "--name", "x", "--role", "admin", "--expires-in", "0d"},
      {"create", "--name", "x", "--role", "admin", "--cidr", "nope"},
      {"create", "--name", "x", "--role", "admin", "--bogus", "1"},
      {"create", "--name", "x", "--name", "y", "--role", "admin"},
      {"create", "--name"},
      {"revoke"},
      {"list", "--name", "x"},
  };
  for (const auto& args : bad) {
    CliResult r = RunCli(args, data);
    EXPECT_EQ(r.code, 2) << (args.empty() ? "" : args[0]) << ": " << r.err;
    EXPECT_TRUE(r.out.empty());
  }
  // Nothing was written by the failures above.
  EXPECT_EQ(RunCli({"list"}, data).code, 1);
}

TEST(TokenCliTest, ReadsTheServersVariablesAndEverySubcommandHasHelp) {
  TempDir dir;
  std::map<std::string, std::string> env = {{"KEYLEDGER_DATA_DIR", dir.Sub("env-data")}};
  TokenCliOptions options;
  options.default_data_dir = dir.Sub("unused");
  options.now_unix = [] { return kNow; };
  options.getenv = [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto run = [&](const std::vector<std::string>& args) {
    std::ostringstream out, err;
    const int code = RunTokenCommand(args, out, err, options);
    return CliResult{code, out.str(), err.str()};
  };
  // KEYLEDGER_DATA_DIR, as keyledgerd reads it.
  ASSERT_EQ(run({"create", "--name", "a", "--role", "admin"}).code, 0);
  EXPECT_TRUE(std::filesystem::exists(DefaultTokensFile(dir.Sub("env-data"))));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("unused")));
  // KEYLEDGER_TOKENS_FILE names the file itself, as for keyledgerd; --tokens-file wins over it.
  env["KEYLEDGER_TOKENS_FILE"] = dir.Sub("env-tokens.json");
  ASSERT_EQ(run({"create", "--name", "b", "--role", "auditor"}).code, 0);
  ASSERT_OK_AND_ASSIGN(auto from_env, LoadTokensFile(dir.Sub("env-tokens.json")));
  ASSERT_EQ(from_env.size(), 1u);
  EXPECT_EQ(from_env[0].name, "b");
  ASSERT_EQ(
      run({"create", "--name", "c", "--role", "admin", "--tokens-file", dir.Sub("flag.json")}).code,
      0);
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("flag.json")));

  for (const char* sub : {"create", "revoke", "list"}) {
    CliResult help = run({sub, "--help"});
    EXPECT_EQ(help.code, 0) << sub;
    EXPECT_TRUE(help.out.starts_with(std::string("usage: keyledgerd token ") + sub)) << help.out;
    EXPECT_TRUE(help.err.empty()) << help.err;
  }
  CliResult bad = run({"revoke", "--role", "admin"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.err,
            "keyledgerd token revoke: unknown option --role\n"
            "Run 'keyledgerd token revoke --help' for usage.\n");
}

TEST(TokenCliTest, ParseDuration) {
  EXPECT_EQ(ParseDurationSeconds("30d").value(), 30 * 86400);
  EXPECT_EQ(ParseDurationSeconds("12h").value(), 12 * 3600);
  EXPECT_EQ(ParseDurationSeconds("90m").value(), 90 * 60);
  EXPECT_EQ(ParseDurationSeconds("45s").value(), 45);
  for (const char* bad : {"", "d", "5", "-5d", "5w", "99999999999d", "1.5h"}) {
    EXPECT_FALSE(ParseDurationSeconds(bad).ok()) << bad;
  }
}

TEST(TokenCliTest, InitialAdminTokenOnlyWhenNoFileExists) {
  TempDir dir;
  const std::string file = DefaultTokensFile(dir.Sub("data"));
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> token, EnsureInitialAdminToken(file));
  ASSERT_TRUE(token.has_value());
  auto records = LoadTokensFile(file);
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].name, "admin");
  EXPECT_EQ((*records)[0].role, Role::kAdmin);
  EXPECT_EQ((*records)[0].sha256_hex, TokenSha256Hex(*token));
  EXPECT_EQ(ReadFile(file).find(*token), std::string::npos);

  ASSERT_OK_AND_ASSIGN(std::optional<std::string> second, EnsureInitialAdminToken(file));
  EXPECT_FALSE(second.has_value());

  const std::string banner = FirstTokenBanner(*token, file, "http://127.0.0.1:8080");
  EXPECT_NE(
      banner.find("curl -H 'Authorization: Bearer " + *token + "' http://127.0.0.1:8080/api/"),
      std::string::npos);
}

}  // namespace
}  // namespace keyledger::api
