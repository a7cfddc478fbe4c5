#pragma once
// A random, realistic command workload against a Registry, for benchmarks and long-running tests
// (the 50,000-command rebuild test, the 1,000,000-event rebuild benchmark, the issue-7 load
// harness). Commands are submitted concurrently (up to `in_flight` at a time) so that the
// registry group-commits them, as it does under real API load.
//
// The mix, by default: mostly gateway health reports (many items per command), key updates,
// reveals with reasons, secret rotations, health resets, key deletes and creates (the key count
// stays near `keys`), provider and endpoint updates, and optionally provider deletions (which
// cascade and are replaced by a new provider). Deterministic choices for a given seed; the
// commands' outcomes are not (concurrency decides which of two racing commands wins), so some
// commands fail with 404/409 and are counted, not retried.
//
// Thread safety: RunWorkload blocks its caller; completions run on the registry's writer thread.

#include <cstdint>
#include <functional>
#include <string>

#include "events/status.hpp"
#include "src/intents.hpp"
#include "src/registry.hpp"

namespace keyledger::bench {

struct WorkloadMix {  // relative weights of the random commands
  uint32_t health_report = 55;
  uint32_t update_key = 12;
  uint32_t reveal_key = 8;
  uint32_t rotate_secret = 3;
  uint32_t reset_health = 3;
  uint32_t create_key = 6;
  uint32_t delete_key = 5;
  uint32_t update_provider = 2;
  uint32_t update_endpoint = 2;
  uint32_t delete_provider = 0;  // cascades to its keys and endpoints; then a new provider
};

struct WorkloadOptions {
  uint64_t seed = 1;
  size_t providers = 10;
  // Endpoints per provider, one per API format (at most 6).
  size_t endpoints_per_provider = 2;
  size_t keys = 1000;  // created before the random commands, spread over the providers
  // Random commands after the setup. Stops early once the log holds `until_events` events
  // (0: no such bound).
  uint64_t commands = 10'000;
  uint64_t until_events = 0;
  size_t health_items_per_report = 20;
  // Commands submitted and not yet completed. Capped so that in-flight health reports hold at
  // most 8,000 events: the registry group-commits everything queued into one append, and an
  // append over events::kMaxEventsPerAppend (10,000) fails the whole group (see the report of
  // issue 6; the registry does not split groups by event count yet).
  size_t in_flight = 256;
  WorkloadMix mix;
  // Called every ~1,000 completed commands with (commands done, log head); may be empty.
  std::function<void(uint64_t commands, uint64_t events)> progress;
  // Checked before each random command; the run ends (after the in-flight commands complete)
  // once it returns true. May be empty.
  std::function<bool()> stop;
};

struct WorkloadStats {
  uint64_t setup_commands = 0;
  uint64_t commands = 0;   // random commands submitted
  uint64_t succeeded = 0;  // of those, answered 2xx
  uint64_t failed = 0;     // answered with an error (expected under concurrency)
  uint64_t events = 0;     // log head after the run
};

// Runs the setup (providers, endpoints, keys) and then the random commands against `registry`,
// whose log `log` is (for the head). Errors only when the setup fails.
Result<WorkloadStats> RunWorkload(registry::Registry& registry, const events::EventReader& log,
                                  const WorkloadOptions& options);

// Health reports decided as builds before health telemetry (README "Log growth") decided them:
// one KeyHealthReported event per item, whatever the breaker did. For logs like the ones those
// builds wrote (old logs must still fold), for measuring that event's size (event_sizes), and for
// tests that need many events cheaply. Items must name existing keys and formats they serve.
std::unique_ptr<registry::Command> MakeLegacyHealthReports(
    std::vector<registry::HealthReportItem> items);

}  // namespace keyledger::bench
