#include "api/auth.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <simdjson.h>

#include "api/errors.hpp"
#include "api/logger.hpp"
#include "api/metrics.hpp"
#include "api/text.hpp"
#include "events/crypto.hpp"
#include "events/json_writer.hpp"
#include "events/private_file.hpp"

namespace keyledger::api {
namespace {

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

std::string ErrnoText(int err) { return std::strerror(err); }

// Parses a textual IPv4 or IPv6 address into 16 bytes (IPv4 in the first 4, v6 = false).
bool ParseIp(std::string_view text, bool* v6, uint8_t out[16]) {
  if (text.size() >= INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::memset(out, 0, 16);
  if (inet_pton(AF_INET, buf, out) == 1) {
    *v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, buf, out) == 1) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(out, kMapped, 12) == 0) {
      std::memmove(out, out + 12, 4);
      std::memset(out + 4, 0, 12);
      *v6 = false;
    } else {
      *v6 = true;
    }
    return true;
  }
  return false;
}

// ---- strict JSON helpers (simdjson DOM) ----

bool HasDuplicateKey(simdjson::dom::object obj) {
  std::vector<std::string_view> keys;
  for (auto field : obj) {
    if (std::find(keys.begin(), keys.end(), field.key) != keys.end()) return true;
    keys.push_back(field.key);
  }
  return false;
}

Result<std::string> RequireString(simdjson::dom::element v, const std::string& where) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return Invalid(where + ": expected a string");
  return std::string(s);
}

}  // namespace

// ---- CIDRs -------------------------------------------------------------------------------------

Result<Cidr> ParseCidr(std::string_view text) {
  Cidr c;
  const size_t slash = text.find('/');
  const std::string_view addr = text.substr(0, slash);
  if (!ParseIp(addr, &c.v6, c.addr)) {
    return Invalid("invalid CIDR \"" + SanitizeUtf8(text) + "\"");
  }
  const int max_prefix = c.v6 ? 128 : 32;
  c.prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string_view::npos) {
      return Invalid("invalid CIDR prefix in \"" + SanitizeUtf8(text) + "\"");
    }
    c.prefix = std::stoi(std::string(p));
    if (c.prefix > max_prefix) {
      return Invalid("CIDR prefix too long in \"" + SanitizeUtf8(text) + "\"");
    }
  }
  return c;
}

bool CidrContains(const Cidr& cidr, std::string_view ip) {
  bool v6 = false;
  uint8_t addr[16];
  if (!ParseIp(ip, &v6, addr) || v6 != cidr.v6) return false;
  int bits = cidr.prefix;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? uint8_t{0xff} : static_cast<uint8_t>(0xff << (8 - bits));
    if ((addr[i] & mask) != (cidr.addr[i] & mask)) return false;
  }
  return true;
}

// ---- Tokens file -------------------------------------------------------------------------------

