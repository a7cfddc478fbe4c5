// Secret values without a keyring: validation, masks, redaction, the sealed-secret JSON codec,
// master keys and where they are loaded from.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "events/crypto.hpp"
#include "events/record.hpp"
#include "events/secrets.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::events {
namespace {

using keyledger::testing::TempDir;

std::vector<std::string> CodePoints(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = 1;
    while (i + n < s.size() && (static_cast<uint8_t>(s[i + n]) & 0xC0) == 0x80) ++n;
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += parts[i];
  return out;
}

void WriteFile(const std::string& path, std::string_view contents, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------------------------
// Masks

TEST(MaskSecretTest, TypicalKeysGetAethersForm) {
  EXPECT_EQ(MaskSecret("sk-ant-api03-abcdefghijklmnopqrstuvwxyz-0123456789-wxyz"),
            "sk-ant-a***wxyz");
  EXPECT_EQ(MaskSecret("sk-proj-0123456789abcdefABCDEF"), "sk-proj-***CDEF");
}

TEST(MaskSecretTest, ExactBoundaries) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "***"},
      {"a", "***"},
      {"12345678", "***"},                              // 8: nothing shown
      {"123456789", "12***9"},                          // 9: a third = 3
      {"1234567890a", "12***a"},                        // 11: still 3
      {"1234567890ab", "12***ab"},                      // 12: 4
      {"abcdefghijklmnopqrstuvw", "abcd***uvw"},        // 23: 7 of 23
      {"abcdefghijklmnopqrstuvwx", "abcdefgh***uvwx"},  // 24: Aether's form
      {"éééééééééééééééééééééééé", "éééééééé***éééé"},  // 24 two-byte code points
      {"€€€€€€€€€", "€€***€"},                          // 9 three-byte code points
      {"🔑🔑🔑🔑🔑🔑🔑🔑", "***"},                              // 8 four-byte code points
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(MaskSecret(in), want) << in;
}

TEST(MaskSecretTest, EveryLengthFromZeroToFortyFollowsTheRules) {
  // Mixed widths (1-4 bytes) so that a split code point would show up as invalid UTF-8.
  const std::vector<std::string> alphabet = {"a", "é", "€", "🔑", "Z", "ß", "中", "😀", "7"};
  for (size_t offset = 0; offset < alphabet.size(); ++offset) {
    for (size_t n = 0; n <= 40; ++n) {
      std::string secret;
      for (size_t i = 0; i < n; ++i) secret += alphabet[(i + offset) % alphabet.size()];
      const std::vector<std::string> cps = CodePoints(secret);
      ASSERT_EQ(cps.size(), n);
      const std::string mask = MaskSecret(secret);
      SCOPED_TRACE("n=" + std::to_string(n) + " secret=" + secret + " mask=" + mask);
      EXPECT_TRUE(IsValidUtf8(mask));
      if (n <= 8) {
        EXPECT_EQ(mask, "***");
        continue;
      }
      const size_t star = mask.find("***");
      ASSERT_NE(star, std::string::npos);
      const std::vector<std::string> prefix = CodePoints(mask.substr(0, star));
      const std::vector<std::string> suffix = CodePoints(mask.substr(star + 3));
      EXPECT_EQ(Join(prefix, 0, prefix.size()), Join(cps, 0, prefix.size()));
      EXPECT_EQ(Join(suffix, 0, suffix.size()), Join(cps, n - suffix.size(), n));
      if (n >= 24) {
        EXPECT_EQ(prefix.size(), 8u);
        EXPECT_EQ(suffix.size(), 4u);
      } else {
        const size_t shown = prefix.size() + suffix.size();
        EXPECT_LE(3 * shown, n) << "more than a third shown";
        EXPECT_EQ(shown, n / 3);
        EXPECT_GE(prefix.size(), suffix.size());
        EXPECT_LE(prefix.size(), suffix.size() + 1);
        EXPECT_GE(suffix.size(), 1u);
      }
    }
  }
}

TEST(RedactSecretTest, SaysTheLengthOnly) {
  const std::string secret(51, 'q');
  EXPECT_EQ(RedactSecret(secret), "[secret: 51 bytes]");
  EXPECT_EQ(RedactSecret(""), "[secret: 0 bytes]");
  EXPECT_EQ(RedactSecret("€"), "[secret: 3 bytes]");
}

