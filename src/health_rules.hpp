#pragma once
// Aether's per-format health and circuit-breaker rules (aether-spec.md §4.4, §4.7), applied by
// the registry when a gateway reports request outcomes. The result is stored as the key's health
// telemetry (projections/telemetry.hpp) and, when the breaker changes phase, in a
// KeyHealthReported event, so replay never re-runs these rules.
//
// A report aggregates outcomes without their order. We assume the successes came first and the
// failures last (the conservative reading: the key ends as unhealthy as the report allows).

#include <cstdint>
#include <optional>
#include <string>

#include "projections/state.hpp"

namespace keyledger::registry {

struct HealthObservation {
  int64_t successes = 0;
  int64_t failures = 0;
  int64_t total_response_time_ms = 0;
  int64_t at_us = 0;  // when the outcomes were observed
};

struct HealthOutcome {
  projections::FormatHealth health;
  projections::FormatBreaker breaker;
};

// The breaker's phase: closed, open (no probing yet), half-open (probes decide). A report that
// changes it is a transition, recorded as an event (README "Log growth").
enum class BreakerPhase : uint8_t { kClosed, kOpen, kHalfOpen };
BreakerPhase PhaseOf(const projections::FormatBreaker& breaker);

HealthOutcome ApplyObservation(const projections::FormatHealth& health,
                               const projections::FormatBreaker& breaker,
                               const HealthObservation& observation);

}  // namespace keyledger::registry
