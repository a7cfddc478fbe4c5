#pragma once
// One field table per entity (key, provider, endpoint): the request fields of Aether's models,
// each with its JSON type, limits, nullability per model, create default, whether it is a
// secret, and its OpenAPI description. The tables live in field_tables.cpp, one line per field;
// each line also names the validator (src/field_readers.hpp) and the DTO and state members.
// From them come:
//   - the request readers (Read* below): every field of a model, in table order, with the
//     table's limits handed to the validator, so the error messages quote the table's bounds;
//   - the mapping of a DTO onto the state the registry's commands take (Map* below), in table
//     order (which is the order of the `fields` list an update event records);
//   - the OpenAPI request schemas (api/openapi_schemas.cpp): type, nullable, minimum, maximum,
//     minLength, maxLength, minItems, pattern, default and required, from the same entries.
// The responses are driven by the response tables one layer down
// (projections/response_fields.hpp: member order, types, the members that stand for a secret),
// which tests/registry/field_table_test.cpp holds to these tables: every field a response
// echoes in this table's order, no secret field as a member.
// Adding an Aether field: a DTO member in src/commands.hpp, the state member, one table line
// here and its response line (projections/views.cpp, usually `KL_STATE(member, type)`), plus
// its codec line, which the events engineer owns.
//
// Irregular fields (a union such as allowed_models, a validator that maps blank to null) name a
// custom reader in their table line; their published schema is one of Schema's named fragments.
//
// Thread safety: the tables are immutable after static initialization; all functions are pure.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "projections/state.hpp"
#include "src/commands.hpp"
#include "src/json_input.hpp"

namespace keyledger::registry::fields {

// The JSON type a field is published with.
enum class JsonType : uint8_t { kString, kInteger, kNumber, kBoolean, kObject, kDateTime, kArray };

// How one request model treats a field.
enum class Presence : uint8_t {
  kAbsent,    // not a field of this model
  kRequired,  // absent is `missing`; null is the type's error (create only)
  kOptional,  // absent keeps the default (create) or the stored value (update); null is an error
  kNullable,  // like kOptional, and an explicit null stores null
};

// Published schemas too irregular for the generic rule; api/openapi_schemas.cpp writes them,
// still taking the limits (items, floats) from the entry.
enum class Schema : uint8_t {
  kGeneric,
  kApiFormats,       // list of API formats (minItems from `items`)
  kRateMultipliers,  // format -> multiplier (value minimum from `floats`)
  kAllowedModels,    // list | by-format dict | null
  kCapabilities,     // capability -> bool
  kBillingType,      // enum, null means the default
  kProxy,            // $ref ProxyConfig or null
  kHeaders,          // header name -> value
  kReportTime,       // a date-time string or Unix seconds/milliseconds
};

struct FieldSpec {
  std::string_view name{};
  JsonType type = JsonType::kString;
  IntRange ints{};             // kInteger: ge/le (the validator's and the schema's minimum/maximum)
  FloatRange floats{};         // kNumber (and rate_multipliers' values): ge
  StrLength length{};          // kString: min/max code points, checked on the raw string
  ListLength items{};          // kArray: minItems/maxItems
  std::string_view pattern{};  // published regex; the validator checks the same rule by hand
  Presence create = Presence::kAbsent;
  Presence update = Presence::kAbsent;  // kAbsent: not patchable
  std::string_view default_json{};      // the create default as published ("" when none)
  bool secret = false;  // plaintext credential: never echoed in an error, never in a response
  Schema schema = Schema::kGeneric;
  std::string_view create_doc{};  // OpenAPI description in the create model ("" when none)
  std::string_view update_doc{};  // ... and in the update model

  bool nullable(bool create_model) const {
    return (create_model ? create : update) == Presence::kNullable;
  }
};

// The tables, in model declaration order (Aether's pydantic models). Keys: create and update
// (EndpointAPIKeyCreate / EndpointAPIKeyUpdate). Providers: POST and PUT (CreateProviderRequest /
// UpdateProviderRequest, which share their fields). Provider PATCH (ProviderUpdateRequest) has
// its own order and a narrower quota_reset_day, so its own table: its `update` column is the
// PATCH model. Endpoints: create and update.
std::span<const FieldSpec> KeyFields();
std::span<const FieldSpec> ProviderFields();
std::span<const FieldSpec> ProviderPatchFields();
std::span<const FieldSpec> EndpointFields();
// The nested models, which have no update form: ProxyConfig (a provider's or an endpoint's
// proxy) and HealthReport (one item of POST .../keys/health-reports). Their readers are
// hand-written (src/field_readers.cpp, src/commands.cpp) and take their limits from these
// entries; the published schemas are generated from them like the others.
std::span<const FieldSpec> ProxyFields();
std::span<const FieldSpec> HealthReportFields();

// The entry named `name`, or nullptr.
const FieldSpec* FindField(std::span<const FieldSpec> table, std::string_view name);
// The entry named `name`, which must exist (aborts otherwise: a programmer error).
const FieldSpec& FieldOf(std::span<const FieldSpec> table, std::string_view name);

// Readers: every field of the model, in table order, errors appended to m.errors().
void ReadKeyCreate(ModelReader& m, KeyCreate& dto);
void ReadKeyUpdate(ModelReader& m, KeyUpdate& dto);
void ReadProviderCreate(ModelReader& m, ProviderCreate& dto);
void ReadProviderUpdate(ModelReader& m, ProviderUpdate& dto);
void ReadProviderPatch(ModelReader& m, ProviderUpdate& dto);
void ReadEndpointCreate(ModelReader& m, EndpointCreate& dto);
void ReadEndpointUpdate(ModelReader& m, EndpointUpdate& dto);

// Mapping onto the state: every mapped field in table order; updates append the name of each
// field they set to `fields`. Not mapped here (src/dto_adapters.cpp does it): the body's
// provider_id, the key's api_key (a secret the command seals) and proxies (ProxyInput).
void MapKeyCreate(const KeyCreate& dto, projections::KeyState& out);
void MapKeyUpdate(const KeyUpdate& dto, projections::KeyState& out,
                  std::vector<std::string>& fields);
void MapProviderCreate(const ProviderCreate& dto, projections::ProviderState& out);
void MapProviderUpdate(const ProviderUpdate& dto, projections::ProviderState& out,
                       std::vector<std::string>& fields);
void MapEndpointCreate(const EndpointCreate& dto, projections::EndpointState& out);
void MapEndpointUpdate(const EndpointUpdate& dto, projections::EndpointState& out,
                       std::vector<std::string>& fields);

}  // namespace keyledger::registry::fields