bool IsValidTokenName(std::string_view name) {
  if (name.empty() || name.size() > kMaxTokenNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Result<Role> ParseRole(std::string_view text) {
  if (text == "admin") return Role::kAdmin;
  if (text == "auditor") return Role::kAuditor;
  return Invalid("unknown role \"" + SanitizeUtf8(text) + "\" (expected admin or auditor)");
}

Result<std::vector<TokenRecord>> ParseTokensFile(std::string_view json,
                                                 std::string_view file_name) {
  const std::string file(file_name);
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err != simdjson::SUCCESS) {
    return Invalid(file + ": not valid JSON: " + simdjson::error_message(err));
  }
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) {
    return Invalid(file + ": the top level must be an object {\"tokens\":[...]}");
  }
  if (HasDuplicateKey(root)) return Invalid(file + ": duplicate key in the top-level object");
  std::optional<simdjson::dom::array> tokens;
  for (auto field : root) {
    if (field.key != "tokens") {
      return Invalid(file + ": unknown top-level key \"" + std::string(field.key) + "\"");
    }
    simdjson::dom::array arr;
    if (field.value.get_array().get(arr) != simdjson::SUCCESS) {
      return Invalid(file + ": \"tokens\" must be an array");
    }
    tokens = arr;
  }
  if (!tokens) return Invalid(file + ": missing \"tokens\"");

  std::vector<TokenRecord> out;
  size_t index = 0;
  for (simdjson::dom::element item : *tokens) {
    const std::string where = file + ": tokens[" + std::to_string(index++) + "]";
    simdjson::dom::object obj;
    if (item.get_object().get(obj) != simdjson::SUCCESS) return Invalid(where + ": not an object");
    if (HasDuplicateKey(obj)) return Invalid(where + ": duplicate key");
    TokenRecord rec;
    bool have_name = false, have_hash = false, have_role = false;
    for (auto field : obj) {
      const std::string key(field.key);
      const std::string at = where + "." + key;
      if (key == "name") {
        KL_ASSIGN_OR_RETURN(rec.name, RequireString(field.value, at));
        if (!IsValidTokenName(rec.name)) {
          return Invalid(at + ": must be 1-64 characters of [A-Za-z0-9._-]");
        }
        have_name = true;
      } else if (key == "sha256") {
        KL_ASSIGN_OR_RETURN(rec.sha256_hex, RequireString(field.value, at));
        if (rec.sha256_hex.size() != 64 ||
            rec.sha256_hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
          return Invalid(at + ": must be 64 lower-case hex digits");
        }
        have_hash = true;
      } else if (key == "role") {
        KL_ASSIGN_OR_RETURN(std::string role, RequireString(field.value, at));
        auto parsed = ParseRole(role);
        if (!parsed.ok()) return Invalid(at + ": " + parsed.error().message);
        rec.role = *parsed;
        have_role = true;
      } else if (key == "expires_at") {
        if (field.value.is_null()) continue;
        KL_ASSIGN_OR_RETURN(std::string text, RequireString(field.value, at));
        std::optional<int64_t> t = ParseRfc3339(text);
        if (!t) return Invalid(at + ": must be null or an RFC 3339 time");
        rec.expires_at = t;
      } else if (key == "cidrs") {
        simdjson::dom::array arr;
        if (field.value.get_array().get(arr) != simdjson::SUCCESS) {
          return Invalid(at + ": must be an array of strings");
        }
        for (simdjson::dom::element c : arr) {
          KL_ASSIGN_OR_RETURN(std::string cidr, RequireString(c, at));
          auto parsed = ParseCidr(cidr);
          if (!parsed.ok()) return Invalid(at + ": " + parsed.error().message);
          rec.cidrs.push_back(std::move(cidr));
        }
      } else if (key == "created_at") {
        KL_ASSIGN_OR_RETURN(rec.created_at, RequireString(field.value, at));
        if (!ParseRfc3339(rec.created_at)) return Invalid(at + ": must be an RFC 3339 time");
      } else {
        return Invalid(where + ": unknown key \"" + SanitizeUtf8(key) + "\"");
      }
    }
    if (!have_name || !have_hash || !have_role) {
      return Invalid(where + ": \"name\", \"sha256\" and \"role\" are required");
    }
    for (const TokenRecord& other : out) {
      if (other.name == rec.name) return Invalid(where + ": duplicate name \"" + rec.name + "\"");
    }
    out.push_back(std::move(rec));
  }
  return out;
}

std::string SerializeTokensFile(const std::vector<TokenRecord>& records) {
  // One token per line keeps the file readable and diffable for operators.
  std::string out = "{\"tokens\":[";
  for (size_t i = 0; i < records.size(); ++i) {
    const TokenRecord& r = records[i];
    json::Writer w;
    w.BeginObject().Member("name", r.name).Member("sha256", r.sha256_hex);
    w.Member("role", RoleName(r.role)).Key("expires_at");
    if (r.expires_at) {
      w.String(FormatRfc3339(*r.expires_at));
    } else {
      w.Null();
    }
    w.Key("cidrs").BeginArray();
    for (const std::string& c : r.cidrs) w.String(c);
    w.EndArray();
    if (!r.created_at.empty()) w.Member("created_at", r.created_at);
    w.EndObject();
    out += i == 0 ? "\n  " : ",\n  ";
    out += w.str();
  }
  out += records.empty() ? "]}\n" : "\n]}\n";
  return out;
}

