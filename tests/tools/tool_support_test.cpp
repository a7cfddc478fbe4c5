// The tools' shared pieces: argument parsing, URLs, terminal text, JSON layout, data directory
// detection.
#include <gtest/gtest.h>

#include "tests/support/test_support.hpp"
#include "tests/tools/tool_test_util.hpp"
#include "tools/common/http_client.hpp"
#include "tools/common/tool_support.hpp"

namespace keyledger::tools {
namespace {

TEST(ToolArgsTest, ParsesOptionsFlagsAndPositionals) {
  const std::vector<OptionSpec> specs = {{"--limit", true}, {"--type", true, true}, {"--dry-run"}};
  ASSERT_OK_AND_ASSIGN(Args a, Args::Parse({"KEY", "--limit", "5", "--type=A", "--dry-run",
                                            "--type", "B", "--", "--not-an-option"},
                                           specs));
  EXPECT_EQ(a.Get("--limit"), std::optional<std::string>("5"));
  EXPECT_EQ(a.GetAll("--type"), (std::vector<std::string>{"A", "B"}));
  EXPECT_TRUE(a.Has("--dry-run"));
  EXPECT_FALSE(a.help());
  EXPECT_EQ(a.positionals(), (std::vector<std::string>{"KEY", "--not-an-option"}));
  ASSERT_OK_AND_ASSIGN(Args h, Args::Parse({"-h"}, specs));
  EXPECT_TRUE(h.help());

  struct Bad {
    std::vector<std::string> args;
    const char* message;
  };
  for (const Bad& bad : std::vector<Bad>{{{"--nope"}, "unknown option --nope"},
                                         {{"--limit"}, "--limit needs a value"},
                                         {{"--dry-run=yes"}, "--dry-run takes no value"},
                                         {{"--limit", "1", "--limit", "2"}, "given twice"}}) {
    auto parsed = Args::Parse(bad.args, specs);
    ASSERT_FALSE(parsed.ok()) << bad.message;
    EXPECT_NE(parsed.error().message.find(bad.message), std::string::npos)
        << parsed.error().message;
  }
  EXPECT_EQ(*ParseUint("42", "--n"), 42u);
  for (const char* bad : {"", "-1", "4x", "99999999999999999999999"}) {
    EXPECT_FALSE(ParseUint(bad, "--n").ok()) << bad;
  }
  EXPECT_EQ(*ParseTime("2026-01-13T05:00:00Z", "--since"), 1'768'280'400'000'000);
  EXPECT_EQ(*ParseTime("1768280400000000", "--since"), 1'768'280'400'000'000);
  EXPECT_FALSE(ParseTime("noon", "--since").ok());
}

TEST(ToolHttpTest, ParsesHttpUrls) {
  ASSERT_OK_AND_ASSIGN(HttpUrl u, ParseHttpUrl("http://127.0.0.1:8080"));
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "8080");
  EXPECT_EQ(u.target, "/");
  ASSERT_OK_AND_ASSIGN(HttpUrl v, ParseHttpUrl("http://[::1]:9/api/admin/audit/digest?x=1"));
  EXPECT_EQ(v.host, "::1");
  EXPECT_EQ(v.port, "9");
  EXPECT_EQ(v.target, "/api/admin/audit/digest?x=1");
  ASSERT_OK_AND_ASSIGN(HttpUrl w, ParseHttpUrl("http://localhost?entities=true"));
  EXPECT_EQ(w.port, "80");
  EXPECT_EQ(w.target, "/?entities=true");
  for (const char* bad : {"https://127.0.0.1", "ftp://x", "http://", "http://:80/",
                          "http://user:pw@host/", "http://[::1/"}) {
    EXPECT_FALSE(ParseHttpUrl(bad).ok()) << bad;
  }
}

TEST(ToolHttpTest, GetsFromAServerAndReportsFailures) {
  testing::TinyHttpServer server([](const std::string& target, const std::string& auth) {
    return std::pair{target == "/ok" ? 200 : 404, "{\"auth\":\"" + auth + "\"}"};
  });
  ASSERT_OK_AND_ASSIGN(HttpResponse r,
                       HttpGet(server.url() + "/ok", "tok", std::chrono::milliseconds(5000)));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"auth":"Bearer tok"})");
  ASSERT_OK_AND_ASSIGN(HttpResponse missing,
                       HttpGet(server.url() + "/x", "", std::chrono::milliseconds(5000)));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"auth":""})");
  auto down = HttpGet("http://127.0.0.1:1/", "", std::chrono::milliseconds(2000));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable);
}

