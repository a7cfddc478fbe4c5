#include "tools/common/tool_support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "events/store.hpp"
#include "events/time_format.hpp"

namespace keyledger::tools {

namespace fs = std::filesystem;

// ---- arguments ----

Result<Args> Args::Parse(const std::vector<std::string>& args,
                         const std::vector<OptionSpec>& specs) {
  cli::Command cmd("");
  for (const OptionSpec& spec : specs) {
    cli::Option o;
    o.name = std::string(spec.name.substr(spec.name.starts_with("--") ? 2 : 0));
    o.kind = !spec.takes_value ? cli::Option::Kind::kFlag
             : spec.repeatable ? cli::Option::Kind::kList
                               : cli::Option::Kind::kValue;
    cmd.Add(std::move(o));
  }
  // The environment is read where each command decides (DataDirFrom), as it always was.
  cmd.Positionals(SIZE_MAX);
  KL_ASSIGN_OR_RETURN(cli::Args parsed, cmd.Parse(args, cli::NoEnv));
  return Args(std::move(parsed));
}

cli::Option DataDirOption() {
  return {.name = "data-dir",
          .value_name = "DIR",
          .help = "the keyledger data directory",
          .env = "KEYLEDGER_DATA_DIR",
          .required = true};
}

Result<uint64_t> ParseUint(std::string_view text, std::string_view what) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(what) + " must be a non-negative integer");
  }
  return v;
}

Result<int64_t> ParseTime(std::string_view text, std::string_view what) {
  int64_t micros = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), micros);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) return micros;
  auto parsed = events::ParseTimestamp(text);
  if (!parsed.ok()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(what) + " is not a time (RFC 3339, e.g. 2026-01-13T05:00:00Z, " +
                         "or microseconds since the epoch): " + parsed.error().message);
  }
  return *parsed;
}

