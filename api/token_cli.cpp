#include "api/token_cli.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <limits>

#include "api/auth.hpp"
#include "api/text.hpp"
#include "src/cli/exit_code.hpp"

namespace keyledger::api {
namespace {

using cli::ExitCode;
using cli::ToInt;

constexpr std::string_view kUsage =
    "usage: keyledgerd token create --name NAME --role admin|auditor [--expires-in 30d|12h|90m]\n"
    "                               [--cidr CIDR]... [--tokens-file F] [--data-dir D]\n"
    "       keyledgerd token revoke --name NAME [--tokens-file F] [--data-dir D]\n"
    "       keyledgerd token list [--tokens-file F] [--data-dir D]\n"
    "\n"
    "Manages the management tokens file (default <data-dir>/tokens.json). A running server\n"
    "picks changes up on SIGHUP. Run 'keyledgerd token <command> --help' for its options.\n";

constexpr std::string_view kExitStatus =
    "Exit status: 0 done, 1 failed (file unreadable or unwritable, name taken or not found),\n"
    "2 usage error.\n";

int64_t SystemNow() {
  return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
}

// --tokens-file and --data-dir, which every subcommand takes, with the variables keyledgerd
// itself reads, so a command and the server it manages agree on the file.
cli::Command FileCommand(std::string program, const TokenCliOptions& options) {
  cli::Command cmd(std::move(program));
  cmd.Add({.name = "tokens-file",
           .value_name = "FILE",
           .help = "the tokens file (default <data-dir>/tokens.json)",
           .env = "KEYLEDGER_TOKENS_FILE"})
      .Add({.name = "data-dir",
            .value_name = "DIR",
            .help = "the server's data directory",
            .default_value = options.default_data_dir,
            .env = "KEYLEDGER_DATA_DIR"})
      .Epilogue(std::string(kExitStatus));
  return cmd;
}

// Parses `argv` for `cmd`. Returns the exit code when the command ends here (help or a usage
// error), nullopt to go on.
std::optional<int> ParseOrExit(const cli::Command& cmd, const std::vector<std::string>& argv,
                               const TokenCliOptions& options, std::ostream& out, std::ostream& err,
                               cli::Args* args) {
  auto parsed = cmd.Parse(argv, options.getenv ? options.getenv : cli::GetEnv(cli::NoEnv));
  if (!parsed.ok()) {
    err << cli::UsageErrorText(cmd.program(), parsed.error().message);
    return ToInt(ExitCode::kUsage);
  }
  if (parsed->help()) {
    out << cmd.Help();
    return ToInt(ExitCode::kOk);
  }
  *args = std::move(parsed).value();
  return std::nullopt;
}

int UsageError(std::ostream& err, std::string_view program, std::string_view message) {
  err << cli::UsageErrorText(program, message);
  return ToInt(ExitCode::kUsage);
}

int Failed(std::ostream& err, std::string_view program, std::string_view message) {
  err << program << ": " << message << "\n";
  return ToInt(ExitCode::kFailed);
}

std::string TokensFileFor(const cli::Args& args) {
  if (auto file = args.Get("tokens-file")) return *file;
  return DefaultTokensFile(args.Get("data-dir").value_or(""));
}

// A missing file is an empty token list for create (it is created), an error elsewhere.
Result<std::vector<TokenRecord>> LoadOrEmpty(const std::string& path) {
  auto records = LoadTokensFile(path);
  if (!records.ok() && records.error().code == ErrorCode::kNotFound) {
    return std::vector<TokenRecord>{};
  }
  return records;
}

int Create(const std::vector<std::string>& argv, const TokenCliOptions& options, std::ostream& out,
           std::ostream& err) {
  cli::Command cmd = FileCommand("keyledgerd token create", options);
  cmd.Usage(
         "usage: keyledgerd token create --name NAME --role admin|auditor "
         "[--expires-in 30d|12h|90m]\n"
         "                               [--cidr CIDR]... [--tokens-file F] [--data-dir D]\n"
         "\n"
         "Adds a token and prints it once: the token alone on stdout (so\n"
         "TOKEN=$(keyledgerd token create ...) works), a note on stderr. Only its SHA-256 is\n"
         "stored. Refuses a name that is taken.\n")
      .Add({.name = "name",
            .value_name = "NAME",
            .help = "1-64 characters of [A-Za-z0-9._-], unique in the file",
            .required = true})
      .Add({.name = "role",
            .value_name = "ROLE",
            .help = "admin (everything) or auditor (reads everything except reveal)",
            .required = true,
            .choices = {"admin", "auditor"}})
      .Add({.name = "expires-in",
            .value_name = "DURATION",
            .help = "lifetime: a number and d, h, m or s (default: never expires)"})
      .Add({.name = "cidr",
            .kind = cli::Option::Kind::kList,
            .value_name = "CIDR",
            .help = "accept the token only from this network (default: from anywhere)"});
  cli::Args args;
  if (auto code = ParseOrExit(cmd, argv, options, out, err, &args)) return *code;
  const std::string_view program = cmd.program();
  const std::string name = *args.Get("name");
  if (!IsValidTokenName(name)) {
    return UsageError(err, program, "--name must be 1-64 characters of [A-Za-z0-9._-]");
  }
  auto role = ParseRole(*args.Get("role"));
  if (!role.ok()) return UsageError(err, program, "--role: " + role.error().message);
  const int64_t now = options.now_unix ? options.now_unix() : SystemNow();
  std::optional<int64_t> expires_at;
  if (auto expires_in = args.Get("expires-in")) {
    auto secs = ParseDurationSeconds(*expires_in);
    if (!secs.ok()) return UsageError(err, program, "--expires-in: " + secs.error().message);
    expires_at = now + *secs;
  }
  const std::vector<std::string> cidrs = args.GetAll("cidr");
  for (const std::string& c : cidrs) {
    if (auto parsed = ParseCidr(c); !parsed.ok()) {
      return UsageError(err, program, "--cidr: " + parsed.error().message);
    }
  }
  const std::string path = TokensFileFor(args);
  auto records = LoadOrEmpty(path);
  if (!records.ok()) return Failed(err, program, records.error().message);
  for (const TokenRecord& r : *records) {
    if (r.name == name) {
      return Failed(
          err, program,
          "a token named \"" + name + "\" already exists in " + path + " (revoke it first)");
    }
  }
  const std::string token = GenerateManagementToken();
  TokenRecord rec;
  rec.name = name;
  rec.sha256_hex = TokenSha256Hex(token);
  rec.role = *role;
  rec.expires_at = expires_at;
  rec.cidrs = cidrs;
  rec.created_at = FormatRfc3339(now);
  records->push_back(std::move(rec));
  if (Status s = WriteTokensFileAtomic(path, *records); !s.ok()) {
    return Failed(err, program, s.error().message);
  }
  err << "Created token \"" << name << "\" (role " << RoleName(*role) << ", expires "
      << (expires_at ? FormatRfc3339(*expires_at) : std::string("never")) << ") in " << path
      << ".\nIt is shown only once; only its SHA-256 is stored. A running server picks it up on "
         "SIGHUP.\n";
  out << token << "\n";
  return ToInt(ExitCode::kOk);
}

int Revoke(const std::vector<std::string>& argv, const TokenCliOptions& options, std::ostream& out,
           std::ostream& err) {
  cli::Command cmd = FileCommand("keyledgerd token revoke", options);
  cmd.Usage(
         "usage: keyledgerd token revoke --name NAME [--tokens-file F] [--data-dir D]\n"
         "\n"
         "Removes the token NAME from the file; a running server drops it on SIGHUP.\n")
      .Add({.name = "name", .value_name = "NAME", .help = "the token to remove", .required = true});
  cli::Args args;
  if (auto code = ParseOrExit(cmd, argv, options, out, err, &args)) return *code;
  const std::string_view program = cmd.program();
  const std::string name = *args.Get("name");
  const std::string path = TokensFileFor(args);
  auto records = LoadTokensFile(path);
  if (!records.ok()) return Failed(err, program, records.error().message);
  const size_t before = records->size();
  std::erase_if(*records, [&](const TokenRecord& r) { return r.name == name; });
  if (records->size() == before) {
    return Failed(err, program, "no token named \"" + name + "\" in " + path);
  }
  if (Status s = WriteTokensFileAtomic(path, *records); !s.ok()) {
    return Failed(err, program, s.error().message);
  }
  err << "Revoked token \"" << name << "\". A running server drops it on SIGHUP.\n";
  return ToInt(ExitCode::kOk);
}

int List(const std::vector<std::string>& argv, const TokenCliOptions& options, std::ostream& out,
         std::ostream& err) {
  cli::Command cmd = FileCommand("keyledgerd token list", options);
  cmd.Usage(
      "usage: keyledgerd token list [--tokens-file F] [--data-dir D]\n"
      "\n"
      "Names, roles, expiry, CIDRs and creation times; never hashes.\n");
  cli::Args args;
  if (auto code = ParseOrExit(cmd, argv, options, out, err, &args)) return *code;
  const std::string path = TokensFileFor(args);
  auto records = LoadTokensFile(path);
  if (!records.ok()) return Failed(err, cmd.program(), records.error().message);
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
  return ToInt(ExitCode::kOk);
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
  auto bind = [&](auto fn) {
    return [&options, &out, &err, fn](const std::vector<std::string>& args) {
      return fn(args, options, out, err);
    };
  };
  const std::vector<cli::Subcommand> subcommands = {
      {"create", "add a token and print it once", bind(Create)},
      {"revoke", "remove a token", bind(Revoke)},
      {"list", "names, roles, expiry and networks of the tokens (never hashes)", bind(List)},
  };
  return cli::RunSubcommands("keyledgerd token", kUsage, kExitStatus, subcommands, argv, out, err);
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
