#pragma once
// The coercions of the request-input toolkit (src/json_input.hpp): pydantic v2 lax-mode rules
// that turn a JsonValue into a typed value, and the model reader that walks one object's fields.
//
// Coercions (Read*) follow pydantic v2 lax mode on JSON-decoded values, with pydantic's error
// types, messages and ctx; differences are documented on each function. They append errors to an
// ErrorList and return std::nullopt on failure, so a model reader collects every error of a body
// in field order, as pydantic does.
//
// Thread safety: pure functions; a ModelReader is used by one thread for one body.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/json_errors.hpp"
#include "src/json_value.hpp"

namespace keyledger::registry {

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
