#pragma once
// Matches text against a template with a few placeholders, instead of std::regex (whose
// libstdc++ 12 implementation trips -Wmaybe-uninitialized under the sanitizer build):
//   <hex8>  exactly 8 lower-case hex digits
//   <uuid>  a lower-case RFC 4122 version-4 UUID
//   <ts>    an RFC 3339 UTC time with milliseconds, "2026-01-13T05:07:22.123Z"
//   <num>   one or more of [0-9.e+-]
// Everything else matches literally.

#include <string_view>

namespace keyledger::api::testing {

inline bool MatchHex(std::string_view s, size_t n) {
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

inline bool MatchesTemplate(std::string_view s, std::string_view t) {
  while (!t.empty()) {
    if (t.front() == '<') {
      const size_t close = t.find('>');
      const std::string_view name = t.substr(1, close - 1);
      t.remove_prefix(close + 1);
      if (name == "hex8") {
        if (!MatchHex(s, 8)) return false;
        s.remove_prefix(8);
      } else if (name == "uuid") {
        if (s.size() < 36 || !MatchHex(s, 8) || s[8] != '-' || !MatchHex(s.substr(9), 4) ||
            s[13] != '-' || s[14] != '4' || !MatchHex(s.substr(15), 3) || s[18] != '-' ||
            std::string_view("89ab").find(s[19]) == std::string_view::npos ||
            !MatchHex(s.substr(20), 3) || s[23] != '-' || !MatchHex(s.substr(24), 12)) {
          return false;
        }
        s.remove_prefix(36);
      } else if (name == "ts") {
        constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
        if (s.size() < kShape.size()) return false;
        for (size_t i = 0; i < kShape.size(); ++i) {
          const bool digit = s[i] >= '0' && s[i] <= '9';
          if (kShape[i] == 'd' ? !digit : s[i] != kShape[i]) return false;
        }
        s.remove_prefix(kShape.size());
      } else if (name == "num") {
        size_t n = 0;
        while (n < s.size() &&
               std::string_view("0123456789.e+-").find(s[n]) != std::string_view::npos)
          ++n;
        if (n == 0) return false;
        s.remove_prefix(n);
      } else {
        return false;
      }
      continue;
    }
    if (s.empty() || s.front() != t.front()) return false;
    s.remove_prefix(1);
    t.remove_prefix(1);
  }
  return s.empty();
}

}  // namespace keyledger::api::testing
