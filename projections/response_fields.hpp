#pragma once
// The response tables: one per entity response (EndpointAPIKeyResponse,
// ProviderWithEndpointsSummary, ProviderEndpointResponse), one line per member, in the order
// the server emits them. Each line states the member's published JSON type, nullability, shape
// and description, and the function that writes its value. From them come:
//   - the views (projections/views.cpp): WriteKeyResponse, WriteProviderSummary and
//     WriteEndpointResponse, and the list views built on them, write every line in table order
//     and nothing else;
//   - the OpenAPI response schemas (api/openapi_schemas.cpp): properties in table order, every
//     member required.
// The request side of the same entities is src/field_tables.hpp (fields, limits, presence,
// secrets), which sits above this layer; tests/registry/field_table_test.cpp checks that every
// request field a response echoes has its line here, in request-table order, and that a secret
// request field has no line of its own name: it appears only through the members that stand for it
// (`stands_for`).
//
// The tables are defined in projections/views.cpp, next to the value writers they use.
// Adding an Aether field: its request line (src/field_tables.cpp) and one response line (most
// are `KL_STATE(member, .type = ...)`: the writer follows from the state member's type, or
// `KL_TIME(member)` for a time).
//
// Thread safety: the tables are immutable after static initialization; the writers are pure.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "events/json_writer.hpp"
#include "projections/state.hpp"
#include "projections/views.hpp"

namespace keyledger::projections::response {

// The JSON type a member is published with (kDateTime: a string with format date-time; the
// writer prints pydantic's UTC form).
enum class Type : uint8_t { kString, kInteger, kNumber, kBoolean, kDateTime, kObject, kArray };

// What an array's items or an object's values are, or a published shape too irregular for
// type + nullable (its schema fragment is written by api/openapi_schemas.cpp).
enum class Shape : uint8_t {
  kPlain,                  // the type alone
  kFormat,                 // string: one of the API formats (upper-case)
  kFormatList,             // array of kFormat
  kNumberMap,              // object: name -> number
  kBooleanMap,             // object: name -> boolean
  kStringMap,              // object: name -> string
  kObjectList,             // array of objects
  kAllowedModels,          // list | by-format dict | null
  kProxy,                  // $ref ProxyConfig or null
  kBillingType,            // string: one of the billing types
  kHealthByFormat,         // format -> FormatHealth as Aether stores it
  kBreakerByFormat,        // format -> circuit breaker as Aether stores it
  kEndpointHealthDetails,  // array of per-endpoint health summaries
};

template <typename View>
struct Member {
  std::string_view name{};
  Type type = Type::kString;
  bool nullable = false;
  Shape shape = Shape::kPlain;
  std::string_view description{};  // OpenAPI description ("" when none)
  // The secret request field this member stands for ("" for every other member): api_key is
  // never a member; api_key_masked shows its mask and api_key_plain is null, except in the
  // answer to a create when the server is configured to echo the plaintext once.
  std::string_view stands_for{};
  void (*write)(json::Writer& w, const View& v) = nullptr;
};

// What the key view writes from: the key, the plaintext echoed on create (when configured), and
// the aggregates computed once per response.
struct KeyView {
  const KeyState& key;
  const std::optional<std::string>& plain;
  KeyHealthSummary health{};
};

// What the provider summary writes from: the provider and its endpoint and key aggregates.
struct ProviderView {
  const State& state;
  const ProviderState& provider;
  std::vector<const EndpointState*> endpoints{};  // by created_at, id
  int64_t active_endpoints = 0;
  int64_t total_keys = 0;
  int64_t active_keys = 0;
  int64_t unhealthy_endpoints = 0;
  double avg_health_score = 1.0;
  std::string endpoint_health_details{};  // JSON array
};

// What the endpoint view writes from: the endpoint, its provider (nullptr if gone) and the
// counts of the provider's keys serving its format.
struct EndpointView {
  const EndpointState& endpoint;
  const ProviderState* provider = nullptr;
  int64_t total_keys = 0;
  int64_t active_keys = 0;
};

std::span<const Member<KeyView>> KeyMembers();
std::span<const Member<ProviderView>> ProviderMembers();
std::span<const Member<EndpointView>> EndpointMembers();

// Writes the object of `table` for `v`: every member, in table order.
template <typename View>
void WriteObject(json::Writer& w, std::span<const Member<View>> table, const View& v) {
  w.BeginObject();
  for (const auto& m : table) {
    w.Key(m.name);
    m.write(w, v);
  }
  w.EndObject();
}

}  // namespace keyledger::projections::response