Result<std::string> DataDirFrom(const cli::Args& args) {
  if (auto dir = args.Get("--data-dir")) {
    if (dir->empty()) return MakeError(ErrorCode::kInvalidArgument, "--data-dir is empty");
    return *dir;
  }
  if (const char* env = std::getenv("KEYLEDGER_DATA_DIR"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "--data-dir is required (or set KEYLEDGER_DATA_DIR)");
}

// ---- where the log is ----

std::string StoreTarget::Name() const {
  return on_etcd() ? "etcd prefix " + etcd.etcd_prefix : data_dir;
}

void AddStoreOptions(cli::Command& cmd) {
  cli::Option dir = DataDirOption();
  dir.required = false;  // or --etcd-endpoints: StoreTargetFrom decides
  dir.help = "the keyledger data directory (RocksDB), or give --etcd-endpoints";
  cmd.Add(std::move(dir));
  cli::AddEtcdOptions(cmd, "an etcd log in place of --data-dir");
}

std::vector<OptionSpec> StoreOptionSpecs(std::vector<OptionSpec> more) {
  // OptionSpec holds views: the names live in EtcdOptionNames()'s static vector.
  std::vector<OptionSpec> specs = {{"--data-dir", true}};
  for (const std::string& name : cli::EtcdOptionNames()) specs.push_back({name, true});
  specs.insert(specs.end(), more.begin(), more.end());
  return specs;
}

Result<StoreTarget> StoreTargetFrom(const cli::Args& args) {
  auto bad = [](std::string msg) { return MakeError(ErrorCode::kInvalidArgument, msg); };
  auto on_command_line = [&](std::string_view name) {
    return args.SourceOf(name) == cli::Args::Source::kCommandLine;
  };
  // Commands parsed with cli::NoEnv (Args::Parse) read their variables here.
  auto value = [&](std::string_view name, const char* env) -> std::optional<std::string> {
    if (auto v = args.Get(name)) return v;
    if (const char* e = std::getenv(env); e != nullptr && *e != '\0') return std::string(e);
    return std::nullopt;
  };
  const bool dir_flag = on_command_line("data-dir");
  const bool etcd_flag = on_command_line("etcd-endpoints");
  if (dir_flag && etcd_flag) {
    return bad("give --data-dir DIR (RocksDB) or --etcd-endpoints URL,... (etcd), not both");
  }
  bool use_etcd = etcd_flag;
  if (!dir_flag && !etcd_flag) {
    const bool dir_env = value("data-dir", "KEYLEDGER_DATA_DIR").has_value();
    const bool etcd_env = value("etcd-endpoints", "KEYLEDGER_ETCD_ENDPOINTS").has_value();
    if (dir_env && etcd_env) {
      return bad(
          "KEYLEDGER_DATA_DIR and KEYLEDGER_ETCD_ENDPOINTS are both set: pass --data-dir DIR or "
          "--etcd-endpoints URL,... to choose the store");
    }
    if (!dir_env && !etcd_env) {
      return bad(
          "--data-dir is required (or set KEYLEDGER_DATA_DIR), or --etcd-endpoints URL,... for a "
          "log on etcd (or KEYLEDGER_ETCD_ENDPOINTS)");
    }
    use_etcd = etcd_env;
  }
  StoreTarget target;
  if (!use_etcd) {
    for (const std::string& name : cli::EtcdOptionNames()) {
      if (on_command_line(name)) {
        return bad("--" + name + " applies to an etcd log (--etcd-endpoints), not to --data-dir");
      }
    }
    KL_ASSIGN_OR_RETURN(target.data_dir, DataDirFrom(args));
    return target;
  }
  cli::EtcdOptions& e = target.etcd;
  e.etcd_endpoints_text = value("etcd-endpoints", "KEYLEDGER_ETCD_ENDPOINTS").value_or("");
  e.etcd_prefix =
      value("etcd-prefix", "KEYLEDGER_ETCD_PREFIX").value_or(std::string(cli::kDefaultEtcdPrefix));
  e.etcd_cacert = value("etcd-cacert", "KEYLEDGER_ETCD_CACERT").value_or("");
  e.etcd_cert = value("etcd-cert", "KEYLEDGER_ETCD_CERT").value_or("");
  e.etcd_key = value("etcd-key", "KEYLEDGER_ETCD_KEY").value_or("");
  e.etcd_user = value("etcd-user", "KEYLEDGER_ETCD_USER").value_or("");
  e.etcd_password_file = value("etcd-password-file", "KEYLEDGER_ETCD_PASSWORD_FILE").value_or("");
  e.etcd_max_txn_ops_text = value("etcd-max-txn-ops", "KEYLEDGER_ETCD_MAX_TXN_OPS")
                                .value_or(std::string(cli::kDefaultEtcdMaxTxnOps));
  KL_RETURN_IF_ERROR(cli::SplitEtcdEndpoints(e));
  if (e.etcd_endpoints.empty()) return bad("--etcd-endpoints names no endpoint");
  KL_RETURN_IF_ERROR(cli::CheckEtcdDetails(e));
  return target;
}

// ---- opening ----

OpenedLog::OpenedLog(std::unique_ptr<events::RocksEventLog> log, std::string scratch)
    : rocks_(log.get()), scratch_(std::move(scratch)) {
  log_ = std::move(log);
}

OpenedLog::OpenedLog(std::unique_ptr<events::EventLog> log, std::string scratch, bool on_etcd)
    : log_(std::move(log)), scratch_(std::move(scratch)), on_etcd_(on_etcd) {}

Status OpenedLog::CatchUp() {
  if (!secondary()) return Status::Ok();
  return rocks_->CatchUp();
}

OpenedLog::~OpenedLog() { IgnoreError(Close()); }

Status OpenedLog::Close() {
  Status s = log_ ? log_->Close() : Status::Ok();
  log_.reset();
  rocks_ = nullptr;
  if (!scratch_.empty()) {
    std::error_code ec;
    fs::remove_all(scratch_, ec);  // best effort: a leftover scratch directory harms nothing
    scratch_.clear();
  }
  return s;
}

bool HeldByAnotherProcess(const std::string& dir) {
  // RocksDB's PosixEnv::LockFile takes a POSIX record lock (F_SETLK) on LOCK; F_GETLK reports a
  // conflicting lock held by another process without taking one.
  const std::string lock = (fs::path(dir) / "LOCK").string();
  int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  const bool held = ::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

Result<std::unique_ptr<OpenedLog>> OpenDataDir(const std::string& dir, Access access,
                                               bool check_head, LogSink sink) {
  std::error_code ec;
  if (access != Access::kCreate && !fs::exists(dir, ec)) {
    return MakeError(ErrorCode::kNotFound, dir + " does not exist");
  }
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    return MakeError(ErrorCode::kInvalidArgument, dir + " is not a directory");
  }
  events::RocksEventLog::Options o;
  o.check_head_on_open = check_head;
  o.log = std::move(sink);
  o.create_if_missing = access == Access::kCreate;
  std::string scratch;
  if (access == Access::kRead) {
    o.mode = events::RocksEventLog::Mode::kReadOnly;
    if (HeldByAnotherProcess(dir)) {
      // Next to a running server: a secondary instance follows its writes consistently.
      std::string tmpl = (fs::temp_directory_path(ec) / "keyledger-secondary-XXXXXX").string();
      if (::mkdtemp(tmpl.data()) == nullptr) {
        return MakeError(ErrorCode::kIoError, "cannot create a scratch directory under " +
                                                  fs::temp_directory_path(ec).string());
      }
      scratch = tmpl;
      o.mode = events::RocksEventLog::Mode::kSecondary;
      o.secondary_path = scratch;
    }
  }
  auto log = events::RocksEventLog::Open(dir, std::move(o));
  if (!log.ok()) {
    if (!scratch.empty()) fs::remove_all(scratch, ec);
    Error e = log.error();
    if (e.code == ErrorCode::kNotFound) {
      e.message = dir + " is not a keyledger data directory (it holds no RocksDB database)";
    } else if (e.code == ErrorCode::kUnavailable) {
      e.message = dir + " is in use by a running keyledgerd; stop the server first";
    }
    return e;
  }
  return std::make_unique<OpenedLog>(std::move(log).value(), std::move(scratch));
}

Result<std::unique_ptr<OpenedLog>> OpenTarget(const StoreTarget& target, Access access,
                                              bool check_head, LogSink sink) {
  if (!target.on_etcd()) return OpenDataDir(target.data_dir, access, check_head, std::move(sink));
  // The etcd log keeps its snapshots in a node-local RocksDB; a tool's goes to a scratch
  // directory removed on close (snapshots of an etcd log belong to each keyledgerd node).
  std::error_code ec;
  std::string scratch = (fs::temp_directory_path(ec) / "keyledger-etcd-XXXXXX").string();
  if (::mkdtemp(scratch.data()) == nullptr) {
    return MakeError(ErrorCode::kIoError, "cannot create a scratch directory under " +
                                              fs::temp_directory_path(ec).string());
  }
  events::StoreConfig config;
  config.kind = events::StoreConfig::Kind::kEtcd;
  config.data_dir = scratch;
  config.log = std::move(sink);
  // The scratch store holds nothing: the smallest budget RocksDB works with.
  config.block_cache_bytes = 1 << 20;
  config.write_buffer_bytes = 4 << 20;
  cli::CopyEtcdOptions(target.etcd, config);
  config.etcd_create_if_missing = access == Access::kCreate;
  auto log = events::OpenStore(config);
  if (!log.ok()) {
    fs::remove_all(scratch, ec);
    Error err = log.error();
    if (err.code == ErrorCode::kNotFound) {
      err.message += " (is --etcd-prefix right? keyledgerd creates the log on its first start)";
    } else if (err.code == ErrorCode::kIoError) {
      err.message = "cannot reach etcd: " + err.message;
    }
    return err;
  }
  return std::make_unique<OpenedLog>(std::move(log).value(), std::move(scratch), true);
}

Result<std::optional<events::MasterKey>> LoadExistingMasterKey(const std::string& key_file,
                                                               const std::string& data_dir,
                                                               const LogSink& sink) {
  events::MasterKeySource source;
  if (!key_file.empty()) {
    source.file = key_file;
  } else if (const char* env = std::getenv("KEYLEDGER_MASTER_KEY"); env != nullptr && *env) {
    source.env_base64 = env;
  } else if (data_dir.empty()) {
    return std::optional<events::MasterKey>();  // an etcd log: no directory, no development key
  } else {
    std::error_code ec;
    const fs::path dev = fs::path(data_dir) / "master.key";
    if (!fs::exists(dev, ec)) return std::optional<events::MasterKey>();
    source.file = dev.string();  // as a file: LoadMasterKey would create a missing dev key
  }
  KL_ASSIGN_OR_RETURN(events::MasterKey key, events::LoadMasterKey(source, sink));
  return std::optional<events::MasterKey>(std::move(key));
}

LogSink StderrSink(std::string tool) {
  return [tool = std::move(tool)](LogLevel level, std::string_view message) {
    if (level == LogLevel::kDebug) return;
    const char* tag = level == LogLevel::kError     ? "error"
                      : level == LogLevel::kWarning ? "warning"
                                                    : "note";
    std::fprintf(stderr, "%s: %s: %.*s\n", tool.c_str(), tag, static_cast<int>(message.size()),
                 message.data());
  };
}

// ---- terminal output ----

bool IsTty(std::FILE* f) { return ::isatty(::fileno(f)) == 1; }

std::string Style::Wrap(std::string_view code, std::string_view s) const {
  if (!enabled_ || code.empty()) return std::string(s);
  std::string out = "\x1b[";
  out += code;
  out += 'm';
  out += s;
  out += "\x1b[0m";
  return out;
}

Result<Style> StyleFor(const cli::Args& args, std::FILE* out) {
  const std::string mode = args.Get("--color").value_or("auto");
  if (mode == "auto") return Style(IsTty(out) && std::getenv("NO_COLOR") == nullptr);
  if (mode == "always") return Style(true);
  if (mode == "never") return Style(false);
  return MakeError(ErrorCode::kInvalidArgument, "--color must be auto, always or never");
}

namespace {

// Decodes one UTF-8 code point at s[i] (advancing i); invalid bytes count as one column each.
char32_t NextCodePoint(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + static_cast<size_t>(len) > s.size()) len = 1;
  for (int k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0xC0) != 0x80) len = 1;
  }
  char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < len; ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
  }
  i += static_cast<size_t>(len);
  return cp;
}

