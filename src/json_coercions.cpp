// The coercions: pydantic v2 lax-mode str/int/float/bool/datetime/list/dict rules over JsonValue,
// with pydantic's error types, messages and ctx, and the model reader.
#include "src/json_coercions.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "events/json_writer.hpp"
#include "events/time_format.hpp"
#include "src/json_detail.hpp"

namespace keyledger::registry {

// The shared helpers of the three input files (src/json_detail.hpp).
using namespace detail;

namespace {

// ---------------------------------------------------------------------------------------------
// pydantic-core's lax number parsing of strings

enum class StrIntStatus : uint8_t { kOk, kParsing, kParsingSize };

// jiter's NumberInt::try_from: exactly -?(0|[1-9][0-9]*).
bool JiterInt(std::string_view s, bool& too_long) {
  too_long = false;
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && IsDigit(s[i])) ++i;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  if (s.size() > 4300) {
    too_long = true;
    return false;
  }
  return true;
}

std::optional<std::string> StripUnderscores(std::string_view s) {
  if (s.empty() || s.front() == '_' || s.back() == '_' || s.find('_') == std::string_view::npos ||
      s.find("__") != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out;
  for (char c : s) {
    if (c != '_') out += c;
  }
  return out;
}

std::optional<std::string_view> StripLeadingZeros(std::string_view s) {
  if (s.empty()) return std::nullopt;
  char first = s[0];
  if ((first >= '1' && first <= '9') || first == '-') return s;
  if (first != '0') return std::nullopt;
  for (size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '0' || c == '_') continue;
    if ((c >= '1' && c <= '9') || c == '-') return s.substr(i);
    if (c == '.') return s.substr(i - 1);
    return std::nullopt;
  }
  return s.substr(s.size() - 1);
}

// pydantic-core's clean_int_str, step by step.
std::optional<std::string> CleanIntStr(std::string_view s) {
  const size_t len_before = s.size();
  s = RustTrim(s);
  if (!s.empty() && s[0] == '+') {
    if (s.size() > 1 && s[1] == '-') return std::nullopt;
    s.remove_prefix(1);
  }
  bool negative = false;
  if (!s.empty() && s[0] == '-') {
    if (s.size() > 1 && (s[1] == '-' || s[1] == '+')) return std::nullopt;
    negative = true;
    s.remove_prefix(1);
  }
  auto stripped = StripLeadingZeros(s);
  if (!stripped) return std::nullopt;
  s = *stripped;
  size_t dot = s.find('.');
  if (dot != std::string_view::npos) {
    std::string_view decimals = s.substr(dot + 1);
    if (!decimals.empty() && decimals.find_first_not_of('0') == std::string_view::npos) {
      s = s.substr(0, dot);
    }
  }
  const std::string sign = negative ? "-" : "";
  if (auto no_underscores = StripUnderscores(s)) return sign + *no_underscores;
  if (len_before == s.size()) return std::nullopt;
  return sign + std::string(s);
}

StrIntStatus StrAsInt(std::string_view s, std::string& canonical) {
  bool too_long = false;
  if (JiterInt(s, too_long)) {
    canonical = CanonicalIntText(s);
    return StrIntStatus::kOk;
  }
  if (too_long) return StrIntStatus::kParsingSize;
  auto cleaned = CleanIntStr(s);
  if (!cleaned || !JiterInt(*cleaned, too_long)) return StrIntStatus::kParsing;
  canonical = CanonicalIntText(*cleaned);
  return StrIntStatus::kOk;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Rust's f64::from_str.
std::optional<double> RustParseF64(std::string_view s) {
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualsIgnoreCase(body, "inf") || EqualsIgnoreCase(body, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (EqualsIgnoreCase(body, "nan")) return std::numeric_limits<double>::quiet_NaN();
  size_t i = 0;
  size_t int_digits = 0;
  size_t frac_digits = 0;
  while (i < body.size() && IsDigit(body[i])) ++i, ++int_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && IsDigit(body[i])) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return std::nullopt;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < body.size() && IsDigit(body[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  // from_chars wants digits around the dot in some forms; normalize "5." and ".5".
  std::string normalized;
  size_t dot = body.find('.');
  if (dot != std::string_view::npos) {
    normalized = std::string(body.substr(0, dot));
    if (normalized.empty()) normalized = "0";
    std::string_view rest = body.substr(dot + 1);
    size_t e = rest.find_first_of("eE");
    std::string_view frac = rest.substr(0, e);
    normalized += '.';
    normalized += frac.empty() ? std::string_view("0") : frac;
    if (e != std::string_view::npos) normalized += rest.substr(e);
  } else {
    normalized = std::string(body);
  }
  double d = LiteralToDouble(normalized);
  return negative ? -d : d;
}

std::optional<double> StrAsFloat(std::string_view s) {
  if (auto d = RustParseF64(RustTrim(s))) return d;
  if (auto stripped = StripUnderscores(s)) return RustParseF64(*stripped);
  return std::nullopt;
}

// The value of an integer input, possibly beyond int64.
struct LaxInt {
  bool fits = true;
  int64_t value = 0;
  bool negative = false;
};

LaxInt LaxIntFromText(std::string_view canonical) {
  LaxInt r;
  r.negative = !canonical.empty() && canonical[0] == '-';
  r.fits = DigitsToInt64(canonical, r.value);
  return r;
}

std::string InputFor(const JsonValue& v, Echo echo) {
  return echo == Echo::kOmit ? std::string() : EchoInput(v);
}

void AddTypeError(ErrorList& errors, const Loc& loc, const JsonValue& v, Echo echo,
                  std::string type, std::string msg, std::string ctx = {}) {
  errors.Add(
      MakeFieldError(std::move(type), loc, std::move(msg), InputFor(v, echo), std::move(ctx)));
}

std::string Plural(size_t n) { return n == 1 ? "" : "s"; }

// speedate's Date::parse_bytes error for a string that is not a valid datetime, which is what
// pydantic reports (datetime_from_date_parsing) after its date fallback fails too.
std::string DateFallbackReason(std::string_view s) {
  auto digits = [&](size_t pos, size_t n, int64_t& out) {
    out = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!IsDigit(s[pos + i])) return false;
      out = out * 10 + (s[pos + i] - '0');
    }
    return true;
  };
  if (s.size() < 10) return "input is too short";
  int64_t year = 0;
  int64_t month = 0;
  int64_t day = 0;
  if (!digits(0, 4, year)) return "invalid character in year";
  if (s[4] != '-') return "invalid date separator, expected `-`";
  if (!digits(5, 2, month)) return "invalid character in month";
  if (s[7] != '-') return "invalid date separator, expected `-`";
  if (!digits(8, 2, day)) return "invalid character in day";
  if (month < 1 || month > 12) return "month value is outside expected range of 1-12";
  if (day < 1 || day > events::DaysInMonth(year, static_cast<unsigned>(month))) {
    return "day value is outside expected range";
  }
  if (s.size() > 10) return "unexpected extra characters at the end of the input";
  return "invalid date";
}

bool IsNumericTimestampText(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  if (digits == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  return i == s.size();
}

// A string IsNumericTimestampText accepted ("+0012.", "-5", "1.5") as a JSON number.
JsonValue NumericTextToJson(std::string_view s) {
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  size_t dot = s.find('.');
  std::string_view int_part = s.substr(0, dot);
  size_t nz = int_part.find_first_not_of('0');
  std::string literal = negative ? "-" : "";
  literal += nz == std::string_view::npos ? std::string_view("0") : int_part.substr(nz);
  if (dot != std::string_view::npos) {
    std::string_view frac = s.substr(dot + 1);
    literal += '.';
    literal += frac.empty() ? std::string_view("0") : frac;
  }
  auto number = JsonValue::Number(literal);
  return number ? std::move(*number) : JsonValue::Int(0);
}

constexpr double kMsThreshold = 2e10;  // speedate: larger unix timestamps are milliseconds

// A unix timestamp in seconds, or milliseconds beyond kMsThreshold, as microseconds; integers
// are converted exactly.
std::optional<int64_t> TimestampFromNumber(const JsonValue& number, std::string& range_error) {
  constexpr int64_t kMsThresholdInt = 20'000'000'000;
  constexpr double kInt64Edge = 9.2e18;
  int64_t micros = 0;
  bool in_range = true;
  if (number.is_int() && number.int_fits()) {
    const int64_t v = number.int_value();
    const bool ms = v > kMsThresholdInt || v < -kMsThresholdInt;
    const int64_t scale = ms ? 1000 : events::kMicrosPerSecond;
    in_range = v <= INT64_MAX / scale && v >= INT64_MIN / scale;
    if (in_range) micros = v * scale;
  } else {
    const double v = number.number_value();
    const double seconds = std::fabs(v) > kMsThreshold ? v / 1000 : v;
    const double d = std::round(seconds * 1e6);
    in_range = d > -kInt64Edge && d < kInt64Edge;
    if (in_range) micros = static_cast<int64_t>(d);
  }
  const bool negative = number.is_int() ? number.int_negative() : number.number_value() < 0;
  if (!in_range || micros > events::kMaxTimestampMicros || micros < events::kMinTimestampMicros) {
    range_error = negative ? "dates before 0001 are not supported as unix timestamps"
                           : "dates after 9999 are not supported as unix timestamps";
    return std::nullopt;
  }
  return micros;
}

bool CheckStorable(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  switch (v.kind()) {
    case JsonValue::Kind::kInt:
      if (v.int_fits()) return true;
      break;
    case JsonValue::Kind::kFloat:
      if (std::isfinite(v.number_value())) return true;
      break;
    case JsonValue::Kind::kArray:
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (!CheckStorable(v.items()[i], LocIdx(loc, i), errors)) return false;
      }
      return true;
    case JsonValue::Kind::kObject:
      for (const auto& m : v.members()) {
        if (!CheckStorable(m.value, LocKey(loc, m.key), errors)) return false;
      }
      return true;
    default:
      return true;
  }
  errors.Add(ValueError(loc, "数字超出可存储的范围（需为有限的 64 位数值）", EchoInput(v)));
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Coercions

std::optional<int64_t> ReadInt(const JsonValue& v, const Loc& loc, ErrorList& errors,
                               const IntRange& range, Echo echo) {
  LaxInt value;
  switch (v.kind()) {
    case JsonValue::Kind::kInt:
      value = LaxIntFromText(v.number_text());
      break;
    case JsonValue::Kind::kBool:
      value.value = v.bool_value() ? 1 : 0;
      break;
    case JsonValue::Kind::kFloat: {
      double d = v.number_value();
      if (!std::isfinite(d)) {
        AddTypeError(errors, loc, v, echo, "finite_number", "Input should be a finite number");
        return std::nullopt;
      }
      if (std::fmod(d, 1.0) != 0) {
        AddTypeError(errors, loc, v, echo, "int_from_float",
                     "Input should be a valid integer, got a number with a fractional part");
        return std::nullopt;
      }
      constexpr double kLimit = 9223372036854775808.0;  // 2^63
      if (!(d > -kLimit && d < kLimit)) {
        AddTypeError(errors, loc, v, echo, "int_parsing_size",
                     "Unable to parse input string as an integer, exceeded maximum size");
        return std::nullopt;
      }
      value.value = static_cast<int64_t>(d);
      value.negative = d < 0;
      break;
    }
    case JsonValue::Kind::kString: {
      std::string canonical;
      switch (StrAsInt(v.string_value(), canonical)) {
        case StrIntStatus::kOk:
          value = LaxIntFromText(canonical);
          break;
        case StrIntStatus::kParsingSize:
          AddTypeError(errors, loc, v, echo, "int_parsing_size",
                       "Unable to parse input string as an integer, exceeded maximum size");
          return std::nullopt;
        case StrIntStatus::kParsing:
          AddTypeError(errors, loc, v, echo, "int_parsing",
                       "Input should be a valid integer, unable to parse string as an integer");
          return std::nullopt;
      }
      break;
    }
    default:
      AddTypeError(errors, loc, v, echo, "int_type", "Input should be a valid integer");
      return std::nullopt;
  }
  if (!value.fits) {
    if (value.negative) {
      if (range.ge) {
        AddTypeError(errors, loc, v, echo, "greater_than_equal",
                     "Input should be greater than or equal to " + IntText(*range.ge),
                     R"({"ge":)" + IntText(*range.ge) + "}");
        return std::nullopt;
      }
      return std::numeric_limits<int64_t>::min();
    }
    if (range.le) {
      AddTypeError(errors, loc, v, echo, "less_than_equal",
                   "Input should be less than or equal to " + IntText(*range.le),
                   R"({"le":)" + IntText(*range.le) + "}");
      return std::nullopt;
    }
    return std::numeric_limits<int64_t>::max();
  }
  if (range.ge && value.value < *range.ge) {
    AddTypeError(errors, loc, v, echo, "greater_than_equal",
                 "Input should be greater than or equal to " + IntText(*range.ge),
                 R"({"ge":)" + IntText(*range.ge) + "}");
    return std::nullopt;
  }
  if (range.le && value.value > *range.le) {
    AddTypeError(errors, loc, v, echo, "less_than_equal",
                 "Input should be less than or equal to " + IntText(*range.le),
                 R"({"le":)" + IntText(*range.le) + "}");
    return std::nullopt;
  }
  return value.value;
}

namespace {
std::string BoundText(const FloatBound& b) {
  return b.is_int ? IntText(static_cast<int64_t>(b.value)) : DoubleText(b.value);
}
}  // namespace

std::optional<double> ReadFloat(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                const FloatRange& range, Echo echo) {
  double d = 0;
  switch (v.kind()) {
    case JsonValue::Kind::kInt:
    case JsonValue::Kind::kFloat:
      d = v.number_value();
      break;
    case JsonValue::Kind::kBool:
      d = v.bool_value() ? 1.0 : 0.0;
      break;
    case JsonValue::Kind::kString: {
      auto parsed = StrAsFloat(v.string_value());
      if (!parsed) {
        AddTypeError(errors, loc, v, echo, "float_parsing",
                     "Input should be a valid number, unable to parse string as a number");
        return std::nullopt;
      }
      d = *parsed;
      break;
    }
    default:
      AddTypeError(errors, loc, v, echo, "float_type", "Input should be a valid number");
      return std::nullopt;
  }
  if (!std::isfinite(d)) {
    AddTypeError(errors, loc, v, echo, "finite_number", "Input should be a finite number");
    return std::nullopt;
  }
  if (range.ge && !(d >= range.ge->value)) {
    std::string bound = BoundText(*range.ge);
    AddTypeError(errors, loc, v, echo, "greater_than_equal",
                 "Input should be greater than or equal to " + bound, R"({"ge":)" + bound + "}");
    return std::nullopt;
  }
  if (range.le && !(d <= range.le->value)) {
    std::string bound = BoundText(*range.le);
    AddTypeError(errors, loc, v, echo, "less_than_equal",
                 "Input should be less than or equal to " + bound, R"({"le":)" + bound + "}");
    return std::nullopt;
  }
  return d;
}

std::optional<bool> ReadBool(const JsonValue& v, const Loc& loc, ErrorList& errors, Echo echo) {
  static constexpr std::string_view kParsingMsg =
      "Input should be a valid boolean, unable to interpret input";
  switch (v.kind()) {
    case JsonValue::Kind::kBool:
      return v.bool_value();
    case JsonValue::Kind::kInt:
      if (!v.int_fits()) break;
      if (v.int_value() == 0 || v.int_value() == 1) return v.int_value() == 1;
      AddTypeError(errors, loc, v, echo, "bool_parsing", std::string(kParsingMsg));
      return std::nullopt;
    case JsonValue::Kind::kFloat: {
      double d = v.number_value();
      if (d == 0.0 || d == 1.0) return d == 1.0;
      if (std::isfinite(d) && std::fmod(d, 1.0) == 0 && std::fabs(d) < 9.2e18) {
        AddTypeError(errors, loc, v, echo, "bool_parsing", std::string(kParsingMsg));
        return std::nullopt;
      }
      break;
    }
    case JsonValue::Kind::kString: {
      std::string_view s = v.string_value();
      for (std::string_view word : {"0", "f", "n", "no", "off", "false"}) {
        if (EqualsIgnoreCase(s, word)) return false;
      }
      for (std::string_view word : {"1", "t", "y", "on", "yes", "true"}) {
        if (EqualsIgnoreCase(s, word)) return true;
      }
      AddTypeError(errors, loc, v, echo, "bool_parsing", std::string(kParsingMsg));
      return std::nullopt;
    }
    default:
      break;
  }
  AddTypeError(errors, loc, v, echo, "bool_type", "Input should be a valid boolean");
  return std::nullopt;
}

std::optional<std::string> ReadString(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                      const StrLength& length, Echo echo) {
  if (!v.is_string()) {
    AddTypeError(errors, loc, v, echo, "string_type", "Input should be a valid string");
    return std::nullopt;
  }
  size_t chars = CharCount(v.string_value());
  if (length.min && chars < *length.min) {
    AddTypeError(
        errors, loc, v, echo, "string_too_short",
        "String should have at least " + SizeText(*length.min) + " character" + Plural(*length.min),
        R"({"min_length":)" + SizeText(*length.min) + "}");
    return std::nullopt;
  }
  if (length.max && chars > *length.max) {
    AddTypeError(
        errors, loc, v, echo, "string_too_long",
        "String should have at most " + SizeText(*length.max) + " character" + Plural(*length.max),
        R"({"max_length":)" + SizeText(*length.max) + "}");
    return std::nullopt;
  }
  return v.string_value();
}

std::optional<int64_t> ReadTimestamp(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                     Echo echo) {
  std::string range_error;
  std::optional<int64_t> micros;
  switch (v.kind()) {
    case JsonValue::Kind::kString: {
      const std::string& s = v.string_value();
      auto parsed = events::ParseTimestamp(s);
      if (parsed.ok()) return *parsed;
      if (IsNumericTimestampText(s)) {
        micros = TimestampFromNumber(NumericTextToJson(s), range_error);
        break;
      }
      const std::string& reason = parsed.error().message;
      if (reason == "year 0 is out of range" || reason.rfind("datetime is outside", 0) == 0) {
        AddTypeError(errors, loc, v, echo, "datetime_parsing",
                     "Input should be a valid datetime, " + reason,
                     R"({"error":)" + QuoteJson(reason) + "}");
        return std::nullopt;
      }
      std::string fallback = DateFallbackReason(s);
      AddTypeError(errors, loc, v, echo, "datetime_from_date_parsing",
                   "Input should be a valid datetime or date, " + fallback,
                   R"({"error":)" + QuoteJson(fallback) + "}");
      return std::nullopt;
    }
    case JsonValue::Kind::kInt:
    case JsonValue::Kind::kFloat:
      micros = TimestampFromNumber(v, range_error);
      break;
    default:
      AddTypeError(errors, loc, v, echo, "datetime_type", "Input should be a valid datetime");
      return std::nullopt;
  }
  if (!micros) {
    AddTypeError(errors, loc, v, echo, "datetime_parsing",
                 "Input should be a valid datetime, " + range_error,
                 R"({"error":)" + QuoteJson(range_error) + "}");
  }
  return micros;
}

const std::vector<JsonValue>* ReadList(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  if (!v.is_array()) {
    errors.Add(MakeFieldError("list_type", loc, "Input should be a valid list", EchoInput(v)));
    return nullptr;
  }
  return &v.items();
}

bool CheckListLength(const JsonValue& v, size_t count, const Loc& loc, ErrorList& errors,
                     const ListLength& length) {
  if (length.min && count < *length.min) {
    errors.Add(MakeFieldError("too_short", loc,
                              "List should have at least " + SizeText(*length.min) + " item" +
                                  Plural(*length.min) + " after validation, not " + SizeText(count),
                              EchoInput(v),
                              R"({"field_type":"List","min_length":)" + SizeText(*length.min) +
                                  R"(,"actual_length":)" + SizeText(count) + "}"));
    return false;
  }
  if (length.max && count > *length.max) {
    errors.Add(MakeFieldError("too_long", loc,
                              "List should have at most " + SizeText(*length.max) + " item" +
                                  Plural(*length.max) + " after validation, not " + SizeText(count),
                              EchoInput(v),
                              R"({"field_type":"List","max_length":)" + SizeText(*length.max) +
                                  R"(,"actual_length":)" + SizeText(count) + "}"));
    return false;
  }
  return true;
}

const std::vector<JsonMember>* ReadDict(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  if (!v.is_object()) {
    errors.Add(
        MakeFieldError("dict_type", loc, "Input should be a valid dictionary", EchoInput(v)));
    return nullptr;
  }
  return &v.members();
}

bool CheckStorableJson(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  return CheckStorable(v, loc, errors);
}

// ---------------------------------------------------------------------------------------------
// Models

const JsonValue* ModelReader::Required(std::string_view name) {
  const JsonValue* v = Get(name);
  if (v == nullptr) errors_.Add(MissingError(At(name), object_));
  return v;
}

bool CheckBodyObject(const JsonValue& body, const Loc& loc, ErrorList& errors) {
  if (body.is_object()) return true;
  if (body.is_null()) {
    errors.Add(MakeFieldError("missing", loc, "Field required", "null"));
    return false;
  }
  errors.Add(MakeFieldError("model_attributes_type", loc,
                            "Input should be a valid dictionary or object to extract fields from",
                            EchoInput(body)));
  return false;
}

}  // namespace keyledger::registry
