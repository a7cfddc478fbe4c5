#pragma once
// Read views computed from a State, serialized exactly as Aether's admin API does
// (aether-spec.md §7, §8.4, §10) with the deliberate differences of DESIGN.md "HTTP API":
// health 0.0 stays 0.0, last_failure_at is the latest by time, the grouped view has a
// deterministic order, and nothing here ever decrypts (masks were stored at write time).
//
// The key, provider and endpoint responses write the members of their response tables
// (projections/response_fields.hpp), in table order; the list views are built on them.
//
// All functions are pure and thread-safe on an immutable State.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/json_writer.hpp"
#include "projections/state.hpp"

namespace keyledger::projections {

// K1/K2/K3 EndpointAPIKeyResponse. `plain` is only set on create when configured to echo it.
void WriteKeyResponse(json::Writer& w, const KeyState& k,
                      const std::optional<std::string>& plain = std::nullopt);
std::string KeyResponseJson(const KeyState& k,
                            const std::optional<std::string>& plain = std::nullopt);

// A provider's keys ordered by internal_priority, created_at, id (K1).
std::vector<const KeyState*> ProviderKeysOrdered(const State& s, std::string_view provider_id);
// K1 body: one page of that order.
std::string KeyListJson(const State& s, std::string_view provider_id, uint64_t skip,
                        uint64_t limit);

// K4: active keys of active providers, one entry per (key, format), grouped by format; order:
// global_priority (nulls last), internal_priority, created_at, id.
std::string GroupedByFormatJson(const State& s);

// GET /api/admin/providers/ (legacy list shape), ordered by provider_priority, created_at, id.
std::string ProviderListJson(const State& s, uint64_t skip, uint64_t limit,
                             std::optional<bool> is_active);
// ProviderWithEndpointsSummary.
void WriteProviderSummary(json::Writer& w, const State& s, const ProviderState& p);
std::string ProviderSummaryJson(const State& s, const ProviderState& p);
std::string ProviderSummariesJson(const State& s);
// ProviderEndpointResponse.
void WriteEndpointResponse(json::Writer& w, const State& s, const EndpointState& e);
std::string EndpointResponseJson(const State& s, const EndpointState& e);
// A provider's endpoints, newest first.
std::string EndpointListJson(const State& s, std::string_view provider_id, uint64_t skip,
                             uint64_t limit);

// Aggregates shared by the views (exposed for tests).
struct KeyHealthSummary {
  double health_score = 1.0;
  int64_t consecutive_failures = 0;
  std::optional<int64_t> last_failure_at;
  bool circuit_breaker_open = false;
};
KeyHealthSummary SummarizeHealth(const KeyState& k);
// Python's round(x, 2) (correctly rounded, ties to even on the exact binary value).
double RoundTo2(double x);

}  // namespace keyledger::projections
