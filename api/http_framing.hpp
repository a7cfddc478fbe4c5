#pragma once
// What the HTTP server checks about a request before it routes it, written without Beast so the
// request fuzzer (tests/fuzz/http_request_fuzz.cpp) can drive it: the framing rules of RFC 9112
// that Beast 1.74 does not enforce, and the closed set of method labels for metrics.
// Pure functions, thread-safe.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyledger::api {

// The method as a metric label: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT, and
// "other" for every other name, so that clients cannot grow the label set.
std::string_view MethodLabel(std::string_view method);

// The method for a log line: as sent, cut after kMaxLoggedMethodBytes (marked "...").
inline constexpr size_t kMaxLoggedMethodBytes = 32;
std::string LoggedMethod(std::string_view method);

struct FramingProblem {
  int status;  // 400, or 501 for a transfer coding we cannot decode
  std::string_view message;
};

// RFC 9112 §3.2 and §6.1/§6.3, given a parsed header: its version (10 or 11), how many Host
// fields it has and the values of its Transfer-Encoding fields, in order.
//   - HTTP/1.1 needs exactly one Host; HTTP/1.0 may omit it but not repeat it (400).
//   - Transfer-Encoding in HTTP/1.0 is faulty framing (400).
//   - The codings, over every field line, must end with "chunked", once (400): Beast reads no
//     body for a request whose last coding is something else, so the body would be parsed as
//     the next request (smuggling).
//   - Any coding before chunked (gzip, ...) is one we cannot decode (501).
// Either answer closes the connection.
std::optional<FramingProblem> CheckFraming(unsigned version, size_t host_fields,
                                           const std::vector<std::string_view>& transfer_encodings);

// True when the bytes of a request header (so far, or whole and followed by more) contain
// obsolete line folding: a line starting with a space or tab (RFC 9112 §5.2, §2.2). Beast would
// unfold it silently, so a proxy and keyledgerd could read different headers; we answer 400.
bool HasObsoleteLineFolding(std::string_view header_bytes);

}  // namespace keyledger::api
