#pragma once
// One command-line layer for every keyledger program (keyledgerd and its `token` and `routes`
// subcommands, keyledger-audit, keyledger-rebuild, keyledger-keys), on Boost.Program_options.
//
// A command declares each option once: its name, whether it takes a value, the environment
// variable that stands in for it, its default, the values it accepts and its help text. From that
// one table come the parser, the environment, the defaults, the checks and the --help text, so
// every program answers the same way:
//
//   --help / -h          the help on stdout, exit 0 (also when other options are wrong).
//   unknown option, missing value, option given twice, value not among the choices, missing
//   required option      one line on stderr naming the option, then a hint to use --help; exit 2
//                        (cli::ExitCode::kUsage). See UsageErrorText.
//
// Syntax: "--name VALUE" and "--name=VALUE"; a flag takes no value ("--dry-run=x" is an error);
// options may come in any order among the positional arguments; "--" ends the options. Long names
// are never abbreviated (no prefix guessing). A value that is itself one of the command's options
// ("--data-dir --from") counts as a missing value.
//
// Precedence for each option: the command line, then its environment variable, then its default.
// An environment variable that is set but empty counts as unset, except for a switch, where it
// means on (as the bare flag does).
//
// Links only the events layer (for Result); Boost.Program_options stays inside command_line.cpp.
// Everything here is immutable after construction and safe to share between threads.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/status.hpp"
#include "src/cli/exit_code.hpp"

namespace keyledger::cli {

// Reads an environment variable (nullptr when unset). Tests pass their own.
using GetEnv = std::function<const char*(const char*)>;
// std::getenv.
const char* SystemEnv(const char* name);
// No environment at all.
const char* NoEnv(const char* name);

struct Option {
  enum class Kind : uint8_t {
    kValue,   // --name VALUE, at most once
    kList,    // --name VALUE, repeatable; every value kept, in order
    kFlag,    // --name, no value; never from the environment
    kSwitch,  // --name (on) or --name=true|false|yes|no|on|off|1|0 (any case)
  };
  // Every member has an initializer, so a designated initializer may leave any out (g++ warns
  // about an omitted member without one).
  std::string name = {};  // without dashes: "data-dir" is --data-dir
  Kind kind = Kind::kValue;
  std::string value_name = "VALUE";       // in the help: "--data-dir DIR"
  std::string help = {};                  // one paragraph; '\n' starts a new line
  std::string default_value = {};         // applied when absent and shown in the help; "" none
  std::string env = {};                   // KEYLEDGER_*: read when absent from the command line
  bool required = false;                  // absent after the environment: a usage error
  std::vector<std::string> choices = {};  // when set, the only accepted values
};

// The parsed command line: every option's value with where it came from, and the positionals.
// Names may be given with or without the leading "--".
class Args {
 public:
  enum class Source : uint8_t { kCommandLine, kEnvironment, kDefault };

  bool help() const { return help_; }
  // Given on the command line or through its environment variable (a default does not count).
  bool Has(std::string_view name) const;
  // Where the value came from; nullopt when the option has no value at all.
  std::optional<Source> SourceOf(std::string_view name) const;
  // The value: the last one given, else the environment's, else the default; nullopt if none.
  std::optional<std::string> Get(std::string_view name) const;
  std::vector<std::string> GetAll(std::string_view name) const;
  // A switch or flag: on or off (kSwitch values were checked by Parse).
  bool IsOn(std::string_view name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

  // How an error names the option: "--threads", or "KEYLEDGER_THREADS (--threads)" when the
  // value came from the environment.
  std::string Label(std::string_view name) const;
  // The value of `name` as an integer in [min, max]; kInvalidArgument "<label> must be ..."
  // when it is not one, kNotFound when the option has no value.
  Result<uint64_t> GetUint(std::string_view name, uint64_t min = 0,
                           uint64_t max = UINT64_MAX) const;

 private:
  friend class Command;
  struct Value {
    std::vector<std::string> values;
    Source source = Source::kDefault;
    std::string env;
  };
  const Value* Find(std::string_view name) const;

  std::map<std::string, Value, std::less<>> values_;
  std::vector<std::string> positionals_;
  bool help_ = false;
};

// One command's options and help. `program` is how the command is typed ("keyledger-audit
// verify", "keyledgerd token create"): it starts every error and the --help hint.
class Command {
 public:
  explicit Command(std::string program);

  // The text above the option list (the usage line and what the command does), and below it
  // (examples, exit status). Printed as given.
  Command& Usage(std::string text);
  Command& Epilogue(std::string text);
  // Declares an option. A duplicate name, "help", or an environment variable on a kFlag is a
  // programming error (asserted).
  Command& Add(Option option);
  // Accept up to `max` positional arguments (default none); more is "unexpected argument X".
  Command& Positionals(size_t max);

  // kInvalidArgument with a message naming the option ("unknown option --colour", "--data-dir
  // needs a value", "--format must be text or json", "--data-dir is required (or set
  // KEYLEDGER_DATA_DIR)"). With --help, only syntax errors are reported.
  Result<Args> Parse(const std::vector<std::string>& args, const GetEnv& env = SystemEnv) const;

  // The usage text, "Options:" with one entry per option (default and environment variable
  // included) and -h/--help, then the epilogue.
  std::string Help() const;
  const std::string& program() const { return program_; }

 private:
  std::string program_;
  std::string usage_;
  std::string epilogue_;
  std::vector<Option> options_;
  size_t max_positionals_ = 0;
};

// "<program>: <message>\nRun '<program> --help' for usage.\n": what every program prints on
// stderr for a usage error before it exits with kUsage.
std::string UsageErrorText(std::string_view program, std::string_view message);

// A program made of subcommands ("keyledger-audit verify ...", "keyledgerd token create ...").
struct Subcommand {
  std::string name;
  std::string summary;  // one line for the command list
  std::function<int(const std::vector<std::string>& args)> run;
};

// Runs the subcommand named by args[0] with the rest. No argument: a usage error; "help", "-h"
// or "--help": `usage`, then "commands:" and each summary, on `out`, exit 0; an unknown name:
// "unknown command X", a usage error. Errors are printed to `err` with UsageErrorText.
int RunSubcommands(std::string_view program, std::string_view usage, std::string_view epilogue,
                   const std::vector<Subcommand>& subcommands, const std::vector<std::string>& args,
                   std::ostream& out, std::ostream& err);

}  // namespace keyledger::cli