Result<std::vector<TokenRecord>> LoadTokensFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                     path + ": " + ErrnoText(err));
  }
  std::string data;
  char buf[16384];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return MakeError(ErrorCode::kIoError, path + ": " + ErrnoText(err));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxTokensFileBytes) {
      ::close(fd);
      return Invalid(path + ": larger than " + std::to_string(kMaxTokensFileBytes) + " bytes");
    }
  }
  ::close(fd);
  return ParseTokensFile(data, path);
}

Status WriteTokensFileAtomic(const std::string& path, const std::vector<TokenRecord>& records) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code fs_err;
  if (!fs::exists(dir, fs_err)) {
    fs::create_directories(dir, fs_err);
    if (fs_err) return MakeError(ErrorCode::kIoError, dir.string() + ": " + fs_err.message());
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, fs_err);
  }
  // A private file (0600 whatever the umask) replaced atomically and durably.
  return events::WriteFileAtomically(path, SerializeTokensFile(records));
}

std::string GenerateManagementToken() {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // 248 = 4 * 62: bytes at or above it are rejected so every character is equally likely.
  static constexpr unsigned kAcceptBelow = 248;
  std::string out(kManagementTokenPrefix);
  while (out.size() < kManagementTokenPrefix.size() + kManagementTokenRandomChars) {
    for (const char c : crypto::RandomBytes(64)) {
      const auto b = static_cast<unsigned char>(c);
      if (b >= kAcceptBelow) continue;
      out += kAlphabet[b % kAlphabet.size()];
      if (out.size() == kManagementTokenPrefix.size() + kManagementTokenRandomChars) break;
    }
  }
  return out;
}

std::string TokenSha256Hex(std::string_view token) {
  return crypto::HexEncode(crypto::AsBytes(crypto::Sha256(token)));
}

// ---- Failure rate limiting ---------------------------------------------------------------------

AuthFailureLimiter::AuthFailureLimiter(Options options, Clock clock)
    : options_(options),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {}

// Windows are kept in order of their start (`order_`, oldest first), so making room is O(1) per
// address however many are tracked: an attacker with many addresses must not make each failure
// cost a scan of the whole table.
void AuthFailureLimiter::MakeRoomLocked(std::chrono::steady_clock::time_point now, bool inserting) {
  while (!order_.empty() && (now - windows_.at(order_.front()).start >= options_.window ||
                             (inserting && windows_.size() >= options_.max_tracked_ips))) {
    windows_.erase(order_.front());
    order_.pop_front();
  }
}

bool AuthFailureLimiter::RecordFailure(std::string_view ip) {
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  MakeRoomLocked(now, false);  // an expired window is gone, so a found one is current
  auto it = windows_.find(std::string(ip));
  if (it == windows_.end()) {
    MakeRoomLocked(now, true);
    order_.emplace_back(ip);
    it = windows_.emplace(order_.back(), Window{now, 0}).first;
  }
  ++it->second.failures;
  return it->second.failures > options_.limit;
}

bool AuthFailureLimiter::IsLimited(std::string_view ip) const {
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = windows_.find(std::string(ip));
  if (it == windows_.end() || now - it->second.start >= options_.window) return false;
  return it->second.failures >= options_.limit;
}

size_t AuthFailureLimiter::tracked_ips() const {
  std::lock_guard<std::mutex> lock(mu_);
  return windows_.size();
}

// ---- JWT ---------------------------------------------------------------------------------------

namespace {

Error JwtError(std::string_view message) {
  return MakeError(ErrorCode::kUnauthenticated, std::string(message));
}

// One parser per thread: JWTs are verified on every I/O thread, and DOM parsers are not
// thread-safe. Its capacity is bounded by the header limit (tokens arrive in a header).
simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

Result<simdjson::dom::object> ParseJwtObject(const std::string& json,
                                             simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS) return JwtError(kMsgJwtInvalid);
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return JwtError(kMsgJwtInvalid);
  // Duplicate claims are ambiguous (which one did the issuer mean?); refuse them.
  if (HasDuplicateKey(obj)) return JwtError(kMsgJwtInvalid);
  return obj;
}

}  // namespace

