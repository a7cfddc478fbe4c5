#include "api/errors.hpp"

#include <gtest/gtest.h>

#include "events/field_error.hpp"
#include "tests/api/match.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::api {
namespace {

std::string HeaderOf(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

struct MappingCase {
  ErrorCode code;
  int status;
  std::string body;  // exact, or a MatchesTemplate template when it contains '<'
};

// Every ErrorCode, with its status and client-visible body. Adding an ErrorCode without a row
// here fails ErrorsTest.EveryCodeIsCovered.
const std::vector<MappingCase>& Cases() {
  static const std::vector<MappingCase> cases = {
      {ErrorCode::kInvalidArgument, 400,
       R"({"error":{"type":"invalid_request","message":"msg \"x\""}})"},
      {ErrorCode::kValidation, 422, R"({"detail":[]})"},
      {ErrorCode::kNotFound, 404, R"({"error":{"type":"not_found","message":"msg \"x\""}})"},
      {ErrorCode::kAlreadyExists, 400,
       R"({"error":{"type":"invalid_request","message":"msg \"x\""}})"},
      {ErrorCode::kVersionConflict, 409, R"({"error":{"type":"conflict","message":"msg \"x\""}})"},
      {ErrorCode::kPreconditionFailed, 412,
       R"({"error":{"type":"http_error","message":"msg \"x\""}})"},
      {ErrorCode::kUnauthenticated, 401,
       R"({"error":{"type":"http_error","message":"msg \"x\""}})"},
      {ErrorCode::kPermissionDenied, 403,
       R"({"error":{"type":"http_error","message":"msg \"x\""}})"},
      {ErrorCode::kRateLimited, 429, R"({"error":{"type":"rate_limit","message":"msg \"x\""}})"},
      {ErrorCode::kPayloadTooLarge, 413,
       R"({"error":{"type":"http_error","message":"msg \"x\""}})"},
      {ErrorCode::kShredded, 400,
       R"({"error":{"type":"invalid_request","message":"该 Key 已删除，密钥材料已销毁，无法解密"}})"},
      {ErrorCode::kDecryptFailed, 400,
       R"({"error":{"type":"invalid_request","message":"无法解密 API Key，可能是加密密钥已更改。请重新添加该密钥。"}})"},
      {ErrorCode::kCorruption, 500,
       R"({"error":{"type":"system_error","message":"系统遇到未知错误，请稍后重试或联系管理员","details":{"error_id":"<hex8>","recovery_info":"请稍后重试，如问题持续请联系管理员"}}})"},
      {ErrorCode::kUnsupported, 500,
       R"({"error":{"type":"system_error","message":"系统遇到未知错误，请稍后重试或联系管理员","details":{"error_id":"<hex8>","recovery_info":"请稍后重试，如问题持续请联系管理员"}}})"},
      {ErrorCode::kIoError, 503,
       R"({"error":{"type":"system_error","message":"存储暂时不可用，请稍后重试","details":{"error_id":"<hex8>","recovery_info":"请稍后重试，如问题持续请联系管理员"}}})"},
      {ErrorCode::kUnavailable, 503,
       R"({"error":{"type":"system_error","message":"存储暂时不可用，请稍后重试","details":{"error_id":"<hex8>","recovery_info":"请稍后重试，如问题持续请联系管理员"}}})"},
      {ErrorCode::kHeadConflict, 503,
       R"({"error":{"type":"system_error","message":"存储暂时不可用，请稍后重试","details":{"error_id":"<hex8>","recovery_info":"请稍后重试，如问题持续请联系管理员"}}})"},
      {ErrorCode::kInternal, 500,
       R"({"error":{"type":"system_error","message":"系统遇到未知错误，请稍后重试或联系管理员","details":{"error_id":"<hex8>","recovery_info":"请稍后重试，如问题持续请联系管理员"}}})"},
  };
  return cases;
}

TEST(ErrorsTest, EveryCodeIsCovered) {
  // ErrorCode is dense from 0; kInternal is the last enumerator.
  const auto last = static_cast<int>(ErrorCode::kInternal);
  for (int i = 0; i <= last; ++i) {
    const auto code = static_cast<ErrorCode>(i);
    bool found = false;
    for (const MappingCase& c : Cases()) found = found || c.code == code;
    EXPECT_TRUE(found) << "no mapping test for " << ErrorCodeName(code);
  }
}

