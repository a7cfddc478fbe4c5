// The only translation unit that includes Crypto++ (see crypto.hpp).
#include "events/crypto.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <cryptopp/aes.h>
#include <cryptopp/filters.h>
#include <cryptopp/gcm.h>
#include <cryptopp/hmac.h>
#include <cryptopp/misc.h>
#include <cryptopp/sha.h>

namespace keyledger::crypto {
namespace {

const CryptoPP::byte* B(std::string_view s) {
  return reinterpret_cast<const CryptoPP::byte*>(s.data());
}

std::string GcmSealWith(CryptoPP::GCM<CryptoPP::AES>::Encryption& enc, std::string_view nonce,
                        std::string_view aad, std::string_view plaintext) {
  std::string out(plaintext.size() + kGcmTagSize, '\0');
  auto* dst = reinterpret_cast<CryptoPP::byte*>(out.data());
  enc.EncryptAndAuthenticate(dst, dst + plaintext.size(), kGcmTagSize, B(nonce),
                             static_cast<int>(nonce.size()), B(aad), aad.size(), B(plaintext),
                             plaintext.size());
  return out;
}

Result<std::string> GcmOpenWith(CryptoPP::GCM<CryptoPP::AES>::Decryption& dec,
                                std::string_view nonce, std::string_view aad,
                                std::string_view ciphertext_and_tag) {
  if (nonce.size() != kGcmNonceSize || ciphertext_and_tag.size() < kGcmTagSize) {
    return MakeError(ErrorCode::kDecryptFailed, "ciphertext or nonce has the wrong size");
  }
  const size_t n = ciphertext_and_tag.size() - kGcmTagSize;
  std::string out(n, '\0');
  const bool ok = dec.DecryptAndVerify(
      reinterpret_cast<CryptoPP::byte*>(out.data()), B(ciphertext_and_tag) + n, kGcmTagSize,
      B(nonce), static_cast<int>(nonce.size()), B(aad), aad.size(), B(ciphertext_and_tag), n);
  if (!ok) {
    SecureWipe(out);
    return MakeError(ErrorCode::kDecryptFailed, "authentication failed");
  }
  return out;
}

}  // namespace

std::string_view AsBytes(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

Digest DigestFromBytes(std::string_view bytes) {
  Digest d{};
  std::memcpy(d.data(), bytes.data(), std::min(bytes.size(), d.size()));
  return d;
}

Digest Sha256(std::string_view data) {
  Digest out;
  CryptoPP::SHA256().CalculateDigest(out.data(), B(data), data.size());
  return out;
}

struct Sha256Hasher::Impl {
  CryptoPP::SHA256 h;
};
Sha256Hasher::Sha256Hasher() : impl_(std::make_unique<Impl>()) {}
Sha256Hasher::~Sha256Hasher() = default;
void Sha256Hasher::Update(std::string_view data) { impl_->h.Update(B(data), data.size()); }
Digest Sha256Hasher::Final() {
  Digest out;
  impl_->h.Final(out.data());
  return out;
}

struct HmacSha256::Impl {
  CryptoPP::HMAC<CryptoPP::SHA256> mac;
};
HmacSha256::HmacSha256(std::string_view key) : impl_(std::make_unique<Impl>()) {
  impl_->mac.SetKey(B(key), key.size());
}
HmacSha256::~HmacSha256() = default;
Digest HmacSha256::Mac(std::string_view data) {
  Digest out;
  impl_->mac.CalculateDigest(out.data(), B(data), data.size());
  return out;
}

Digest HmacSha256Once(std::string_view key, std::string_view data) {
  return HmacSha256(key).Mac(data);
}

struct AesGcm256::Impl {
  CryptoPP::GCM<CryptoPP::AES>::Encryption enc;
  CryptoPP::GCM<CryptoPP::AES>::Decryption dec;
};

AesGcm256::AesGcm256(std::string_view key) : impl_(std::make_unique<Impl>()) {
  // Scheduling the key once and resynchronizing per message with the nonce avoids the
  // filter-pipeline cost (LIMITS.md: 2.5M vs 0.3M ops/s for 64 B messages).
  const std::string zero_iv(kGcmNonceSize, '\0');
  impl_->enc.SetKeyWithIV(B(key), key.size(), B(zero_iv), zero_iv.size());
  impl_->dec.SetKeyWithIV(B(key), key.size(), B(zero_iv), zero_iv.size());
}
AesGcm256::~AesGcm256() = default;

std::string AesGcm256::Seal(std::string_view nonce, std::string_view aad,
                            std::string_view plaintext) {
  return GcmSealWith(impl_->enc, nonce, aad, plaintext);
}

Result<std::string> AesGcm256::Open(std::string_view nonce, std::string_view aad,
                                    std::string_view ciphertext_and_tag) {
  return GcmOpenWith(impl_->dec, nonce, aad, ciphertext_and_tag);
}

std::string AesGcm256SealOnce(std::string_view key, std::string_view nonce, std::string_view aad,
                              std::string_view plaintext) {
  // Schedules the key and computes GCM's hash subkey tables for this direction only (Crypto++'s
  // GCM insists on an IV at keying time; EncryptAndAuthenticate resynchronizes with the same
  // nonce). Crypto++ wipes the schedule on destruction.
  CryptoPP::GCM<CryptoPP::AES>::Encryption enc;
  enc.SetKeyWithIV(B(key), key.size(), B(nonce), nonce.size());
  return GcmSealWith(enc, nonce, aad, plaintext);
}

Result<std::string> AesGcm256OpenOnce(std::string_view key, std::string_view nonce,
                                      std::string_view aad, std::string_view ciphertext_and_tag) {
  if (nonce.size() != kGcmNonceSize) {
    return MakeError(ErrorCode::kDecryptFailed, "ciphertext or nonce has the wrong size");
  }
  CryptoPP::GCM<CryptoPP::AES>::Decryption dec;
  dec.SetKeyWithIV(B(key), key.size(), B(nonce), nonce.size());
  return GcmOpenWith(dec, nonce, aad, ciphertext_and_tag);
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t filled = 0;
  while (filled < n) {
    ssize_t got = getrandom(out.data() + filled, n - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      // No entropy source means no safe keys or nonces: stopping is the only safe answer.
      std::fprintf(stderr, "keyledger: getrandom failed: %s\n", std::strerror(errno));
      std::abort();
    }
    filled += static_cast<size_t>(got);
  }
  return out;
}

std::string RandomUuid() {
  std::string b = RandomBytes(16);
  b[6] = static_cast<char>((static_cast<uint8_t>(b[6]) & 0x0F) | 0x40);
  b[8] = static_cast<char>((static_cast<uint8_t>(b[8]) & 0x3F) | 0x80);
  std::string hex = HexEncode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CryptoPP::VerifyBufsEqual(B(a), B(b), a.size());
}

void SecureWipe(std::string& s) {
  CryptoPP::SecureWipeBuffer(reinterpret_cast<CryptoPP::byte*>(s.data()), s.size());
  s.clear();
}

namespace {
constexpr char kHex[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Hand-written because Crypto++'s Base64Decoder silently skips characters outside the alphabet
// (the lenient decoding aether-spec.md §5 warns about); stored ciphertexts and tokens must have
// exactly one accepted encoding.
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string B64Encode(std::string_view in, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += alphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = byte(i) << 16;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    if (pad) out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    if (pad) out += '=';
  }
  return out;
}

Result<std::string> B64Decode(std::string_view in, const char* alphabet, bool padded) {
  int8_t table[256];
  std::memset(table, -1, sizeof table);
  for (int k = 0; k < 64; ++k) table[static_cast<uint8_t>(alphabet[k])] = static_cast<int8_t>(k);
  size_t len = in.size();
  if (padded) {
    if (len % 4 != 0) return MakeError(ErrorCode::kInvalidArgument, "base64 length");
    if (len >= 1 && in[len - 1] == '=') --len;
    if (len >= 1 && in[len - 1] == '=') --len;
  } else if (len % 4 == 1) {
    return MakeError(ErrorCode::kInvalidArgument, "base64 length");
  }
  std::string out;
  out.reserve(len * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t k = 0; k < len; ++k) {
    int8_t v = table[static_cast<uint8_t>(in[k])];
    if (v < 0) return MakeError(ErrorCode::kInvalidArgument, "base64 character");
    acc = acc << 6 | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>(acc >> bits & 0xFF);
    }
  }
  // Leftover bits must be zero, so every byte string has exactly one encoding.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "base64 trailing bits");
  }
  return out;
}
}  // namespace

std::string HexEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto u = static_cast<uint8_t>(c);
    out += kHex[u >> 4];
    out += kHex[u & 15];
  }
  return out;
}

Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return MakeError(ErrorCode::kInvalidArgument, "odd hex length");
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return MakeError(ErrorCode::kInvalidArgument, "bad hex digit");
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) { return B64Encode(bytes, kB64, true); }
Result<std::string> Base64Decode(std::string_view text) { return B64Decode(text, kB64, true); }
std::string Base64UrlEncode(std::string_view bytes) { return B64Encode(bytes, kB64Url, false); }
Result<std::string> Base64UrlDecode(std::string_view text) {
  return B64Decode(text, kB64Url, false);
}

}  // namespace keyledger::crypto
