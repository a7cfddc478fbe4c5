// The command-line layer every program shares (src/cli): syntax, environment, defaults, checks,
// messages and the help text.
#include "src/cli/command_line.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "tests/support/test_support.hpp"

namespace keyledger::cli {
namespace {

using Kind = Option::Kind;

Command Sample() {
  Command cmd("tool sub");
  cmd.Usage("usage: tool sub --data-dir DIR [options]\n")
      .Epilogue("Exit status: 0 ok.\n")
      .Add({.name = "data-dir",
            .value_name = "DIR",
            .help = "the data directory",
            .env = "KL_TEST_DATA_DIR",
            .required = true})
      .Add({.name = "format",
            .value_name = "FORMAT",
            .help = "text or json",
            .default_value = "text",
            .choices = {"text", "json"}})
      .Add({.name = "type", .kind = Kind::kList, .value_name = "TYPE", .help = "event types"})
      .Add({.name = "dry-run", .kind = Kind::kFlag, .help = "write nothing"})
      .Add({.name = "strict", .kind = Kind::kSwitch, .help = "be strict", .env = "KL_TEST_STRICT"})
      .Add({.name = "limit", .value_name = "N", .help = "at most N", .default_value = "100"})
      .Positionals(1);
  return cmd;
}

struct Env {
  std::map<std::string, std::string> vars;
  GetEnv Get() const {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

std::string ErrorOf(const std::vector<std::string>& args, const Env& env = {}) {
  auto r = Sample().Parse(args, env.Get());
  return r.ok() ? "(ok)" : r.error().message;
}

TEST(CommandLineTest, ValuesFlagsListsAndPositionals) {
  Env env;
  ASSERT_OK_AND_ASSIGN(Args a, Sample().Parse({"--data-dir", "d", "--type=A", "pos", "--type", "B",
                                               "--dry-run", "--format=json"},
                                              env.Get()));
  EXPECT_FALSE(a.help());
  EXPECT_EQ(a.Get("data-dir"), "d");
  EXPECT_EQ(a.Get("--data-dir"), "d");  // with or without the dashes
  EXPECT_EQ(a.GetAll("type"), (std::vector<std::string>{"A", "B"}));
  EXPECT_TRUE(a.Has("dry-run"));
  EXPECT_TRUE(a.IsOn("dry-run"));
  EXPECT_FALSE(a.Has("strict"));
  EXPECT_FALSE(a.IsOn("strict"));
  EXPECT_EQ(a.Get("format"), "json");
  EXPECT_EQ(a.positionals(), std::vector<std::string>{"pos"});
  // A default is a value, but not "given".
  EXPECT_EQ(a.Get("limit"), "100");
  EXPECT_FALSE(a.Has("limit"));
  EXPECT_EQ(a.GetUint("limit").value(), 100u);
  EXPECT_FALSE(a.Get("nonexistent").has_value());
  // "--" ends the options.
  ASSERT_OK_AND_ASSIGN(Args b, Sample().Parse({"--data-dir", "d", "--", "--format"}, env.Get()));
  EXPECT_EQ(b.positionals(), std::vector<std::string>{"--format"});
  EXPECT_EQ(b.Get("format"), "text");
}

TEST(CommandLineTest, UsageErrorsNameTheOption) {
  EXPECT_EQ(ErrorOf({"--data-dir", "d", "--colour", "x"}), "unknown option --colour");
  EXPECT_EQ(ErrorOf({"--data-dir", "d", "--colour=x"}), "unknown option --colour");
  EXPECT_EQ(ErrorOf({"--data-dir", "d", "-x"}), "unknown option -x");
  EXPECT_EQ(ErrorOf({"--data-dir"}), "--data-dir needs a value");
  EXPECT_EQ(ErrorOf({"--data-dir", "--dry-run"}), "--data-dir needs a value");
  EXPECT_EQ(ErrorOf({"--data-dir", "a", "--data-dir", "b"}), "--data-dir was given twice");
  EXPECT_EQ(ErrorOf({"--data-dir", "d", "--dry-run=yes"}), "--dry-run takes no value");
  EXPECT_EQ(ErrorOf({"--data-dir", "d", "--format", "xml"}), "--format must be text or json");
  EXPECT_EQ(ErrorOf({"--data-dir", "d", "--strict=maybe"}),
            "--strict must be true or false (or yes/no, on/off, 1/0)");
  EXPECT_EQ(ErrorOf({}), "--data-dir is required (or set KL_TEST_DATA_DIR)");
  EXPECT_EQ(ErrorOf({"--data-dir", "d", "one", "two"}), "unexpected argument two");
  // No prefix guessing: --form is not --format.
  EXPECT_EQ(ErrorOf({"--data-dir", "d", "--form", "json"}), "unknown option --form");
  auto bad_number = Sample().Parse({"--data-dir", "d", "--limit", "ten"}, NoEnv);
  ASSERT_OK(bad_number);
  EXPECT_EQ(bad_number->GetUint("limit").error().message, "--limit must be a non-negative integer");
  EXPECT_EQ(bad_number->GetUint("limit", 1, 9).error().message, "--limit must be between 1 and 9");
}

TEST(CommandLineTest, EnvironmentStandsInForAnAbsentOption) {
  Env env{{{"KL_TEST_DATA_DIR", "/from/env"}, {"KL_TEST_STRICT", "yes"}}};
  ASSERT_OK_AND_ASSIGN(Args a, Sample().Parse({}, env.Get()));
  EXPECT_EQ(a.Get("data-dir"), "/from/env");
  EXPECT_TRUE(a.Has("data-dir"));
  EXPECT_EQ(a.Label("data-dir"), "KL_TEST_DATA_DIR (--data-dir)");
  EXPECT_TRUE(a.IsOn("strict"));
  // The command line wins.
  ASSERT_OK_AND_ASSIGN(Args b, Sample().Parse({"--data-dir", "cli", "--strict=off"}, env.Get()));
  EXPECT_EQ(b.Get("data-dir"), "cli");
  EXPECT_EQ(b.Label("data-dir"), "--data-dir");
  EXPECT_FALSE(b.IsOn("strict"));
  // Set but empty: unset for a value, on for a switch.
  Env empty{{{"KL_TEST_DATA_DIR", ""}, {"KL_TEST_STRICT", ""}}};
  EXPECT_EQ(ErrorOf({}, empty), "--data-dir is required (or set KL_TEST_DATA_DIR)");
  ASSERT_OK_AND_ASSIGN(Args c, Sample().Parse({"--data-dir", "d"}, empty.Get()));
  EXPECT_TRUE(c.IsOn("strict"));
  // A bad value from the environment names the variable.
  Env bad{{{"KL_TEST_DATA_DIR", "d"}, {"KL_TEST_STRICT", "perhaps"}}};
  EXPECT_EQ(ErrorOf({}, bad),
            "KL_TEST_STRICT (--strict) must be true or false (or yes/no, on/off, 1/0)");
}

TEST(CommandLineTest, HelpWinsOverMissingOptionsButNotOverBadSyntax) {
  ASSERT_OK_AND_ASSIGN(Args a, Sample().Parse({"--help"}, NoEnv));
  EXPECT_TRUE(a.help());
  ASSERT_OK_AND_ASSIGN(Args b, Sample().Parse({"-h", "a", "b", "--format", "xml"}, NoEnv));
  EXPECT_TRUE(b.help());
  EXPECT_FALSE(Sample().Parse({"--help", "--bogus"}, NoEnv).ok());
}

TEST(CommandLineTest, HelpListsEveryOptionWithDefaultAndEnvironment) {
  const std::string help = Sample().Help();
  EXPECT_TRUE(help.starts_with("usage: tool sub --data-dir DIR [options]\n\nOptions:\n")) << help;
  EXPECT_NE(help.find("  --data-dir DIR "), std::string::npos) << help;
  EXPECT_NE(help.find("(env KL_TEST_DATA_DIR; required)"), std::string::npos) << help;
  EXPECT_NE(help.find("(default: text)"), std::string::npos) << help;
  EXPECT_NE(help.find("--type TYPE"), std::string::npos) << help;
  EXPECT_NE(help.find("(repeatable)"), std::string::npos) << help;
  EXPECT_NE(help.find("--strict[=BOOL]"), std::string::npos) << help;
  EXPECT_NE(help.find("-h, --help"), std::string::npos) << help;
  EXPECT_TRUE(help.ends_with("\nExit status: 0 ok.\n")) << help;
  for (const std::string& line : [&] {
         std::vector<std::string> lines;
         std::istringstream in(help);
         for (std::string l; std::getline(in, l);) lines.push_back(l);
         return lines;
       }()) {
    EXPECT_LE(line.size(), 80u) << line;
  }
}

TEST(CommandLineTest, UsageErrorTextIsOneLineAndAHint) {
  EXPECT_EQ(UsageErrorText("keyledger-audit verify", "unknown option --x"),
            "keyledger-audit verify: unknown option --x\n"
            "Run 'keyledger-audit verify --help' for usage.\n");
}

TEST(CommandLineTest, Subcommands) {
  std::vector<std::string> seen;
  const std::vector<Subcommand> subs = {
      {"one", "the first", [&](const std::vector<std::string>& a) {
         seen = a;
         return 7;
       }}};
  auto run = [&](std::vector<std::string> args, std::string* out, std::string* err) {
    std::ostringstream o, e;
    const int code =
        RunSubcommands("tool", "usage: tool <command>\n", "Exit status: 0 ok.\n", subs, args, o, e);
    *out = o.str();
    *err = e.str();
    return code;
  };
  std::string out, err;
  EXPECT_EQ(run({"one", "--x", "y"}, &out, &err), 7);
  EXPECT_EQ(seen, (std::vector<std::string>{"--x", "y"}));
  EXPECT_EQ(run({"--help"}, &out, &err), 0);
  EXPECT_EQ(out, "usage: tool <command>\n\ncommands:\n  one    the first\n\nExit status: 0 ok.\n");
  EXPECT_TRUE(err.empty());
  EXPECT_EQ(run({}, &out, &err), 2);
  EXPECT_EQ(err, "tool: a command is required\nRun 'tool --help' for usage.\n");
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(run({"two"}, &out, &err), 2);
  EXPECT_EQ(err, "tool: unknown command two\nRun 'tool --help' for usage.\n");
}

}  // namespace
}  // namespace keyledger::cli
