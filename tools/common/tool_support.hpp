#pragma once
// What keyledger-audit and keyledger-rebuild share: exit codes and argument parsing (both from the
// programs' common layer, src/cli), opening a data
// directory the right way (read-only, next to a running server, or for writing), master keys,
// terminal output (tables, colours only on a TTY, progress), and small formatting helpers.
//
// Links only the events layer. Not thread-safe unless stated (tools are single-threaded).

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/log_sink.hpp"
#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"
#include "events/status.hpp"
#include "src/cli/command_line.hpp"
#include "src/cli/etcd_options.hpp"
#include "src/cli/exit_code.hpp"

namespace keyledger::tools {

// Exit status of every tool command: the programs' one contract (src/cli/exit_code.hpp).
inline constexpr int kExitOk = cli::ToInt(cli::ExitCode::kOk);
// a check said no: broken chain, mismatch, unknown key
inline constexpr int kExitCheckFailed = cli::ToInt(cli::ExitCode::kFailed);
inline constexpr int kExitUsage = cli::ToInt(cli::ExitCode::kUsage);  // bad command line
// could not run: missing directory, I/O, server down
inline constexpr int kExitError = cli::ToInt(cli::ExitCode::kCannotRun);

// ---- arguments ----

// The shared command-line layer (src/cli/command_line.hpp) for commands that list their options
// inline rather than as a cli::Command table (audit log, history, export, import): the same
// parser, messages and --help detection, without per-option help text.
struct OptionSpec {
  std::string_view name;  // "--limit"
  bool takes_value = false;
  bool repeatable = false;
};

class Args : public cli::Args {
 public:
  Args() = default;
  explicit Args(cli::Args parsed) : cli::Args(std::move(parsed)) {}
  // Any number of positionals; errors as cli::Command::Parse ("unknown option --x").
  static Result<Args> Parse(const std::vector<std::string>& args,
                            const std::vector<OptionSpec>& specs);
};

// --data-dir DIR with KEYLEDGER_DATA_DIR, required: the option every audit and rebuild command
// takes, declared once.
cli::Option DataDirOption();

Result<uint64_t> ParseUint(std::string_view text, std::string_view what);
// RFC 3339 / ISO 8601 (events::ParseTimestamp) or an integer of microseconds since the epoch.
Result<int64_t> ParseTime(std::string_view text, std::string_view what);

// --data-dir, else KEYLEDGER_DATA_DIR; kInvalidArgument when neither is given or it is empty.
Result<std::string> DataDirFrom(const cli::Args& args);

// ---- where the log is: a data directory or an etcd prefix ----

// A RocksDB data directory (--data-dir) or an etcd log (--etcd-endpoints and the other
// --etcd-* options, src/cli/etcd_options.hpp): exactly one of the two.
struct StoreTarget {
  std::string data_dir;   // RocksDB; empty on etcd
  cli::EtcdOptions etcd;  // etcd when etcd.etcd_endpoints is not empty
  bool on_etcd() const { return !etcd.etcd_endpoints.empty(); }
  // For messages: the directory, or "etcd prefix /keyledger/default".
  std::string Name() const;
};

// --data-dir (KEYLEDGER_DATA_DIR, not required by itself) and the --etcd-* options, for commands
// declared with cli::Command.
void AddStoreOptions(cli::Command& cmd);
// The same options for commands that list theirs inline (Args::Parse), followed by `more`.
std::vector<OptionSpec> StoreOptionSpecs(std::vector<OptionSpec> more = {});
// The store `args` name. A flag on the command line wins over the other kind's variable
// (--etcd-endpoints over KEYLEDGER_DATA_DIR and the reverse); kInvalidArgument, worded for the
// operator, when both --data-dir and --etcd-endpoints are given (or, without either flag, both
// KEYLEDGER_DATA_DIR and KEYLEDGER_ETCD_ENDPOINTS are set), when neither is, when an --etcd-*
// flag comes with a data directory, or for a bad etcd value (cli::CheckEtcdDetails).
Result<StoreTarget> StoreTargetFrom(const cli::Args& args);

// ---- opening a data directory ----

// A log opened by a tool; closes the log and removes its scratch directory (a RocksDB secondary
// instance's, or the local snapshot store of an etcd log) on destruction.
class OpenedLog {
 public:
  // RocksDB: `secondary` when opened next to a running server.
  OpenedLog(std::unique_ptr<events::RocksEventLog> log, std::string scratch);
  // etcd (or any other store): `scratch` is removed after closing.
  OpenedLog(std::unique_ptr<events::EventLog> log, std::string scratch, bool on_etcd);
  ~OpenedLog();
  OpenedLog(const OpenedLog&) = delete;
  OpenedLog& operator=(const OpenedLog&) = delete;

  events::EventLog& log() { return *log_; }
  // A RocksDB secondary instance next to a running server (its view may lag the server's).
  bool secondary() const { return rocks_ != nullptr && !scratch_.empty(); }
  bool on_etcd() const { return on_etcd_; }
  // A secondary instance: reads what the server wrote since (RocksEventLog::CatchUp). Otherwise
  // nothing to do: a RocksDB log opened alone is complete, and an etcd log reads etcd itself.
  Status CatchUp();
  // Closes now and reports the close status (the destructor ignores it).
  Status Close();

