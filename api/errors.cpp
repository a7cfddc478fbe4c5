#include "api/errors.hpp"

#include "events/crypto.hpp"
#include "events/field_error.hpp"
#include "events/json_writer.hpp"

namespace keyledger::api {
namespace {

Response Make(int status, std::string body) { return Response::Json(status, std::move(body)); }

std::string SystemErrorDetails(std::string_view error_id) {
  json::Writer w;
  w.BeginObject().Member("error_id", error_id).Member("recovery_info", kRecoveryInfo).EndObject();
  return w.Take();
}

std::string LogNote(const Error& error, std::string_view error_id) {
  std::string note = "error_id=";
  note += error_id;
  note += ' ';
  note += ErrorCodeName(error.code);
  note += ": ";
  note += error.message;
  return note;
}

}  // namespace

std::string NewErrorId() { return crypto::HexEncode(crypto::RandomBytes(4)); }

std::string ErrorBody(std::string_view type, std::string_view message,
                      std::string_view details_json) {
  json::Writer w(64 + message.size() + details_json.size());
  w.BeginObject().Key("error").BeginObject().Member("type", type).Member("message", message);
  if (!details_json.empty()) w.Key("details").Raw(details_json);
  w.EndObject().EndObject();
  return w.Take();
}

Response HttpErrorResponse(int status, std::string_view message) {
  return Make(status, ErrorBody("http_error", message));
}

Response SystemErrorResponse(std::string_view internal) {
  const std::string id = NewErrorId();
  Response r = Make(500, ErrorBody("system_error", kSystemErrorMessage, SystemErrorDetails(id)));
  r.log_note = "error_id=" + id + " " + std::string(internal);
  return r;
}

Response DetailResponse(int status, std::string_view detail) {
  json::Writer w;
  w.BeginObject().Member("detail", detail).EndObject();
  return Make(status, w.Take());
}

Response ValidationErrorResponse(const std::vector<FieldError>& errors) {
  return Make(422, ValidationErrorBody(errors));
}

// Whoever adds an ErrorCode extends this switch (and ErrorCodeName in events/status.cpp). There is
// deliberately no default case, so -Wswitch flags a missing enumerator.
Response ErrorResponse(const Error& error) {
  switch (error.code) {
    case ErrorCode::kNotFound:
      return Make(404, ErrorBody("not_found", error.message, error.details_json));
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kAlreadyExists:
      return Make(400, ErrorBody("invalid_request", error.message, error.details_json));
    case ErrorCode::kValidation:
      return ValidationErrorResponse(error.details);
    case ErrorCode::kVersionConflict: {
      std::string details;
      if (error.actual_version) {
        json::Writer w;
        w.BeginObject().Member("actual_version", *error.actual_version).EndObject();
        details = w.Take();
      }
      return Make(409, ErrorBody("conflict", error.message, details));
    }
    case ErrorCode::kPreconditionFailed: {
      std::string details;
      if (error.actual_version) {
        json::Writer w;
        w.BeginObject().Member("actual_version", *error.actual_version).EndObject();
        details = w.Take();
      }
      Response r = Make(412, ErrorBody("http_error", error.message, details));
      if (error.actual_version) {
        r.headers.emplace_back("ETag", "\"" + std::to_string(*error.actual_version) + "\"");
      }
      return r;
    }
    case ErrorCode::kUnauthenticated:
      return HttpErrorResponse(401, error.message);
    case ErrorCode::kPermissionDenied:
      return HttpErrorResponse(403, error.message);
    case ErrorCode::kRateLimited:
      return Make(429, ErrorBody("rate_limit", error.message));
    case ErrorCode::kPayloadTooLarge:
      return HttpErrorResponse(413, error.message);
    case ErrorCode::kShredded:
    case ErrorCode::kDecryptFailed: {
      // Aether answers a failed reveal with 400 invalid_request and a fixed text; the internal
      // reason (tampering, wrong KEK, shredded DEK) is for the operator.
      const std::string id = NewErrorId();
      Response r = Make(400, ErrorBody("invalid_request", error.code == ErrorCode::kShredded
                                                              ? kShreddedMessage
                                                              : kDecryptFailedMessage));
      r.log_note = LogNote(error, id);
      return r;
    }
    case ErrorCode::kIoError:
    case ErrorCode::kUnavailable:
    case ErrorCode::kHeadConflict: {
      const std::string id = NewErrorId();
      Response r =
          Make(503, ErrorBody("system_error", kUnavailableMessage, SystemErrorDetails(id)));
      r.headers.emplace_back("Retry-After", std::to_string(kRetryAfterSeconds));
      r.log_note = LogNote(error, id);
      return r;
    }
    case ErrorCode::kCorruption:
    case ErrorCode::kUnsupported:
    case ErrorCode::kInternal: {
      const std::string id = NewErrorId();
      Response r =
          Make(500, ErrorBody("system_error", kSystemErrorMessage, SystemErrorDetails(id)));
      r.log_note = LogNote(error, id);
      return r;
    }
  }
  // Unreachable for valid enumerators; a corrupted value still gets a safe answer.
  return SystemErrorResponse("unknown ErrorCode " + std::to_string(static_cast<int>(error.code)));
}

}  // namespace keyledger::api
