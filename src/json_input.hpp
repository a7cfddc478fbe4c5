#pragma once
// The request-input toolkit: strict JSON bodies and query strings in, FastAPI/pydantic-v2-shaped
// field errors out. Pure (no I/O); everything here is independent of HTTP.
//
// Parsing (JsonBodyParser). simdjson (on demand) reads every value of the body into an owned
// JsonValue tree: every member of every object is visited, keys are unescaped and copied, strings
// are copied out, numbers keep their literal text, and nesting is limited to kMaxJsonDepth. What
// the tree accepts is exactly what Python's json.loads accepts, minus: NaN/Infinity, unpaired
// UTF-16 surrogates in \u escapes, invalid UTF-8, nesting deeper than kMaxJsonDepth, and
// duplicate keys. A leading UTF-8 BOM is skipped, as json.loads(bytes) does. Failures are
// kValidation errors with one FieldError each, in FastAPI's shapes:
//   - empty body:  {"type":"missing","loc":["body"],"msg":"Field required","input":null}
//   - bad syntax:  {"type":"json_invalid","loc":["body",<pos>],"msg":"JSON decode error",
//                   "input":{},"ctx":{"error":"<reason>"}}
//     <pos> and <reason> are those of Python's json.loads (the C scanner of CPython 3.13, which
//     Aether's image runs): the position counts code points, the reason is e.g. "Expecting ','
//     delimiter". Our extra rules use their own reasons ("Invalid UTF-8 byte sequence",
//     "Unpaired UTF-16 surrogate in \\uXXXX escape", "Nesting depth exceeds the limit of 64");
//     NaN/Infinity get Python's "Expecting value". (FastAPI answers 400 for invalid UTF-8 and
//     nesting beyond Python's recursion limit; we answer 422 json_invalid, one shape for all.)
//   - duplicate keys (pydantic silently keeps the last one; an ambiguous body is rejected here):
//     one {"type":"value_error","loc":["body",...,<key>],"msg":"Value error, JSON
//     对象中存在重复的键", "ctx":{"error":{}}} per duplicated key, without "input".
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
// Coercions (Read*) follow pydantic v2 lax mode on JSON-decoded values, with pydantic's error
// types, messages and ctx; differences are documented on each function. They append errors to an
// ErrorList and return std::nullopt on failure, so a model reader collects every error of a body
// in field order, as pydantic does.
//
// Thread safety: JsonBodyParser is not thread-safe (one per thread, reused: ThreadBodyParser);
// everything else is a pure function or a value type.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/field_error.hpp"
#include "events/status.hpp"

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

// ---------------------------------------------------------------------------------------------
// JSON values

struct JsonMember;

// An owned JSON value. Objects keep their members in document order.
class JsonValue {
 public:
  enum class Kind : uint8_t { kNull, kBool, kInt, kFloat, kString, kArray, kObject };

  JsonValue() = default;  // null
  static JsonValue Bool(bool v);
  static JsonValue String(std::string v);
  static JsonValue Int(int64_t v);
  // A JSON number literal ("12", "-0", "1.5e3", "18446744073709551616"); nullopt when `literal`
  // is not exactly one JSON number. Integers keep arbitrary precision (Python int), other
  // literals become doubles the way Python's float() rounds them (1e400 is +inf).
  static std::optional<JsonValue> Number(std::string_view literal);
  static JsonValue Array(std::vector<JsonValue> items);
  static JsonValue Object(std::vector<JsonMember> members);

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }

  bool bool_value() const { return bool_; }
  // kInt: whether the integer fits in int64 (then int_value() is exact) and its sign.
  bool int_fits() const { return fits_; }
  int64_t int_value() const { return int_; }
  bool int_negative() const { return !text_.empty() && text_[0] == '-'; }
  // kInt and kFloat: the value as a double (±inf when out of range).
  double number_value() const { return double_; }
  // kInt: canonical decimal digits (Python's str(int)); kFloat: the literal as written.
  const std::string& number_text() const { return text_; }
  const std::string& string_value() const { return text_; }
  const std::vector<JsonValue>& items() const { return items_; }
  const std::vector<JsonMember>& members() const { return members_; }

  // The member named `key`, or nullptr. Keys are unique in parsed bodies.
  const JsonValue* Find(std::string_view key) const;

  // Compact JSON, byte-compatible with Python's json.dumps(v, ensure_ascii=False,
  // separators=(",", ":")) of the value json.loads produced. A non-finite float (from a literal
  // such as 1e400) is written as its literal.
  std::string ToJson() const;
  void AppendJson(std::string& out) const;

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  bool fits_ = false;
  int64_t int_ = 0;
  double double_ = 0;
  std::string text_;
  std::vector<JsonValue> items_;
  std::vector<JsonMember> members_;
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