int CodePointWidth(char32_t cp) {
  if (cp >= 0x0300 && cp <= 0x036F) return 0;  // combining diacritics
  if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1FAFF) ||
      (cp >= 0x20000 && cp <= 0x3FFFD)) {
    return 2;
  }
  return 1;
}

}  // namespace

std::string Printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  auto escape = [&](unsigned char b) {
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 15];
  };
  for (size_t i = 0; i < text.size();) {
    const size_t start = i;
    const char32_t cp = NextCodePoint(text, i);
    const bool invalid = i - start == 1 && static_cast<unsigned char>(text[start]) >= 0x80;
    if (invalid || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
      for (size_t k = start; k < i; ++k) escape(static_cast<unsigned char>(text[k]));
    } else {
      out.append(text.substr(start, i - start));
    }
  }
  return out;
}

size_t DisplayWidth(std::string_view utf8) {
  size_t width = 0;
  for (size_t i = 0; i < utf8.size();) {
    width += static_cast<size_t>(CodePointWidth(NextCodePoint(utf8, i)));
  }
  return width;
}

std::string Truncate(std::string_view utf8, size_t width) {
  if (DisplayWidth(utf8) <= width) return std::string(utf8);
  if (width == 0) return "";
  std::string out;
  size_t used = 0;
  for (size_t i = 0; i < utf8.size();) {
    const size_t start = i;
    const auto w = static_cast<size_t>(CodePointWidth(NextCodePoint(utf8, i)));
    if (used + w > width - 1) break;
    out.append(utf8.substr(start, i - start));
    used += w;
  }
  out += "\u2026";
  return out;
}

