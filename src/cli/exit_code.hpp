#pragma once
// The exit status of every keyledger program: keyledgerd (serving, `token ...`, `routes ...`),
// keyledger-audit, keyledger-rebuild and keyledger-keys. README.md "Exit status" has the same
// table; tests/tools/exit_code_test.cpp runs each program through it.
//
//   0  kOk         done; every check held.
//   1  kFailed     the program ran and the answer is no: a check found a problem (broken hash
//                  chain, checkpoint or digest mismatch, unknown key or provider, altered
//                  export), or the change asked for was refused or failed (token name taken or
//                  absent, wrong master key, directory in use). keyledgerd, its token
//                  subcommands and keyledger-keys report every runtime failure with 1.
//   2  kUsage      the command line is wrong: unknown option or command, missing value or
//                  required option, bad value. Nothing was read or written.
//   3  kCannotRun  keyledger-audit and keyledger-rebuild only: they could not look at all
//                  (missing or foreign data directory, unreadable input, I/O error, server
//                  unreachable), so a script can tell "the log is bad" (1) from "could not check".
//
// Whoever adds a code extends this list, the README table and exit_code_test.cpp.

namespace keyledger::cli {

enum class ExitCode : int {
  kOk = 0,
  kFailed = 1,
  kUsage = 2,
  kCannotRun = 3,
};

constexpr int ToInt(ExitCode code) { return static_cast<int>(code); }

}  // namespace keyledger::cli
