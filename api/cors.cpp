#include "api/cors.hpp"

#include <algorithm>

namespace keyledger::api {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether `name` is in a ", "-separated list, ignoring case.
bool InList(std::string_view list, std::string_view name) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (EqualsIgnoringCase(Trim(list.substr(0, comma)), name)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Every header named in Access-Control-Request-Headers is allowed (Starlette: comma-separated,
// each stripped; an empty entry is ignored).
bool HeadersAllowed(std::string_view requested) {
  while (!requested.empty()) {
    const size_t comma = requested.find(',');
    std::string_view name = Trim(requested.substr(0, comma));
    if (!name.empty() && !InList(kCorsAllowHeaders, name)) return false;
    if (comma == std::string_view::npos) break;
    requested.remove_prefix(comma + 1);
  }
  return true;
}

}  // namespace

CorsPolicy::CorsPolicy(std::vector<std::string> origins) : origins_(std::move(origins)) {
  any_origin_ = std::find(origins_.begin(), origins_.end(), "*") != origins_.end();
}

bool CorsPolicy::AllowsOrigin(std::string_view origin) const {
  if (any_origin_) return true;
  return std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

std::optional<Response> CorsPolicy::Preflight(const Request& req) const {
  if (req.method != "OPTIONS") return std::nullopt;
  const auto origin = req.Header("origin");
  const auto method = req.Header("access-control-request-method");
  if (!origin || !method) return std::nullopt;

  std::vector<std::string_view> failures;
  const bool origin_ok = AllowsOrigin(*origin);
  if (!origin_ok) failures.push_back("origin");
  if (!InList(kCorsAllowMethods, *method) || *method != Trim(*method) ||
      std::any_of(method->begin(), method->end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    // Methods are case-sensitive (Fetch); HEAD is not in Aether's list either.
    failures.push_back("method");
  }
  if (const auto requested = req.Header("access-control-request-headers");
      requested && !HeadersAllowed(*requested)) {
    failures.push_back("headers");
  }

  Response r;
  r.content_type = "text/plain; charset=utf-8";
  if (!any_origin_) r.headers.emplace_back("Vary", "Origin");
  if (origin_ok && failures.empty()) {
    r.headers.emplace_back("Access-Control-Allow-Origin", any_origin_ ? "*" : std::string(*origin));
  }
  r.headers.emplace_back("Access-Control-Allow-Methods", std::string(kCorsAllowMethods));
  r.headers.emplace_back("Access-Control-Max-Age", std::to_string(kCorsMaxAgeSeconds));
  r.headers.emplace_back("Access-Control-Allow-Headers", std::string(kCorsAllowHeaders));
  if (!any_origin_) r.headers.emplace_back("Access-Control-Allow-Credentials", "true");
  if (failures.empty()) {
    r.status = 200;
    r.body = "OK";
  } else {
    r.status = 400;
    r.body = "Disallowed CORS ";
    for (size_t i = 0; i < failures.size(); ++i) {
      if (i > 0) r.body += ", ";
      r.body += failures[i];
    }
  }
  r.log_note = "cors preflight";
  return r;
}

void CorsPolicy::AddResponseHeaders(std::optional<std::string_view> origin,
                                    std::vector<NameValue>& headers) const {
  if (!origin) return;
  if (!any_origin_) headers.emplace_back("Vary", "Origin");
  if (!AllowsOrigin(*origin)) return;
  headers.emplace_back("Access-Control-Allow-Origin", any_origin_ ? "*" : std::string(*origin));
  headers.emplace_back("Access-Control-Expose-Headers", std::string(kCorsExposeHeaders));
  if (!any_origin_) headers.emplace_back("Access-Control-Allow-Credentials", "true");
}

}  // namespace keyledger::api
