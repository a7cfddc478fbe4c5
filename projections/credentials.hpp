#pragma once
// Credentials inside endpoint headers and provider/endpoint config (events/FORMAT.md
// "Credentials in headers and config"): walking a config document, the shown (masked) forms, and
// putting revealed values back. Pure functions; no decryption happens here.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "events/status.hpp"
#include "projections/state.hpp"

namespace keyledger::projections {

// JSON pointer (RFC 6901) of member `name` under `parent` ("" is the root): "~" -> "~0",
// "/" -> "~1".
std::string ChildPointer(std::string_view parent, std::string_view name);

// Rewrites a JSON document. `visit(pointer, name, value)` is called for every string value that
// is an object member (`name` is the member's name) or an array item (`name` is the name of the
// nearest enclosing member, "" at the root); what it returns replaces the value (nullopt keeps
// it). Member order and every other value are kept; the result is minified. kInvalidArgument
// when `json` is not JSON; an error returned by `visit` stops the walk and is returned.
using StringVisitor = std::function<Result<std::optional<std::string>>(
    const std::string& pointer, std::string_view name, std::string_view value)>;
Result<std::string> RewriteStrings(std::string_view json, const StringVisitor& visit);

// The value at `pointer` when it is a string (for keeping a stored value on an unchanged PUT).
std::optional<std::string> StringAtPointer(std::string_view json, std::string_view pointer);

// What responses and audit views show. A sealed value already is its mask; a plaintext value
// under a credential name (a schema-version-1 event, written before credentials were sealed) is
// masked here with events::MaskSecret, by the built-in name rule (events::IsSecretMemberName).
std::string ShownHeaderValue(std::string_view name, const std::string& value,
                             const OrderedMap<StoredSecret>& header_secrets);
std::string ShownConfig(const RawJson& config, const OrderedMap<StoredSecret>& config_secrets);

}  // namespace keyledger::projections