std::string SignJwtHs256(std::string_view payload_json, std::string_view secret,
                         std::string_view header_json) {
  std::string signing_input = crypto::Base64UrlEncode(header_json);
  signing_input += '.';
  signing_input += crypto::Base64UrlEncode(payload_json);
  const crypto::Digest mac = crypto::HmacSha256Once(secret, signing_input);
  return signing_input + "." + crypto::Base64UrlEncode(crypto::AsBytes(mac));
}

Result<JwtClaims> VerifyJwt(std::string_view token, std::string_view secret, int64_t now_unix) {
  const size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return JwtError(kMsgJwtInvalid);
  const size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return JwtError(kMsgJwtInvalid);
  }
  auto header = crypto::Base64UrlDecode(token.substr(0, dot1));
  auto payload = crypto::Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = crypto::Base64UrlDecode(token.substr(dot2 + 1));
  if (!header.ok() || !payload.ok() || !signature.ok()) return JwtError(kMsgJwtInvalid);

  simdjson::dom::parser& parser = ThreadParser();
  {
    KL_ASSIGN_OR_RETURN(simdjson::dom::object h, ParseJwtObject(*header, parser));
    std::string_view alg;
    if (h["alg"].get_string().get(alg) != simdjson::SUCCESS || alg != "HS256") {
      return JwtError(kMsgJwtInvalid);
    }
  }
  const crypto::Digest expected = crypto::HmacSha256Once(secret, token.substr(0, dot2));
  if (!crypto::ConstantTimeEquals(crypto::AsBytes(expected), *signature)) {
    return JwtError(kMsgJwtInvalid);
  }

  KL_ASSIGN_OR_RETURN(simdjson::dom::object claims, ParseJwtObject(*payload, parser));
  auto numeric = [](simdjson::dom::element e, double* out) {
    if (e.is_bool() || !e.is_number()) return false;
    return e.get_double().get(*out) == simdjson::SUCCESS;
  };
  double exp = 0;
  simdjson::dom::element e;
  if (claims["exp"].get(e) != simdjson::SUCCESS || !numeric(e, &exp)) {
    return JwtError(kMsgJwtInvalid);
  }
  if (exp <= static_cast<double>(now_unix)) return JwtError(kMsgJwtExpired);
  if (claims["nbf"].get(e) == simdjson::SUCCESS) {
    double nbf = 0;
    if (!numeric(e, &nbf) || nbf > static_cast<double>(now_unix)) return JwtError(kMsgJwtInvalid);
  }

  std::string type_text = "None";  // what Python prints for a missing claim
  if (claims["type"].get(e) == simdjson::SUCCESS) {
    std::string_view s;
    if (e.get_string().get(s) == simdjson::SUCCESS) {
      type_text = std::string(s);
    } else {
      type_text = simdjson::minify(e);
    }
  }
  if (type_text != "access") {
    return JwtError(std::string(kMsgJwtWrongTypePrefix) + type_text);
  }

  JwtClaims out;
  if (claims["user_id"].get(e) == simdjson::SUCCESS) {
    std::string_view s;
    int64_t i = 0;
    if (e.get_string().get(s) == simdjson::SUCCESS) {
      out.user_id = std::string(s);
    } else if (!e.is_bool() && e.get_int64().get(i) == simdjson::SUCCESS) {
      out.user_id = std::to_string(i);
    }
  }
  if (out.user_id.empty()) return JwtError(kMsgJwtNoUser);
  if (claims["role"].get(e) == simdjson::SUCCESS) {
    std::string_view s;
    if (e.get_string().get(s) == simdjson::SUCCESS) out.role = std::string(s);
  }
  return out;
}

