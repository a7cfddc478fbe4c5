// Gateway health-report batches (per-item results) and query-string parameters (FastAPI's
// Query validation: loc ["query", name], the raw string as input).

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "events/time_format.hpp"
#include "src/commands.hpp"
#include "src/query_input.hpp"
#include "tests/registry/input_test_util.hpp"

namespace keyledger::registry {
namespace {

using testing::Detail;

// ---------------------------------------------------------------------------------------------
// Health reports

constexpr std::string_view kGoodReport =
    R"({"key_id":"k-1","api_format":"claude","successes":10,"failures":"2",)"
    R"("total_response_time_ms":1234,"last_error":null,"at":"2026-01-13T05:00:00Z"})";

TEST(HealthReportTest, ParsesAGoodBatch) {
  auto r = ParseHealthReportBatch(
      R"({"reports":[)" + std::string(kGoodReport) +
      R"(,{"key_id":"k-2","api_format":"OPENAI","successes":0,)"
      R"("failures":1,"total_response_time_ms":0,"last_error":"upstream 529",)"
      R"("at":"2026-01-13T13:00:01.5+08:00"}]})");
  ASSERT_TRUE(r.ok()) << Detail(r);
  ASSERT_EQ(r->reports.size(), 2u);
  EXPECT_EQ(r->accepted(), 2u);
  const auto& first = std::get<HealthReport>(r->reports[0]);
  EXPECT_EQ(first.key_id, "k-1");
  EXPECT_EQ(first.api_format, "CLAUDE");
  EXPECT_EQ(first.successes, 10);
  EXPECT_EQ(first.failures, 2);
  EXPECT_EQ(first.total_response_time_ms, 1234);
  EXPECT_FALSE(first.last_error.has_value());
  EXPECT_EQ(events::FormatTimestampZ(first.at), "2026-01-13T05:00:00Z");
  const auto& second = std::get<HealthReport>(r->reports[1]);
  EXPECT_EQ(second.last_error, "upstream 529");
  EXPECT_EQ(events::FormatTimestampZ(second.at), "2026-01-13T05:00:01.500000Z");
}

TEST(HealthReportTest, EachReportIsJudgedOnItsOwn) {
  auto r = ParseHealthReportBatch(
      R"({"reports":[)" + std::string(kGoodReport) +
      R"(,{"key_id":"k-2","api_format":"foo","successes":-1,"failures":1,"total_response_time_ms":0,"at":"yesterday"})"
      R"(,5)"
      R"(,{"api_format":"GEMINI","successes":1,"failures":0,"total_response_time_ms":1,"at":1768280400,"last_error":")" +
      std::string(1001, 'e') + R"("}]})");
  ASSERT_TRUE(r.ok()) << Detail(r);
  ASSERT_EQ(r->reports.size(), 4u);
  EXPECT_EQ(r->accepted(), 1u);
  EXPECT_TRUE(std::holds_alternative<HealthReport>(r->reports[0]));
  EXPECT_EQ(
      ValidationErrorBody(std::get<std::vector<FieldError>>(r->reports[1])),
      R"({"detail":[)"
      R"({"type":"value_error","loc":["body","reports",1,"api_format"],"msg":"Value error, API 格式必须是 ['CLAUDE', 'CLAUDE_CLI', 'OPENAI', 'OPENAI_CLI', 'GEMINI', 'GEMINI_CLI'] 之一，当前值: foo","input":"foo","ctx":{"error":{}}},)"
      R"({"type":"greater_than_equal","loc":["body","reports",1,"successes"],"msg":"Input should be greater than or equal to 0","input":-1,"ctx":{"ge":0}},)"
      R"({"type":"datetime_from_date_parsing","loc":["body","reports",1,"at"],"msg":"Input should be a valid datetime or date, input is too short","input":"yesterday","ctx":{"error":"input is too short"}}]})");
  EXPECT_EQ(
      ValidationErrorBody(std::get<std::vector<FieldError>>(r->reports[2])),
      R"({"detail":[{"type":"model_attributes_type","loc":["body","reports",2],"msg":"Input should be a valid dictionary or object to extract fields from","input":5}]})");
  const auto& third = std::get<std::vector<FieldError>>(r->reports[3]);
  ASSERT_EQ(third.size(), 2u);
  EXPECT_EQ(third[0].type, "missing");
  EXPECT_EQ(third[0].loc, (Loc{"body", "reports", LocIndex(3), "key_id"}));
  EXPECT_EQ(third[1].type, "string_too_long");
  EXPECT_EQ(third[1].loc, (Loc{"body", "reports", LocIndex(3), "last_error"}));
}

