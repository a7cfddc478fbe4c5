// Secrets: validation, masks, master keys and the keyring. Byte layouts: events/FORMAT.md
// "Keyring". Every primitive comes from events/crypto.hpp (the only Crypto++ user).
#include "events/secrets.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "events/crypto.hpp"
#include "events/json_writer.hpp"
#include "events/keyring_event.hpp"
#include "events/private_file.hpp"
#include "events/record.hpp"

namespace keyledger::events {
namespace {

// ---------------------------------------------------------------------------------------------
// Text helpers

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string_view TrimAsciiSpace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsUtf8Continuation(char c) { return (static_cast<uint8_t>(c) & 0xC0) == 0x80; }

// Byte offsets at which each code point starts (input is valid UTF-8; for anything else every
// byte that is not a continuation byte starts a "code point", which still never splits one).
std::vector<size_t> CodePointStarts(std::string_view s) {
  std::vector<size_t> starts;
  starts.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsUtf8Continuation(s[i])) starts.push_back(i);
  }
  return starts;
}

std::string ErrnoText(int err) { return std::strerror(err); }

// ---------------------------------------------------------------------------------------------
// Binary encodings (big-endian, length-prefixed; see FORMAT.md "Keyring")

constexpr std::string_view kSecretAadTag = "keyledger/secret/v1";
constexpr std::string_view kWrapAadTag = "keyledger/wrap/v1";
constexpr std::string_view kKekCheckLabel = "keyledger/kek-check/v1";

constexpr std::string_view kKeyringStream = "keyring";
constexpr std::string_view kMetaKekKey = "meta/kek";
constexpr std::string_view kDekPrefix = "dek/";
constexpr std::string_view kServerPrefix = "server/";
constexpr std::string_view kPepperKey = "server/pepper";
constexpr std::string_view kCheckpointKey = "server/checkpoint";

constexpr size_t kDekSize = 32;
constexpr size_t kDekIdBytes = 16;  // hex-encoded: 32 characters
constexpr size_t kServerKeySize = 32;
constexpr size_t kWrappedSize = 4 + crypto::kGcmNonceSize + kDekSize + crypto::kGcmTagSize;
constexpr size_t kMetaKekSize = 4 + crypto::kSha256Size;

// Uncommitted seals are remembered this long so that a rotation can cover them (see RotateMaster).
constexpr auto kPendingSealLifetime = std::chrono::minutes(15);
// A seal whose data key is still not in the keyring this long after it was handed out is
// forgotten at the next prune: its append failed, or it committed and the key was deleted since
// (shredded), or, at worst, its append has been queued for a minute. Without this, a workload
// that creates and deletes keys kept every deleted key's seal for the full 15 minutes: at 376
// key creations a second, 340,000 seals and ~70-140 MB (issue 17's soak).
constexpr auto kUnconfirmedSealLifetime = std::chrono::minutes(1);
constexpr size_t kPendingPruneMin = 1024;

void PutU16(std::string& out, uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xFF);
}

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

uint32_t GetU32(std::string_view in) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(in[i]);
  return v;
}

void PutLengthPrefixed(std::string& out, std::string_view bytes) {
  PutU32(out, static_cast<uint32_t>(bytes.size()));
  out += bytes;
}

std::string SecretAad(std::string_view key_id, uint64_t secret_version, std::string_view dek_id,
                      uint16_t cipher_version) {
  std::string aad;
  aad.reserve(4 + kSecretAadTag.size() + 4 + key_id.size() + 8 + 4 + dek_id.size() + 2);
  PutLengthPrefixed(aad, kSecretAadTag);
  PutLengthPrefixed(aad, key_id);
  PutBigEndian64(aad, secret_version);
  PutLengthPrefixed(aad, dek_id);
  PutU16(aad, cipher_version);
  return aad;
}

// Binds a wrapped key to its keyring entry ("dek/<id>", "server/pepper", ...) and KEK version.
std::string WrapAad(std::string_view entry_key, uint32_t kek_version) {
  std::string aad;
  PutLengthPrefixed(aad, kWrapAadTag);
  PutLengthPrefixed(aad, entry_key);
  PutU32(aad, kek_version);
  return aad;
}

std::string KekCheckValue(const MasterKey& kek) {
  return std::string(crypto::AsBytes(crypto::HmacSha256Once(kek.bytes(), kKekCheckLabel)));
}

std::string EncodeMetaKek(uint32_t kek_version, const MasterKey& kek) {
  std::string out;
  PutU32(out, kek_version);
  out += KekCheckValue(kek);
  return out;
}

struct WrappedKey {
  uint32_t kek_version = 0;
  std::string_view nonce;
  std::string_view sealed;  // ciphertext ‖ tag
};

