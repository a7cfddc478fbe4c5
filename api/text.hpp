#pragma once
// Small text helpers shared by the HTTP layer: percent-decoding, query parsing, UTF-8 repair,
// ASCII case folding, RFC 3339 time. Pure functions, thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/handler.hpp"

namespace keyledger::api {

// Decodes %XX escapes (and '+' as a space when `plus_is_space`). Malformed escapes stay as they
// are, and bytes that do not form valid UTF-8 become U+FFFD, as Python's
// urllib.parse.unquote(errors="replace") does; the result is always valid UTF-8.
std::string PercentDecode(std::string_view s, bool plus_is_space);

// Percent-encodes everything except RFC 3986 unreserved characters, sub-delims, ':', '@' and '/'.
std::string PercentEncodePath(std::string_view s);

// Parses a query string ("a=1&b=&a=2&c") into decoded pairs, in order, keeping repeated keys and
// blank values ("c" gives {"c",""}), like Starlette's parse_qsl(keep_blank_values=True); the
// decoder is registry::ParseQueryString's.
std::vector<NameValue> ParseQuery(std::string_view query);

// Replaces every byte that is not part of a valid UTF-8 sequence with U+FFFD.
std::string SanitizeUtf8(std::string_view s);
bool IsValidUtf8(std::string_view s);

std::string AsciiLower(std::string_view s);
// Python str.strip() for ASCII whitespace (space, \t, \n, \r, \v, \f).
std::string_view StripAsciiWhitespace(std::string_view s);

// True for 1-128 RFC 7230 token characters (visible ASCII without separators).
bool IsValidRequestId(std::string_view s);

// Parses RFC 3339 date-time ("2026-01-13T05:00:00Z", "...:00.5+08:00") to Unix seconds (the
// fraction is truncated). nullopt for anything else.
std::optional<int64_t> ParseRfc3339(std::string_view s);
// Formats Unix seconds as "2026-01-13T05:00:00Z".
std::string FormatRfc3339(int64_t unix_seconds);

}  // namespace keyledger::api