Result<std::string> ReadJwtSecretFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return MakeError(ErrorCode::kIoError, path + ": " + ErrnoText(errno));
  std::string data;
  char buf[4096];
  while (data.size() <= 65536) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return MakeError(ErrorCode::kIoError, path + ": " + ErrnoText(err));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) data.pop_back();
  if (data.empty()) return Invalid(path + ": the JWT secret is empty");
  return data;
}

// ---- Authenticator -----------------------------------------------------------------------------

struct Authenticator::TokenEntry {
  std::string name;
  std::string digest;  // raw 32 bytes
  Role role;
  std::optional<int64_t> expires_at;
  std::vector<Cidr> cidrs;
};

struct Authenticator::TokenSet {
  std::vector<TokenEntry> entries;
};

Authenticator::Authenticator(AuthConfig config, Logger* logger, MetricsRegistry* metrics)
    : config_(std::move(config)),
      logger_(logger),
      metrics_(metrics),
      limiter_(config_.limiter, config_.limiter_clock) {
  if (!config_.now_unix) {
    config_.now_unix = [] {
      return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
    };
  }
}

Authenticator::~Authenticator() = default;

Result<std::shared_ptr<const Authenticator::TokenSet>> Authenticator::LoadSet(
    const std::string& path) {
  KL_ASSIGN_OR_RETURN(std::vector<TokenRecord> records, LoadTokensFile(path));
  auto set = std::make_shared<TokenSet>();
  for (TokenRecord& r : records) {
    TokenEntry e;
    e.name = std::move(r.name);
    KL_ASSIGN_OR_RETURN(e.digest, crypto::HexDecode(r.sha256_hex));
    e.role = r.role;
    e.expires_at = r.expires_at;
    for (const std::string& c : r.cidrs) {
      KL_ASSIGN_OR_RETURN(Cidr cidr, ParseCidr(c));
      e.cidrs.push_back(cidr);
    }
    set->entries.push_back(std::move(e));
  }
  return std::shared_ptr<const TokenSet>(std::move(set));
}

Result<std::unique_ptr<Authenticator>> Authenticator::Create(AuthConfig config, Logger* logger,
                                                             MetricsRegistry* metrics) {
  KL_ASSIGN_OR_RETURN(std::shared_ptr<const TokenSet> set, LoadSet(config.tokens_file));
  std::unique_ptr<Authenticator> auth(new Authenticator(std::move(config), logger, metrics));
  auth->tokens_ = std::move(set);
  if (metrics != nullptr) {
    auth->failures_ = &metrics->AddCounter(
        "keyledger_auth_failures_total",
        "Requests refused by authentication or authorization, by reason.", {"reason"});
  }
  return auth;
}

Status Authenticator::Reload() {
  auto set = LoadSet(config_.tokens_file);
  if (!set.ok()) {
    if (logger_ != nullptr) {
      logger_->Log(LogLevel::kError, "tokens file reload failed; keeping the current tokens",
                   {{"file", config_.tokens_file}, {"error", set.error().message}});
    }
    return set.status();
  }
  const size_t count = (*set)->entries.size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_ = std::move(set).value();
  }
  if (logger_ != nullptr) {
    logger_->Log(LogLevel::kInfo, "tokens file reloaded",
                 {{"file", config_.tokens_file}, {"tokens", static_cast<uint64_t>(count)}});
  }
  return Status::Ok();
}

std::shared_ptr<const Authenticator::TokenSet> Authenticator::tokens() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_;
}

size_t Authenticator::token_count() const { return tokens()->entries.size(); }

Authenticator::Outcome Authenticator::Fail(int status, std::string_view message,
                                           std::string_view reason, std::string_view client_ip) {
  Outcome out;
  out.failure_reason = reason;
  if (status == 401 && limiter_.RecordFailure(client_ip)) {
    const int limit = limiter_.options().limit;
    json::Writer details;
    details.BeginObject().Member("limit", limit).Member("window", "分钟").EndObject();
    out.error = Response::Json(
        429, ErrorBody("rate_limit", "请求过于频繁，限制为每分钟 " + std::to_string(limit) + "次",
                       details.str()));
    out.error.headers.emplace_back("Retry-After",
                                   std::to_string(limiter_.options().window.count()));
    out.failure_reason = "rate_limited";
  } else {
    out.error = HttpErrorResponse(status, message);
  }
  if (failures_ != nullptr) failures_->WithLabels({out.failure_reason}).Inc();
  return out;
}

