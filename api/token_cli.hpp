#pragma once
// `keyledgerd token ...`: manage the management tokens file (see auth.hpp for its format).
//
//   token create --name NAME --role admin|auditor [--expires-in 30d|12h|90m]
//                [--cidr CIDR]... [--tokens-file F] [--data-dir D]
//       Appends an entry and prints the token once: the token alone on stdout (so
//       `TOKEN=$(keyledgerd token create ...)` works), a note on stderr. Refuses duplicate names.
//   token revoke --name NAME [--tokens-file F] [--data-dir D]
//   token list [--tokens-file F] [--data-dir D]
//       Names, roles, expiry, CIDRs and creation times; never hashes.
//   token --help, token <subcommand> --help
//
// Parsed by the shared command-line layer (src/cli). The tokens file is --tokens-file, else
// KEYLEDGER_TOKENS_FILE, else <data-dir>/tokens.json with --data-dir, else KEYLEDGER_DATA_DIR,
// else TokenCliOptions::default_data_dir: the same file keyledgerd serves from. Every change is
// written atomically with mode 0600 (WriteTokensFileAtomic). A running server picks changes up on
// SIGHUP. Exit codes (cli::ExitCode): 0 success, 1 failure (file unreadable or unwritable, name
// not found or taken), 2 usage error.

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "events/status.hpp"
#include "src/cli/command_line.hpp"

namespace keyledger::api {

inline constexpr std::string_view kTokensFileName = "tokens.json";
inline constexpr std::string_view kInitialAdminTokenName = "admin";

struct TokenCliOptions {
  // The data directory when neither --data-dir nor KEYLEDGER_DATA_DIR names one.
  std::string default_data_dir = "./data";
  // Wall clock in Unix seconds; defaults to the system clock.
  std::function<int64_t()> now_unix;
  // The environment (KEYLEDGER_DATA_DIR, KEYLEDGER_TOKENS_FILE). Default: none is read; keyledgerd
  // passes cli::SystemEnv.
  cli::GetEnv getenv;
};

// `args` are the arguments after "token", e.g. {"create", "--name", "ops", "--role", "admin"}.
int RunTokenCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    const TokenCliOptions& options = {});

std::string DefaultTokensFile(std::string_view data_dir);

// "30d", "12h", "90m", "45s" → seconds. kInvalidArgument otherwise (and for zero).
Result<int64_t> ParseDurationSeconds(std::string_view text);

// When `tokens_file` does not exist, creates it with one admin token named "admin" and returns
// the plaintext (print it once, e.g. with FirstTokenBanner). nullopt when the file exists.
Result<std::optional<std::string>> EnsureInitialAdminToken(const std::string& tokens_file);

// The message main prints on first start: the token and a ready-to-paste curl command.
std::string FirstTokenBanner(std::string_view token, std::string_view tokens_file,
                             std::string_view base_url);

}  // namespace keyledger::api