std::optional<WrappedKey> DecodeWrapped(std::string_view v) {
  if (v.size() != kWrappedSize) return std::nullopt;
  return WrappedKey{GetU32(v), v.substr(4, crypto::kGcmNonceSize),
                    v.substr(4 + crypto::kGcmNonceSize)};
}

// `nonce` must be fresh random bytes.
std::string WrapKey(crypto::AesGcm256& kek, uint32_t kek_version, std::string_view entry_key,
                    std::string_view nonce, std::string_view key) {
  std::string out;
  out.reserve(kWrappedSize);
  PutU32(out, kek_version);
  out += nonce;
  out += kek.Seal(nonce, WrapAad(entry_key, kek_version), key);
  return out;
}

Result<std::string> UnwrapKey(crypto::AesGcm256& kek, std::string_view entry_key,
                              const WrappedKey& w) {
  return kek.Open(w.nonce, WrapAad(entry_key, w.kek_version), w.sealed);
}

bool IsValidDekId(std::string_view id) {
  if (id.size() != 2 * kDekIdBytes) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string DekKey(std::string_view dek_id) {
  std::string key(kDekPrefix);
  key += dek_id;
  return key;
}

void Log(const LogSink& sink, LogLevel level, std::string_view message) {
  if (sink) sink(level, message);
}

// ---------------------------------------------------------------------------------------------
// Files

// Reads a whole small file; refuses anything larger than `max_bytes`.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes, struct stat* st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return MakeError(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInvalidArgument,
                     "cannot open " + path + ": " + ErrnoText(errno));
  }
  std::string out;
  auto fail = [&](std::string msg) -> Error {
    ::close(fd);
    crypto::SecureWipe(out);
    return MakeError(ErrorCode::kInvalidArgument, std::move(msg));
  };
  if (::fstat(fd, st) != 0) return fail("cannot stat " + path + ": " + ErrnoText(errno));
  if (!S_ISREG(st->st_mode)) return fail(path + " is not a regular file");
  if (static_cast<uint64_t>(st->st_size) > max_bytes) {
    return fail(path + " is " + std::to_string(st->st_size) +
                " bytes; a master key file holds 32 raw bytes or their base64 text");
  }
  out.resize(max_bytes + 1);
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot read " + path + ": " + ErrnoText(errno));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got > max_bytes) {
    crypto::SecureWipe(out);
    return MakeError(ErrorCode::kInvalidArgument, path + " grew while being read");
  }
  out.resize(got);
  return out;
}

std::string ModeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// Validation, masks, redaction

SecretProblem CheckSecret(std::string_view raw, std::string_view* trimmed) {
  std::string_view s = TrimAsciiSpace(raw);
  *trimmed = s;
  if (!IsValidUtf8(raw)) return SecretProblem::kInvalidUtf8;
  if (s.empty()) return SecretProblem::kEmpty;
  if (s.size() > kMaxSecretBytes) return SecretProblem::kTooLong;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    // C0 and DEL; C1 (U+0080..U+009F) is encoded as 0xC2 0x80..0x9F.
    const bool c1 = c == 0xC2 && i + 1 < s.size() && static_cast<uint8_t>(s[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c1) return SecretProblem::kControlCharacter;
  }
  return SecretProblem::kNone;
}

Result<std::string> ValidateSecret(std::string_view raw) {
  auto invalid = [](std::string msg) { return MakeError(ErrorCode::kValidation, std::move(msg)); };
  std::string_view s;
  switch (CheckSecret(raw, &s)) {
    case SecretProblem::kNone:
      return std::string(s);
    case SecretProblem::kEmpty:
      return invalid("the API key must not be empty");
    case SecretProblem::kTooLong:
      return invalid("the API key is " + std::to_string(s.size()) + " bytes long; at most " +
                     std::to_string(kMaxSecretBytes) + " are allowed");
    case SecretProblem::kInvalidUtf8:
      return invalid("the API key is not valid UTF-8");
    case SecretProblem::kControlCharacter:
      return invalid("the API key contains a control character");
  }
  return invalid("the API key is invalid");
}

std::string MaskSecret(std::string_view secret) {
  const std::vector<size_t> starts = CodePointStarts(secret);
  const size_t n = starts.size();
  size_t prefix = 0;
  size_t suffix = 0;
  if (n >= 24) {
    prefix = 8;
    suffix = 4;
  } else if (n > 8) {
    // At most a third of the characters in total, the larger half at the front.
    const size_t shown = n / 3;
    prefix = (shown + 1) / 2;
    suffix = shown / 2;
  } else {
    return "***";
  }
  auto offset = [&](size_t code_point) {
    return code_point == n ? secret.size() : starts[code_point];
  };
  std::string out(secret.substr(0, offset(prefix)));
  out += "***";
  out += secret.substr(offset(n - suffix));
  return out;
}

