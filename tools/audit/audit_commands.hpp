#pragma once
// keyledger-audit's subcommands (tools/audit/*.cpp). Each takes the arguments after its name
// and returns the process exit status (tools/common/tool_support.hpp).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/record.hpp"

namespace keyledger::tools::audit {

int RunVerify(const std::vector<std::string>& args);
int RunLog(const std::vector<std::string>& args);
int RunHistory(const std::vector<std::string>& args);
int RunState(const std::vector<std::string>& args);
int RunExport(const std::vector<std::string>& args);
int RunImport(const std::vector<std::string>& args);

// One line for humans about what an event did, from its redacted payload and metadata (never a
// secret). Holds a reusable JSON parser; one per thread.
class EventSummarizer {
 public:
  EventSummarizer();
  ~EventSummarizer();
  EventSummarizer(const EventSummarizer&) = delete;
  EventSummarizer& operator=(const EventSummarizer&) = delete;

  std::string Summary(const events::EventRecord& r);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
// The ANSI colour of an event type in tables (created green, deleted red, revealed yellow...).
std::string_view EventColor(events::EventType type);

// "keyledger-audit: <message>" on stderr; returns `code`.
int Fail(int code, const std::string& message);
// The message, a blank line and the usage text on stderr; returns kExitUsage.
int UsageError(const std::string& message, const char* usage);

}  // namespace keyledger::tools::audit
