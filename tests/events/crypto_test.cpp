#include <gtest/gtest.h>

#include "events/crypto.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::crypto {
namespace {

std::string Hex(const Digest& d) { return HexEncode(AsBytes(d)); }
std::string Unhex(std::string_view h) { return HexDecode(h).value(); }

TEST(CryptoTest, Sha256KnownAnswers) {
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Hasher h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(Hex(h.Final()), Hex(Sha256("abc")));
  // The spec's test vector for hash_api_key (aether-spec.md §5).
  EXPECT_EQ(Hex(Sha256("sk-test-1234567890")),
            "e0af5a5e4f889b9add80637ed964016306db6a23e18782c759ee32bdb8230a62");
}

TEST(CryptoTest, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(Hex(HmacSha256Once("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CryptoTest, AesGcmKnownAnswerAndRoundTrip) {
  // NIST GCM test vector (AES-256, 96-bit IV, 128-bit tag), "Test Case 16" of the GCM spec.
  const std::string key = Unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const std::string iv = Unhex("cafebabefacedbaddecaf888");
  const std::string pt = Unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
      "b525"
      "b16aedf5aa0de657ba637b39");
  const std::string aad = Unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  AesGcm256 gcm(key);
  std::string sealed = gcm.Seal(iv, aad, pt);
  EXPECT_EQ(
      HexEncode(sealed),
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
      "56828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");
  ASSERT_OK_AND_ASSIGN(std::string opened, gcm.Open(iv, aad, sealed));
  EXPECT_EQ(opened, pt);
}

TEST(CryptoTest, AesGcmRejectsAnyTampering) {
  const std::string key = RandomBytes(32);
  const std::string nonce = RandomBytes(12);
  AesGcm256 gcm(key);
  const std::string sealed = gcm.Seal(nonce, "aad", "secret value");
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 1;
    auto r = gcm.Open(nonce, "aad", bad);
    ASSERT_FALSE(r.ok()) << i;
    EXPECT_EQ(r.error().code, ErrorCode::kDecryptFailed);
  }
  std::string bad_nonce = nonce;
  bad_nonce[0] ^= 1;
  EXPECT_FALSE(gcm.Open(bad_nonce, "aad", sealed).ok());
  EXPECT_FALSE(gcm.Open(nonce, "aaD", sealed).ok());
  EXPECT_FALSE(AesGcm256(RandomBytes(32)).Open(nonce, "aad", sealed).ok());
  EXPECT_FALSE(gcm.Open(nonce, "aad", "short").ok());
}

TEST(CryptoTest, OneShotAesGcmMatchesTheKeyedObject) {
  const std::string key = Unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const std::string iv = Unhex("cafebabefacedbaddecaf888");
  const std::string aad = Unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string pt = "a short secret value";
  const std::string sealed = AesGcm256SealOnce(key, iv, aad, pt);
  EXPECT_EQ(sealed, AesGcm256(key).Seal(iv, aad, pt));
  ASSERT_OK_AND_ASSIGN(std::string opened, AesGcm256OpenOnce(key, iv, aad, sealed));
  EXPECT_EQ(opened, pt);
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 0x40;
    auto r = AesGcm256OpenOnce(key, iv, aad, bad);
    ASSERT_FALSE(r.ok()) << i;
    EXPECT_EQ(r.error().code, ErrorCode::kDecryptFailed);
  }
  EXPECT_FALSE(AesGcm256OpenOnce(key, iv, "other aad", sealed).ok());
  EXPECT_FALSE(AesGcm256OpenOnce(key, iv.substr(1), aad, sealed).ok());
  EXPECT_FALSE(AesGcm256OpenOnce(key, iv, aad, sealed.substr(0, 15)).ok());
}

TEST(CryptoTest, Base64AndHexAreStrict) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Decode("Zm9vYmE=").value(), "fooba");
  EXPECT_FALSE(Base64Decode("Zm9vYmE").ok());    // missing padding
  EXPECT_FALSE(Base64Decode("Zm9v YmE=").ok());  // whitespace
  EXPECT_FALSE(Base64Decode("Zm9vYmF=").ok());   // non-zero trailing bits
  EXPECT_FALSE(Base64Decode("Zm9*").ok());
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlDecode("-_8").value(), "\xfb\xff");
  EXPECT_FALSE(Base64UrlDecode("+/8").ok());
  EXPECT_EQ(HexEncode("\x01\xab"), "01ab");
  EXPECT_EQ(HexDecode("01AB").value(), "\x01\xab");
  EXPECT_FALSE(HexDecode("0g").ok());
  EXPECT_FALSE(HexDecode("abc").ok());
}

TEST(CryptoTest, RandomnessAndUuids) {
  EXPECT_EQ(RandomBytes(32).size(), 32u);
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
  std::string u = RandomUuid();
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_TRUE(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b');
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

}  // namespace
}  // namespace keyledger::crypto
