#include "events/event_log.hpp"

#include <future>

namespace keyledger::events {

std::string_view AuxSpaceName(AuxSpace space) {
  switch (space) {
    case AuxSpace::kKeyring:
      return "keyring";
    case AuxSpace::kIdempotency:
      return "idempotency";
    case AuxSpace::kSnapshots:
      return "snapshots";
    case AuxSpace::kTelemetry:
      return "telemetry";
  }
  return "unknown";
}

Result<AppendResult> EventLog::Append(AppendRequest request) {
  std::promise<Result<AppendResult>> promise;
  auto future = promise.get_future();
  AppendAsync(std::move(request),
              [&promise](Result<AppendResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

Result<AppendResult> EventLog::Append(std::string stream, int64_t expected_version,
                                      std::vector<NewEvent> events, EventMetadata metadata) {
  AppendRequest req;
  req.streams.push_back(
      StreamAppend{std::move(stream), expected_version, std::move(metadata), std::move(events)});
  return Append(std::move(req));
}

}  // namespace keyledger::events
