#pragma once
// Which member names carry credentials: header names of an endpoint and member names (at any
// depth) of a provider's or an endpoint's `config`. Values under such names are sealed with the
// envelope of events/secrets.hpp, shown as masks, and echoed as "[REDACTED]" in a 422's `input`.
// One rule for the whole program (DESIGN.md "Secrets"); events/FORMAT.md "Credentials in headers
// and config" documents it.
//
// Thread safety: SecretNames is immutable after construction; share it freely.

#include <string>
#include <string_view>
#include <vector>

namespace keyledger::events {

// The built-in rule: the name, compared case-insensitively, contains one of "api_key", "apikey",
// "api-key", "password", "passwd", "secret", "authorization" (so also "proxy-authorization"),
// "cookie", "token" or "credential". It over-matches ("max_tokens") rather than leaks; only
// string values are sealed, so such a numeric setting is left as it is.
bool IsSecretMemberName(std::string_view name);

// The built-in rule plus names an operator adds (--secret-field-names): each added name matches
// a member whose whole name equals it, compared case-insensitively.
class SecretNames {
 public:
  SecretNames() = default;
  // Empty names and surrounding ASCII whitespace are dropped.
  explicit SecretNames(const std::vector<std::string>& extra);
  // Parses "a,b, c" (the flag's syntax).
  static SecretNames FromList(std::string_view comma_separated);

  bool Matches(std::string_view name) const;
  const std::vector<std::string>& extra() const { return extra_; }  // lower-cased

 private:
  std::vector<std::string> extra_;
};

}  // namespace keyledger::events