std::string RedactSecret(std::string_view secret) {
  return "[secret: " + std::to_string(secret.size()) + " bytes]";
}

// -----------------------------------------------------------------------------------------------
// SealedSecret

std::string SealedSecret::ToJson() const {
  json::Writer w(96 + ciphertext.size() * 4 / 3);
  w.BeginObject()
      .Member("cv", uint64_t{cipher_version})
      .Member("dek", dek_id)
      .Member("n", crypto::Base64Encode(nonce))
      .Member("ct", crypto::Base64Encode(ciphertext))
      .EndObject();
  return w.Take();
}

Result<SealedSecret> SealedSecret::FromJson(std::string_view json) {
  auto bad = [](std::string why) {
    return MakeError(ErrorCode::kCorruption, "sealed secret is malformed: " + why);
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size(), true).get(doc)) return bad("not one JSON document");
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return bad("not a JSON object");
  SealedSecret out;
  bool has_cv = false, has_dek = false, has_n = false, has_ct = false;
  for (simdjson::dom::key_value_pair field : obj) {
    std::string_view key = field.key;
    auto string_member = [&](bool& seen, std::string_view& value) -> Status {
      if (seen) return bad("duplicate member \"" + std::string(key) + "\"");
      seen = true;
      if (field.value.get_string().get(value)) {
        return bad("member \"" + std::string(key) + "\" is not a string");
      }
      return Status::Ok();
    };
    std::string_view text;
    if (key == "cv") {
      if (has_cv) return bad("duplicate member \"cv\"");
      has_cv = true;
      uint64_t cv = 0;
      if (field.value.get_uint64().get(cv)) return bad("member \"cv\" is not an unsigned integer");
      if (cv != kCipherAes256GcmV1) {
        return MakeError(ErrorCode::kUnsupported,
                         "sealed secret uses cipher version " + std::to_string(cv) +
                             "; this build knows version " + std::to_string(kCipherAes256GcmV1));
      }
      out.cipher_version = static_cast<uint16_t>(cv);
    } else if (key == "dek") {
      KL_RETURN_IF_ERROR(string_member(has_dek, text));
      if (!IsValidDekId(text)) return bad("\"dek\" is not a data key id (32 hex digits)");
      out.dek_id = std::string(text);
    } else if (key == "n") {
      KL_RETURN_IF_ERROR(string_member(has_n, text));
      auto nonce = crypto::Base64Decode(text);
      if (!nonce.ok() || nonce->size() != crypto::kGcmNonceSize) {
        return bad("\"n\" is not the base64 of a 12-byte nonce");
      }
      out.nonce = std::move(nonce).value();
    } else if (key == "ct") {
      KL_RETURN_IF_ERROR(string_member(has_ct, text));
      auto ct = crypto::Base64Decode(text);
      if (!ct.ok() || ct->size() < crypto::kGcmTagSize) {
        return bad("\"ct\" is not the base64 of a ciphertext with its 16-byte tag");
      }
      out.ciphertext = std::move(ct).value();
    } else {
      return bad("unknown member \"" + std::string(key) + "\"");
    }
  }
  if (!has_cv || !has_dek || !has_n || !has_ct) {
    return bad("it needs the members \"cv\", \"dek\", \"n\" and \"ct\"");
  }
  return out;
}

// -----------------------------------------------------------------------------------------------
// MasterKey

MasterKey::~MasterKey() { crypto::SecureWipe(bytes_); }

Result<MasterKey> MasterKey::FromBytes(std::string_view bytes) {
  if (bytes.size() != kMasterKeySize) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a master key is exactly 32 bytes, not " + std::to_string(bytes.size()));
  }
  return MasterKey(std::string(bytes));
}

Result<MasterKey> MasterKey::FromFileContents(std::string_view contents) {
  // Exactly 32 bytes is the raw form; base64 of 32 bytes is 44 characters, so no ambiguity.
  if (contents.size() == kMasterKeySize) return FromBytes(contents);
  std::string_view text = TrimAsciiSpace(contents);
  auto decoded = crypto::Base64Decode(text);
  if (!decoded.ok()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "holds neither 32 raw bytes nor standard base64 text (" +
                         std::to_string(contents.size()) + " bytes)");
  }
  std::string bytes = std::move(decoded).value();
  if (bytes.size() != kMasterKeySize) {
    const size_t n = bytes.size();
    crypto::SecureWipe(bytes);
    return MakeError(ErrorCode::kInvalidArgument, "base64 text decodes to " + std::to_string(n) +
                                                      " bytes; a master key is 32 bytes");
  }
  MasterKey key(std::move(bytes));
  return key;
}

MasterKey MasterKey::Generate() { return MasterKey(crypto::RandomBytes(kMasterKeySize)); }

