#include "api/logger.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "tests/api/match.hpp"

namespace keyledger::api {
namespace {

TEST(LoggerTest, WritesOneJsonObjectPerLine) {
  std::vector<std::string> lines;
  Logger logger(LogLevel::kInfo, [&](std::string_view l) { lines.emplace_back(l); });
  logger.Log(LogLevel::kDebug, "dropped");
  logger.Log(LogLevel::kWarning, "hello \"world\"", {{"n", 3}, {"ok", true}, {"s", "x\ny"}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(testing::MatchesTemplate(
      lines[0], R"({"ts":"<ts>","level":"warning","msg":"hello \"world\"","n":3,"ok":true,)"
                R"("s":"x\ny"})"
                "\n"))
      << lines[0];
}

TEST(LoggerTest, RequestLineFields) {
  std::vector<std::string> lines;
  Logger logger(LogLevel::kInfo, [&](std::string_view l) { lines.emplace_back(l); });
  RequestLogEntry e;
  e.method = "GET";
  e.path = "/api/x";
  e.route = "/api/{id}";
  e.status = 503;
  e.duration_ms = 1.23456;
  e.request_id = "rid";
  e.actor = "ops";
  e.client_ip = "127.0.0.1";
  e.note = "error_id=abcd1234 io_error: disk";
  logger.LogRequest(e);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(R"("level":"error","msg":"request","method":"GET","path":"/api/x",)"
                          R"("route":"/api/{id}","status":503,"duration_ms":1.235,)"
                          R"("request_id":"rid","actor":"ops","client_ip":"127.0.0.1",)"
                          R"("note":"error_id=abcd1234 io_error: disk"})"),
            std::string::npos)
      << lines[0];
}

TEST(LoggerTest, RepairsInvalidUtf8AndServesAsLogSink) {
  std::vector<std::string> lines;
  Logger logger(LogLevel::kDebug, [&](std::string_view l) { lines.emplace_back(l); });
  LogSink sink = logger.AsSink();
  sink(LogLevel::kError, "bad \xFF byte");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"level\":\"error\""), std::string::npos);
  EXPECT_NE(lines[0].find("bad \xEF\xBF\xBD byte"), std::string::npos);
}

}  // namespace
}  // namespace keyledger::api