// ---------------------------------------------------------------------------------------------
// Validation

TEST(ValidateSecretTest, Table) {
  struct Case {
    std::string name;
    std::string input;
    bool ok;
    std::string want = {};  // the trimmed value when ok
  };
  const std::string max(kMaxSecretBytes, 'k');
  const std::string max_multibyte = std::string(kMaxSecretBytes - 4, 'k') + "🔑";
  const std::vector<Case> cases = {
      {"empty", "", false},
      {"spaces only", "     ", false},
      {"ascii whitespace only", " \t\r\n\v\f ", false},
      {"tab inside", "SECRETMARK\tabc", false},
      {"newline inside", "SECRETMARK\nabc", false},
      {"carriage return inside", "SECRETMARK\rabc", false},
      {"NUL inside", std::string("SECRETMARK\0abc", 14), false},
      {"escape", "SECRETMARK\x1b[0m", false},
      {"DEL", "SECRETMARK\x7f", false},
      {"C1 U+0080", "SECRETMARK\xc2\x80", false},
      {"C1 NEL U+0085", "SECRETMARK\xc2\x85", false},
      {"C1 U+009F", "SECRETMARK\xc2\x9f", false},
      {"invalid byte 0xFF", "SECRETMARK\xff", false},
      {"overlong slash", "SECRETMARK\xc0\xaf", false},
      {"lone continuation byte", "SECRETMARK\x80", false},
      {"truncated sequence", "SECRETMARK\xe2\x82", false},
      {"UTF-16 surrogate", "SECRETMARK\xed\xa0\x80", false},
      {"beyond U+10FFFF", "SECRETMARK\xf4\x90\x80\x80", false},
      {"8 KiB + 1", max + "k", false},
      {"8 KiB + 1 multibyte", max_multibyte + "k", false},
      {"plain", "sk-SECRETMARK-123", true, "sk-SECRETMARK-123"},
      {"trimmed", " \t SECRETMARK-abc \r\n", true, "SECRETMARK-abc"},
      {"inner spaces kept", "SECRETMARK a b", true, "SECRETMARK a b"},
      {"U+00A0 is not a control character", "SECRETMARK\xc2\xa0x", true, "SECRETMARK\xc2\xa0x"},
      {"U+00A0 is not trimmed", "\xc2\xa0SECRETMARK", true, "\xc2\xa0SECRETMARK"},
      {"multibyte", "SECRETMARK-ключ-€-🔑", true, "SECRETMARK-ключ-€-🔑"},
      {"exactly 8 KiB", max, true, max},
      {"exactly 8 KiB multibyte", max_multibyte, true, max_multibyte},
      {"8 KiB after trimming", "  \n" + max + "\t ", true, max},
  };
  for (const Case& c : cases) {
    auto r = ValidateSecret(c.input);
    EXPECT_EQ(r.ok(), c.ok) << c.name;
    if (r.ok()) {
      EXPECT_EQ(*r, c.want) << c.name;
      continue;
    }
    if (c.ok) continue;
    EXPECT_EQ(r.error().code, ErrorCode::kValidation) << c.name;
    EXPECT_FALSE(r.error().message.empty()) << c.name;
    EXPECT_EQ(r.error().message.find("SECRETMARK"), std::string::npos) << c.name;
    EXPECT_EQ(r.error().message.find("kkkkkkkk"), std::string::npos) << c.name;
    if (!c.input.empty()) {
      EXPECT_EQ(r.error().message.find(c.input), std::string::npos) << c.name;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The sealed form

TEST(SealedSecretTest, JsonFormAndRoundTrip) {
  SealedSecret s;
  s.dek_id = "00112233445566778899aabbccddeeff";
  s.nonce = std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b", 12);
  s.ciphertext = "0123456789abcdefXYZ";
  const std::string json = s.ToJson();
  EXPECT_EQ(json, R"({"cv":1,"dek":"00112233445566778899aabbccddeeff","n":"AAECAwQFBgcICQoL",)"
                  R"("ct":"MDEyMzQ1Njc4OWFiY2RlZlhZWg=="})");
  ASSERT_OK_AND_ASSIGN(SealedSecret back, SealedSecret::FromJson(json));
  EXPECT_EQ(back, s);
  // Member order does not matter.
  ASSERT_OK_AND_ASSIGN(
      SealedSecret reordered,
      SealedSecret::FromJson(R"({"ct":"MDEyMzQ1Njc4OWFiY2RlZlhZWg==","n":"AAECAwQFBgcICQoL",)"
                             R"("dek":"00112233445566778899aabbccddeeff","cv":1})"));
  EXPECT_EQ(reordered, s);
}

TEST(SealedSecretTest, StrictParsing) {
  const std::string dek = R"("dek":"00112233445566778899aabbccddeeff")";
  const std::string n = R"("n":"AAECAwQFBgcICQoL")";
  const std::string ct = R"("ct":"MDEyMzQ1Njc4OWFiY2RlZlhZWg==")";
  auto doc = [&](const std::string& members) { return "{" + members + "}"; };
  const std::string good = doc(R"("cv":1,)" + dek + "," + n + "," + ct);
  ASSERT_OK(SealedSecret::FromJson(good));
  const std::vector<std::pair<std::string, std::string>> corrupt = {
      {"not JSON", "not json"},
      {"array", "[1,2]"},
      {"trailing content", good + " x"},
      {"two documents", good + good},
      {"missing cv", doc(dek + "," + n + "," + ct)},
      {"missing dek", doc(R"("cv":1,)" + n + "," + ct)},
      {"missing n", doc(R"("cv":1,)" + dek + "," + ct)},
      {"missing ct", doc(R"("cv":1,)" + dek + "," + n)},
      {"duplicate cv", doc(R"("cv":1,"cv":1,)" + dek + "," + n + "," + ct)},
      {"duplicate ct", doc(R"("cv":1,)" + dek + "," + n + "," + ct + "," + ct)},
      {"unknown member", doc(R"("cv":1,"x":0,)" + dek + "," + n + "," + ct)},
      {"cv as string", doc(R"("cv":"1",)" + dek + "," + n + "," + ct)},
      {"cv negative", doc(R"("cv":-1,)" + dek + "," + n + "," + ct)},
      {"cv fractional", doc(R"("cv":1.5,)" + dek + "," + n + "," + ct)},
      {"dek upper case", doc(R"("cv":1,"dek":"00112233445566778899AABBCCDDEEFF",)" + n + "," + ct)},
      {"dek short", doc(R"("cv":1,"dek":"0011",)" + n + "," + ct)},
      {"dek not a string", doc(R"("cv":1,"dek":7,)" + n + "," + ct)},
      {"nonce bad base64", doc(R"("cv":1,)" + dek + R"(,"n":"AAECAwQFBgcICQo!",)" + ct)},
      {"nonce 11 bytes", doc(R"("cv":1,)" + dek + R"(,"n":"AAECAwQFBgcICQo=",)" + ct)},
      {"ciphertext shorter than a tag", doc(R"("cv":1,)" + dek + "," + n + R"(,"ct":"AAEC")")},
      {"ciphertext with whitespace",
       doc(R"("cv":1,)" + dek + "," + n + R"(,"ct":"MDEyMzQ1Njc4 OWFiY2RlZlhZWg==")")},
  };
  for (const auto& [name, json] : corrupt) {
    auto r = SealedSecret::FromJson(json);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << name << ": " << r.error().message;
  }
  auto future = SealedSecret::FromJson(doc(R"("cv":2,)" + dek + "," + n + "," + ct));
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.error().code, ErrorCode::kUnsupported);
}

// ---------------------------------------------------------------------------------------------
// Master keys

TEST(MasterKeyTest, FromBytesAndFileContents) {
  const std::string raw = crypto::RandomBytes(kMasterKeySize);
  ASSERT_OK_AND_ASSIGN(MasterKey k, MasterKey::FromBytes(raw));
  EXPECT_EQ(k.bytes(), raw);
  for (size_t bad : {0u, 16u, 31u, 33u, 64u}) {
    auto r = MasterKey::FromBytes(std::string(bad, 'k'));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }

  // Raw: exactly 32 bytes, even when they begin or end with whitespace bytes.
  const std::string spacey = "\n" + raw.substr(1, 30) + " ";
  ASSERT_OK_AND_ASSIGN(MasterKey from_raw, MasterKey::FromFileContents(spacey));
  EXPECT_EQ(from_raw.bytes(), spacey);
  // Base64 text, with the whitespace editors and `base64` leave around it.
  const std::string text = crypto::Base64Encode(raw);
  for (const std::string& contents : {text, text + "\n", "  " + text + "\r\n", "\t" + text}) {
    ASSERT_OK_AND_ASSIGN(MasterKey from_text, MasterKey::FromFileContents(contents));
    EXPECT_EQ(from_text.bytes(), raw);
  }
  const std::string short_text = crypto::Base64Encode(raw.substr(0, 31));
  for (const std::string& contents :
       {std::string(), std::string("\n"), short_text, text + "AAAA", text.substr(0, 43),
        std::string("this is not base64 at all!!!"), std::string(33, 'A') + "!",
        text.substr(0, 20) + " " + text.substr(20)}) {
    auto r = MasterKey::FromFileContents(contents);
    ASSERT_FALSE(r.ok()) << contents;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message.find(text.substr(0, 16)), std::string::npos);
  }
  auto r = MasterKey::FromFileContents(short_text);
  EXPECT_NE(r.error().message.find("31 bytes"), std::string::npos) << r.error().message;

  MasterKey g1 = MasterKey::Generate();
  MasterKey g2 = MasterKey::Generate();
  EXPECT_EQ(g1.bytes().size(), kMasterKeySize);
  EXPECT_NE(g1.bytes(), g2.bytes());
}

struct CapturedLog {
  std::vector<std::pair<LogLevel, std::string>> lines;
  LogSink sink() {
    return [this](LogLevel level, std::string_view m) { lines.emplace_back(level, m); };
  }
  bool Contains(LogLevel level, std::string_view text) const {
    return std::any_of(lines.begin(), lines.end(), [&](const auto& l) {
      return l.first == level && l.second.find(text) != std::string::npos;
    });
  }
};

TEST(LoadMasterKeyTest, FromAFileRawOrBase64) {
  TempDir dir;
  const std::string raw = crypto::RandomBytes(kMasterKeySize);
  WriteFile(dir.Sub("raw.key"), raw, 0600);
  WriteFile(dir.Sub("b64.key"), crypto::Base64Encode(raw) + "\n", 0400);
  CapturedLog log;
  for (const char* name : {"raw.key", "b64.key"}) {
    ASSERT_OK_AND_ASSIGN(MasterKey k, LoadMasterKey({dir.Sub(name), "", ""}, log.sink()));
    EXPECT_EQ(k.bytes(), raw) << name;
  }
  EXPECT_TRUE(log.lines.empty());
  // The file wins over the environment, and no development key is created.
  ASSERT_OK_AND_ASSIGN(
      MasterKey k, LoadMasterKey({dir.Sub("raw.key"), crypto::Base64Encode(std::string(32, 'e')),
                                  dir.Sub("data")},
                                 log.sink()));
  EXPECT_EQ(k.bytes(), raw);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("data")));

  // A readable-by-others key file is used, with a warning to restrict it.
  WriteFile(dir.Sub("loose.key"), raw, 0644);
  ASSERT_OK(LoadMasterKey({dir.Sub("loose.key"), "", ""}, log.sink()));
  EXPECT_TRUE(log.Contains(LogLevel::kWarning, "chmod 600"));
}

