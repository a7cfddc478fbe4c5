#pragma once
// Authentication and authorization (aether-spec.md §2, DESIGN.md "Auth").
//
// Credentials arrive as `Authorization: Bearer <token>` (parsed exactly as Aether: the lower-cased
// header must start with "bearer "; the token is header[7:] stripped of whitespace).
//   - Management tokens ("kl_" + 40 [A-Za-z0-9]) are looked up by SHA-256 in the tokens file,
//     comparing against every entry in constant time. Each entry has a name (the actor), a role
//     (admin | auditor), an optional expiry and optional allowed CIDRs.
//   - Any other token is an HS256 JWT when a secret is configured (Aether's access tokens:
//     `type` "access", `user_id`, `role`, `exp`).
// Outcomes: 401 http_error for missing/invalid credentials, 403 "需要管理员权限" for a valid caller
// without the route's role, 429 rate_limit once an IP exceeds the failure limit.
//
// Tokens file (default <data-dir>/tokens.json, mode 0600, only hashes stored):
//   {"tokens":[{"name":"ops","sha256":"<64 hex>","role":"admin","expires_at":null,"cidrs":[],
//               "created_at":"2026-01-13T05:00:00Z"}]}
// Parsed strictly: unknown or duplicate keys, wrong types, bad hex, unknown roles, bad CIDRs or
// times, and duplicate names are errors naming the file and the entry.
//
// Thread safety: Authenticator, TokenStore and AuthFailureLimiter are safe for concurrent use.

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/handler.hpp"
#include "events/status.hpp"

namespace keyledger::api {

class Logger;
class MetricsRegistry;
class Counter;
template <typename Cell>
class Family;

// Client-visible texts (Aether's).
inline constexpr std::string_view kMsgMissingCredentials = "缺少管理员凭证";
inline constexpr std::string_view kMsgInvalidManagementToken = "无效或过期的 Management Token";
inline constexpr std::string_view kMsgNeedAdmin = "需要管理员权限";
inline constexpr std::string_view kMsgJwtExpired = "Token已过期";
inline constexpr std::string_view kMsgJwtInvalid = "无效的Token";
inline constexpr std::string_view kMsgJwtWrongTypePrefix = "Token类型错误: 期望 access, 实际 ";
inline constexpr std::string_view kMsgJwtNoUser = "无效的管理员令牌";

inline constexpr std::string_view kManagementTokenPrefix = "kl_";
inline constexpr size_t kManagementTokenRandomChars = 40;
inline constexpr int kDefaultAuthFailureLimit = 30;  // failures per IP per window
inline constexpr std::chrono::seconds kDefaultAuthFailureWindow{60};
inline constexpr size_t kDefaultMaxTrackedIps = 65536;
inline constexpr size_t kMaxTokensFileBytes = 4 * 1024 * 1024;
inline constexpr size_t kMaxTokenNameLength = 64;

// ---- CIDRs -------------------------------------------------------------------------------------

struct Cidr {
  bool v6 = false;
  uint8_t addr[16] = {};
  int prefix = 0;
};
// "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128).
Result<Cidr> ParseCidr(std::string_view text);
// `ip` is a textual IPv4 or IPv6 address; IPv4-mapped IPv6 addresses match IPv4 CIDRs.
bool CidrContains(const Cidr& cidr, std::string_view ip);

// ---- Tokens file -------------------------------------------------------------------------------

struct TokenRecord {
  std::string name;
  std::string sha256_hex;  // lower-case hex of SHA-256(token)
  Role role = Role::kAdmin;
  std::optional<int64_t> expires_at;  // Unix seconds; nullopt = never
  std::vector<std::string> cidrs;     // as written; empty = any address
  std::string created_at;             // RFC 3339, informational, may be empty
};

// Names: 1-64 characters of [A-Za-z0-9._-].
bool IsValidTokenName(std::string_view name);
Result<Role> ParseRole(std::string_view text);  // "admin" | "auditor"

// `file_name` only labels error messages.
Result<std::vector<TokenRecord>> ParseTokensFile(std::string_view json, std::string_view file_name);
std::string SerializeTokensFile(const std::vector<TokenRecord>& records);
// kNotFound when the file does not exist.
Result<std::vector<TokenRecord>> LoadTokensFile(const std::string& path);
// Writes atomically: a temporary file in the same directory (mode 0600), fsync, rename over
// `path`, fsync of the directory. Creates the directory (mode 0700) if missing.
Status WriteTokensFileAtomic(const std::string& path, const std::vector<TokenRecord>& records);

// "kl_" + 40 characters from [A-Za-z0-9], drawn from the CSPRNG without modulo bias.
std::string GenerateManagementToken();
std::string TokenSha256Hex(std::string_view token);

// ---- Failure rate limiting ---------------------------------------------------------------------

// Counts authentication failures per client IP in fixed windows. Memory is bounded: at most
// `max_tracked_ips` addresses are remembered (default 65,536, about 10 MB at most); expired
// windows are dropped, and when full the oldest window, each in constant time.
class AuthFailureLimiter {
 public:
  struct Options {
    int limit = kDefaultAuthFailureLimit;
    std::chrono::seconds window = kDefaultAuthFailureWindow;
    size_t max_tracked_ips = kDefaultMaxTrackedIps;
  };
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit AuthFailureLimiter(Options options, Clock clock = nullptr);

