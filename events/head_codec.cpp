#include "events/head_codec.hpp"

#include "events/crypto.hpp"

namespace keyledger::events {

std::string EncodeHeadValue(const Head& head) {
  std::string out;
  PutBigEndian64(out, head.sequence);
  out += crypto::AsBytes(head.hash);
  PutBigEndian64(out, static_cast<uint64_t>(head.time_us));
  return out;
}

Result<Head> DecodeHeadValue(std::string_view value, std::string_view where) {
  if (value.size() != 8 + crypto::kSha256Size + 8) {
    return MakeError(ErrorCode::kCorruption, std::string(where) + " has the wrong size");
  }
  Head h;
  h.sequence = GetBigEndian64(value);
  h.hash = crypto::DigestFromBytes(value.substr(8, crypto::kSha256Size));
  h.time_us = static_cast<int64_t>(GetBigEndian64(value.substr(8 + crypto::kSha256Size)));
  return h;
}

std::string EncodeFormatValue(uint32_t version) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) {
    out[static_cast<size_t>(i)] = static_cast<char>(version >> (24 - 8 * i));
  }
  return out;
}

}  // namespace keyledger::events