TEST(HealthReportTest, StructuralProblemsFailTheBatch) {
  EXPECT_EQ(
      Detail(ParseHealthReportBatch("{}")),
      R"({"detail":[{"type":"missing","loc":["body","reports"],"msg":"Field required","input":{}}]})");
  EXPECT_EQ(
      Detail(ParseHealthReportBatch(R"({"reports":{}})")),
      R"({"detail":[{"type":"list_type","loc":["body","reports"],"msg":"Input should be a valid list","input":{}}]})");
  EXPECT_EQ(
      Detail(ParseHealthReportBatch(R"({"reports":[]})")),
      R"({"detail":[{"type":"too_short","loc":["body","reports"],"msg":"List should have at least 1 item after validation, not 0","input":[],"ctx":{"field_type":"List","min_length":1,"actual_length":0}}]})");
  EXPECT_EQ(
      Detail(ParseHealthReportBatch("[]")),
      R"({"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[]}]})");
  std::string many = R"({"reports":[)";
  for (size_t i = 0; i <= limits::kMaxHealthReports; ++i) {
    if (i != 0) many += ',';
    many += "1";
  }
  many += "]}";
  auto r = ParseHealthReportBatch(many);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().details.size(), 1u);
  EXPECT_EQ(r.error().details[0].type, "too_long");
  EXPECT_EQ(r.error().details[0].msg,
            "List should have at most 1000 items after validation, not 1001");
  EXPECT_EQ(r.error().details[0].ctx_json,
            R"({"field_type":"List","max_length":1000,"actual_length":1001})");
}

// ---------------------------------------------------------------------------------------------
// Query strings

TEST(QueryTest, DecodesLikeStarlette) {
  QueryParams q = ParseQueryString("a=1&b=&c&&d=x%20y+z&e=%E4%B8%AD&f=%FF&g=%zz&h=%E4%B8&a=2");
  ASSERT_EQ(q.items.size(), 9u);
  EXPECT_EQ(*q.Get("a"), "2");  // the last one wins
  EXPECT_EQ(*q.Get("b"), "");
  EXPECT_EQ(*q.Get("c"), "");
  EXPECT_EQ(*q.Get("d"), "x y z");
  EXPECT_EQ(*q.Get("e"), "\xE4\xB8\xAD");
  EXPECT_EQ(*q.Get("f"), "\xEF\xBF\xBD");
  EXPECT_EQ(*q.Get("g"), "%zz");
  EXPECT_EQ(*q.Get("h"), "\xEF\xBF\xBD");  // one U+FFFD for a truncated sequence
  EXPECT_EQ(q.Get("zzz"), nullptr);
  EXPECT_TRUE(ParseQueryString("").items.empty());
  EXPECT_EQ(*ParseQueryString("k%3Dx=v%26w").Get("k=x"), "v&w");
}

TEST(QueryTest, PagingLikeFastApi) {
  auto defaults = ParsePaging(ParseQueryString(""));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->skip, 0);
  EXPECT_EQ(defaults->limit, 100);
  auto lax = ParsePaging(ParseQueryString("skip=%2010%20&limit=1_0"));
  ASSERT_TRUE(lax.ok()) << Detail(lax);
  EXPECT_EQ(lax->skip, 10);
  EXPECT_EQ(lax->limit, 10);
  EXPECT_EQ(
      Detail(ParsePaging(ParseQueryString("skip=-1&limit=5000"))),
      R"({"detail":[)"
      R"({"type":"greater_than_equal","loc":["query","skip"],"msg":"Input should be greater than or equal to 0","input":"-1","ctx":{"ge":0}},)"
      R"({"type":"less_than_equal","loc":["query","limit"],"msg":"Input should be less than or equal to 1000","input":"5000","ctx":{"le":1000}}]})");
  EXPECT_EQ(
      Detail(ParsePaging(ParseQueryString("limit=abc&skip="))),
      R"({"detail":[)"
      R"({"type":"int_parsing","loc":["query","skip"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":""},)"
      R"({"type":"int_parsing","loc":["query","limit"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]})");
  EXPECT_EQ(
      Detail(ParsePaging(ParseQueryString("limit=0"))),
      R"({"detail":[{"type":"greater_than_equal","loc":["query","limit"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}}]})");
  auto huge = ParsePaging(ParseQueryString("skip=100000000000000000000000"));
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(huge->skip, INT64_MAX);  // past the end: an empty page, not an error
}

TEST(QueryTest, ProviderListUsesItsOwnLimitAndLaxBools) {
  auto r = ParseProviderListQuery(ParseQueryString("is_active=yes&limit=500"));
  ASSERT_TRUE(r.ok()) << Detail(r);
  EXPECT_EQ(r->is_active, true);
  EXPECT_EQ(r->paging.limit, 500);
  EXPECT_FALSE(ParseProviderListQuery(ParseQueryString(""))->is_active.has_value());
  EXPECT_EQ(
      Detail(ParseProviderListQuery(ParseQueryString("limit=501&is_active=maybe"))),
      R"({"detail":[)"
      R"({"type":"less_than_equal","loc":["query","limit"],"msg":"Input should be less than or equal to 500","input":"501","ctx":{"le":500}},)"
      R"({"type":"bool_parsing","loc":["query","is_active"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]})");
}