  // Records one failure; true when this IP has now failed more than `limit` times in the
  // current window (answer 429 instead of 401).
  bool RecordFailure(std::string_view ip);
  // True when the IP is over the limit in the current window (no failure recorded).
  bool IsLimited(std::string_view ip) const;
  size_t tracked_ips() const;
  const Options& options() const { return options_; }

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    int failures = 0;
  };
  // Drops expired windows, and when `inserting` into a full table the oldest ones.
  void MakeRoomLocked(std::chrono::steady_clock::time_point now, bool inserting);

  Options options_;
  Clock clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;
  std::list<std::string> order_;  // the addresses in windows_, oldest window first
};

// ---- JWT ---------------------------------------------------------------------------------------

struct JwtClaims {
  std::string user_id;
  std::string role;  // as in the token, "" when absent
};

// Verifies an HS256 JWT as Aether's access tokens. Errors are kUnauthenticated with the
// client-visible message (kMsgJwtInvalid, kMsgJwtExpired, kMsgJwtWrongTypePrefix + type,
// kMsgJwtNoUser). The header's alg must be exactly "HS256" ("none" and everything else are
// rejected); the signature is compared in constant time; `exp` is required and must be in the
// future; `nbf`, when present, must not be.
Result<JwtClaims> VerifyJwt(std::string_view token, std::string_view secret, int64_t now_unix);

// Builds an HS256 JWT from a payload JSON object (for tests and tooling).
std::string SignJwtHs256(std::string_view payload_json, std::string_view secret,
                         std::string_view header_json = R"({"alg":"HS256","typ":"JWT"})");

// ---- Authenticator -----------------------------------------------------------------------------

struct AuthConfig {
  std::string tokens_file;                // must exist when the Authenticator is created
  std::optional<std::string> jwt_secret;  // HS256 key; nullopt disables JWTs
  AuthFailureLimiter::Options limiter;
  // Wall clock in Unix seconds (token expiry); defaults to the system clock.
  std::function<int64_t()> now_unix;
  // Monotonic clock for the limiter; defaults to steady_clock.
  AuthFailureLimiter::Clock limiter_clock;
};

// Reads a JWT secret file: the bytes with trailing CR/LF removed; an empty secret is an error.
Result<std::string> ReadJwtSecretFile(const std::string& path);

class Authenticator {
 public:
  // Loads the tokens file (kNotFound if missing; parse errors name the file). `logger` and
  // `metrics` may be null; both must outlive the Authenticator.
  static Result<std::unique_ptr<Authenticator>> Create(AuthConfig config, Logger* logger,
                                                       MetricsRegistry* metrics);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  struct Outcome {
    std::optional<Principal> principal;  // set on success
    Response error;                      // 401/403/429 when !principal
    std::string_view failure_reason;     // metrics label, "" on success
    bool ok() const { return principal.has_value(); }
  };

  // `authorization` is the Authorization header (nullopt when absent). Public routes always
  // succeed with an empty principal name.
  Outcome Authenticate(std::optional<std::string_view> authorization, std::string_view client_ip,
                       Access access);

  // Checks again, for a long-lived request (an SSE stream), the credentials it was admitted with:
  // "" while they still grant `access`, else the reason (the failure label: "invalid_token" for a
  // revoked token, "expired_token", "jwt_expired", "forbidden", ...). No side effects: nothing is
  // counted and the failure limiter is not touched.
  std::string_view Recheck(std::string_view authorization, std::string_view client_ip,
                           Access access) const;

  // Re-reads the tokens file. On any error the current tokens stay in force, the error is logged
  // and returned.
  Status Reload();
  size_t token_count() const;
  AuthFailureLimiter& limiter() { return limiter_; }

 private:
  struct TokenEntry;
  struct TokenSet;
  // The verdict on credentials, before any side effect: status 0 and a principal, or the
  // status (401/403), client-visible message and failure label.
  struct Check {
    int status = 0;
    std::string message;
    std::string_view reason;
    Principal principal;
  };
  Check Verify(std::optional<std::string_view> authorization, std::string_view client_ip,
               Access access) const;
  Authenticator(AuthConfig config, Logger* logger, MetricsRegistry* metrics);
  static Result<std::shared_ptr<const TokenSet>> LoadSet(const std::string& path);
  Outcome Fail(int status, std::string_view message, std::string_view reason,
               std::string_view client_ip);
  std::shared_ptr<const TokenSet> tokens() const;

  AuthConfig config_;
  Logger* logger_;
  MetricsRegistry* metrics_;
  Family<Counter>* failures_ = nullptr;  // keyledger_auth_failures_total{reason}
  AuthFailureLimiter limiter_;
  mutable std::mutex mu_;
  std::shared_ptr<const TokenSet> tokens_;
};

}  // namespace keyledger::api
