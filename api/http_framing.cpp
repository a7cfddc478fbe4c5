#include "api/http_framing.hpp"

#include <algorithm>

#include "api/text.hpp"

namespace keyledger::api {

std::string_view MethodLabel(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET",    "HEAD",    "POST",  "PUT",    "PATCH",
                                                "DELETE", "OPTIONS", "TRACE", "CONNECT"};
  for (std::string_view m : kKnown) {
    if (method == m) return m;
  }
  return "other";
}

std::string LoggedMethod(std::string_view method) {
  if (method.size() <= kMaxLoggedMethodBytes) return SanitizeUtf8(method);
  return SanitizeUtf8(method.substr(0, kMaxLoggedMethodBytes)) + "...";
}

std::optional<FramingProblem> CheckFraming(
    unsigned version, size_t host_fields, const std::vector<std::string_view>& transfer_encodings) {
  if (host_fields > 1 || (host_fields == 0 && version >= 11)) {
    return FramingProblem{400, "Invalid HTTP request: exactly one Host header is required"};
  }
  if (transfer_encodings.empty()) return std::nullopt;
  if (version < 11) {
    return FramingProblem{400, "Invalid HTTP request: Transfer-Encoding in an HTTP/1.0 request"};
  }
  std::vector<std::string> codings;
  for (std::string_view rest : transfer_encodings) {
    while (true) {
      const size_t comma = rest.find(',');
      std::string coding = AsciiLower(StripAsciiWhitespace(rest.substr(0, comma)));
      if (!coding.empty()) codings.push_back(std::move(coding));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (codings.empty() || codings.back() != "chunked" ||
      std::count(codings.begin(), codings.end(), "chunked") != 1) {
    return FramingProblem{400, "Invalid HTTP request: Transfer-Encoding must end with chunked"};
  }
  if (codings.size() != 1) return FramingProblem{501, "Transfer coding not supported"};
  return std::nullopt;
}

bool HasObsoleteLineFolding(std::string_view header_bytes) {
  const size_t end = header_bytes.find("\r\n\r\n");
  if (end != std::string_view::npos) header_bytes = header_bytes.substr(0, end + 2);
  for (size_t i = header_bytes.find('\n'); i != std::string_view::npos;
       i = header_bytes.find('\n', i + 1)) {
    if (i + 1 < header_bytes.size() &&
        (header_bytes[i + 1] == ' ' || header_bytes[i + 1] == '\t')) {
      return true;
    }
  }
  return false;
}

}  // namespace keyledger::api
