#pragma once
// Internal to the request-input toolkit (json_value.cpp, json_errors.cpp, json_coercions.cpp):
// UTF-8 and number-text helpers the three parts share. Not part of the public interface; do not
// include it from outside src/json_*.cpp.

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "events/json_writer.hpp"
#include "events/status.hpp"
#include "src/json_errors.hpp"

namespace keyledger::registry::detail {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

inline std::string IntText(int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

inline std::string SizeText(size_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

inline std::string DoubleText(double v) {
  std::string s;
  json::AppendDouble(s, v);
  return s;
}

inline std::string QuoteJson(std::string_view s) {
  std::string out;
  json::AppendString(out, s);
  return out;
}

// Decodes the code point starting at s[i] (s is valid UTF-8) and advances i.
inline uint32_t DecodeAt(std::string_view s, size_t& i) {
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
inline size_t PrevCodePointStart(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

inline bool IsUnicodeSpaceCommon(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}
// Python's str.isspace() also counts the information separators U+001C..U+001F.
inline bool IsPySpace(uint32_t cp) {
  return IsUnicodeSpaceCommon(cp) || (cp >= 0x1C && cp <= 0x1F);
}

template <typename Pred>
inline std::string_view TrimWith(std::string_view s, Pred is_space) {
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
inline size_t CodePointIndex(std::string_view s, size_t byte_pos) {
  size_t n = 0;
  for (size_t i = 0; i < byte_pos && i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// A double from a JSON/decimal literal the way Python's float() rounds it: overflow is ±inf,
// underflow ±0.0. `literal` must match the JSON number grammar (or Rust's decimal grammar).
double LiteralToDouble(std::string_view literal);
// JSON number grammar over the whole of `t`: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool MatchJsonNumber(std::string_view t, bool& is_int);
// Decimal integer text (optional '-', digits) to int64; false on overflow.
bool DigitsToInt64(std::string_view text, int64_t& out);
// Canonical Python int text of an integer literal: no leading zeros, no "-0".
std::string CanonicalIntText(std::string_view text);

// The json_invalid entry of a syntax error: loc ["body", <pos>], ctx {"error": <reason>}.
FieldError JsonInvalid(const JsonSyntaxError& e);
// kValidation with these details (a 422 {"detail":[...]}).
Error ValidationFailure(std::vector<FieldError> details);

}  // namespace keyledger::registry::detail
