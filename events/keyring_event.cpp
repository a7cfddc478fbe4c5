#include "events/keyring_event.hpp"

#include "events/json_writer.hpp"

namespace keyledger::events {

std::string EncodeMasterKeyRotated(const MasterKeyRotated& e) {
  json::Writer w;
  w.BeginObject()
      .Member("from_kek_version", e.from_kek_version)
      .Member("to_kek_version", e.to_kek_version)
      .Member("rewrapped_deks", e.rewrapped_deks)
      .EndObject();
  return w.Take();
}

NewEvent MakeMasterKeyRotatedEvent(const MasterKeyRotated& e) {
  NewEvent event;
  event.type = MasterKeyRotated::kType;
  event.schema_version = MasterKeyRotated::kSchemaVersion;
  event.payload = EncodeMasterKeyRotated(e);
  return event;
}

}  // namespace keyledger::events