 private:
  std::unique_ptr<events::EventLog> log_;
  events::RocksEventLog* rocks_ = nullptr;  // log_ when it is a RocksDB log
  std::string scratch_;
  bool on_etcd_ = false;
};

// True when another process holds the RocksDB LOCK of `dir` (a running keyledgerd).
bool HeldByAnotherProcess(const std::string& dir);

enum class Access {
  kRead,    // read-only; as a RocksDB secondary instance when a server holds the directory
  kWrite,   // read-write: refused (kUnavailable) while a server holds the directory
  kCreate,  // read-write, creating an empty log when there is none (import)
};
// Errors carry a message fit for the operator: a missing directory, a directory that is not a
// keyledger log (foreign), one in use, or a storage error. `check_head` is false for audit reads
// so that a damaged log can still be opened and verified.
Result<std::unique_ptr<OpenedLog>> OpenDataDir(const std::string& dir, Access access,
                                               bool check_head, LogSink sink);

// OpenDataDir for a data directory; for etcd, the log under the prefix through events/store.hpp,
// with a scratch local directory for its (unused) snapshot store. kRead and kWrite never write
// to etcd on opening: a prefix without a log is kNotFound; kCreate creates it. Many processes
// may open one etcd log at once (it needs no running keyledgerd). etcd unreachable: kIoError
// within the etcd client's request timeout (about 6 s), never a hang.
Result<std::unique_ptr<OpenedLog>> OpenTarget(const StoreTarget& target, Access access,
                                              bool check_head, LogSink sink);

// The master key when one is available: --master-key-file, else KEYLEDGER_MASTER_KEY, else
// DIR/master.key if that file exists. nullopt when none is; never creates a key file.
Result<std::optional<events::MasterKey>> LoadExistingMasterKey(const std::string& key_file,
                                                               const std::string& data_dir,
                                                               const LogSink& sink);

// Library warnings to stderr as "<tool>: warning: ..." (debug messages dropped).
LogSink StderrSink(std::string tool);

// ---- terminal output ----

bool IsTty(std::FILE* f);

// ANSI colours, enabled only when wanted (a TTY, or --color always).
class Style {
 public:
  explicit Style(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  std::string Bold(std::string_view s) const { return Wrap("1", s); }
  std::string Dim(std::string_view s) const { return Wrap("2", s); }
  std::string Red(std::string_view s) const { return Wrap("31", s); }
  std::string Green(std::string_view s) const { return Wrap("32", s); }
  std::string Yellow(std::string_view s) const { return Wrap("33", s); }
  std::string Blue(std::string_view s) const { return Wrap("34", s); }
  std::string Cyan(std::string_view s) const { return Wrap("36", s); }
  std::string Wrap(std::string_view code, std::string_view s) const;

 private:
  bool enabled_;
};

// --color auto|always|never for `out`; kInvalidArgument on another value.
Result<Style> StyleFor(const cli::Args& args, std::FILE* out);

// `text` with control characters (C0, DEL, C1) and invalid UTF-8 shown as visible escapes
// ("\x1b"), so that text from the log can never drive the terminal.
std::string Printable(std::string_view text);

// Columns shown on a terminal: East Asian wide characters count 2, combining marks 0.
size_t DisplayWidth(std::string_view utf8);
// Cuts to at most `width` columns, ending with "…" when cut.
std::string Truncate(std::string_view utf8, size_t width);

// An aligned table: rows are buffered, column widths computed at Print. A row may carry note
// lines printed under it, unaligned. Cells may be coloured (the colour code of Style::Wrap).
class Table {
 public:
  struct Cell {
    std::string text;
    std::string color;  // ANSI code ("31"), empty for none
  };
  explicit Table(std::vector<std::string> header, size_t max_width = 60);
  void AddRow(std::vector<Cell> cells, std::vector<std::string> notes = {});
  void Print(std::FILE* out, const Style& style) const;
  size_t rows() const { return rows_.size(); }

 private:
  struct Row {
    std::vector<Cell> cells;
    std::vector<std::string> notes;
  };
  std::vector<std::string> header_;
  size_t max_width_;
  std::vector<Row> rows_;
};

// Compact JSON indented by two spaces per level (strings are left exactly as they are).
std::string PrettyJson(std::string_view compact);

// 1234567 -> "1,234,567".
std::string FormatCount(uint64_t n);
// 75.2 -> "1m15s"; 3.4 -> "3.4s".
std::string FormatSeconds(double seconds);

// Progress of a long scan on stderr: a redrawn bar with events/s and ETA on a terminal, plain
// lines every `interval_seconds` otherwise, nothing when disabled.
class Progress {
 public:
  enum class Mode { kAuto, kBar, kLines, kNone };
  Progress(std::string label, uint64_t total, Mode mode, double interval_seconds);
  ~Progress();
  // Cheap to call often; redraws at most every 100 ms (bar) or every interval (lines).
  void Update(uint64_t done);
  void Finish(uint64_t done);

 private:
  void Draw(uint64_t done, bool final);

  std::string label_;
  uint64_t total_;
  Mode mode_;
  double interval_;
  int64_t start_us_;
  int64_t last_draw_us_ = 0;
  bool finished_ = false;
};
Result<Progress::Mode> ProgressModeFrom(const cli::Args& args);

int64_t MonotonicMicros();

}  // namespace keyledger::tools