TEST(LoadMasterKeyTest, FileErrorsAreClear) {
  TempDir dir;
  CapturedLog log;
  auto missing = LoadMasterKey({dir.Sub("nope.key"), "", ""}, log.sink());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find(dir.Sub("nope.key")), std::string::npos);

  const std::string raw = crypto::RandomBytes(kMasterKeySize);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"short.key", raw.substr(0, 31)},
      {"long.key", raw + "x"},
      {"b64short.key", crypto::Base64Encode(raw.substr(0, 16)) + "\n"},
      {"junk.key", "not base64 !!!\n"},
      {"empty.key", ""},
      {"huge.key", std::string(10000, 'A')},
  };
  for (const auto& [name, contents] : bad) {
    WriteFile(dir.Sub(name), contents, 0600);
    auto r = LoadMasterKey({dir.Sub(name), "", ""}, log.sink());
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << name;
    EXPECT_NE(r.error().message.find(name), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find(crypto::Base64Encode(raw.substr(0, 16))), std::string::npos);
  }
  auto a_dir = LoadMasterKey({dir.str(), "", ""}, log.sink());
  ASSERT_FALSE(a_dir.ok());
  EXPECT_NE(a_dir.error().message.find("not a regular file"), std::string::npos);
}

TEST(LoadMasterKeyTest, FromTheEnvironment) {
  TempDir dir;
  const std::string raw = crypto::RandomBytes(kMasterKeySize);
  CapturedLog log;
  ASSERT_OK_AND_ASSIGN(
      MasterKey k,
      LoadMasterKey({"", crypto::Base64Encode(raw) + "\n", dir.Sub("data")}, log.sink()));
  EXPECT_EQ(k.bytes(), raw);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("data")));  // env wins over the dev key

  const std::string not_base64 = "sk-ENVMARK-not-base64!";
  auto bad = LoadMasterKey({"", not_base64, ""}, log.sink());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("KEYLEDGER_MASTER_KEY"), std::string::npos);
  EXPECT_EQ(bad.error().message.find("ENVMARK"), std::string::npos);

  const std::string short_b64 = crypto::Base64Encode(raw.substr(0, 24));
  auto short_key = LoadMasterKey({"", short_b64, ""}, log.sink());
  ASSERT_FALSE(short_key.ok());
  EXPECT_NE(short_key.error().message.find("32 bytes"), std::string::npos);
  EXPECT_EQ(short_key.error().message.find(short_b64), std::string::npos);
  // Raw bytes are not accepted from the environment: it is base64 only.
  EXPECT_FALSE(LoadMasterKey({"", std::string(32, 'r'), ""}, log.sink()).ok());
  EXPECT_TRUE(log.lines.empty());

  auto nothing = LoadMasterKey({"", "", ""}, log.sink());
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.error().message.find("--master-key-file"), std::string::npos);
}

