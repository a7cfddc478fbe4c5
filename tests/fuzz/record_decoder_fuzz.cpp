// libFuzzer target: the event record decoder (events/record.hpp DecodeRecord), which reads
// every record value from RocksDB. Whatever the bytes, it returns a record or an error; a
// record it accepts must re-encode and decode to the same hash, and its hash check must run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "events/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = keyledger::events::DecodeRecord(bytes);
  if (!decoded.ok()) return 0;
  const keyledger::events::EventRecord& r = decoded.value();
  volatile bool verified = keyledger::events::VerifyRecordHash(r);
  (void)verified;
  // What was accepted round-trips: the encoder reproduces a record the decoder accepts again,
  // with the same canonical bytes (the hash chain depends on them).
  const std::string again = keyledger::events::EncodeRecord(r);
  auto redecoded = keyledger::events::DecodeRecord(again);
  if (!redecoded.ok()) std::abort();
  if (keyledger::events::CanonicalBytes(redecoded.value()) !=
      keyledger::events::CanonicalBytes(r)) {
    std::abort();
  }
  return 0;
}
