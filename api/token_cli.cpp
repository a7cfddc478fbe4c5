#include "api/token_cli.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <limits>

#include "api/auth.hpp"
#include "api/text.hpp"

namespace keyledger::api {
namespace {

constexpr std::string_view kUsage =
    "usage: keyledgerd token create --name NAME --role admin|auditor [--expires-in 30d|12h|90m]\n"
    "                               [--cidr CIDR]... [--tokens-file F] [--data-dir D]\n"
    "       keyledgerd token revoke --name NAME [--tokens-file F] [--data-dir D]\n"
    "       keyledgerd token list [--tokens-file F] [--data-dir D]\n";

int64_t SystemNow() {
  return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
}

struct Args {
  std::string command;
  std::optional<std::string> name, role, expires_in, tokens_file, data_dir;
  std::vector<std::string> cidrs;
};

// Parses "--flag value" and "--flag=value"; returns an error text for usage errors.
std::optional<std::string> ParseArgs(const std::vector<std::string>& argv, Args* args) {
  if (argv.empty()) return "missing subcommand";
  args->command = argv[0];
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string flag = argv[i];
    std::optional<std::string> value;
    if (const size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < argv.size()) {
      value = argv[++i];
    }
    std::optional<std::string>* slot = nullptr;
    if (flag == "--name") {
      slot = &args->name;
    } else if (flag == "--role") {
      slot = &args->role;
    } else if (flag == "--expires-in") {
      slot = &args->expires_in;
    } else if (flag == "--tokens-file") {
      slot = &args->tokens_file;
    } else if (flag == "--data-dir") {
      slot = &args->data_dir;
    } else if (flag == "--cidr") {
      if (!value) return "--cidr needs a value";
      args->cidrs.push_back(*value);
      continue;
    } else {
      return "unknown option " + flag;
    }
    if (!value) return flag + " needs a value";
    if (slot->has_value()) return flag + " given twice";
    *slot = std::move(value);
  }
  return std::nullopt;
}

std::string TokensFileFor(const Args& args, const TokenCliOptions& options) {
  if (args.tokens_file) return *args.tokens_file;
  return DefaultTokensFile(args.data_dir ? *args.data_dir : options.default_data_dir);
}

// A missing file is an empty token list for create (it is created), an error elsewhere.
Result<std::vector<TokenRecord>> LoadOrEmpty(const std::string& path) {
  auto records = LoadTokensFile(path);
  if (!records.ok() && records.error().code == ErrorCode::kNotFound) {
    return std::vector<TokenRecord>{};
  }
  return records;
}

int Create(const Args& args, const TokenCliOptions& options, std::ostream& out, std::ostream& err) {
  if (!args.name || !args.role) {
    err << "keyledgerd token create: --name and --role are required\n" << kUsage;
    return 2;
  }
  if (!IsValidTokenName(*args.name)) {
    err << "keyledgerd token create: --name must be 1-64 characters of [A-Za-z0-9._-]\n";
    return 2;
  }
  auto role = ParseRole(*args.role);
  if (!role.ok()) {
    err << "keyledgerd token create: --role: " << role.error().message << "\n";
    return 2;
  }
  const int64_t now = options.now_unix ? options.now_unix() : SystemNow();
  std::optional<int64_t> expires_at;
  if (args.expires_in) {
    auto secs = ParseDurationSeconds(*args.expires_in);
    if (!secs.ok()) {
      err << "keyledgerd token create: --expires-in: " << secs.error().message << "\n";
      return 2;
    }
    expires_at = now + *secs;
  }
  for (const std::string& c : args.cidrs) {
    if (auto parsed = ParseCidr(c); !parsed.ok()) {
      err << "keyledgerd token create: --cidr: " << parsed.error().message << "\n";
      return 2;
    }
  }
  const std::string path = TokensFileFor(args, options);
  auto records = LoadOrEmpty(path);
  if (!records.ok()) {
    err << "keyledgerd token create: " << records.error().message << "\n";
    return 1;
  }
  for (const TokenRecord& r : *records) {
    if (r.name == *args.name) {
      err << "keyledgerd token create: a token named \"" << *args.name << "\" already exists in "
          << path << " (revoke it first)\n";
      return 1;
    }
  }
  const std::string token = GenerateManagementToken();
  TokenRecord rec;
  rec.name = *args.name;
  rec.sha256_hex = TokenSha256Hex(token);
  rec.role = *role;
  rec.expires_at = expires_at;
  rec.cidrs = args.cidrs;
  rec.created_at = FormatRfc3339(now);
  records->push_back(std::move(rec));
  if (Status s = WriteTokensFileAtomic(path, *records); !s.ok()) {
    err << "keyledgerd token create: " << s.error().message << "\n";
    return 1;
  }
  err << "Created token \"" << *args.name << "\" (role " << RoleName(*role) << ", expires "
      << (expires_at ? FormatRfc3339(*expires_at) : std::string("never")) << ") in " << path
      << ".\nIt is shown only once; only its SHA-256 is stored. A running server picks it up on "
         "SIGHUP.\n";
  out << token << "\n";
  return 0;
}

int Revoke(const Args& args, const TokenCliOptions& options, std::ostream& err) {
  if (!args.name) {
    err << "keyledgerd token revoke: --name is required\n" << kUsage;
    return 2;
  }
  if (args.role || args.expires_in || !args.cidrs.empty()) {
    err << "keyledgerd token revoke: only --name, --tokens-file and --data-dir apply\n";
    return 2;
  }
  const std::string path = TokensFileFor(args, options);
  auto records = LoadTokensFile(path);
  if (!records.ok()) {
    err << "keyledgerd token revoke: " << records.error().message << "\n";
    return 1;
  }
  const size_t before = records->size();
  std::erase_if(*records, [&](const TokenRecord& r) { return r.name == *args.name; });
  if (records->size() == before) {
    err << "keyledgerd token revoke: no token named \"" << *args.name << "\" in " << path << "\n";
    return 1;
  }
  if (Status s = WriteTokensFileAtomic(path, *records); !s.ok()) {
    err << "keyledgerd token revoke: " << s.error().message << "\n";
    return 1;
  }
  err << "Revoked token \"" << *args.name << "\". A running server drops it on SIGHUP.\n";
  return 0;
}

int List(const Args& args, const TokenCliOptions& options, std::ostream& out, std::ostream& err) {
  if (args.name || args.role || args.expires_in || !args.cidrs.empty()) {
    err << "keyledgerd token list: only --tokens-file and --data-dir apply\n";
    return 2;
  }
  const std::string path = TokensFileFor(args, options);
  auto records = LoadTokensFile(path);
  if (!records.ok()) {
    err << "keyledgerd token list: " << records.error().message << "\n";
    return 1;
  }
  const int64_t now = options.now_unix ? options.now_unix() : SystemNow();
  char line[512];
  std::snprintf(line, sizeof(line), "%-24s %-8s %-22s %-22s %s\n", "NAME", "ROLE", "EXPIRES",
                "CREATED", "CIDRS");
  out << line;
  for (const TokenRecord& r : *records) {
    std::string expires = "never";
    if (r.expires_at) {
      expires = FormatRfc3339(*r.expires_at);
      if (*r.expires_at <= now) expires += " (expired)";
    }
    std::string cidrs;
    for (const std::string& c : r.cidrs) cidrs += (cidrs.empty() ? "" : ",") + c;
    if (cidrs.empty()) cidrs = "any";
    std::snprintf(line, sizeof(line), "%-24s %-8s %-22s %-22s %s\n", r.name.c_str(),
                  std::string(RoleName(r.role)).c_str(), expires.c_str(),
                  r.created_at.empty() ? "-" : r.created_at.c_str(), cidrs.c_str());
    out << line;
  }
  return 0;
}

}  // namespace