Result<MasterKey> LoadMasterKey(const MasterKeySource& source, const LogSink& log) {
  constexpr size_t kMaxKeyFileBytes = 4096;
  auto with_context = [](const std::string& what, const Error& e) {
    return MakeError(ErrorCode::kInvalidArgument, what + ": " + e.message);
  };

  if (!source.file.empty()) {
    struct stat st {};
    KL_ASSIGN_OR_RETURN(std::string contents, ReadSmallFile(source.file, kMaxKeyFileBytes, &st));
    if ((st.st_mode & 077) != 0) {
      Log(log, LogLevel::kWarning,
          "master key file " + source.file + " is accessible by group or others (mode " +
              ModeText(st.st_mode) + "); restrict it with chmod 600");
    }
    auto key = MasterKey::FromFileContents(contents);
    crypto::SecureWipe(contents);
    if (!key.ok()) return with_context("master key file " + source.file, key.error());
    return std::move(key).value();
  }

  if (!source.env_base64.empty()) {
    auto decoded = crypto::Base64Decode(TrimAsciiSpace(source.env_base64));
    if (!decoded.ok()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "KEYLEDGER_MASTER_KEY is not standard base64 text");
    }
    std::string bytes = std::move(decoded).value();
    auto key = MasterKey::FromBytes(bytes);
    crypto::SecureWipe(bytes);
    if (!key.ok()) return with_context("KEYLEDGER_MASTER_KEY", key.error());
    return std::move(key).value();
  }

  if (source.data_dir.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no master key: pass --master-key-file, set KEYLEDGER_MASTER_KEY, or give a "
                     "data directory for a development key");
  }
  std::error_code ec;
  std::filesystem::create_directories(source.data_dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kIoError,
                     "cannot create data directory " + source.data_dir + ": " + ec.message());
  }
  const std::string path = (std::filesystem::path(source.data_dir) / "master.key").string();

  // Two attempts: if another process creates the file between our check and our O_EXCL create,
  // read theirs.
  for (int attempt = 0; attempt < 2; ++attempt) {
    struct stat st {};
    auto contents = ReadSmallFile(path, kMaxKeyFileBytes, &st);
    if (contents.ok()) {
      if ((st.st_mode & 077) != 0) {
        crypto::SecureWipe(*contents);
        return MakeError(ErrorCode::kInvalidArgument,
                         path + " is accessible by group or others (mode " + ModeText(st.st_mode) +
                             "); refusing to use it. Restrict it with chmod 600 " + path +
                             " and consider whether the key has leaked");
      }
      auto key = MasterKey::FromFileContents(*contents);
      crypto::SecureWipe(*contents);
      if (!key.ok()) return with_context(path, key.error());
      Log(log, LogLevel::kWarning,
          "using the development master key " + path +
              "; for production pass --master-key-file or KEYLEDGER_MASTER_KEY and keep the key "
              "apart from the data");
      return std::move(key).value();
    }
    if (contents.error().code != ErrorCode::kNotFound) return contents.error();

    MasterKey key = MasterKey::Generate();
    std::string b64 = crypto::Base64Encode(key.bytes());
    std::string text;
    text.reserve(b64.size() + 1);  // no reallocation leaves an unwiped copy behind
    text += b64;
    text += '\n';
    // Created only if absent (another process may be creating it right now: then read theirs),
    // mode 0600 whatever the umask, durable before it is used.
    Status written = WriteFileAtomically(path, text, {.create_only = true});
    crypto::SecureWipe(b64);
    crypto::SecureWipe(text);
    if (written.ok()) {
      Log(log, LogLevel::kWarning,
          "created a development master key at " + path +
              " (mode 0600). It is for development only: back it up separately from the data "
              "(losing it makes every stored secret unreadable; a copy next to the data protects "
              "nothing). For production pass --master-key-file or KEYLEDGER_MASTER_KEY");
      return key;
    }
    if (written.code() != ErrorCode::kAlreadyExists) return written.error();
  }
  return MakeError(ErrorCode::kIoError, "cannot read or create " + path);
}

// -----------------------------------------------------------------------------------------------
// Keyring

struct Keyring::State {
  LogSink log_sink;
  // Immutable after Open (rotation rewraps them but never changes them). Wiped on destruction.
  std::string pepper;
  std::string checkpoint_key;

  // Everything below is guarded by Keyring::mu_.
  std::optional<MasterKey> kek;
  std::unique_ptr<crypto::AesGcm256> kek_cipher;
  uint32_t kek_version = 0;
  uint64_t stream_version = 0;  // version of the "keyring" stream == kek_version - 1