// ---------------------------------------------------------------------------------------------
// Parsing

inline constexpr size_t kMaxJsonDepth = 64;
inline constexpr size_t kDefaultMaxBodyBytes = size_t{1} << 20;

struct JsonSyntaxError {
  size_t position = 0;  // in code points, after a leading BOM (what Python's e.pos reports)
  std::string reason;   // Python's e.msg, or one of our own reasons (see the file comment)
};

// The first error Python's json.loads(text.encode()) would report for `text` (a body without
// its BOM), under the restrictions of the file comment; nullopt when it is acceptable JSON.
// Independent of simdjson; the parser uses it to explain a rejection.
std::optional<JsonSyntaxError> DiagnoseJson(std::string_view text,
                                            size_t max_depth = kMaxJsonDepth);

// Byte offset of the first byte that is not part of valid UTF-8 (no overlongs, no surrogates,
// at most U+10FFFF), or npos.
size_t FindInvalidUtf8(std::string_view s);

// Parses request bodies into JsonValue trees. Owns a simdjson parser and a padded buffer, both
// reused across calls; not thread-safe. Bodies over `max_body_bytes` are kPayloadTooLarge.
class JsonBodyParser {
 public:
  explicit JsonBodyParser(size_t max_body_bytes = kDefaultMaxBodyBytes);
  ~JsonBodyParser();
  JsonBodyParser(const JsonBodyParser&) = delete;
  JsonBodyParser& operator=(const JsonBodyParser&) = delete;

