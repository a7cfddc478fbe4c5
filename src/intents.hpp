#pragma once
// Validated, normalized requests as the registry's commands take them. The request-input layer
// (src/commands.hpp, JSON -> DTO with Aether/pydantic validation) maps its DTOs onto these in
// src/dto_adapters.cpp; tests may build them directly.
//
// Partial updates list the names of the fields they set (as in projections/codec.cpp's field
// tables) and carry the new values in an entity whose other members are ignored.

#include <optional>
#include <string>
#include <vector>

#include "projections/state.hpp"

namespace keyledger::registry {

// Plaintext proxy settings as submitted; the password is sealed by the command.
struct ProxyInput {
  std::string url;
  std::optional<std::string> username;
  std::optional<std::string> password;  // plaintext; nullopt keeps the stored one on update
  bool enabled = true;
};

struct KeyCreateIntent {
  std::string provider_id;                      // from the path
  std::optional<std::string> body_provider_id;  // must match when given
  bool api_formats_missing = false;             // Aether answers 400 after the provider check
  projections::KeyState key;                    // config fields; ids and secret are set here
  std::string secret;                           // validated plaintext
};

struct KeyUpdateIntent {
  std::string key_id;
  std::vector<std::string> fields;  // config field names being set (may be empty)
  projections::KeyState values;
  std::optional<std::string> new_secret;  // validated plaintext, when api_key was given
};

struct ProviderCreateIntent {
  projections::ProviderState provider;  // config fields except proxy
  std::optional<ProxyInput> proxy;
};

struct ProviderUpdateIntent {
  std::string provider_id;
  std::vector<std::string> fields;  // may include "proxy"
  projections::ProviderState values;
  std::optional<ProxyInput> proxy;  // when "proxy" is in fields: nullopt clears it
  bool patch_response = false;      // PATCH answers the summary object, PUT a message
};

struct EndpointCreateIntent {
  std::string provider_id;       // from the path
  std::string body_provider_id;  // must match
  projections::EndpointState endpoint;
  std::optional<ProxyInput> proxy;
};

struct EndpointUpdateIntent {
  std::string endpoint_id;
  std::vector<std::string> fields;
  projections::EndpointState values;
  std::optional<ProxyInput> proxy;
};

struct HealthReportItem {
  std::string key_id;
  std::string api_format;
  int64_t successes = 0;
  int64_t failures = 0;
  int64_t total_response_time_ms = 0;
  std::optional<std::string> last_error;
  int64_t at_us = 0;
  // Set by the input layer when the item itself is invalid (reported, not applied).
  std::optional<std::string> invalid;
};

}  // namespace keyledger::registry