  // Seals handed out under the current KEK whose append may not have committed yet, so that a
  // rotation can rewrap them too (conditionally: only if they did commit). dek id ->
  struct PendingSeal {
    std::string wrapped;
    std::chrono::steady_clock::time_point sealed_at;
  };
  std::unordered_map<std::string, PendingSeal> pending;
  size_t next_prune_at = kPendingPruneMin;
  bool pruning = false;

  ~State() {
    crypto::SecureWipe(pepper);
    crypto::SecureWipe(checkpoint_key);
  }
};

Keyring::Keyring(EventLog& log, std::unique_ptr<State> state)
    : log_(log), state_(std::move(state)) {}

Keyring::~Keyring() = default;

Result<std::unique_ptr<Keyring>> Keyring::Open(EventLog& log, MasterKey master, LogSink log_sink) {
  auto state = std::make_unique<State>();
  state->log_sink = std::move(log_sink);
  state->kek_cipher = std::make_unique<crypto::AesGcm256>(master.bytes());

  KL_ASSIGN_OR_RETURN(std::optional<std::string> meta, log.GetAux(AuxSpace::kKeyring, kMetaKekKey));
  KL_ASSIGN_OR_RETURN(uint64_t stream_version, log.StreamVersion(kKeyringStream));

  if (!meta) {
    bool any_entry = false;
    KL_RETURN_IF_ERROR(log.ScanAux(AuxSpace::kKeyring, "", [&](std::string_view, std::string_view) {
      any_entry = true;
      return false;
    }));
    if (stream_version != 0 || any_entry) {
      return MakeError(ErrorCode::kCorruption,
                       "the keyring has entries or rotations but no meta/kek record; refusing to "
                       "initialize a new keyring over it");
    }
    // A new keyring: KEK version 1 and the two server keys, in one append. The guard refuses to
    // initialize over a keyring stream that has rotations; two initializers racing on one log
    // are excluded by the one-Keyring-per-log rule (secrets.hpp), not by the guard.
    state->kek_version = 1;
    state->stream_version = 0;
    std::string random = crypto::RandomBytes(2 * kServerKeySize + 2 * crypto::kGcmNonceSize);
    std::string_view r = random;
    state->pepper = std::string(r.substr(0, kServerKeySize));
    state->checkpoint_key = std::string(r.substr(kServerKeySize, kServerKeySize));
    const std::string_view nonces = r.substr(2 * kServerKeySize);
    AppendRequest req;
    req.streams.push_back(StreamAppend{std::string(kKeyringStream), kNoStream, {}, {}});
    req.aux.push_back({AuxSpace::kKeyring, std::string(kMetaKekKey), EncodeMetaKek(1, master)});
    req.aux.push_back({AuxSpace::kKeyring, std::string(kPepperKey),
                       WrapKey(*state->kek_cipher, 1, kPepperKey,
                               nonces.substr(0, crypto::kGcmNonceSize), state->pepper)});
    req.aux.push_back({AuxSpace::kKeyring, std::string(kCheckpointKey),
                       WrapKey(*state->kek_cipher, 1, kCheckpointKey,
                               nonces.substr(crypto::kGcmNonceSize), state->checkpoint_key)});
    auto appended = log.Append(std::move(req));
    crypto::SecureWipe(random);
    if (!appended.ok()) {
      return MakeError(appended.error().code,
                       "cannot initialize the keyring: " + appended.error().message);
    }
    Log(state->log_sink, LogLevel::kInfo, "initialized a new keyring (KEK version 1)");
  } else {
    if (meta->size() != kMetaKekSize) {
      return MakeError(ErrorCode::kCorruption, "the keyring's meta/kek record is malformed");
    }
    const uint32_t kek_version = GetU32(*meta);
    const std::string check = KekCheckValue(master);
    if (!crypto::ConstantTimeEquals(std::string_view(*meta).substr(4), check)) {
      return MakeError(ErrorCode::kDecryptFailed,
                       "the master key does not match this data directory (KEK check value "
                       "differs; the directory is at KEK version " +
                           std::to_string(kek_version) +
                           "); start with the master key it was created or last rotated with "
                           "(--master-key-file, KEYLEDGER_MASTER_KEY or <data-dir>/master.key)");
    }
    if (kek_version == 0 || stream_version != uint64_t{kek_version} - 1) {
      return MakeError(ErrorCode::kCorruption, "the keyring is at KEK version " +
                                                   std::to_string(kek_version) +
                                                   " but its stream records " +
                                                   std::to_string(stream_version) + " rotations");
    }
    state->kek_version = kek_version;
    state->stream_version = stream_version;
    for (auto [entry, out] : {std::pair{kPepperKey, &state->pepper},
                              std::pair{kCheckpointKey, &state->checkpoint_key}}) {
      KL_ASSIGN_OR_RETURN(std::optional<std::string> wrapped,
                          log.GetAux(AuxSpace::kKeyring, entry));
      auto decoded = wrapped ? DecodeWrapped(*wrapped) : std::nullopt;
      if (!decoded || decoded->kek_version != kek_version) {
        return MakeError(ErrorCode::kCorruption,
                         "the keyring's " + std::string(entry) + " entry is missing or malformed");
      }
      auto key = UnwrapKey(*state->kek_cipher, entry, *decoded);
      if (!key.ok() || key->size() != kServerKeySize) {
        return MakeError(ErrorCode::kCorruption, "the keyring's " + std::string(entry) +
                                                     " entry does not authenticate under the "
                                                     "master key (altered?)");
      }
      *out = std::move(key).value();
    }
  }
  state->kek.emplace(std::move(master));
  return std::unique_ptr<Keyring>(new Keyring(log, std::move(state)));
}