TEST(ErrorsTest, MapsEveryCode) {
  for (const MappingCase& c : Cases()) {
    SCOPED_TRACE(std::string(ErrorCodeName(c.code)));
    const Error e = MakeError(c.code, "msg \"x\"");
    const Response r = ErrorResponse(e);
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.content_type, "application/json");
    if (c.body.find('<') != std::string::npos) {
      EXPECT_TRUE(testing::MatchesTemplate(r.body, c.body)) << r.body;
    } else {
      EXPECT_EQ(r.body, c.body);
    }
    // Internal text is for the log only.
    if (c.status >= 500 || c.code == ErrorCode::kShredded || c.code == ErrorCode::kDecryptFailed) {
      EXPECT_EQ(r.body.find("msg"), std::string::npos);
      EXPECT_NE(r.log_note.find("msg \"x\""), std::string::npos);
      EXPECT_NE(r.log_note.find("error_id="), std::string::npos);
    }
  }
}

TEST(ErrorsTest, ErrorIdInBodyMatchesLogNote) {
  const Response r = ErrorResponse(MakeError(ErrorCode::kIoError, "rocksdb: IO error: disk full"));
  const size_t at = r.body.find(R"("error_id":")");
  ASSERT_NE(at, std::string::npos);
  const std::string id = r.body.substr(at + 12, 8);
  EXPECT_TRUE(testing::MatchesTemplate(id, "<hex8>"));
  EXPECT_NE(r.log_note.find("error_id=" + id), std::string::npos);
  EXPECT_EQ(r.body.find("rocksdb"), std::string::npos);
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "1");
}

TEST(ErrorsTest, VersionConflictCarriesActualVersion) {
  Error e = MakeError(ErrorCode::kVersionConflict, "Key k1 was changed concurrently");
  e.actual_version = 7;
  EXPECT_EQ(
      ErrorResponse(e).body,
      R"({"error":{"type":"conflict","message":"Key k1 was changed concurrently","details":{"actual_version":7}}})");
}

TEST(ErrorsTest, ValidationBodyFromFieldErrors) {
  Error e = MakeError(ErrorCode::kValidation, "invalid body");
  e.details.push_back({"greater_than_equal",
                       {"body", "rpm_limit"},
                       "Input should be greater than or equal to 1",
                       "0",
                       R"({"ge":1})"});
  e.details.push_back({"missing", {"body"}, "Field required", "null", ""});
  e.details.push_back(
      {"value_error", {"body", "api_formats", LocIndex(0)}, "Value error, bad", "", "{}"});
  e.details.push_back({"string_type", {"query", "#x"}, "Input should be a valid string", "", ""});
  const Response r = ErrorResponse(e);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(
      r.body,
      R"({"detail":[{"type":"greater_than_equal","loc":["body","rpm_limit"],"msg":"Input should be greater than or equal to 1","input":0,"ctx":{"ge":1}},)"
      R"({"type":"missing","loc":["body"],"msg":"Field required","input":null},)"
      R"({"type":"value_error","loc":["body","api_formats",0],"msg":"Value error, bad","ctx":{}},)"
      R"({"type":"string_type","loc":["query","#x"],"msg":"Input should be a valid string"}]})");
}

TEST(ErrorsTest, FixedBodies) {
  EXPECT_EQ(DetailResponse(404, "Not Found").body, R"({"detail":"Not Found"})");
  EXPECT_EQ(DetailResponse(405, "Method Not Allowed").body, R"({"detail":"Method Not Allowed"})");
  EXPECT_EQ(HttpErrorResponse(401, "缺少管理员凭证").body,
            R"({"error":{"type":"http_error","message":"缺少管理员凭证"}})");
  const Response sys = SystemErrorResponse("boom");
  EXPECT_EQ(sys.status, 500);
  EXPECT_EQ(sys.body.find("boom"), std::string::npos);
  EXPECT_NE(sys.log_note.find("boom"), std::string::npos);
  EXPECT_EQ(NewErrorId().size(), 8u);
}

}  // namespace
}  // namespace keyledger::api
