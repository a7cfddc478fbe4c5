#include "src/json_input.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <system_error>
#include <utility>

#include "events/json_writer.hpp"
#include "events/secret_names.hpp"
#include "events/time_format.hpp"

namespace keyledger::registry {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string IntText(int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string SizeText(size_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string DoubleText(double v) {
  std::string s;
  json::AppendDouble(s, v);
  return s;
}

std::string QuoteJson(std::string_view s) {
  std::string out;
  json::AppendString(out, s);
  return out;
}

// Decodes the code point starting at s[i] (s is valid UTF-8) and advances i.
uint32_t DecodeAt(std::string_view s, size_t& i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int extra = b0 >= 0xF0 ? 3 : b0 >= 0xE0 ? 2 : 1;
  uint32_t cp = b0 & (0x3F >> extra);
  ++i;
  for (int k = 0; k < extra && i < s.size(); ++k, ++i) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
  }
  return cp;
}

// Start of the code point that ends at s[end - 1].
size_t PrevCodePointStart(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

bool IsUnicodeSpaceCommon(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}
// Python's str.isspace() also counts the information separators U+001C..U+001F.
bool IsPySpace(uint32_t cp) { return IsUnicodeSpaceCommon(cp) || (cp >= 0x1C && cp <= 0x1F); }

template <typename Pred>
std::string_view TrimWith(std::string_view s, Pred is_space) {
  size_t begin = 0;
  while (begin < s.size()) {
    size_t next = begin;
    if (!is_space(DecodeAt(s, next))) break;
    begin = next;
  }
  size_t end = s.size();
  while (end > begin) {
    size_t start = PrevCodePointStart(s, end);
    size_t probe = start;
    if (!is_space(DecodeAt(s, probe))) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

// Position in code points of byte offset `byte_pos`.
size_t CodePointIndex(std::string_view s, size_t byte_pos) {
  size_t n = 0;
  for (size_t i = 0; i < byte_pos && i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// A double from a JSON/decimal literal the way Python's float() rounds it: overflow is ±inf,
// underflow ±0.0. `literal` must match the JSON number grammar (or Rust's decimal grammar).
double LiteralToDouble(std::string_view literal) {
  double d = 0;
  std::string_view body = literal;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  auto r = std::from_chars(body.data(), body.data() + body.size(), d);
  if (r.ec == std::errc()) return negative ? -d : d;
  // Out of range: decide between overflow and underflow from the decimal exponent of the
  // leading significant digit.
  int64_t exp10 = 0;
  size_t e_pos = body.find_first_of("eE");
  if (e_pos != std::string_view::npos) {
    std::string_view e = body.substr(e_pos + 1);
    bool e_neg = false;
    if (!e.empty() && (e[0] == '-' || e[0] == '+')) {
      e_neg = e[0] == '-';
      e.remove_prefix(1);
    }
    for (char c : e) exp10 = std::min<int64_t>(exp10 * 10 + (c - '0'), 1'000'000'000);
    if (e_neg) exp10 = -exp10;
  }
  std::string_view mantissa = body.substr(0, e_pos);
  size_t dot = mantissa.find('.');
  int64_t int_len = static_cast<int64_t>(dot == std::string_view::npos ? mantissa.size() : dot);
  int64_t first_nonzero = -1;
  int64_t idx = 0;
  for (char c : mantissa) {
    if (c == '.') continue;
    if (c != '0') {
      first_nonzero = idx;
      break;
    }
    ++idx;
  }
  double result = 0;
  if (first_nonzero >= 0 && int_len - 1 - first_nonzero + exp10 > 0) {
    result = std::numeric_limits<double>::infinity();
  }
  return negative ? -result : result;
}

// JSON number grammar over the whole of `t`: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool MatchJsonNumber(std::string_view t, bool& is_int) {
  size_t i = 0;
  const size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n) return false;
  if (t[i] == '0') {
    ++i;
  } else if (t[i] >= '1' && t[i] <= '9') {
    while (i < n && IsDigit(t[i])) ++i;
  } else {
    return false;
  }
  is_int = true;
  if (i < n && t[i] == '.') {
    ++i;
    if (i >= n || !IsDigit(t[i])) return false;
    while (i < n && IsDigit(t[i])) ++i;
    is_int = false;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= n || !IsDigit(t[i])) return false;
    while (i < n && IsDigit(t[i])) ++i;
    is_int = false;
  }
  return i == n;
}

// Decimal integer text (optional '-', digits) to int64; false on overflow.
bool DigitsToInt64(std::string_view text, int64_t& out) {
  bool negative = !text.empty() && text[0] == '-';
  std::string_view digits = negative ? text.substr(1) : text;
  uint64_t magnitude = 0;
  for (char c : digits) {
    auto d = static_cast<uint64_t>(c - '0');
    if (magnitude > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    magnitude = magnitude * 10 + d;
  }
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (magnitude > kMaxPositive + 1) return false;
    out = magnitude == kMaxPositive + 1 ? std::numeric_limits<int64_t>::min()
                                        : -static_cast<int64_t>(magnitude);
  } else {
    if (magnitude > kMaxPositive) return false;
    out = static_cast<int64_t>(magnitude);
  }
  return true;
}

// Canonical Python int text of an integer literal: no leading zeros, no "-0".
std::string CanonicalIntText(std::string_view text) {
  bool negative = !text.empty() && text[0] == '-';
  std::string_view digits = negative ? text.substr(1) : text;
  size_t nz = digits.find_first_not_of('0');
  if (nz == std::string_view::npos) return "0";
  std::string out;
  if (negative) out += '-';
  out.append(digits.substr(nz));
  return out;
}

// Members whose values are (or may well be) credentials (events/secret_names.hpp): their
// values are never echoed.
using events::IsSecretMemberName;

void AppendEcho(std::string& out, const JsonValue& v) {
  switch (v.kind()) {
    case JsonValue::Kind::kString:
      json::AppendString(out, ScrubUrlCredentials(v.string_value()));
      return;
    case JsonValue::Kind::kArray: {
      out += '[';
      bool first = true;
      for (const auto& item : v.items()) {
        if (!first) out += ',';
        first = false;
        AppendEcho(out, item);
      }
      out += ']';
      return;
    }
    case JsonValue::Kind::kObject: {
      out += '{';
      bool first = true;
      for (const auto& m : v.members()) {
        if (!first) out += ',';
        first = false;
        json::AppendString(out, m.key);
        out += ':';
        if (IsSecretMemberName(m.key)) {
          json::AppendString(out, kRedacted);
        } else {
          AppendEcho(out, m.value);
        }
      }
      out += '}';
      return;
    }
    default:
      v.AppendJson(out);
  }
}

// ---------------------------------------------------------------------------------------------
// Python json.loads error locator (CPython 3.13's C scanner, over UTF-8 bytes).

constexpr std::string_view kExpectingValue = "Expecting value";

class PyJsonDiagnoser {
 public:
  PyJsonDiagnoser(std::string_view s, size_t max_depth) : s_(s), max_depth_(max_depth) {}

  std::optional<JsonSyntaxError> Run() {
    size_t invalid = FindInvalidUtf8(s_);
    if (invalid != std::string_view::npos) {
      return JsonSyntaxError{CodePointIndex(s_, invalid), "Invalid UTF-8 byte sequence"};
    }
    size_t idx = SkipSpace(0);
    size_t next = 0;
    if (ScanOnce(idx, next, 0)) {
      size_t end = SkipSpace(next);
      if (end == s_.size()) return std::nullopt;
      Fail(end, "Extra data");
    }
    return JsonSyntaxError{CodePointIndex(s_, fail_pos_), std::string(fail_msg_)};
  }

 private:
  bool Fail(size_t pos, std::string_view msg) {
    fail_pos_ = pos;
    fail_msg_ = msg;
    return false;
  }
  // Python raises StopIteration(idx), which json.loads reports as "Expecting value" at idx.
  bool StopIteration(size_t idx) { return Fail(idx, kExpectingValue); }

  size_t SkipSpace(size_t idx) const {
    while (idx < s_.size() && IsJsonSpace(s_[idx])) ++idx;
    return idx;
  }
  bool At(size_t idx, char c) const { return idx < s_.size() && s_[idx] == c; }
  bool Matches(size_t idx, std::string_view word) const {
    return s_.size() - idx > word.size() - 1 && s_.substr(idx, word.size()) == word;
  }

  bool ScanOnce(size_t idx, size_t& next, size_t depth) {
    if (idx >= s_.size()) return StopIteration(idx);
    switch (s_[idx]) {
      case '"':
        return ScanString(idx + 1, next);
      case '{':
        if (depth + 1 > max_depth_) return Fail(idx, depth_msg_);
        return ParseObject(idx + 1, next, depth + 1);
      case '[':
        if (depth + 1 > max_depth_) return Fail(idx, depth_msg_);
        return ParseArray(idx + 1, next, depth + 1);
      case 'n':
        if (Matches(idx, "null")) {
          next = idx + 4;
          return true;
        }
        break;
      case 't':
        if (Matches(idx, "true")) {
          next = idx + 4;
          return true;
        }
        break;
      case 'f':
        if (Matches(idx, "false")) {
          next = idx + 5;
          return true;
        }
        break;
      default:
        // NaN, Infinity and -Infinity are refused: they fall through to the number match,
        // which fails with Python's "Expecting value" at their first character.
        break;
    }
    return MatchNumber(idx, next);
  }

  bool MatchNumber(size_t start, size_t& next) {
    const size_t len = s_.size();
    const size_t end_idx = len - 1;  // len > start here
    size_t idx = start;
    if (s_[idx] == '-') {
      ++idx;
      if (idx > end_idx) return StopIteration(start);
    }
    if (s_[idx] >= '1' && s_[idx] <= '9') {
      ++idx;
      while (idx <= end_idx && IsDigit(s_[idx])) ++idx;
    } else if (s_[idx] == '0') {
      ++idx;
    } else {
      return StopIteration(start);
    }
    if (idx < end_idx && s_[idx] == '.' && IsDigit(s_[idx + 1])) {
      idx += 2;
      while (idx <= end_idx && IsDigit(s_[idx])) ++idx;
    }
    if (idx < end_idx && (s_[idx] == 'e' || s_[idx] == 'E')) {
      size_t e_start = idx;
      ++idx;
      if (idx < end_idx && (s_[idx] == '-' || s_[idx] == '+')) ++idx;
      while (idx <= end_idx && IsDigit(s_[idx])) ++idx;
      if (!IsDigit(s_[idx - 1])) idx = e_start;
    }
    next = idx;
    return true;
  }

  static int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // `end` is the index after the opening quote.
  bool ScanString(size_t end, size_t& next_end) {
    const size_t len = s_.size();
    const size_t begin = end - 1;
    while (true) {
      size_t next = end;
      char c = 0;
      for (; next < len; ++next) {
        c = s_[next];
        if (c == '"' || c == '\\') break;
        if (static_cast<unsigned char>(c) <= 0x1f)
          return Fail(next, "Invalid control character at");
      }
      if (next >= len || (c != '"' && c != '\\')) {
        return Fail(begin, "Unterminated string starting at");
      }
      ++next;
      if (c == '"') {
        next_end = next;
        return true;
      }
      if (next == len) return Fail(begin, "Unterminated string starting at");
      const size_t escape_start = next - 1;
      c = s_[next];
      if (c != 'u') {
        end = next + 1;
        switch (c) {
          case '"':
          case '\\':
          case '/':
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
            break;
          default:
            return Fail(end - 2, "Invalid \\escape");
        }
        continue;
      }
      ++next;
      end = next + 4;
      if (end >= len) return Fail(next - 1, "Invalid \\uXXXX escape");
      uint32_t cp = 0;
      for (; next < end; ++next) {
        int h = HexValue(s_[next]);
        if (h < 0) return Fail(end - 5, "Invalid \\uXXXX escape");
        cp = (cp << 4) | static_cast<uint32_t>(h);
      }
      bool paired = false;
      if (cp >= 0xD800 && cp <= 0xDBFF && end + 6 < len && s_[next] == '\\' &&
          s_[next + 1] == 'u') {
        next += 2;
        end += 6;
        uint32_t cp2 = 0;
        for (; next < end; ++next) {
          int h = HexValue(s_[next]);
          if (h < 0) return Fail(end - 5, "Invalid \\uXXXX escape");
          cp2 = (cp2 << 4) | static_cast<uint32_t>(h);
        }
        if (cp2 >= 0xDC00 && cp2 <= 0xDFFF) {
          paired = true;
        } else {
          end -= 6;
        }
      }
      // Python keeps an unpaired surrogate in the str; it cannot be stored as UTF-8.
      if (!paired && cp >= 0xD800 && cp <= 0xDFFF) {
        return Fail(escape_start, "Unpaired UTF-16 surrogate in \\uXXXX escape");
      }
    }
  }

  bool ParseObject(size_t idx, size_t& next_idx, size_t depth) {
    const size_t len = s_.size();
    idx = SkipSpace(idx);
    if (idx >= len || s_[idx] != '}') {
      while (true) {
        if (idx >= len || s_[idx] != '"') {
          return Fail(idx, "Expecting property name enclosed in double quotes");
        }
        size_t after_key = 0;
        if (!ScanString(idx + 1, after_key)) return false;
        idx = SkipSpace(after_key);
        if (idx >= len || s_[idx] != ':') return Fail(idx, "Expecting ':' delimiter");
        idx = SkipSpace(idx + 1);
        size_t after_value = 0;
        if (!ScanOnce(idx, after_value, depth)) return false;
        idx = SkipSpace(after_value);
        if (At(idx, '}')) break;
        if (idx >= len || s_[idx] != ',') return Fail(idx, "Expecting ',' delimiter");
        size_t comma_idx = idx;
        idx = SkipSpace(idx + 1);
        if (At(idx, '}')) return Fail(comma_idx, "Illegal trailing comma before end of object");
      }
    }
    next_idx = idx + 1;
    return true;
  }

  bool ParseArray(size_t idx, size_t& next_idx, size_t depth) {
    const size_t len = s_.size();
    idx = SkipSpace(idx);
    if (idx >= len || s_[idx] != ']') {
      while (true) {
        size_t after_value = 0;
        if (!ScanOnce(idx, after_value, depth)) return false;
        idx = SkipSpace(after_value);
        if (At(idx, ']')) break;
        if (idx >= len || s_[idx] != ',') return Fail(idx, "Expecting ',' delimiter");
        size_t comma_idx = idx;
        idx = SkipSpace(idx + 1);
        if (At(idx, ']')) return Fail(comma_idx, "Illegal trailing comma before end of array");
      }
    }
    next_idx = idx + 1;
    return true;
  }

  std::string_view s_;
  size_t max_depth_;
  std::string depth_msg_ = "Nesting depth exceeds the limit of " + SizeText(max_depth_);
  size_t fail_pos_ = 0;
  std::string_view fail_msg_;
};

// ---------------------------------------------------------------------------------------------
// simdjson tree builder

namespace ondemand = simdjson::ondemand;

class TreeBuilder {
 public:
  explicit TreeBuilder(size_t max_depth) : max_depth_(max_depth) {}

  // False when the document is not acceptable JSON (the caller diagnoses why).
  bool BuildRoot(ondemand::document& doc, std::string_view text, JsonValue& out) {
    ondemand::json_type type;
    if (doc.type().get(type) != simdjson::SUCCESS) return false;
    if (type == ondemand::json_type::object || type == ondemand::json_type::array) {
      bool ok = false;
      if (type == ondemand::json_type::object) {
        ondemand::object object;
        ok = doc.get_object().get(object) == simdjson::SUCCESS && BuildObject(object, 1, out);
      } else {
        ondemand::array array;
        ok = doc.get_array().get(array) == simdjson::SUCCESS && BuildArray(array, 1, out);
      }
      if (!ok) return false;
      const char* location = nullptr;
      auto err = doc.current_location().get(location);
      return err == simdjson::OUT_OF_BOUNDS;  // anything after the root value is an error
    }
    std::string_view raw;
    if (doc.raw_json_token().get(raw) != simdjson::SUCCESS) return false;
    size_t start = static_cast<size_t>(raw.data() - text.data());
    size_t token_len = 0;
    switch (type) {
      case ondemand::json_type::string: {
        std::string_view sv;
        if (doc.get_string().get(sv) != simdjson::SUCCESS) return false;
        out = JsonValue::String(std::string(sv));
        token_len = 1;
        while (start + token_len < text.size() && text[start + token_len] != '"') {
          token_len += text[start + token_len] == '\\' ? size_t{2} : size_t{1};
        }
        ++token_len;
        break;
      }
      case ondemand::json_type::number: {
        std::string_view token = raw;
        while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
        auto number = JsonValue::Number(token);
        if (!number) return false;
        out = std::move(*number);
        token_len = token.size();
        break;
      }
      // simdjson's root-level atom getters refuse trailing whitespace, which JSON allows: the
      // atoms are matched here instead (the token ends at the next structural character).
      case ondemand::json_type::boolean:
      case ondemand::json_type::null: {
        std::string_view token = raw;
        while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
        if (token == "true" || token == "false") {
          out = JsonValue::Bool(token == "true");
        } else if (token == "null") {
          out = JsonValue();
        } else {
          return false;
        }
        token_len = token.size();
        break;
      }
      default:
        return false;
    }
    for (size_t i = start + token_len; i < text.size(); ++i) {
      if (!IsJsonSpace(text[i])) return false;
    }
    return start + token_len <= text.size();
  }

  std::vector<FieldError> TakeDuplicates() { return std::move(duplicates_); }

 private:
  bool Build(ondemand::value value, size_t parent_depth, JsonValue& out) {
    ondemand::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) return false;
    switch (type) {
      case ondemand::json_type::object: {
        ondemand::object object;
        return value.get_object().get(object) == simdjson::SUCCESS &&
               BuildObject(object, parent_depth + 1, out);
      }
      case ondemand::json_type::array: {
        ondemand::array array;
        return value.get_array().get(array) == simdjson::SUCCESS &&
               BuildArray(array, parent_depth + 1, out);
      }
      case ondemand::json_type::string: {
        std::string_view sv;
        if (value.get_string().get(sv) != simdjson::SUCCESS) return false;
        out = JsonValue::String(std::string(sv));
        return true;
      }
      case ondemand::json_type::number: {
        std::string_view token = value.raw_json_token();
        while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
        auto number = JsonValue::Number(token);
        if (!number) return false;
        out = std::move(*number);
        return true;
      }
      case ondemand::json_type::boolean: {
        bool b = false;
        if (value.get_bool().get(b) != simdjson::SUCCESS) return false;
        out = JsonValue::Bool(b);
        return true;
      }
      case ondemand::json_type::null: {
        bool is_null = false;
        if (value.is_null().get(is_null) != simdjson::SUCCESS || !is_null) return false;
        out = JsonValue();
        return true;
      }
    }
    return false;
  }

  bool BuildObject(ondemand::object& object, size_t depth, JsonValue& out) {
    if (depth > max_depth_) return false;
    std::vector<JsonMember> members;
    for (auto field_result : object) {
      ondemand::field field;
      if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
      JsonMember member{std::string(key), JsonValue()};
      path_.push_back(member.key);
      bool ok = Build(field.value(), depth, member.value);
      path_.pop_back();
      if (!ok) return false;
      members.push_back(std::move(member));
    }
    NoteDuplicates(members);
    out = JsonValue::Object(std::move(members));
    return true;
  }

  bool BuildArray(ondemand::array& array, size_t depth, JsonValue& out) {
    if (depth > max_depth_) return false;
    std::vector<JsonValue> items;
    for (auto item_result : array) {
      ondemand::value item;
      if (std::move(item_result).get(item) != simdjson::SUCCESS) return false;
      path_.push_back(LocIndex(items.size()));
      JsonValue value;
      bool ok = Build(item, depth, value);
      path_.pop_back();
      if (!ok) return false;
      items.push_back(std::move(value));
    }
    out = JsonValue::Array(std::move(items));
    return true;
  }

  void NoteDuplicates(const std::vector<JsonMember>& members) {
    if (members.size() < 2) return;
    std::vector<size_t> order(members.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return members[a].key < members[b].key; });
    std::vector<size_t> second_occurrences;
    for (size_t i = 1; i < order.size(); ++i) {
      if (members[order[i]].key != members[order[i - 1]].key) continue;
      if (i >= 2 && members[order[i - 2]].key == members[order[i]].key) continue;  // once per key
      second_occurrences.push_back(order[i]);
    }
    std::sort(second_occurrences.begin(), second_occurrences.end());
    for (size_t index : second_occurrences) {
      Loc loc{"body"};
      loc.insert(loc.end(), path_.begin(), path_.end());
      loc.push_back(members[index].key);
      duplicates_.push_back(MakeFieldError("value_error", std::move(loc),
                                           "Value error, JSON 对象中存在重复的键", "",
                                           R"({"error":{}})"));
    }
  }

  size_t max_depth_;
  std::vector<std::string> path_;
  std::vector<FieldError> duplicates_;
};

FieldError JsonInvalid(const JsonSyntaxError& e) {
  std::string ctx = R"({"error":)" + QuoteJson(e.reason) + "}";
  return MakeFieldError("json_invalid", {"body", LocIndex(e.position)}, "JSON decode error", "{}",
                        std::move(ctx));
}

Error ValidationFailure(std::vector<FieldError> details) {
  Error e = MakeError(ErrorCode::kValidation, "request validation failed");
  e.details = std::move(details);
  return e;
}

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
// Locations

Loc LocKey(const Loc& loc, std::string_view key) {
  Loc out = loc;
  out.emplace_back(key);
  return out;
}

Loc LocIdx(const Loc& loc, size_t index) {
  Loc out = loc;
  out.push_back(LocIndex(index));
  return out;
}

// ---------------------------------------------------------------------------------------------
// JsonValue

JsonValue JsonValue::Bool(bool v) {
  JsonValue j;
  j.kind_ = Kind::kBool;
  j.bool_ = v;
  return j;
}

JsonValue JsonValue::String(std::string v) {
  JsonValue j;
  j.kind_ = Kind::kString;
  j.text_ = std::move(v);
  return j;
}

JsonValue JsonValue::Int(int64_t v) {
  JsonValue j;
  j.kind_ = Kind::kInt;
  j.fits_ = true;
  j.int_ = v;
  j.double_ = static_cast<double>(v);
  j.text_ = IntText(v);
  return j;
}

std::optional<JsonValue> JsonValue::Number(std::string_view literal) {
  bool is_int = false;
  if (!MatchJsonNumber(literal, is_int)) return std::nullopt;
  JsonValue j;
  if (is_int) {
    j.kind_ = Kind::kInt;
    j.text_ = CanonicalIntText(literal);
    j.fits_ = DigitsToInt64(j.text_, j.int_);
    j.double_ = j.fits_ ? static_cast<double>(j.int_) : LiteralToDouble(j.text_);
  } else {
    j.kind_ = Kind::kFloat;
    j.text_ = std::string(literal);
    j.double_ = LiteralToDouble(literal);
  }
  return j;
}

JsonValue JsonValue::Array(std::vector<JsonValue> items) {
  JsonValue j;
  j.kind_ = Kind::kArray;
  j.items_ = std::move(items);
  return j;
}

JsonValue JsonValue::Object(std::vector<JsonMember> members) {
  JsonValue j;
  j.kind_ = Kind::kObject;
  j.members_ = std::move(members);
  return j;
}

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const auto& m : members_) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

std::string JsonValue::ToJson() const {
  std::string out;
  AppendJson(out);
  return out;
}

void JsonValue::AppendJson(std::string& out) const {
  switch (kind_) {
    case Kind::kNull:
      out += "null";
      return;
    case Kind::kBool:
      out += bool_ ? "true" : "false";
      return;
    case Kind::kInt:
      out += text_;
      return;
    case Kind::kFloat:
      if (std::isfinite(double_)) {
        json::AppendDouble(out, double_);
      } else {
        out += text_;
      }
      return;
    case Kind::kString:
      json::AppendString(out, text_);
      return;
    case Kind::kArray: {
      out += '[';
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i != 0) out += ',';
        items_[i].AppendJson(out);
      }
      out += ']';
      return;
    }
    case Kind::kObject: {
      out += '{';
      for (size_t i = 0; i < members_.size(); ++i) {
        if (i != 0) out += ',';
        json::AppendString(out, members_[i].key);
        out += ':';
        members_[i].value.AppendJson(out);
      }
      out += '}';
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

size_t FindInvalidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t min_cp = 0;
    uint32_t cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
      min_cp = 0x80;
      cp = b0 & 0x1Fu;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      min_cp = 0x800;
      cp = b0 & 0x0Fu;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      min_cp = 0x10000;
      cp = b0 & 0x07u;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::optional<JsonSyntaxError> DiagnoseJson(std::string_view text, size_t max_depth) {
  return PyJsonDiagnoser(text, max_depth).Run();
}

// Bodies up to this size leave their simdjson buffers allocated for the next one.
constexpr size_t kRetainedCapacity = 64 * 1024;

struct JsonBodyParser::Impl {
  explicit Impl(size_t max) : max_body_bytes(max) {}
  size_t max_body_bytes;
  ondemand::parser parser;
  std::string buffer;  // the body, followed by simdjson's padding
};

JsonBodyParser::JsonBodyParser(size_t max_body_bytes)
    : impl_(std::make_unique<Impl>(max_body_bytes)) {}

JsonBodyParser::~JsonBodyParser() = default;

JsonBodyParser& ThreadBodyParser() {
  thread_local JsonBodyParser parser;
  return parser;
}

Result<JsonValue> JsonBodyParser::Parse(std::string_view body) {
  if (body.empty()) {
    return ValidationFailure({MakeFieldError("missing", {"body"}, "Field required", "null")});
  }
  if (body.size() > impl_->max_body_bytes) {
    return MakeError(ErrorCode::kPayloadTooLarge,
                     "request body exceeds " + SizeText(impl_->max_body_bytes) + " bytes");
  }
  // json.loads(bytes) decodes a body that starts with a UTF-8 BOM as utf-8-sig.
  if (body.size() >= 3 && body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);

  auto& buffer = impl_->buffer;
  if (impl_->parser.capacity() > kRetainedCapacity && body.size() <= kRetainedCapacity) {
    // A reused parser keeps its buffers for the next body, but not a large body's.
    impl_->parser = ondemand::parser{};
    std::string().swap(buffer);
  }
  buffer.assign(body.data(), body.size());
  buffer.append(static_cast<size_t>(simdjson::SIMDJSON_PADDING), '\0');
  const std::string_view text(buffer.data(), body.size());

  JsonValue root;
  TreeBuilder builder(kMaxJsonDepth);
  bool ok = false;
  ondemand::document doc;
  if (impl_->parser.iterate(buffer.data(), body.size(), buffer.size()).get(doc) ==
      simdjson::SUCCESS) {
    ok = builder.BuildRoot(doc, text, root);
  }
  if (!ok) {
    auto diagnosis = DiagnoseJson(text);
    // simdjson and the diagnoser implement the same grammar; should they ever disagree, the
    // body is still refused.
    if (!diagnosis) diagnosis = JsonSyntaxError{0, "Invalid JSON"};
    return ValidationFailure({JsonInvalid(*diagnosis)});
  }
  auto duplicates = builder.TakeDuplicates();
  if (!duplicates.empty()) return ValidationFailure(std::move(duplicates));
  return root;
}

BodyFailure ClassifyBodyError(const Error& error) {
  if (error.code == ErrorCode::kPayloadTooLarge) return BodyFailure::kTooLarge;
  if (error.code != ErrorCode::kValidation || error.details.empty()) return BodyFailure::kOther;
  const std::string& type = error.details.front().type;
  if (type == "missing" && error.details.front().loc == Loc{"body"}) return BodyFailure::kEmpty;
  if (type == "json_invalid") return BodyFailure::kInvalidJson;
  if (type == "value_error") return BodyFailure::kDuplicateKeys;
  return BodyFailure::kOther;
}

// ---------------------------------------------------------------------------------------------
// Errors

void ErrorList::Append(std::vector<FieldError> more) {
  for (auto& e : more) errors_.push_back(std::move(e));
}

Error ErrorList::ToError() const { return ValidationFailure(errors_); }

std::string InvalidRequestMessage(const std::vector<FieldError>& errors) {
  std::string out = "输入验证失败: ";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i != 0) out += "; ";
    const Loc& loc = errors[i].loc;
    size_t start = !loc.empty() && loc[0] == "body" ? 1 : 0;
    for (size_t k = start; k < loc.size(); ++k) {
      if (k != start) out += " -> ";
      if (IsLocIndex(loc[k])) {
        out.append(loc[k], 1);
      } else {
        out += loc[k];
      }
    }
    out += ": ";
    out += errors[i].msg;
  }
  return out;
}

FieldError MakeFieldError(std::string type, Loc loc, std::string msg, std::string input_json,
                          std::string ctx_json) {
  return FieldError{std::move(type), std::move(loc), std::move(msg), std::move(input_json),
                    std::move(ctx_json)};
}

FieldError ValueError(Loc loc, std::string_view message, std::string input_json) {
  return MakeFieldError("value_error", std::move(loc), "Value error, " + std::string(message),
                        std::move(input_json), R"({"error":{}})");
}

FieldError MissingError(Loc loc, const JsonValue& container) {
  return MakeFieldError("missing", std::move(loc), "Field required", EchoInput(container));
}

// ---------------------------------------------------------------------------------------------
// Echo

std::string EchoInput(const JsonValue& v) {
  std::string out;
  AppendEcho(out, v);
  return out;
}

std::string ScrubUrlCredentials(std::string_view text) {
  size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::string(text);
  for (size_t i = 0; i < sep; ++i) {
    char c = text[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!(alpha || (i > 0 && (IsDigit(c) || c == '+' || c == '-' || c == '.')))) {
      return std::string(text);
    }
  }
  size_t authority_start = sep + 3;
  size_t authority_end = text.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = text.size();
  std::string_view authority = text.substr(authority_start, authority_end - authority_start);
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(text);
  std::string out(text.substr(0, authority_start));
  out += kRedacted;
  out += text.substr(authority_start + at);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text helpers

size_t CharCount(std::string_view s) { return CodePointIndex(s, s.size()); }

std::string_view PyStrip(std::string_view s) { return TrimWith(s, IsPySpace); }

std::string_view RustTrim(std::string_view s) { return TrimWith(s, IsUnicodeSpaceCommon); }

bool HasControlChars(std::string_view s, bool allow_line_breaks) {
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20) {
      if (allow_line_breaks && (c == '\t' || c == '\n' || c == '\r')) continue;
      return true;
    }
    if (c == 0x7F) return true;
    // C1 controls U+0080..U+009F are C2 80..C2 9F in UTF-8.
    if (c == 0xC2 && i + 1 < s.size()) {
      auto next = static_cast<unsigned char>(s[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return true;
    }
  }
  return false;
}

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

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