Result<Keyring::Sealed> Keyring::SealNew(std::string_view key_id, uint64_t secret_version,
                                         std::string_view secret) {
  // One getrandom call for the data key, its id and both nonces.
  std::string random = crypto::RandomBytes(kDekSize + kDekIdBytes + 2 * crypto::kGcmNonceSize);
  const std::string_view r = random;
  const std::string_view dek = r.substr(0, kDekSize);
  const std::string dek_id = crypto::HexEncode(r.substr(kDekSize, kDekIdBytes));
  const std::string_view nonce = r.substr(kDekSize + kDekIdBytes, crypto::kGcmNonceSize);
  const std::string_view wrap_nonce = r.substr(kDekSize + kDekIdBytes + crypto::kGcmNonceSize);

  Sealed out;
  out.secret.cipher_version = kCipherAes256GcmV1;
  out.secret.dek_id = dek_id;
  out.secret.nonce = std::string(nonce);
  out.secret.ciphertext = crypto::AesGcm256SealOnce(
      dek, nonce, SecretAad(key_id, secret_version, dek_id, kCipherAes256GcmV1), secret);

  auto committed_rotations = log_.StreamVersion(kKeyringStream);
  std::vector<std::string> prune_candidates;
  {
    std::lock_guard lock(mu_);
    State& st = *state_;
    if (!committed_rotations.ok()) {
      crypto::SecureWipe(random);
      return committed_rotations.error();
    }
    if (*committed_rotations > st.stream_version) {
      crypto::SecureWipe(random);
      return MakeError(ErrorCode::kUnavailable,
                       "the master key was rotated by another keyring instance; reopen the "
                       "keyring with the new master key");
    }
    const std::string dek_key = DekKey(dek_id);
    std::string wrapped = WrapKey(*st.kek_cipher, st.kek_version, dek_key, wrap_nonce, dek);
    out.dek_write = AuxWrite{AuxSpace::kKeyring, dek_key, wrapped};
    out.kek_guard =
        StreamAppend{std::string(kKeyringStream), static_cast<int64_t>(st.stream_version), {}, {}};
    st.pending.emplace(dek_id,
                       State::PendingSeal{std::move(wrapped), std::chrono::steady_clock::now()});
    if (st.pending.size() >= st.next_prune_at && !st.pruning) {
      st.pruning = true;
      prune_candidates.reserve(st.pending.size());
      for (const auto& [id, p] : st.pending) prune_candidates.push_back(id);
    }
  }
  crypto::SecureWipe(random);

  if (!prune_candidates.empty()) {
    // A pending seal whose DEK is in the keyring has committed; the next rotation's scan finds
    // it, so it need not be remembered. Read outside the lock: a commit is never undone (a later
    // shred only deletes the entry, which a rotation handles as well). Seals older than
    // kPendingSealLifetime are forgotten too: their callers gave up on them long ago.
    std::vector<std::string> committed;
    std::vector<std::string> unconfirmed;
    for (const std::string& id : prune_candidates) {
      auto v = log_.GetAux(AuxSpace::kKeyring, DekKey(id));
      if (v.ok() && v->has_value()) {
        committed.push_back(id);
      } else if (v.ok()) {
        unconfirmed.push_back(id);
      }
    }
    std::lock_guard lock(mu_);
    State& st = *state_;
    for (const std::string& id : committed) st.pending.erase(id);
    const auto now = std::chrono::steady_clock::now();
    for (const std::string& id : unconfirmed) {
      auto it = st.pending.find(id);
      if (it != st.pending.end() && it->second.sealed_at < now - kUnconfirmedSealLifetime) {
        st.pending.erase(it);
      }
    }
    const auto expired_before = now - kPendingSealLifetime;
    std::erase_if(st.pending,
                  [&](const auto& entry) { return entry.second.sealed_at < expired_before; });
    st.next_prune_at = std::max(kPendingPruneMin, 2 * st.pending.size());
    st.pruning = false;
  }
  return out;
}