TEST(ToolTextTest, PrintableWidthAndTruncation) {
  EXPECT_EQ(Printable("plain text"), "plain text");
  EXPECT_EQ(Printable("a\x1b[2Jb\x07"), "a\\x1b[2Jb\\x07");
  EXPECT_EQ(Printable("\xc2\x9b"
                      "31m"),
            "\\xc2\\x9b31m");  // C1 CSI
  EXPECT_EQ(Printable("bad \xff byte"), "bad \\xff byte");
  EXPECT_EQ(Printable("\xc3"
                      "\x1b"),
            "\\xc3\\x1b");  // a broken sequence hides no ESC
  EXPECT_EQ(Printable("名前 ok"), "名前 ok");
  EXPECT_EQ(DisplayWidth("名前 ok"), 7u);
  EXPECT_EQ(DisplayWidth("e\u0301"), 1u);
  EXPECT_EQ(Truncate("abcdef", 4), "abc\u2026");
  EXPECT_EQ(Truncate("abc", 4), "abc");
  EXPECT_EQ(Truncate("名前名前", 5), "名前\u2026");
  EXPECT_EQ(FormatCount(1234567), "1,234,567");
  EXPECT_EQ(FormatCount(12), "12");
  EXPECT_EQ(FormatSeconds(3.44), "3.4s");
  EXPECT_EQ(FormatSeconds(75), "1m15s");
  EXPECT_EQ(FormatSeconds(7300), "2h01m");
}

TEST(ToolTextTest, PrettyJsonIndentsWithoutTouchingStrings) {
  EXPECT_EQ(PrettyJson(R"({"a":[1,{"b":"x,{y}:"}],"c":{},"d":[],"e":"q\"]"})"),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x,{y}:\"\n    }\n  ],\n  \"c\": {},\n"
            "  \"d\": [],\n  \"e\": \"q\\\"]\"\n}");
}

TEST(ToolTableTest, AlignsColumnsAndColoursOnlyWhenEnabled) {
  Table t({"SEQ", "NAME", "DETAILS"});
  t.AddRow({{"1", ""}, {"short", "32"}, {"first", ""}}, {"note under row 1"});
  t.AddRow({{"22", ""}, {"a much longer name", ""}, {"second", ""}});
  keyledger::testing::TempDir dir;
  const std::string path = dir.Sub("table.txt");
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  t.Print(f, Style(false));
  std::fclose(f);
  EXPECT_EQ(testing::ReadFile(path),
            "SEQ  NAME                DETAILS\n"
            "1    short               first\n"
            "    note under row 1\n"
            "22   a much longer name  second\n");
  f = std::fopen(path.c_str(), "w");
  t.Print(f, Style(true));
  std::fclose(f);
  const std::string coloured = testing::ReadFile(path);
  EXPECT_NE(coloured.find("\x1b[32mshort\x1b[0m"), std::string::npos) << coloured;
  EXPECT_NE(coloured.find("\x1b[1mSEQ\x1b[0m"), std::string::npos);
}

TEST(ToolDataDirTest, DetectsAServerHoldingTheDirectory) {
  keyledger::testing::TempDir dir;
  const std::string data = dir.Sub("data");
  EXPECT_FALSE(HeldByAnotherProcess(data));
  {
    auto log = events::RocksEventLog::Open(data, {});
    ASSERT_OK(log);
    // Locks are per process: this process's own lock is not "another process".
    EXPECT_FALSE(HeldByAnotherProcess(data));
    ASSERT_OK((*log)->Close());
  }
  auto opened = OpenDataDir(data, Access::kRead, true, {});
  ASSERT_OK(opened);
  EXPECT_FALSE((*opened)->secondary());
  EXPECT_EQ(OpenDataDir(dir.Sub("none"), Access::kRead, true, {}).error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(OpenDataDir(dir.Sub("none"), Access::kWrite, true, {}).error().code,
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace keyledger::tools
