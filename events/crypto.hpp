#pragma once
// Cryptographic primitives for every layer. This header and crypto.cpp are the only place in the
// code base that knows about Crypto++; everything else sees these types.
//
// Binary data travels as std::string (bytes, not text). Thread safety: free functions are safe to
// call from any thread. Objects (Sha256, HmacSha256, AesGcm256) hold per-instance Crypto++ state
// and are NOT safe for concurrent use; give each thread its own or guard it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "events/status.hpp"

namespace keyledger::crypto {

inline constexpr size_t kSha256Size = 32;
inline constexpr size_t kAes256KeySize = 32;
inline constexpr size_t kGcmNonceSize = 12;
inline constexpr size_t kGcmTagSize = 16;

using Digest = std::array<uint8_t, kSha256Size>;

std::string_view AsBytes(const Digest& d);
Digest DigestFromBytes(std::string_view bytes);  // bytes.size() must be kSha256Size

Digest Sha256(std::string_view data);

// Incremental SHA-256.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::string_view data);
  Digest Final();  // resets the object for reuse

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// HMAC-SHA256 with the key set once; Mac() may be called many times.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  Digest Mac(std::string_view data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest HmacSha256Once(std::string_view key, std::string_view data);

// AES-256-GCM with a 96-bit nonce and a 128-bit tag; the key is scheduled once.
class AesGcm256 {
 public:
  // key.size() must be kAes256KeySize.
  explicit AesGcm256(std::string_view key);
  ~AesGcm256();
  AesGcm256(const AesGcm256&) = delete;
  AesGcm256& operator=(const AesGcm256&) = delete;

  // Returns ciphertext ‖ tag. nonce.size() must be kGcmNonceSize.
  std::string Seal(std::string_view nonce, std::string_view aad, std::string_view plaintext);
  // kDecryptFailed when the tag does not authenticate (wrong key, nonce, aad or any flipped byte).
  Result<std::string> Open(std::string_view nonce, std::string_view aad,
                           std::string_view ciphertext_and_tag);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-shot AES-256-GCM for a key used for a single message (a fresh data key per secret): sets
// up only the direction it needs, which costs about half of constructing an AesGcm256.
// key.size() must be kAes256KeySize and nonce.size() kGcmNonceSize. Open returns kDecryptFailed
// when the tag does not authenticate.
std::string AesGcm256SealOnce(std::string_view key, std::string_view nonce, std::string_view aad,
                              std::string_view plaintext);
Result<std::string> AesGcm256OpenOnce(std::string_view key, std::string_view nonce,
                                      std::string_view aad, std::string_view ciphertext_and_tag);

// Bytes from the operating system's CSPRNG (getrandom(2)). Aborts if the kernel cannot supply them.
std::string RandomBytes(size_t n);
// A random RFC 4122 version-4 UUID in its canonical lower-case text form.
std::string RandomUuid();

// Compares in time that depends only on the lengths, not on where the bytes differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Overwrites a buffer holding key material before it is released.
void SecureWipe(std::string& s);

std::string HexEncode(std::string_view bytes);
Result<std::string> HexDecode(std::string_view hex);

// Standard base64 with padding (RFC 4648 §4). Decode is strict: no whitespace, no junk.
std::string Base64Encode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);
// URL-safe base64 without padding (RFC 4648 §5), as used by JWTs.
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace keyledger::crypto
