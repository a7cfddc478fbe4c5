#pragma once
// Maps the request-input layer's validated DTOs (src/commands.hpp) onto the registry's intents
// (src/intents.hpp). Pure conversions: every check already happened in the parsers, and every
// stateful check happens in the commands. The field-by-field part is generated from the field
// tables (src/field_tables.hpp); what is left here is what no state member holds: the body's
// provider_id, the plaintext secret and the proxy settings.

#include <string>
#include <vector>

#include "src/commands.hpp"
#include "src/intents.hpp"

namespace keyledger::registry {

KeyCreateIntent ToIntent(std::string provider_id, KeyCreate dto);
KeyUpdateIntent ToIntent(std::string key_id, KeyUpdate dto);
ProviderCreateIntent ToIntent(ProviderCreate dto);
ProviderUpdateIntent ToIntent(std::string provider_id, ProviderUpdate dto, bool patch);
EndpointCreateIntent ToIntent(std::string provider_id, EndpointCreate dto);
EndpointUpdateIntent ToIntent(std::string endpoint_id, EndpointUpdate dto);
// Items with field errors become rejected items carrying the first error's message.
std::vector<HealthReportItem> ToItems(HealthReportBatch batch);

}  // namespace keyledger::registry
