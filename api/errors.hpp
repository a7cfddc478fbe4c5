#pragma once
// The one mapping from keyledger::Error to an HTTP status and Aether's JSON error shapes
// (aether-spec.md §3), plus the fixed bodies the server itself produces.
//
// Shapes:
//   application errors   {"error":{"type":T,"message":M[,"details":{...}]}}
//   validation (422)     {"detail":[{"type","loc","msg"[,"input"][,"ctx"]}]}
//   routing (404/405)    {"detail":"Not Found"} / {"detail":"Method Not Allowed"}
//
// What the client sees is separate from what is logged: for storage and internal errors the
// response carries only a generic message and an 8-character error_id; Error::message goes to
// Response::log_note together with that id, so the operator can correlate the two.
//
// Thread-safe (pure functions).

#include <string>
#include <string_view>

#include "api/handler.hpp"
#include "events/status.hpp"

namespace keyledger::api {

// Aether's client-visible texts.
inline constexpr std::string_view kSystemErrorMessage = "系统遇到未知错误，请稍后重试或联系管理员";
inline constexpr std::string_view kRecoveryInfo = "请稍后重试，如问题持续请联系管理员";
inline constexpr std::string_view kUnavailableMessage = "存储暂时不可用，请稍后重试";
inline constexpr std::string_view kDecryptFailedMessage =
    "无法解密 API Key，可能是加密密钥已更改。请重新添加该密钥。";
inline constexpr std::string_view kShreddedMessage = "该 Key 已删除，密钥材料已销毁，无法解密";
// Seconds a client should wait before retrying a 503.
inline constexpr int kRetryAfterSeconds = 1;

// Maps an Error to the response a client sees. Every ErrorCode is handled; whoever adds an
// enumerator to ErrorCode extends the switch in errors.cpp (the compiler warns on a missing case).
//
//   kNotFound                       404 not_found        Error::message
//   kInvalidArgument, kAlreadyExists 400 invalid_request Error::message
//   kValidation                     422 {"detail":[...]} from Error::details
//   kVersionConflict                409 conflict         details.actual_version when known
//   kPreconditionFailed             412 http_error
//   kUnauthenticated                401 http_error
//   kPermissionDenied               403 http_error
//   kRateLimited                    429 rate_limit
//   kPayloadTooLarge                413 http_error
//   kShredded, kDecryptFailed       400 invalid_request  fixed text (internal text only logged)
//   kIoError, kUnavailable          503 system_error     retry text, error_id, Retry-After
//   kCorruption, kUnsupported,
//   kInternal                       500 system_error     generic text, error_id
Response ErrorResponse(const Error& error);

// {"error":{"type":type,"message":message}} with `details_json` (an object) when non-empty.
std::string ErrorBody(std::string_view type, std::string_view message,
                      std::string_view details_json = {});
// A plain HTTPException-style error: {"error":{"type":"http_error","message":message}}.
Response HttpErrorResponse(int status, std::string_view message);
// 500 system_error with a fresh error_id; `internal` (with the id) goes to log_note only.
Response SystemErrorResponse(std::string_view internal);
// {"detail":"..."} as Starlette answers for routing failures.
Response DetailResponse(int status, std::string_view detail);
// 422 {"detail":[...]} from field errors. A `loc` part written "#<digits>" (e.g. "#0") is emitted
// as the JSON integer (a list index, as pydantic reports it); every other part is a string.
Response ValidationErrorResponse(const std::vector<FieldError>& errors);

// A fresh 8-character lower-case hex id for correlating a response with a log line.
std::string NewErrorId();

}  // namespace keyledger::api
