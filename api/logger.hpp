#pragma once
// Structured JSON log lines, one object per line:
//   {"ts":"2026-01-13T05:07:22.123Z","level":"info","msg":"...", ...fields}
// The server logs one line per request (RequestLogEntry): method, path (no query string),
// status, duration_ms, request_id, actor, client_ip, and an optional operator-only note. Bodies
// and the Authorization header are never logged; callers must not put secrets in fields.
//
// Thread-safe: lines are built without a lock and written with one call under a mutex, so lines
// from different threads never interleave. The default writer appends to stderr.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>

#include "events/log_sink.hpp"

namespace keyledger::api {

struct LogField {
  using Value = std::variant<std::string_view, int64_t, uint64_t, double, bool>;
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, int64_t v) : key(k), value(v) {}
  LogField(std::string_view k, uint64_t v) : key(k), value(v) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
  std::string_view key;
  Value value;
};

struct RequestLogEntry {
  std::string_view method;
  std::string_view path;  // decoded path, without the query string
  int status = 0;
  double duration_ms = 0;
  std::string_view request_id;
  std::string_view actor;  // principal name, "" for anonymous
  std::string_view client_ip;
  std::string_view route;  // the matched pattern, "" when no route matched
  std::string_view note;   // Response::log_note (operator-only error text), may be empty
};

std::string_view LogLevelName(LogLevel level);  // "debug", "info", "warning", "error"

class Logger {
 public:
  using Writer = std::function<void(std::string_view line)>;  // `line` ends with '\n'

  // Lines below `min_level` are dropped. `writer` defaults to an unbuffered write to stderr.
  explicit Logger(LogLevel min_level = LogLevel::kInfo, Writer writer = nullptr);
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
  // Level: info for status < 500, error for 5xx (and warning when a note is present below 500).
  void LogRequest(const RequestLogEntry& entry);

  // A keyledger::LogSink writing through this logger; valid while the logger lives.
  LogSink AsSink();

  bool Enabled(LogLevel level) const { return level >= min_level_; }

 private:
  void Write(std::string_view line);

  LogLevel min_level_;
  Writer writer_;
  std::mutex mu_;
};

// RFC 3339 UTC with milliseconds ("2026-01-13T05:07:22.123Z") for the current time.
std::string NowRfc3339();

}  // namespace keyledger::api
