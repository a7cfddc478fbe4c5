#include "api/router.hpp"

#include <algorithm>

#include "api/text.hpp"

namespace keyledger::api {
namespace {

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void AddAllowed(std::vector<std::string>& allowed, std::string_view method) {
  if (std::find(allowed.begin(), allowed.end(), method) == allowed.end()) {
    allowed.emplace_back(method);
  }
}

}  // namespace

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(start));
      return parts;
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

std::vector<std::string> SplitDecodedSegments(std::string_view raw_path) {
  std::vector<std::string> out;
  for (std::string_view part : SplitPath(raw_path)) out.push_back(PercentDecode(part, false));
  return out;
}

Status Router::Add(RouteSpec spec) {
  const std::string where = spec.method + " " + spec.pattern;
  if (spec.method.empty() || !std::all_of(spec.method.begin(), spec.method.end(),
                                          [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return MakeError(ErrorCode::kInvalidArgument, "route method must be upper-case: " + where);
  }
  if (!spec.handler) {
    return MakeError(ErrorCode::kInvalidArgument, "route has no handler: " + where);
  }
  if (spec.pattern.empty() || spec.pattern[0] != '/') {
    return MakeError(ErrorCode::kInvalidArgument, "route pattern must start with '/': " + where);
  }
  auto entry = std::make_unique<Entry>();
  std::vector<std::string> names;
  for (std::string_view part : SplitPath(spec.pattern)) {
    Segment seg;
    if (!part.empty() && part.front() == '{' && part.back() == '}' && part.size() > 2) {
      seg.param = true;
      seg.text = std::string(part.substr(1, part.size() - 2));
      if (!IsIdentifier(seg.text) ||
          std::find(names.begin(), names.end(), seg.text) != names.end()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "route parameter name is invalid or repeated: " + where);
      }
      names.push_back(seg.text);
    } else {
      if (part.find_first_of("{}") != std::string_view::npos) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "'{param}' must be a whole path segment: " + where);
      }
      seg.text = std::string(part);
    }
    entry->segments.push_back(std::move(seg));
  }
  for (const auto& e : entries_) {
    if (e->spec.method == spec.method && e->spec.pattern == spec.pattern) {
      return MakeError(ErrorCode::kInvalidArgument, "route registered twice: " + where);
    }
  }
  entry->spec = std::move(spec);
  entries_.push_back(std::move(entry));
  return Status::Ok();
}

bool Router::PathMatches(const Entry& e, const std::vector<std::string>& parts,
                         std::vector<NameValue>* params) {
  if (e.segments.size() != parts.size()) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Segment& seg = e.segments[i];
    if (seg.param) {
      // A decoded '/' came from "%2F": one segment on the wire, never a parameter value.
      if (parts[i].empty() || parts[i].find('/') != std::string::npos) return false;
    } else if (seg.text != parts[i]) {
      return false;
    }
  }
  if (params != nullptr) {
    params->clear();
    for (size_t i = 0; i < parts.size(); ++i) {
      if (e.segments[i].param) params->emplace_back(e.segments[i].text, parts[i]);
    }
  }
  return true;
}

RouteMatch Router::Match(std::string_view method, std::string_view path) const {
  RouteMatch match;
  const std::vector<std::string> parts = SplitDecodedSegments(path);
  const std::string_view effective = method == "HEAD" ? std::string_view("GET") : method;
  std::vector<std::string> allowed;
  for (const auto& e : entries_) {
    if (!PathMatches(*e, parts, nullptr)) continue;
    if (e->spec.method == method || e->spec.method == effective) {
      match.kind = RouteMatch::Kind::kFound;
      match.route = &e->spec;
      PathMatches(*e, parts, &match.params);
      return match;
    }
    AddAllowed(allowed, e->spec.method);
    if (e->spec.method == "GET") AddAllowed(allowed, "HEAD");
  }
  if (!allowed.empty()) {
    match.kind = RouteMatch::Kind::kMethodNotAllowed;
    for (const std::string& m : allowed) {
      if (!match.allow.empty()) match.allow += ", ";
      match.allow += m;
    }
    return match;
  }
  if (path != "/" && !path.empty()) {
    std::string toggled(path);
    if (toggled.back() == '/') {
      toggled.pop_back();
    } else {
      toggled.push_back('/');
    }
    // "//host" would be a protocol-relative Location pointing at another site.
    if (toggled.rfind("//", 0) != 0) {
      const std::vector<std::string> toggled_parts = SplitDecodedSegments(toggled);
      for (const auto& e : entries_) {
        if (PathMatches(*e, toggled_parts, nullptr)) {
          match.kind = RouteMatch::Kind::kRedirect;
          match.redirect_path = std::move(toggled);
          return match;
        }
      }
    }
  }
  match.kind = RouteMatch::Kind::kNotFound;
  return match;
}

std::vector<const RouteSpec*> Router::Routes() const {
  std::vector<const RouteSpec*> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(&e->spec);
  return out;
}

}  // namespace keyledger::api
