#pragma once
// Where library code reports what only an operator should see (storage error text, recovery
// warnings). The server wires this to its structured logger; tests and tools may capture it.
// Never pass key material to a sink: use RedactSecret() (events/secrets.hpp) for anything
// derived from a secret.

#include <functional>
#include <string_view>

namespace keyledger {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogSink = std::function<void(LogLevel level, std::string_view message)>;

}  // namespace keyledger
