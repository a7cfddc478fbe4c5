#pragma once
// Read views of the health, RPM and adaptive-RPM routes (aether-spec.md §11.1-§11.3), in
// Aether's member order, with the deliberate differences listed in the README:
//   - a health score of 0.0 reads as 0.0 (Aether reads a falsy score as 1.0);
//   - H4 computes what Aether's summary was written to compute (Aether always answers zeros);
//   - H5/H6 build their figures from the gateways' health reports that changed a breaker
//     (KeyHealthReported events; the others are telemetry, README "Log growth") in the lookback
//     window, attributed to the format each report names; keyledger has no
//     request_candidates table (spec §11.1.6). H5 counts active endpoints only.
//   - state Aether keeps only in Redis or memory (spec §11.7) is answered as a stateless
//     reimplementation does: current_rpm is 0. No learner runs in keyledger, so
//     adjustment_history is always empty.
//
// `now_us` is the instant the windows and timelines are computed against (the wall clock for a
// live read, the state's time for a point-in-time read). All functions are pure on an immutable
// State (the H5/H6 ones also read the log) and thread-safe.

#include <cstdint>
#include <optional>
#include <string>

#include "events/event_log.hpp"
#include "events/status.hpp"
#include "projections/state.hpp"

namespace keyledger::projections {

// Timelines have this many segments (spec §11.1.6).
inline constexpr int kTimelineSegments = 100;

// H1 HealthStatusResponse: every format of the key (api_format empty) or one format.
std::string KeyHealthJson(const KeyState& k, const std::optional<std::string>& api_format,
                          int64_t now_us);
// Breaker state name at now_us: "closed", "half_open" or "open" (spec §11.1.1).
std::string BreakerStateName(const FormatBreaker& b, int64_t now_us);

// H4 HealthSummaryResponse.
std::string HealthSummaryJson(const State& s);

// H5: one item per format of the active endpoints of active providers, by health_score
// descending (ties in spec §4.5's format order).
Result<std::string> HealthStatusJson(const State& s, const events::EventReader& log,
                                     int64_t lookback_hours, int64_t now_us);
// H6 ApiFormatHealthMonitorResponse; events: each format's newest `per_format_limit` reports.
Result<std::string> ApiFormatHealthJson(const State& s, const events::EventReader& log,
                                        int64_t lookback_hours, int64_t per_format_limit,
                                        int64_t now_us);

// R1 KeyRpmStatusResponse: {"key_id","current_rpm":0,"rpm_limit"}.
std::string KeyRpmJson(const KeyState& k);

// A1: the adaptive keys (rpm_limit null), of one provider when `provider_id` is set, by id.
std::string AdaptiveKeysJson(const State& s, const std::optional<std::string>& provider_id);
// A4 AdaptiveStatsResponse.
std::string AdaptiveStatsJson(const KeyState& k);
// A6.
std::string AdaptiveSummaryJson(const State& s);

}  // namespace keyledger::projections
