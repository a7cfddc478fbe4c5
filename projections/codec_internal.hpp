#pragma once
// simdjson-facing half of the entity codecs, for projections/*.cpp only.

#include <simdjson.h>

#include "projections/codec.hpp"

namespace keyledger::projections {

Status ReadProviderObject(simdjson::dom::object obj, ProviderState& p);
Status ReadEndpointObject(simdjson::dom::object obj, EndpointState& e);
Status ReadKeyObject(simdjson::dom::object obj, KeyState& k);
// The same, also appending the name of every member read to `names` (an *Updated event's set).
Status ReadProviderObject(simdjson::dom::object obj, ProviderState& p,
                          std::vector<std::string>* names);
Status ReadEndpointObject(simdjson::dom::object obj, EndpointState& e,
                          std::vector<std::string>* names);
Status ReadKeyObject(simdjson::dom::object obj, KeyState& k, std::vector<std::string>* names);
Status ReadFormatHealth(simdjson::dom::element v, FormatHealth& h);
Status ReadFormatBreaker(simdjson::dom::element v, FormatBreaker& b);

// Typed accessors that turn simdjson errors into kCorruption naming the member.
Status GetString(simdjson::dom::element v, std::string& out, std::string_view what);
Status GetInt(simdjson::dom::element v, int64_t& out, std::string_view what);
Status GetUint(simdjson::dom::element v, uint64_t& out, std::string_view what);
Status GetDouble(simdjson::dom::element v, double& out, std::string_view what);
Status GetBool(simdjson::dom::element v, bool& out, std::string_view what);
// Minified JSON text of any element.
std::string ToJsonText(simdjson::dom::element v);
Error Corrupt(std::string_view what);

}  // namespace keyledger::projections
