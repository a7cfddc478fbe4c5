#pragma once
// JSON codecs for projection entities, used by event payloads (registry writes, fold reads) and
// by snapshots. One field table per entity drives both directions, so a field can never be
// written under one name and read under another.
//
// Field sets: kAll is everything in the state (snapshots, digests); kConfig is what a
// create/update event carries (no versions, timestamps, health or indexes: the fold derives
// those from the record).

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "events/json_writer.hpp"
#include "events/status.hpp"
#include "projections/state.hpp"

namespace keyledger::projections {

enum class FieldSet { kAll, kConfig };

void WriteProvider(json::Writer& w, const ProviderState& p, FieldSet set);
void WriteEndpoint(json::Writer& w, const EndpointState& e, FieldSet set);
void WriteKey(json::Writer& w, const KeyState& k, FieldSet set);
// Writes only the named fields, as one object. Unknown names are a programming error (assert).
void WriteProviderFields(json::Writer& w, const ProviderState& p,
                         std::span<const std::string_view> names);
void WriteEndpointFields(json::Writer& w, const EndpointState& e,
                         std::span<const std::string_view> names);
void WriteKeyFields(json::Writer& w, const KeyState& k, std::span<const std::string_view> names);

void WriteFormatHealth(json::Writer& w, const FormatHealth& h);
void WriteFormatBreaker(json::Writer& w, const FormatBreaker& b);
void WriteStoredSecret(json::Writer& w, const StoredSecret& s);

// Reads every member of a JSON object into the entity (members absent from the object are left
// as they are). kCorruption on an unknown member, a wrong type or malformed JSON.
Status ReadProviderFields(std::string_view object_json, ProviderState& p);
Status ReadEndpointFields(std::string_view object_json, EndpointState& e);
Status ReadKeyFields(std::string_view object_json, KeyState& k);

// Moves the named fields from `from` to `to` (the fold applying an *Updated event's set).
// Unknown names are a programming error (assert): the names come from the same table.
void CopyProviderFields(std::span<const std::string> names, ProviderState&& from,
                        ProviderState& to);
void CopyEndpointFields(std::span<const std::string> names, EndpointState&& from,
                        EndpointState& to);
void CopyKeyFields(std::span<const std::string> names, KeyState&& from, KeyState& to);

bool IsKeyField(std::string_view name);
bool IsProviderField(std::string_view name);
bool IsEndpointField(std::string_view name);

}  // namespace keyledger::projections