Result<std::string> Keyring::Open(const SealedSecret& sealed, std::string_view key_id,
                                  uint64_t secret_version) const {
  if (sealed.cipher_version != kCipherAes256GcmV1) {
    return MakeError(ErrorCode::kUnsupported, "the secret uses cipher version " +
                                                  std::to_string(sealed.cipher_version) +
                                                  ", which this build cannot decrypt");
  }
  if (!IsValidDekId(sealed.dek_id) || sealed.nonce.size() != crypto::kGcmNonceSize ||
      sealed.ciphertext.size() < crypto::kGcmTagSize) {
    return MakeError(ErrorCode::kDecryptFailed, "the sealed secret is malformed");
  }
  const std::string dek_key = DekKey(sealed.dek_id);
  // Two reads at most: if a rotation rewrapped the entry between our read and our lock, the
  // second read sees the new wrapping.
  for (int attempt = 0;; ++attempt) {
    KL_ASSIGN_OR_RETURN(std::optional<std::string> wrapped,
                        log_.GetAux(AuxSpace::kKeyring, dek_key));
    if (!wrapped) {
      return MakeError(ErrorCode::kShredded,
                       "the secret was crypto-shredded when its key was deleted");
    }
    std::string dek;
    {
      std::lock_guard lock(mu_);
      const State& st = *state_;
      auto decoded = DecodeWrapped(*wrapped);
      if (!decoded) {
        return MakeError(ErrorCode::kDecryptFailed, "the secret's data key entry is malformed");
      }
      if (decoded->kek_version != st.kek_version) {
        if (decoded->kek_version < st.kek_version && attempt == 0) continue;
        auto committed = log_.StreamVersion(kKeyringStream);
        if (decoded->kek_version > st.kek_version && committed.ok() &&
            *committed > st.stream_version) {
          return MakeError(ErrorCode::kUnavailable,
                           "the master key was rotated by another keyring instance; reopen the "
                           "keyring with the new master key");
        }
        return MakeError(ErrorCode::kDecryptFailed,
                         "the secret's data key is wrapped under KEK version " +
                             std::to_string(decoded->kek_version) + ", but the keyring is at " +
                             std::to_string(st.kek_version));
      }
      auto unwrapped = UnwrapKey(*st.kek_cipher, dek_key, *decoded);
      if (!unwrapped.ok() || unwrapped->size() != kDekSize) {
        return MakeError(ErrorCode::kDecryptFailed,
                         "the secret's data key does not authenticate under the master key (its "
                         "keyring entry was altered)");
      }
      dek = std::move(unwrapped).value();
    }
    auto plain = crypto::AesGcm256OpenOnce(
        dek, sealed.nonce, SecretAad(key_id, secret_version, sealed.dek_id, sealed.cipher_version),
        sealed.ciphertext);
    crypto::SecureWipe(dek);
    if (!plain.ok()) {
      return MakeError(ErrorCode::kDecryptFailed,
                       "the secret does not authenticate (its ciphertext was altered, or it was "
                       "moved to another key or secret version)");
    }
    return plain;
  }
}

AuxWrite Keyring::ShredDek(std::string_view dek_id) {
  return AuxWrite{AuxSpace::kKeyring, DekKey(dek_id), std::nullopt};
}

Status Keyring::PurgeShredded() { return log_.PurgeDeletedAux(AuxSpace::kKeyring); }

std::string Keyring::Fingerprint(std::string_view secret) const {
  return crypto::HexEncode(crypto::AsBytes(crypto::HmacSha256Once(state_->pepper, secret)));
}

std::string Keyring::SignCheckpoint(std::string_view message) const {
  return crypto::HexEncode(
      crypto::AsBytes(crypto::HmacSha256Once(state_->checkpoint_key, message)));
}

uint32_t Keyring::kek_version() const {
  std::lock_guard lock(mu_);
  return state_->kek_version;
}

