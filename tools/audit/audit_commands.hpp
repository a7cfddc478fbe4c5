#pragma once
// keyledger-audit's subcommands (tools/audit/*.cpp). Each takes the arguments after its name
// and returns the process exit status (tools/common/tool_support.hpp).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/record.hpp"
#include "projections/event_payloads.hpp"

namespace keyledger::tools::audit {

int RunVerify(const std::vector<std::string>& args);
int RunLog(const std::vector<std::string>& args);
int RunHistory(const std::vector<std::string>& args);
int RunState(const std::vector<std::string>& args);
int RunExport(const std::vector<std::string>& args);
int RunImport(const std::vector<std::string>& args);

// One line for humans about what an event did, from its typed payload (any stored schema
// version, upcast: projections/event_payloads.hpp) and metadata; never a secret, only masks and
// data-key ids. Holds a reusable decoder; one per thread.
class EventSummarizer {
 public:
  EventSummarizer();
  ~EventSummarizer();
  EventSummarizer(const EventSummarizer&) = delete;
  EventSummarizer& operator=(const EventSummarizer&) = delete;

  // Decodes the record's stored payload; a schema version this build cannot read is summarized
  // as the fold's error (naming the event, its type and version).
  std::string Summary(const events::EventRecord& r);
  // With the payload already decoded (a key history entry's event).
  std::string Summary(const events::EventRecord& r, const projections::Event& event);

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
