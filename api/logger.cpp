#include "api/logger.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "api/text.hpp"
#include "events/json_writer.hpp"

namespace keyledger::api {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string NowRfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

namespace {

void WriteStderr(std::string_view line) {
  // One write(2) per line keeps lines whole even when other processes share the descriptor.
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a failing stderr
    }
    done += static_cast<size_t>(n);
  }
}

// Log text can come from anywhere (exception texts, storage messages); the JSON writer needs
// valid UTF-8, so anything else is repaired rather than trusted.
void SafeMember(json::Writer& w, std::string_view key, std::string_view value) {
  w.Key(key);
  if (IsValidUtf8(value)) {
    w.String(value);
  } else {
    w.String(SanitizeUtf8(value));
  }
}

void StartLine(json::Writer& w, LogLevel level, std::string_view msg) {
  w.BeginObject().Member("ts", NowRfc3339()).Member("level", LogLevelName(level));
  SafeMember(w, "msg", msg);
}

void AddField(json::Writer& w, const LogField& f) {
  if (const auto* text = std::get_if<std::string_view>(&f.value)) {
    SafeMember(w, f.key, *text);
    return;
  }
  w.Key(f.key);
  std::visit(
      [&w](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          w.String(v);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          w.Int(v);
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          w.Uint(v);
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isfinite(v)) {
            w.Double(v);
          } else {
            w.Null();
          }
        } else {
          w.Bool(v);
        }
      },
      f.value);
}

}  // namespace

Logger::Logger(LogLevel min_level, Writer writer)
    : min_level_(min_level), writer_(writer ? std::move(writer) : Writer(WriteStderr)) {}

void Logger::Write(std::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  writer_(line);
}

void Logger::Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!Enabled(level)) return;
  json::Writer w(128 + msg.size());
  StartLine(w, level, msg);
  for (const LogField& f : fields) AddField(w, f);
  w.EndObject();
  std::string line = w.Take();
  line += '\n';
  Write(line);
}

void Logger::LogRequest(const RequestLogEntry& e) {
  LogLevel level = LogLevel::kInfo;
  if (e.status >= 500) {
    level = LogLevel::kError;
  } else if (!e.note.empty()) {
    level = LogLevel::kWarning;
  }
  if (!Enabled(level)) return;
  json::Writer w(256 + e.path.size() + e.note.size());
  StartLine(w, level, "request");
  SafeMember(w, "method", e.method);
  SafeMember(w, "path", e.path);
  w.Member("route", e.route);
  w.Member("status", static_cast<int64_t>(e.status));
  // Microsecond resolution is plenty and keeps lines short.
  w.Key("duration_ms").Double(std::round(e.duration_ms * 1000.0) / 1000.0);
  w.Member("request_id", e.request_id);
  SafeMember(w, "actor", e.actor);
  w.Member("client_ip", e.client_ip);
  if (!e.note.empty()) SafeMember(w, "note", e.note);
  w.EndObject();
  std::string line = w.Take();
  line += '\n';
  Write(line);
}

LogSink Logger::AsSink() {
  return [this](LogLevel level, std::string_view message) { Log(level, message); };
}

}  // namespace keyledger::api
