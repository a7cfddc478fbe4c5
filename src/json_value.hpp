#pragma once
// The JSON value of a request body and its strict parser (part of the request-input toolkit,
// src/json_input.hpp).
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
// The syntax errors' positions and reasons come from DiagnoseJson (src/json_errors.hpp).
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

#include "events/status.hpp"

namespace keyledger::registry {

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

}  // namespace keyledger::registry