TEST(LoadMasterKeyTest, CreatesAPrivateDevelopmentKeyOnceAndWarns) {
  TempDir dir;
  const std::string data = dir.Sub("nested/data");  // created when missing
  CapturedLog log;
  ASSERT_OK_AND_ASSIGN(MasterKey first, LoadMasterKey({"", "", data}, log.sink()));
  const std::string path = data + "/master.key";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(ReadFile(path), crypto::Base64Encode(first.bytes()) + "\n");
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_EQ(log.lines[0].first, LogLevel::kWarning);
  EXPECT_NE(log.lines[0].second.find("development"), std::string::npos);
  EXPECT_NE(log.lines[0].second.find("back it up separately"), std::string::npos);
  EXPECT_NE(log.lines[0].second.find(path), std::string::npos);

  ASSERT_OK_AND_ASSIGN(MasterKey second, LoadMasterKey({"", "", data}, log.sink()));
  EXPECT_EQ(second.bytes(), first.bytes());
  ASSERT_EQ(log.lines.size(), 2u);
  EXPECT_EQ(log.lines[1].first, LogLevel::kWarning);
  EXPECT_NE(log.lines[1].second.find("development master key"), std::string::npos);
  for (const auto& [level, line] : log.lines) {
    EXPECT_EQ(line.find(crypto::Base64Encode(first.bytes())), std::string::npos);
  }
}

TEST(LoadMasterKeyTest, RefusesADevelopmentKeyOthersCanRead) {
  TempDir dir;
  CapturedLog log;
  { ASSERT_OK(LoadMasterKey({"", "", dir.str()}, log.sink())); }
  const std::string path = dir.Sub("master.key");
  for (mode_t mode : {mode_t{0644}, mode_t{0640}, mode_t{0604}, mode_t{0660}}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto r = LoadMasterKey({"", "", dir.str()}, log.sink());
    ASSERT_FALSE(r.ok()) << mode;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(path), std::string::npos);
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_OK(LoadMasterKey({"", "", dir.str()}, log.sink()));
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_OK(LoadMasterKey({"", "", dir.str()}, log.sink()));

  // A damaged development key is an error, never silently replaced.
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  WriteFile(path, "garbage\n", 0600);
  auto damaged = LoadMasterKey({"", "", dir.str()}, log.sink());
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(ReadFile(path), "garbage\n");
}

}  // namespace
}  // namespace keyledger::events