Table::Table(std::vector<std::string> header, size_t max_width)
    : header_(std::move(header)), max_width_(max_width) {}

void Table::AddRow(std::vector<Cell> cells, std::vector<std::string> notes) {
  cells.resize(header_.size());
  rows_.push_back(Row{std::move(cells), std::move(notes)});
}

void Table::Print(std::FILE* out, const Style& style) const {
  std::vector<size_t> widths(header_.size(), 0);
  for (size_t c = 0; c < header_.size(); ++c) widths[c] = DisplayWidth(header_[c]);
  for (const Row& row : rows_) {
    for (size_t c = 0; c < row.cells.size(); ++c) {
      widths[c] =
          std::max(widths[c], std::min(max_width_, DisplayWidth(Printable(row.cells[c].text))));
    }
  }
  auto print_line = [&](const std::vector<Cell>& cells, bool header) {
    std::string line;
    for (size_t c = 0; c < cells.size(); ++c) {
      const bool last = c + 1 == cells.size();
      // The last column is never cut: it holds the details people read.
      const std::string printable = Printable(cells[c].text);
      std::string text = last ? printable : Truncate(printable, max_width_);
      const size_t pad = last ? 0 : widths[c] - std::min(widths[c], DisplayWidth(text));
      line += header ? style.Bold(text) : style.Wrap(cells[c].color, text);
      if (!last) line += std::string(pad + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::fprintf(out, "%s\n", line.c_str());
  };
  std::vector<Cell> header;
  for (const auto& h : header_) header.push_back(Cell{h, ""});
  print_line(header, true);
  for (const Row& row : rows_) {
    print_line(row.cells, false);
    for (const std::string& note : row.notes) {
      std::fprintf(out, "    %s\n", Printable(note).c_str());
    }
  }
}

std::string PrettyJson(std::string_view compact) {
  std::string out;
  out.reserve(compact.size() * 2);
  int depth = 0;
  bool in_string = false;
  auto newline = [&](int d) {
    out += '\n';
    out.append(static_cast<size_t>(2 * std::max(d, 0)), ' ');
  };
  for (size_t i = 0; i < compact.size(); ++i) {
    const char c = compact[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < compact.size()) {
        out += compact[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[': {
        const char close = c == '{' ? '}' : ']';
        if (i + 1 < compact.size() && compact[i + 1] == close) {  // {} and [] stay as they are
          out += c;
          out += close;
          ++i;
          break;
        }
        out += c;
        newline(++depth);
        break;
      }
      case '}':
      case ']':
        newline(--depth);
        out += c;
        break;
      case ',':
        out += c;
        newline(depth);
        break;
      case ':':
        out += ": ";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatCount(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string FormatSeconds(double seconds) {
  char buf[64];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(seconds) / 3600,
                  (static_cast<int>(seconds) % 3600) / 60);
  }
  return buf;
}

int64_t MonotonicMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- progress ----

Progress::Progress(std::string label, uint64_t total, Mode mode, double interval_seconds)
    : label_(std::move(label)),
      total_(total),
      mode_(mode),
      interval_(interval_seconds),
      start_us_(MonotonicMicros()) {
  if (mode_ == Mode::kAuto) mode_ = IsTty(stderr) ? Mode::kBar : Mode::kLines;
  last_draw_us_ = start_us_;
}

Progress::~Progress() {
  if (!finished_ && mode_ == Mode::kBar) std::fputc('\n', stderr);
}

void Progress::Update(uint64_t done) {
  if (mode_ == Mode::kNone) return;
  const int64_t now = MonotonicMicros();
  const int64_t every = mode_ == Mode::kBar ? 100'000 : static_cast<int64_t>(interval_ * 1e6);
  if (now - last_draw_us_ < every) return;
  last_draw_us_ = now;
  Draw(done, false);
}

void Progress::Finish(uint64_t done) {
  if (mode_ == Mode::kNone || finished_) return;
  Draw(done, true);
  finished_ = true;
}

void Progress::Draw(uint64_t done, bool final) {
  const double elapsed = static_cast<double>(MonotonicMicros() - start_us_) / 1e6;
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  const double fraction =
      total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  std::string eta = "-";
  if (rate > 0 && done < total_) eta = FormatSeconds(static_cast<double>(total_ - done) / rate);
  const std::string rate_text = FormatCount(static_cast<uint64_t>(rate)) + " events/s";
  if (mode_ == Mode::kBar) {
    constexpr int kBarWidth = 30;
    const int filled = static_cast<int>(fraction * kBarWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kBarWidth - filled), '.');
    std::fprintf(stderr, "\r\x1b[2K%s [%s] %3d%% %s/%s  %s  ETA %s", label_.c_str(), bar.c_str(),
                 static_cast<int>(fraction * 100), FormatCount(done).c_str(),
                 FormatCount(total_).c_str(), rate_text.c_str(), final ? "0s" : eta.c_str());
    if (final) std::fputc('\n', stderr);
  } else {
    std::fprintf(stderr, "%s: %s/%s events (%d%%), %s, %s %s\n", label_.c_str(),
                 FormatCount(done).c_str(), FormatCount(total_).c_str(),
                 static_cast<int>(fraction * 100), rate_text.c_str(), final ? "took" : "ETA",
                 final ? FormatSeconds(elapsed).c_str() : eta.c_str());
  }
  std::fflush(stderr);
}

Result<Progress::Mode> ProgressModeFrom(const cli::Args& args) {
  const std::string mode = args.Get("--progress").value_or("auto");
  if (mode == "auto") return Progress::Mode::kAuto;
  if (mode == "bar") return Progress::Mode::kBar;
  if (mode == "lines") return Progress::Mode::kLines;
  if (mode == "none") return Progress::Mode::kNone;
  return MakeError(ErrorCode::kInvalidArgument, "--progress must be auto, bar, lines or none");
}

}  // namespace keyledger::tools
