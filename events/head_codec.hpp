#pragma once
// The head's stored value, shared by both backends (FORMAT.md "meta/head"; ETCD.md "P/head"):
// sequence (8 bytes big-endian) || hash (32) || time in µs (8, big-endian); and the 4-byte
// big-endian layout version stored beside it.

#include <cstdint>
#include <string>
#include <string_view>

#include "events/event_log.hpp"
#include "events/status.hpp"

namespace keyledger::events {

std::string EncodeHeadValue(const Head& head);
// kCorruption when the value is not 48 bytes; `where` names the stored value in the message
// ("meta head value", "the head stored in etcd").
Result<Head> DecodeHeadValue(std::string_view value, std::string_view where);
std::string EncodeFormatValue(uint32_t version);

}  // namespace keyledger::events