  // The value of the body (JSON null is a valid value), or an error as in the file comment.
  Result<JsonValue> Parse(std::string_view body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// This thread's parser, with the default body limit: the parse functions that take no parser use
// it, so a body does not allocate simdjson's buffers anew (buffers of bodies over 64 KiB are
// released at the next smaller body).
JsonBodyParser& ThreadBodyParser();

// What went wrong in JsonBodyParser::Parse, for callers that answer differently per case
// (Aether's provider routes answer 400 with their own messages).
enum class BodyFailure : uint8_t { kEmpty, kInvalidJson, kDuplicateKeys, kTooLarge, kOther };
BodyFailure ClassifyBodyError(const Error& error);

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

// ---------------------------------------------------------------------------------------------
// Text helpers (UTF-8 input)

// Number of code points (Python's len()).
size_t CharCount(std::string_view s);
// Python's str.strip() with no arguments (Unicode whitespace).
std::string_view PyStrip(std::string_view s);
// Rust's str::trim() (what pydantic-core trims before parsing numbers).
std::string_view RustTrim(std::string_view s);
// C0 controls, DEL and C1 controls. With `allow_line_breaks`, tab, LF and CR are allowed.
bool HasControlChars(std::string_view s, bool allow_line_breaks);
std::string AsciiUpper(std::string_view s);

// ---------------------------------------------------------------------------------------------
// Lax coercions

// Whether an error may quote the rejected value.
enum class Echo : uint8_t { kInput, kOmit };

struct IntRange {
  std::optional<int64_t> ge;
  std::optional<int64_t> le;
};

// A float bound, printed in messages and ctx the way the Python model declares it (ge=0 prints
// 0, ge=0.01 prints 0.01).
struct FloatBound {
  double value = 0;
  bool is_int = false;
};
struct FloatRange {
  std::optional<FloatBound> ge;
  std::optional<FloatBound> le;
};

struct StrLength {
  std::optional<size_t> min;
  std::optional<size_t> max;
};

// int: JSON integers (any size), integral floats (12.0; not 12.5: int_from_float; not inf:
// finite_number; beyond int64: int_parsing_size), true/false (1/0) and strings as pydantic-core's
// str_as_int ("12", " 12 ", "+12", "1_000", "12.0"; int_parsing otherwise); anything else is
// int_type. Then ge/le (greater_than_equal / less_than_equal). An integer beyond int64 fails
// the bound on its side; with no bound on that side it saturates to INT64_MIN/INT64_MAX.
std::optional<int64_t> ReadInt(const JsonValue& v, const Loc& loc, ErrorList& errors,
                               const IntRange& range, Echo echo = Echo::kInput);
// float: numbers, true/false, and strings as pydantic-core's str_as_float (trimmed; "1.5",
// "1e3", "1_0.5"; float_parsing otherwise); anything else is float_type. Unlike pydantic's
// default, non-finite values (1e400, "inf", "nan") are refused with finite_number.
std::optional<double> ReadFloat(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                const FloatRange& range, Echo echo = Echo::kInput);
// bool: true/false; 0/1 (other integers: bool_parsing); 0.0/1.0 (other integral floats:
// bool_parsing, fractional: bool_type); the strings 0 1 f n no off false t y on yes true in any
// ASCII case, untrimmed (others: bool_parsing); anything else is bool_type.
std::optional<bool> ReadBool(const JsonValue& v, const Loc& loc, ErrorList& errors,
                             Echo echo = Echo::kInput);
// str: only JSON strings (string_type otherwise), then string_too_short / string_too_long on
// the raw string, counted in code points.
std::optional<std::string> ReadString(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                      const StrLength& length = {}, Echo echo = Echo::kInput);
// datetime, as microseconds since the epoch (UTC): RFC 3339 / ISO 8601 strings as
// events::ParseTimestamp (naive = UTC), and unix timestamps as pydantic takes them (numbers and
// numeric strings; seconds, or milliseconds beyond 2e10). Errors: datetime_from_date_parsing
// with speedate's reason for unparsable strings, datetime_parsing for out-of-range values,
// datetime_type for other JSON types.
std::optional<int64_t> ReadTimestamp(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                     Echo echo = Echo::kInput);

struct ListLength {
  std::optional<size_t> min;
  std::optional<size_t> max;
};
// list: only JSON arrays (list_type otherwise). The length check (too_short / too_long, "after
// validation") is separate because pydantic applies it after the items validated.
const std::vector<JsonValue>* ReadList(const JsonValue& v, const Loc& loc, ErrorList& errors);
bool CheckListLength(const JsonValue& v, size_t count, const Loc& loc, ErrorList& errors,
                     const ListLength& length);
// dict: only JSON objects (dict_type otherwise).
const std::vector<JsonMember>* ReadDict(const JsonValue& v, const Loc& loc, ErrorList& errors);

// Numbers that a stored JSON document (config, event payloads) may carry: finite, and integers
// within int64. Reports the first offending number below `v` as a value_error at its loc.
bool CheckStorableJson(const JsonValue& v, const Loc& loc, ErrorList& errors);

// ---------------------------------------------------------------------------------------------
// Reading a model (a JSON object with declared fields)

// Wraps one object of the body at `loc`. Unknown members are ignored (pydantic extra='ignore').
class ModelReader {
 public:
  ModelReader(const JsonValue& object, Loc loc, ErrorList& errors)
      : object_(object), loc_(std::move(loc)), errors_(errors) {}

  // The member, or nullptr when absent.
  const JsonValue* Get(std::string_view name) const { return object_.Find(name); }
  // The member, or nullptr after recording a `missing` error.
  const JsonValue* Required(std::string_view name);
  Loc At(std::string_view name) const { return LocKey(loc_, name); }
  const Loc& loc() const { return loc_; }
  const JsonValue& object() const { return object_; }
  ErrorList& errors() { return errors_; }

 private:
  const JsonValue& object_;
  Loc loc_;
  ErrorList& errors_;
};

// The body value must be an object: JSON null is FastAPI's missing body; other values are
// model_attributes_type ("Input should be a valid dictionary or object to extract fields
// from"). Returns false after recording the error.
bool CheckBodyObject(const JsonValue& body, const Loc& loc, ErrorList& errors);

}  // namespace keyledger::registry
