// libFuzzer target: the HS256 JWT verifier (api/auth.hpp VerifyJwt), which sees every bearer
// token that is not a management token. Any bytes give claims or an error, never a crash.
// To let the fuzzer past the signature check, half of the inputs are signed here with the
// fixed secret before verification, so the header and payload parsers are exercised too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/auth.hpp"

namespace {
constexpr std::string_view kSecret = "fuzz-secret-0123456789";
constexpr int64_t kNow = 1'767'225'600;  // 2026-01-01T00:00:00Z
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    // The input is "header\npayload": sign it and verify the result.
    const size_t nl = input.find('\n');
    const std::string token =
        nl == std::string_view::npos
            ? keyledger::api::SignJwtHs256(input, kSecret)
            : keyledger::api::SignJwtHs256(input.substr(nl + 1), kSecret, input.substr(0, nl));
    auto claims = keyledger::api::VerifyJwt(token, kSecret, kNow);
    volatile bool ok = claims.ok();
    (void)ok;
  } else {
    auto claims = keyledger::api::VerifyJwt(input, kSecret, kNow);
    volatile bool ok = claims.ok();
    (void)ok;
  }
  return 0;
}
