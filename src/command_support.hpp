#pragma once
// Helpers shared by the registry's commands: errors with Aether's messages, event construction,
// If-Match checks and secret sealing.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "events/event_log.hpp"
#include "events/json_writer.hpp"
#include "projections/event_payloads.hpp"
#include "projections/state.hpp"
#include "src/intents.hpp"
#include "src/registry.hpp"

namespace keyledger::registry {

Error NotFound(std::string message);
Error NotFoundWithResource(std::string message, std::string_view resource_type);
Error InvalidRequest(std::string message);
// 412 when the request carried If-Match and the resource is at another version.
Status CheckIfMatch(const RequestContext& request, uint64_t version, std::string_view what);

events::EventMetadata Metadata(const RequestContext& request);

namespace detail {
events::StreamAppend AppendOf(std::string stream, uint64_t current_version,
                              const RequestContext& request, events::NewEvent event);
}  // namespace detail

// One event on a stream at `current_version` (the stream's version before this event). Payloads
// are only ever built from the typed events of projections/event_payloads.hpp, which write the
// newest schema version of their type.
template <typename Payload>
events::StreamAppend OneEvent(std::string stream, uint64_t current_version,
                              const RequestContext& request, const Payload& payload) {
  return detail::AppendOf(std::move(stream), current_version, request,
                          projections::MakeEvent(payload));
}

// Seals a secret for `owner` (a key id, or "<stream>/proxy") at `version`, adding the DEK write
// and the keyring guard to `decision`.
Result<projections::StoredSecret> SealInto(Decision& decision, events::Keyring& keyring,
                                           std::string_view owner, uint64_t version,
                                           std::string_view plaintext, bool with_fingerprint);
// Adds the shredding of a stored secret's DEK to `decision`.
void ShredInto(Decision& decision, const projections::StoredSecret& secret);

// Turns submitted proxy settings into stored ones, sealing a new password or keeping `previous`'s
// when none was given.
Result<std::optional<projections::Proxy>> ResolveProxy(
    Decision& decision, events::Keyring& keyring, std::string_view owner, uint64_t version,
    const std::optional<ProxyInput>& input, const std::optional<projections::Proxy>& previous);

// Credentials in headers and config (events/FORMAT.md "Credentials in headers and config").
// Each value under a credential name (`ctx.options.secret_names`) is sealed under a fresh DEK
// for "<stream>/headers/<name>" or "<stream>/config<JSON pointer>" at `version`, and replaced in
// place by its mask (events::MaskSecret); the sealed values are returned keyed by header name or
// JSON pointer. A submitted value equal to the stored mask of the same header or pointer keeps
// the stored sealed value (an admin UI sends back what it was shown); equal to the mask of a
// plaintext value of an old (schema version 1) event, it seals that plaintext. Every previous
// sealed value not kept is shredded in `decision`.
Result<projections::OrderedMap<projections::StoredSecret>> SealHeaders(
    Decision& decision, const DecideContext& ctx, std::string_view stream, uint64_t version,
    std::optional<projections::OrderedMap<std::string>>& headers,
    const std::optional<projections::OrderedMap<std::string>>& previous,
    const projections::OrderedMap<projections::StoredSecret>& previous_secrets);
Result<projections::OrderedMap<projections::StoredSecret>> SealConfig(
    Decision& decision, const DecideContext& ctx, std::string_view stream, uint64_t version,
    std::optional<projections::RawJson>& config,
    const std::optional<projections::RawJson>& previous,
    const projections::OrderedMap<projections::StoredSecret>& previous_secrets);
// Shreds every sealed value of `secrets`.
void ShredAllInto(Decision& decision,
                  const projections::OrderedMap<projections::StoredSecret>& secrets);
// What the associated data of a sealed header or config value names.
std::string HeaderSecretOwner(std::string_view stream, std::string_view name);
std::string ConfigSecretOwner(std::string_view stream, std::string_view pointer);

std::string MessageBody(std::string_view message);

// Copies the named fields from `from` to `to` through an entity codec's writer and reader, so
// updates use the same field table as events and snapshots.
template <typename E>
void CopyFields(const std::vector<std::string>& names, const E& from, E& to,
                void (*write)(json::Writer&, const E&, std::span<const std::string_view>),
                Status (*read)(std::string_view, E&)) {
  std::vector<std::string_view> views(names.begin(), names.end());
  json::Writer w;
  write(w, from, views);
  IgnoreError(read(w.str(), to));  // written by the same field table, so it reads back
}

}  // namespace keyledger::registry
