// libFuzzer target: the HTTP request -> command parsers (src/commands.hpp, src/query_input.hpp).
// The first input byte picks the parser, the rest is the request body or the raw query string.
// Every parser must return a value or an error for any bytes: never crash, leak, or trip a
// sanitizer. The JsonBodyParser is reused across inputs, as a session reuses its own.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/commands.hpp"
#include "src/query_input.hpp"

namespace {

using namespace keyledger::registry;

// Touches the result so that the parse cannot be optimized away.
template <typename T>
void Consume(const keyledger::Result<T>& r) {
  if (!r.ok()) {
    volatile size_t n = r.status().ToString().size();
    (void)n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static JsonBodyParser parser;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 12) {
    case 0:
      Consume(ParseKeyCreate(input, parser));
      break;
    case 1:
      Consume(ParseKeyUpdate(input, parser));
      break;
    case 2:
      Consume(ParseProviderCreate(input, parser));
      break;
    case 3:
      Consume(ParseProviderUpdate(input, parser));
      break;
    case 4:
      Consume(ParseProviderPatch(input, parser));
      break;
    case 5:
      Consume(ParseEndpointCreate(input, parser));
      break;
    case 6:
      Consume(ParseEndpointUpdate(input, parser));
      break;
    case 7:
      Consume(ParseHealthReportBatch(input, parser));
      break;
    case 8: {
      const QueryParams q = ParseQueryString(input);
      Consume(ParsePaging(q));
      Consume(ParseProviderListQuery(q));
      break;
    }
    case 9:
      Consume(ParseAsOf(ParseQueryString(input)));
      break;
    case 10:
      Consume(ParseAuditQuery(ParseQueryString(input)));
      break;
    default:
      Consume(ParseHealthResetQuery(ParseQueryString(input)));
      break;
  }
  return 0;
}