Status Keyring::RotateMaster(MasterKey next, const EventMetadata& metadata) {
  uint32_t from = 0;
  size_t rewrapped = 0;
  size_t in_flight = 0;
  {
    // Held until the rotation is durable: seals, reveals and other rotations wait.
    std::lock_guard lock(mu_);
    State& st = *state_;
    if (crypto::ConstantTimeEquals(next.bytes(), st.kek->bytes())) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the new master key is the same as the current one");
    }
    KL_ASSIGN_OR_RETURN(uint64_t committed, log_.StreamVersion(kKeyringStream));
    if (committed != st.stream_version) {
      return MakeError(ErrorCode::kUnavailable,
                       "the master key was rotated by another keyring instance; reopen the "
                       "keyring with the new master key");
    }
    from = st.kek_version;
    const uint32_t to = from + 1;

    // Everything wrapped under the current KEK: committed entries, plus seals handed out but
    // perhaps not yet committed (their appends may land between this scan and our append).
    std::map<std::string, std::string, std::less<>> entries;
    for (std::string_view prefix : {kDekPrefix, kServerPrefix}) {
      KL_RETURN_IF_ERROR(
          log_.ScanAux(AuxSpace::kKeyring, prefix, [&](std::string_view k, std::string_view v) {
            entries.emplace(std::string(k), std::string(v));
            if (k.starts_with(kDekPrefix)) ++rewrapped;
            return true;
          }));
    }
    for (const auto& [id, seal] : st.pending) {
      if (entries.emplace(DekKey(id), seal.wrapped).second) ++in_flight;
    }
    if (entries.size() + 1 > kMaxAuxWritesPerAppend) {
      return MakeError(ErrorCode::kUnsupported, "the keyring holds " +
                                                    std::to_string(entries.size()) +
                                                    " keys; one rotation can rewrap at most " +
                                                    std::to_string(kMaxAuxWritesPerAppend - 1));
    }

    crypto::AesGcm256 next_cipher(next.bytes());
    const std::string nonces = crypto::RandomBytes(entries.size() * crypto::kGcmNonceSize);
    AppendRequest req;
    req.aux.reserve(entries.size() + 1);
    size_t i = 0;
    for (const auto& [key, value] : entries) {
      auto decoded = DecodeWrapped(value);
      if (!decoded || decoded->kek_version != from) {
        return MakeError(ErrorCode::kCorruption, "cannot rotate: keyring entry " + key +
                                                     " is malformed or not wrapped under the "
                                                     "current KEK version");
      }
      auto plain = UnwrapKey(*st.kek_cipher, key, *decoded);
      if (!plain.ok()) {
        return MakeError(ErrorCode::kCorruption, "cannot rotate: keyring entry " + key +
                                                     " does not authenticate under the current "
                                                     "master key (altered?)");
      }
      std::string key_bytes = std::move(plain).value();
      AuxWrite w{AuxSpace::kKeyring, key,
                 WrapKey(next_cipher, to, key,
                         std::string_view(nonces).substr(i++ * crypto::kGcmNonceSize,
                                                         crypto::kGcmNonceSize),
                         key_bytes)};
      crypto::SecureWipe(key_bytes);
      // Never resurrect a data key that a concurrent delete shredded, nor create one for a seal
      // that was never committed.
      w.only_if_present = key.starts_with(kDekPrefix);
      req.aux.push_back(std::move(w));
    }
    req.aux.push_back({AuxSpace::kKeyring, std::string(kMetaKekKey), EncodeMetaKek(to, next)});

    NewEvent event = MakeMasterKeyRotatedEvent(
        {.from_kek_version = from, .to_kek_version = to, .rewrapped_deks = rewrapped});
    req.streams.push_back(StreamAppend{std::string(kKeyringStream),
                                       static_cast<int64_t>(st.stream_version),
                                       metadata,
                                       {std::move(event)}});
    auto appended = log_.Append(std::move(req));
    if (!appended.ok()) {
      if (appended.error().code == ErrorCode::kIoError) {
        // A failed synced write may still have reached the disk (FORMAT.md "Failed writes"),
        // so the outcome is unknown; this instance keeps the old KEK and notices a committed
        // rotation through the stream version (kUnavailable) rather than misusing the old KEK.
        return MakeError(ErrorCode::kIoError,
                         "the master key rotation may or may not have been applied (storage "
                         "error: " +
                             appended.error().message +
                             "); reopen with the current master key, and if that is refused, "
                             "with the new one");
      }
      return MakeError(appended.error().code,
                       "the master key rotation was not applied: " + appended.error().message);
    }

    // Durable: switch to the new KEK; the old one is wiped when `next`'s predecessor dies here.
    st.kek_cipher = std::make_unique<crypto::AesGcm256>(next.bytes());
    st.kek.emplace(std::move(next));
    st.kek_version = to;
    st.stream_version += 1;
    st.pending.clear();
    st.next_prune_at = kPendingPruneMin;
  }
  Log(state_->log_sink, LogLevel::kInfo,
      "rotated the master key: KEK version " + std::to_string(from) + " -> " +
          std::to_string(from + 1) + " (" + std::to_string(rewrapped) + " data keys rewrapped, " +
          std::to_string(in_flight) + " in-flight seals covered)");
  // The old wrappings were overwritten; flush and compact so they leave the live files too.
  Status purged = log_.PurgeDeletedAux(AuxSpace::kKeyring);
  if (!purged.ok()) {
    Log(state_->log_sink, LogLevel::kWarning,
        "master key rotated, but compacting the keyring afterwards failed: " + purged.ToString());
  }
  return Status::Ok();
}

}  // namespace keyledger::events
