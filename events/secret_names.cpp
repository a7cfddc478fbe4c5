#include "events/secret_names.hpp"

#include <algorithm>

namespace keyledger::events {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsSecretMemberName(std::string_view name) {
  static constexpr std::string_view kMarkers[] = {
      "api_key", "apikey",        "api-key", "password", "passwd",
      "secret",  "authorization", "cookie",  "token",    "credential"};
  const std::string lower = Lower(name);
  for (std::string_view marker : kMarkers) {
    if (lower.find(marker) != std::string::npos) return true;
  }
  return false;
}

SecretNames::SecretNames(const std::vector<std::string>& extra) {
  for (const std::string& name : extra) {
    std::string_view trimmed = TrimAscii(name);
    if (trimmed.empty()) continue;
    std::string lower = Lower(trimmed);
    if (std::find(extra_.begin(), extra_.end(), lower) == extra_.end()) {
      extra_.push_back(std::move(lower));
    }
  }
}

SecretNames SecretNames::FromList(std::string_view comma_separated) {
  std::vector<std::string> names;
  while (!comma_separated.empty()) {
    const size_t comma = comma_separated.find(',');
    names.emplace_back(comma_separated.substr(0, comma));
    if (comma == std::string_view::npos) break;
    comma_separated.remove_prefix(comma + 1);
  }
  return SecretNames(names);
}

bool SecretNames::Matches(std::string_view name) const {
  if (IsSecretMemberName(name)) return true;
  if (extra_.empty()) return false;
  const std::string lower = Lower(name);
  return std::find(extra_.begin(), extra_.end(), lower) != extra_.end();
}

}  // namespace keyledger::events
