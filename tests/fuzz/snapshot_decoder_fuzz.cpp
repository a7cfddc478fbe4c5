// libFuzzer target: the snapshot decoder (projections/snapshot.hpp DeserializeState), which
// reads snapshot bodies from RocksDB at startup. Any bytes give a state or an error; a state it
// accepts serializes and decodes again to the same digest.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "projections/snapshot.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto state = keyledger::projections::DeserializeState(text);
  if (!state.ok()) return 0;
  const std::string again = keyledger::projections::SerializeState(state.value());
  auto reread = keyledger::projections::DeserializeState(again);
  if (!reread.ok()) std::abort();
  if (keyledger::projections::StateDigestHex(reread.value()) !=
      keyledger::projections::StateDigestHex(state.value())) {
    std::abort();
  }
  return 0;
}
