#pragma once
// A minimal HTTP/1.1 GET client for the tools (keyledger-rebuild --compare-url). Plain http://
// only; the server binds 127.0.0.1 by default, so the tools talk to it locally. One request per
// connection, a whole-request timeout, a bearer token when given, bodies up to 64 MiB.

#include <chrono>
#include <string>

#include "events/status.hpp"

namespace keyledger::tools {

struct HttpResponse {
  int status = 0;
  std::string body;
};

struct HttpUrl {
  std::string host;
  std::string port = "80";
  std::string target = "/";  // path and query
};

// Parses "http://host[:port][/path][?query]" (IPv6 hosts in brackets). kInvalidArgument for
// anything else, including https:// (not supported by this client).
Result<HttpUrl> ParseHttpUrl(const std::string& url);

// GET `url`. kUnavailable when the server cannot be reached or does not answer in time;
// any HTTP status is a successful result.
Result<HttpResponse> HttpGet(const std::string& url, const std::string& bearer_token,
                             std::chrono::milliseconds timeout);

}  // namespace keyledger::tools
