#pragma once
// The error diagnoser of the request-input toolkit (src/json_input.hpp): FastAPI/pydantic-v2
// shaped field errors, Aether's manual-validation message, the echo of rejected input, and the
// explanation of a JSON syntax error as Python's json.loads gives it.
//
// Errors (FieldError, events/status.hpp). `loc` is a vector of strings; an integer element (a
// list index or a JSON error position) is stored as LocIndex(i): the byte 0xFF followed by its
// decimal digits. 0xFF never occurs in UTF-8, so it cannot collide with an object key. Always
// serialize with AppendFieldErrorJson / ValidationErrorBody, which print those as JSON numbers.
//
// Secrets never reach an error: errors about a secret field (api_key, proxy.password) carry no
// "input" at all; every echoed container (the object of a `missing` error, a dict a validator
// refused) has its credential-like members replaced by "[redacted]", at any depth: any key
// containing api_key, apikey, api-key, password, passwd, secret, authorization, cookie, token or
// credential, ignoring case (so header values such as Authorization and config secrets are
// covered too); and echoed strings that look like URLs have their user-info replaced by
// "[redacted]" (ScrubUrlCredentials). Duplicate-key errors carry no input. pydantic echoes all
// of these verbatim (aether-spec.md §14.1).
//
// Thread safety: pure functions and value types.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/field_error.hpp"
#include "events/status.hpp"
#include "src/json_value.hpp"

namespace keyledger::registry {

// ---------------------------------------------------------------------------------------------
// Locations

using Loc = std::vector<std::string>;

// LocIndex / IsLocIndex / AppendFieldErrorJson / ValidationErrorBody: events/field_error.hpp.
using keyledger::AppendFieldErrorJson;
using keyledger::IsLocIndex;
using keyledger::LocIndex;
using keyledger::ValidationErrorBody;
Loc LocKey(const Loc& loc, std::string_view key);
Loc LocIdx(const Loc& loc, size_t index);

struct JsonSyntaxError {
  size_t position = 0;  // in code points, after a leading BOM (what Python's e.pos reports)
  std::string reason;   // Python's e.msg, or one of our own reasons (see src/json_value.hpp)
};

// The first error Python's json.loads(text.encode()) would report for `text` (a body without
// its BOM), under the restrictions of src/json_value.hpp; nullopt when it is acceptable JSON.
// Independent of simdjson; the parser uses it to explain a rejection.
std::optional<JsonSyntaxError> DiagnoseJson(std::string_view text,
                                            size_t max_depth = kMaxJsonDepth);

// ---------------------------------------------------------------------------------------------
// Errors

// Collects field errors in the order they are found.
class ErrorList {
 public:
  void Add(FieldError e) { errors_.push_back(std::move(e)); }
  void Append(std::vector<FieldError> more);
  bool empty() const { return errors_.empty(); }
  size_t size() const { return errors_.size(); }
  const std::vector<FieldError>& errors() const { return errors_; }
  std::vector<FieldError> Take() { return std::move(errors_); }
  // kValidation with these errors as details.
  Error ToError() const;

 private:
  std::vector<FieldError> errors_;
};

// Aether's manual-validation message (provider POST/PUT, answered with 400 invalid_request):
// "输入验证失败: <loc joined by ' -> '>: <msg>; ...". A leading "body" element is dropped (those
// routes call model_validate directly); integer elements print as digits.
std::string InvalidRequestMessage(const std::vector<FieldError>& errors);

// Builders for the common entries. `input_json` is pre-serialized; empty omits "input".
FieldError MakeFieldError(std::string type, Loc loc, std::string msg, std::string input_json,
                          std::string ctx_json = {});
// {"type":"value_error","msg":"Value error, <message>","ctx":{"error":{}}}
FieldError ValueError(Loc loc, std::string_view message, std::string input_json);
// {"type":"missing","msg":"Field required","input":<echo of the containing object>}
FieldError MissingError(Loc loc, const JsonValue& container);

// ---------------------------------------------------------------------------------------------
// Echoing rejected input

inline constexpr std::string_view kRedacted = "[redacted]";

// The "input" of an error about `v`: v.ToJson() with credential-like members redacted and URL
// credentials scrubbed, as described in the file comment.
std::string EchoInput(const JsonValue& v);
// "scheme://user:pass@host/..." -> "scheme://[redacted]@host/..."; other text unchanged.
std::string ScrubUrlCredentials(std::string_view text);
}  // namespace keyledger::registry
