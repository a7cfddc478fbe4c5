#pragma once
// Secret values (provider API keys): validation, masks, envelope encryption with per-key data
// keys (DEKs) wrapped by a versioned master key (KEK), crypto-shredding, and log redaction.
// DESIGN.md "Secrets"; layout of the keyring space in events/FORMAT.md "Keyring".
//
// A secret never reaches the event log, a log line or an error body in plaintext: events carry
// the SealedSecret (ciphertext), the mask and the keyed fingerprint, all computed once when the
// secret is set. Only Keyring::Open (reveal) decrypts.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "events/event_log.hpp"
#include "events/log_sink.hpp"
#include "events/status.hpp"

namespace keyledger::events {

inline constexpr size_t kMaxSecretBytes = 8 * 1024;
inline constexpr size_t kMasterKeySize = 32;
inline constexpr uint16_t kCipherAes256GcmV1 = 1;

// One rule for create and update: after trimming ASCII whitespace the secret is non-empty,
// contains no control characters (C0, DEL, C1), is valid UTF-8 and is at most 8 KiB.
// Returns the trimmed secret. Errors are kValidation with a message that never quotes the value.
// What is wrong with a secret under that rule (kNone when it is acceptable). `trimmed`
// receives the value with ASCII whitespace removed from both ends.
enum class SecretProblem : uint8_t { kNone, kEmpty, kTooLong, kInvalidUtf8, kControlCharacter };
SecretProblem CheckSecret(std::string_view raw, std::string_view* trimmed);
Result<std::string> ValidateSecret(std::string_view raw);

// Aether's mask for typical keys (24+ characters): first 8 ‖ "***" ‖ last 4
// ("sk-ant-a***wxyz"). Shorter keys never show more than a third of their characters in total;
// 8 characters or fewer show "***". Counts Unicode code points, never splits one.
// (9 to 23 characters show floor(n/3) of them: the larger half in front, the rest at the end,
// e.g. "123456789" -> "12***9".)
std::string MaskSecret(std::string_view secret);

// What a log line may say about a secret: its length, never its bytes. Every log call site that
// touches key material uses this.
std::string RedactSecret(std::string_view secret);

// The encrypted form stored in event payloads. Not secret.
struct SealedSecret {
  uint16_t cipher_version = kCipherAes256GcmV1;
  std::string dek_id;      // which data key (keyring entry "dek/<dek_id>")
  std::string nonce;       // 12 random bytes, fresh per encryption
  std::string ciphertext;  // AES-256-GCM ciphertext ‖ 16-byte tag

  // {"cv":1,"dek":"<dek_id>","n":"<base64 nonce>","ct":"<base64 ciphertext>"}
  std::string ToJson() const;
  static Result<SealedSecret> FromJson(std::string_view json);

  friend bool operator==(const SealedSecret&, const SealedSecret&) = default;
};

// The master key: 32 bytes. Wiped on destruction.
class MasterKey {
 public:
  static Result<MasterKey> FromBytes(std::string_view bytes);  // exactly 32 bytes
  // Accepts the raw 32 bytes or their standard base64 text (surrounding whitespace ignored).
  static Result<MasterKey> FromFileContents(std::string_view contents);
  static MasterKey Generate();
  ~MasterKey();
  MasterKey(MasterKey&&) noexcept = default;
  MasterKey& operator=(MasterKey&&) noexcept = default;
  MasterKey(const MasterKey&) = delete;
  MasterKey& operator=(const MasterKey&) = delete;

  std::string_view bytes() const { return bytes_; }

 private:
  explicit MasterKey(std::string b) : bytes_(std::move(b)) {}
  std::string bytes_;
};

struct MasterKeySource {
  std::string file;        // --master-key-file (empty: not given)
  std::string env_base64;  // KEYLEDGER_MASTER_KEY (empty: not set)
  std::string data_dir;    // where master.key is created when neither is given
};

// Resolution order: file, then environment, then <data_dir>/master.key (created with mode 0600
// and a warning to `log` that this is for development only). Clear errors for a missing or
// unreadable file, wrong length, bad base64, or a group/world-readable master.key.
Result<MasterKey> LoadMasterKey(const MasterKeySource& source, const LogSink& log);

// The keyring: DEKs wrapped by the current KEK, the KEK check value, and two server keys (the
// fingerprint pepper and the checkpoint signing key), all in AuxSpace::kKeyring of one EventLog.
//
// Thread safety: all methods are thread-safe. Writes are returned as AuxWrites so that callers
// put them in the same atomic append as the events that need them; each sealing also returns a
// guard (the "keyring" stream at the version the KEK had) to include in that append, so that a
// DEK wrapped under a KEK that a concurrent rotation just retired can never be committed.
//
// Open at most one Keyring per EventLog at a time (one process holds a RocksEventLog anyway). An
// instance that sees a rotation it did not make answers kUnavailable ("reopen the keyring").
// Append a Sealed promptly: a rotation also rewraps seals handed out but not yet committed, for
// up to 15 minutes after SealNew; a seal appended later than that while a rotation runs would
// stay wrapped under the retired KEK.
class Keyring {
 public:
  // Opens the keyring of `log` with `master`. On an empty keyring, initializes it (KEK version 1,
  // check value, pepper, checkpoint key) in one append. A master key that does not match the
  // stored check value is refused with kDecryptFailed and a message that says so.
  static Result<std::unique_ptr<Keyring>> Open(EventLog& log, MasterKey master, LogSink log_sink);

  ~Keyring();
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  struct Sealed {
    SealedSecret secret;
    AuxWrite dek_write;      // puts the new wrapped DEK
    StreamAppend kek_guard;  // expected version of the "keyring" stream, no events
  };
  // Encrypts `secret` under a fresh DEK. The associated data binds the ciphertext to `key_id`,
  // `secret_version`, the DEK id and the cipher version: moved to another key or version it fails
  // to decrypt.
  Result<Sealed> SealNew(std::string_view key_id, uint64_t secret_version, std::string_view secret);

  // Decrypts a sealed secret. kShredded when its DEK was destroyed; kDecryptFailed when
  // authentication fails (tampering, or a ciphertext moved to another key/version).
  // (Also kUnsupported for a cipher version this build does not know, and kUnavailable when
  // another instance rotated the master key; see the class comment.)
  Result<std::string> Open(const SealedSecret& sealed, std::string_view key_id,
                           uint64_t secret_version) const;

  // The AuxWrite that destroys a DEK (crypto-shredding). After the append that carries it,
  // call PurgeShredded() so the wrapped bytes leave the live storage files.
  static AuxWrite ShredDek(std::string_view dek_id);
  Status PurgeShredded();

  // HMAC-SHA256 under the server pepper, hex; equal secrets give equal fingerprints.
  std::string Fingerprint(std::string_view secret) const;
  // HMAC-SHA256 under the checkpoint key, hex.
  std::string SignCheckpoint(std::string_view message) const;

  // Rewraps every DEK and server key under `next` as KEK version current+1 in one append that
  // also records a MasterKeyRotated event (no key material) on the "keyring" stream. Afterwards
  // only `next` opens the keyring. Blocks until durable; seals wait while it runs.
  Status RotateMaster(MasterKey next, const EventMetadata& metadata);

  uint32_t kek_version() const;

 private:
  struct State;
  explicit Keyring(EventLog& log, std::unique_ptr<State> state);
  EventLog& log_;
  mutable std::mutex mu_;
  std::unique_ptr<State> state_;
};

}  // namespace keyledger::events
