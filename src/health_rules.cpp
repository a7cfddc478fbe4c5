#include "src/health_rules.hpp"

#include <algorithm>

#include "projections/domain.hpp"

namespace keyledger::registry {

namespace c = domain::circuit;
using projections::FormatBreaker;
using projections::FormatHealth;
using projections::WindowEntry;

namespace {

constexpr int64_t kMicros = 1'000'000;

double ErrorRate(const std::vector<WindowEntry>& window) {
  if (window.empty()) return 0.0;
  int64_t failures = std::count_if(window.begin(), window.end(), [](auto& e) { return !e.ok; });
  return static_cast<double>(failures) / static_cast<double>(window.size());
}

void Open(FormatBreaker& b, int64_t at) {
  int64_t recovery =
      b.recovery_seconds == 0
          ? c::kInitialRecoverySeconds
          : std::min(b.recovery_seconds * c::kRecoveryBackoffMultiplier, c::kMaxRecoverySeconds);
  b.open = true;
  b.open_at = at;
  b.next_probe_at = at + recovery * kMicros;
  b.half_open_until.reset();
  b.half_open_successes = 0;
  b.half_open_failures = 0;
  b.recovery_seconds = recovery;
}

}  // namespace

BreakerPhase PhaseOf(const FormatBreaker& b) {
  if (!b.open) return BreakerPhase::kClosed;
  return b.half_open_until ? BreakerPhase::kHalfOpen : BreakerPhase::kOpen;
}

HealthOutcome ApplyObservation(const FormatHealth& health, const FormatBreaker& breaker,
                               const HealthObservation& o) {
  HealthOutcome out{health, breaker};
  FormatHealth& h = out.health;
  FormatBreaker& b = out.breaker;

  // Score, one request at a time as Aether does (later steps cannot change a capped score).
  for (int64_t i = 0; i < std::min<int64_t>(o.successes, 16); ++i) {
    h.health_score = std::min(1.0, h.health_score + c::kSuccessIncrement);
  }
  for (int64_t i = 0; i < std::min<int64_t>(o.failures, 64); ++i) {
    h.health_score = std::max(0.0, h.health_score - c::kFailureDecrement);
  }
  if (o.failures > 0) {
    h.consecutive_failures = o.successes > 0 ? o.failures : h.consecutive_failures + o.failures;
    if (!h.last_failure_at || *h.last_failure_at < o.at_us) h.last_failure_at = o.at_us;
  } else if (o.successes > 0) {
    h.consecutive_failures = 0;
  }

  // The sliding window: the last kWindowSize outcomes within kWindowSeconds.
  const int64_t total = o.successes + o.failures;
  const int64_t appended = std::min<int64_t>(total, c::kWindowSize);
  const int64_t ok_appended = std::max<int64_t>(0, appended - o.failures);
  for (int64_t i = 0; i < appended; ++i) h.window.push_back(WindowEntry{o.at_us, i < ok_appended});
  const int64_t horizon = o.at_us - c::kWindowSeconds * kMicros;
  std::erase_if(h.window, [&](const WindowEntry& e) { return e.ts < horizon; });
  if (h.window.size() > static_cast<size_t>(c::kWindowSize)) {
    h.window.erase(h.window.begin(), h.window.end() - static_cast<std::ptrdiff_t>(c::kWindowSize));
  }

  if (!b.open) {
    if (h.window.size() >= static_cast<size_t>(c::kMinRequestsForDecision) &&
        ErrorRate(h.window) >= c::kErrorRateThreshold) {
      Open(b, o.at_us);
    }
    return out;
  }
  if (b.next_probe_at && o.at_us < *b.next_probe_at) return out;  // still open: no probing yet

  // Half-open: probes decide.
  if (!b.half_open_until) b.half_open_until = o.at_us + c::kHalfOpenDurationSeconds * kMicros;
  b.half_open_successes += o.successes;
  b.half_open_failures += o.failures;
  if (b.half_open_failures >= c::kHalfOpenFailureThreshold) {
    Open(b, o.at_us);
  } else if (b.half_open_successes >= c::kHalfOpenSuccessThreshold) {
    b = FormatBreaker{};
    h.health_score = std::max(h.health_score, c::kProbeRecoveryScore);
    h.window.clear();
  } else if (o.at_us > *b.half_open_until) {
    Open(b, o.at_us);  // the half-open period ran out without enough successful probes
  }
  return out;
}

}  // namespace keyledger::registry