Authenticator::Outcome Authenticator::Authenticate(std::optional<std::string_view> authorization,
                                                   std::string_view client_ip, Access access) {
  Check check = Verify(authorization, client_ip, access);
  if (check.status != 0) return Fail(check.status, check.message, check.reason, client_ip);
  Outcome out;
  out.principal = std::move(check.principal);
  return out;
}

std::string_view Authenticator::Recheck(std::string_view authorization, std::string_view client_ip,
                                        Access access) const {
  return Verify(authorization, client_ip, access).reason;
}

Authenticator::Check Authenticator::Verify(std::optional<std::string_view> authorization,
                                           std::string_view client_ip, Access access) const {
  auto refuse = [](int status, std::string_view message, std::string_view reason) {
    Check c;
    c.status = status;
    c.message = std::string(message);
    c.reason = reason;
    return c;
  };
  if (access == Access::kPublic) return Check{};
  if (!authorization || AsciiLower(authorization->substr(0, 7)) != "bearer ") {
    return refuse(401, kMsgMissingCredentials, "missing_credentials");
  }
  const std::string_view token = StripAsciiWhitespace(authorization->substr(7));
  const int64_t now = config_.now_unix();
  Principal principal;

  if (token.substr(0, kManagementTokenPrefix.size()) == kManagementTokenPrefix ||
      !config_.jwt_secret) {
    const crypto::Digest digest = crypto::Sha256(token);
    const std::string_view needle = crypto::AsBytes(digest);
    const std::shared_ptr<const TokenSet> set = tokens();
    // Compare against every entry, without an early exit, so timing does not reveal which
    // (or whether an) entry matched.
    const TokenEntry* found = nullptr;
    for (const TokenEntry& e : set->entries) {
      const bool equal = crypto::ConstantTimeEquals(needle, e.digest);
      if (equal && found == nullptr) found = &e;
    }
    if (found == nullptr) {
      return refuse(401, kMsgInvalidManagementToken, "invalid_token");
    }
    if (found->expires_at && now >= *found->expires_at) {
      return refuse(401, kMsgInvalidManagementToken, "expired_token");
    }
    if (!found->cidrs.empty() &&
        std::none_of(found->cidrs.begin(), found->cidrs.end(),
                     [&](const Cidr& c) { return CidrContains(c, client_ip); })) {
      return refuse(401, kMsgInvalidManagementToken, "ip_not_allowed");
    }
    principal.name = found->name;
    principal.role = found->role;
    principal.kind = PrincipalKind::kManagementToken;
  } else {
    auto claims = VerifyJwt(token, *config_.jwt_secret, now);
    if (!claims.ok()) {
      const std::string& m = claims.error().message;
      std::string_view reason = "jwt_invalid";
      if (m == kMsgJwtExpired) {
        reason = "jwt_expired";
      } else if (m == kMsgJwtNoUser) {
        reason = "jwt_missing_user";
      } else if (m.rfind(kMsgJwtWrongTypePrefix, 0) == 0) {
        reason = "jwt_wrong_type";
      }
      return refuse(401, m, reason);
    }
    principal.name = "jwt:" + claims->user_id;
    principal.kind = PrincipalKind::kJwt;
    if (claims->role == "admin") {
      principal.role = Role::kAdmin;
    } else if (claims->role == "auditor") {
      principal.role = Role::kAuditor;
    } else {
      principal.role = Role::kNone;
    }
  }

  if (!RoleAllows(principal.role, access)) return refuse(403, kMsgNeedAdmin, "forbidden");
  Check out;
  out.principal = std::move(principal);
  return out;
}

}  // namespace keyledger::api
