#pragma once
// Query-string parameters, validated the way FastAPI validates Query(...) parameters: errors are
// kValidation with one FieldError per bad parameter, loc ["query", <name>], the raw string as
// "input", and pydantic's lax types and messages (src/json_input.hpp). All errors of a request
// are reported at once, in the order the parameters are read.
//
// Pure functions and value types; QueryReader is single-threaded.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "events/status.hpp"
#include "src/json_input.hpp"

namespace keyledger::registry {

// Decoded query parameters in request order.
struct QueryParams {
  std::vector<std::pair<std::string, std::string>> items;

  // The last value given for `name` (Starlette's QueryParams[name]), or nullptr.
  const std::string* Get(std::string_view name) const;
};

// The query string without the '?', decoded as Starlette does (urllib.parse.parse_qsl with
// keep_blank_values=True): split on '&', empty pieces skipped, a piece without '=' has the value
// "", '+' is a space, %XX escapes are decoded and invalid UTF-8 becomes U+FFFD.
QueryParams ParseQueryString(std::string_view raw);

// Reads parameters one by one, collecting errors.
class QueryReader {
 public:
  explicit QueryReader(const QueryParams& params) : params_(params) {}

  int64_t Int(std::string_view name, int64_t default_value, const IntRange& range);
  std::optional<int64_t> OptionalInt(std::string_view name, const IntRange& range);
  std::optional<bool> OptionalBool(std::string_view name);
  std::optional<std::string> OptionalString(std::string_view name, const StrLength& length = {});
  // RFC 3339 / ISO 8601 (naive = UTC) or a unix timestamp, as microseconds UTC.
  std::optional<int64_t> OptionalTimestamp(std::string_view name);
  // Upper-cased, one of domain::kApiFormats (value_error with the key validator's message).
  std::optional<std::string> OptionalApiFormat(std::string_view name);

  // The raw (decoded) value of `name`, or nullptr.
  const std::string* Raw(std::string_view name) const { return params_.Get(name); }
  void AddError(FieldError e) { errors_.Add(std::move(e)); }
  Loc At(std::string_view name) const { return {"query", std::string(name)}; }
  const ErrorList& errors() const { return errors_; }
  // OK, or kValidation with every error collected.
  Status Finish() const;

 private:
  const QueryParams& params_;
  ErrorList errors_;
};

inline constexpr int64_t kDefaultPageLimit = 100;
inline constexpr int64_t kMaxPageLimit = 1000;         // keys, endpoints, audit
inline constexpr int64_t kMaxProviderPageLimit = 500;  // GET /api/admin/providers/

// skip >= 0 (default 0; beyond int64 saturates), limit 1..max_limit (default 100).
struct Paging {
  int64_t skip = 0;
  int64_t limit = kDefaultPageLimit;
};
Result<Paging> ParsePaging(const QueryParams& params, int64_t max_limit = kMaxPageLimit);
void ReadPaging(QueryReader& reader, Paging& paging, int64_t max_limit = kMaxPageLimit);

// GET /api/admin/providers/: skip, limit (1-500), optional is_active (lax bool).
struct ProviderListQuery {
  Paging paging;
  std::optional<bool> is_active;
};
Result<ProviderListQuery> ParseProviderListQuery(const QueryParams& params);

// Point-in-time reads: as_of_seq (a log position, >= 0) or as_of (a time); at most one.
struct AsOf {
  std::optional<uint64_t> seq;
  std::optional<int64_t> time;  // microseconds, UTC

  bool empty() const { return !seq && !time; }
};
Result<AsOf> ParseAsOf(const QueryParams& params);
void ReadAsOf(QueryReader& reader, AsOf& as_of);

// The audit event feed: events after position `after` (exclusive), at most `limit`, filtered by
// stream, event type name (events/event_type.hpp), actor and time range [since, until].
struct AuditQuery {
  uint64_t after = 0;
  int64_t limit = kDefaultPageLimit;
  std::optional<std::string> stream;
  std::optional<std::string> type;
  std::optional<std::string> actor;
  std::optional<int64_t> since;  // microseconds, UTC
  std::optional<int64_t> until;  // microseconds, UTC
};
Result<AuditQuery> ParseAuditQuery(const QueryParams& params);

// PATCH /api/admin/endpoints/health/keys/{key_id}?api_format=: reset one format, or all.
struct HealthResetQuery {
  std::optional<std::string> api_format;
};
Result<HealthResetQuery> ParseHealthResetQuery(const QueryParams& params);

}  // namespace keyledger::registry