TEST(QueryTest, AsOfIsAPositionOrATime) {
  auto seq = ParseAsOf(ParseQueryString("as_of_seq=42"));
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(seq->seq, 42u);
  EXPECT_FALSE(seq->time.has_value());
  auto time = ParseAsOf(ParseQueryString("as_of=2026-01-13T13:00:00%2B08:00"));
  ASSERT_TRUE(time.ok()) << Detail(time);
  EXPECT_EQ(events::FormatTimestampZ(*time->time), "2026-01-13T05:00:00Z");
  EXPECT_TRUE(ParseAsOf(ParseQueryString(""))->empty());
  EXPECT_EQ(
      Detail(ParseAsOf(ParseQueryString("as_of_seq=-1&as_of=2026-13-01"))),
      R"({"detail":[)"
      R"({"type":"greater_than_equal","loc":["query","as_of_seq"],"msg":"Input should be greater than or equal to 0","input":"-1","ctx":{"ge":0}},)"
      R"({"type":"datetime_from_date_parsing","loc":["query","as_of"],"msg":"Input should be a valid datetime or date, month value is outside expected range of 1-12","input":"2026-13-01","ctx":{"error":"month value is outside expected range of 1-12"}}]})");
  EXPECT_EQ(
      Detail(ParseAsOf(ParseQueryString("as_of_seq=1&as_of=2026-01-13"))),
      R"({"detail":[{"type":"value_error","loc":["query","as_of"],"msg":"Value error, as_of 与 as_of_seq 不能同时使用","input":"2026-01-13","ctx":{"error":{}}}]})");
}

TEST(QueryTest, AuditFilters) {
  auto r =
      ParseAuditQuery(ParseQueryString("after=10&limit=50&stream=key-1&type=KeyRevealed&actor="
                                       "admin&since=2026-01-01&until=2026-02-01"));
  ASSERT_TRUE(r.ok()) << Detail(r);
  EXPECT_EQ(r->after, 10u);
  EXPECT_EQ(r->limit, 50);
  EXPECT_EQ(r->stream, "key-1");
  EXPECT_EQ(r->type, "KeyRevealed");
  EXPECT_EQ(r->actor, "admin");
  EXPECT_EQ(events::FormatTimestampZ(*r->since), "2026-01-01T00:00:00Z");
  EXPECT_EQ(events::FormatTimestampZ(*r->until), "2026-02-01T00:00:00Z");
  EXPECT_EQ(
      Detail(ParseAuditQuery(ParseQueryString(
          "after=x&type=KeyStolen&stream=&since=2026-02-01&until=2026-01-01&limit=1001"))),
      R"({"detail":[)"
      R"({"type":"int_parsing","loc":["query","after"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"},)"
      R"({"type":"less_than_equal","loc":["query","limit"],"msg":"Input should be less than or equal to 1000","input":"1001","ctx":{"le":1000}},)"
      R"({"type":"string_too_short","loc":["query","stream"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}},)"
      R"({"type":"value_error","loc":["query","type"],"msg":"Value error, 未知的事件类型: KeyStolen","input":"KeyStolen","ctx":{"error":{}}},)"
      R"({"type":"value_error","loc":["query","until"],"msg":"Value error, until 不能早于 since","input":"2026-01-01","ctx":{"error":{}}}]})");
}

TEST(QueryTest, HealthResetFormat) {
  EXPECT_FALSE(ParseHealthResetQuery(ParseQueryString(""))->api_format.has_value());
  EXPECT_EQ(ParseHealthResetQuery(ParseQueryString("api_format=claude_cli"))->api_format,
            "CLAUDE_CLI");
  EXPECT_EQ(
      Detail(ParseHealthResetQuery(ParseQueryString("api_format=foo"))),
      R"({"detail":[{"type":"value_error","loc":["query","api_format"],"msg":"Value error, API 格式必须是 ['CLAUDE', 'CLAUDE_CLI', 'OPENAI', 'OPENAI_CLI', 'GEMINI', 'GEMINI_CLI'] 之一，当前值: foo","input":"foo","ctx":{"error":{}}}]})");
}

TEST(QueryTest, ReaderComposes) {
  QueryParams q = ParseQueryString("skip=1&as_of_seq=abc&x=y");
  QueryReader reader(q);
  Paging paging;
  ReadPaging(reader, paging);
  AsOf as_of;
  ReadAsOf(reader, as_of);
  EXPECT_EQ(paging.skip, 1);
  EXPECT_EQ(
      Detail(reader.Finish()),
      R"({"detail":[{"type":"int_parsing","loc":["query","as_of_seq"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]})");
}

}  // namespace
}  // namespace keyledger::registry