std::string DefaultTokensFile(std::string_view data_dir) {
  std::string path(data_dir);
  if (path.empty()) path = ".";
  if (path.back() != '/') path += '/';
  path += kTokensFileName;
  return path;
}

Result<int64_t> ParseDurationSeconds(std::string_view text) {
  if (text.size() < 2 || text.size() > 12) {
    return MakeError(ErrorCode::kInvalidArgument, "expected a number and a unit: 30d, 12h, 90m");
  }
  const char unit = text.back();
  const std::string_view digits = text.substr(0, text.size() - 1);
  if (digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "expected a number and a unit: 30d, 12h, 90m");
  }
  int64_t n = std::stoll(std::string(digits));
  int64_t mult = 0;
  switch (unit) {
    case 'd':
      mult = 86400;
      break;
    case 'h':
      mult = 3600;
      break;
    case 'm':
      mult = 60;
      break;
    case 's':
      mult = 1;
      break;
    default:
      return MakeError(ErrorCode::kInvalidArgument, "unit must be d, h, m or s");
  }
  // 100 years is far beyond any sensible token lifetime and keeps the arithmetic safe.
  if (n <= 0 || n > 100LL * 366 * 86400 / mult) {
    return MakeError(ErrorCode::kInvalidArgument, "duration must be positive and under 100 years");
  }
  return n * mult;
}

int RunTokenCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
                    const TokenCliOptions& options) {
  Args args;
  if (auto usage = ParseArgs(argv, &args)) {
    err << "keyledgerd token: " << *usage << "\n" << kUsage;
    return 2;
  }
  if (args.command == "create") return Create(args, options, out, err);
  if (args.command == "revoke") return Revoke(args, options, err);
  if (args.command == "list") return List(args, options, out, err);
  if (args.command == "--help" || args.command == "help" || args.command == "-h") {
    out << kUsage;
    return 0;
  }
  err << "keyledgerd token: unknown subcommand " << args.command << "\n" << kUsage;
  return 2;
}

Result<std::optional<std::string>> EnsureInitialAdminToken(const std::string& tokens_file) {
  struct stat st;
  if (::stat(tokens_file.c_str(), &st) == 0) return std::optional<std::string>();
  const std::string token = GenerateManagementToken();
  TokenRecord rec;
  rec.name = std::string(kInitialAdminTokenName);
  rec.sha256_hex = TokenSha256Hex(token);
  rec.role = Role::kAdmin;
  rec.created_at = FormatRfc3339(SystemNow());
  KL_RETURN_IF_ERROR(WriteTokensFileAtomic(tokens_file, {rec}));
  return std::optional<std::string>(token);
}

std::string FirstTokenBanner(std::string_view token, std::string_view tokens_file,
                             std::string_view base_url) {
  std::string out;
  out += "keyledgerd: no tokens file was found, so one admin token was created.\n";
  out += "It is shown only this once; ";
  out += tokens_file;
  out += " stores only its SHA-256.\n\n    ";
  out += token;
  out += "\n\nTry it:\n\n    curl -H 'Authorization: Bearer ";
  out += token;
  out += "' ";
  out += base_url;
  out += "/api/admin/endpoints/keys/grouped-by-format\n\n";
  out += "More tokens: keyledgerd token create --name NAME --role admin|auditor\n";
  return out;
}

}  // namespace keyledger::api
