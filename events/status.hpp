#pragma once
// Errors as values at every layer boundary.
//
// `Error` carries one `ErrorCode` from the single domain enum below, a message that is safe to show
// to a client (it never contains a secret or storage internals), and optional structured details.
// `Result<T>` holds either a `T` or an `Error`; `Status` is the value-less form. Both are
// [[nodiscard]]: dropping one needs an explicit, greppable `IgnoreError(...)`.
//
// Whoever adds an enumerator to ErrorCode must extend the HTTP mapping in api/errors.cpp
// and ErrorCodeName() in status.cpp.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace keyledger {

enum class ErrorCode : uint8_t {
  kInvalidArgument,     // malformed input from a caller (400 invalid_request)
  kValidation,          // input failed field validation; see Error::details (422)
  kNotFound,            // the resource does not exist (404)
  kAlreadyExists,       // a uniqueness rule was violated (400 in Aether's routes)
  kVersionConflict,     // optimistic concurrency: expected version != actual (409)
  kPreconditionFailed,  // If-Match did not match the resource's ETag (412)
  kUnauthenticated,     // no or invalid credentials (401)
  kPermissionDenied,    // valid credentials without the needed role (403)
  kRateLimited,         // too many requests (429)
  kPayloadTooLarge,     // a body or field over its limit (413)
  kShredded,            // the secret's data key was destroyed on delete
  kDecryptFailed,       // authenticated decryption failed (wrong key or tampering)
  kCorruption,          // stored data failed a checksum, hash or decode check
  kUnsupported,         // unknown on-disk format version or feature
  kIoError,             // the storage write or read failed; retryable (503)
  kUnavailable,         // the service cannot take writes right now (503)
  kHeadConflict,        // a shared log (etcd) moved past the head this node appended on: catch
                        // up and retry; Error::actual_version is the log's head sequence (503)
  kInternal,            // a bug; details only in the log (500)
};

std::string_view ErrorCodeName(ErrorCode code);

// One field-level validation failure, shaped like a FastAPI/pydantic error entry.
// `input_json` and `ctx_json` are already-serialized JSON (empty = omit the member).
struct FieldError {
  std::string type;
  std::vector<std::string> loc;
  std::string msg;
  std::string input_json;
  std::string ctx_json;
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // For kVersionConflict: the actual current version of the stream or resource. For
  // kHeadConflict: the sequence of the shared log's head.
  std::optional<uint64_t> actual_version;
  // For kValidation: one entry per failing field.
  std::vector<FieldError> details;
  // Optional JSON object shown as "details" in {"error":{...}} bodies (e.g. resource_type).
  std::string details_json;

  static Error Make(ErrorCode c, std::string msg) { return Error{c, std::move(msg), {}, {}, {}}; }
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : error_(std::move(e)) {}  // NOLINT(google-explicit-constructor)
  static Status Ok() { return Status(); }

  bool ok() const { return !error_.has_value(); }
  const Error& error() const { return *error_; }
  ErrorCode code() const { return error_ ? error_->code : ErrorCode::kInternal; }
  std::string ToString() const;
  Status status() const { return *this; }

 private:
  std::optional<Error> error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}      // NOLINT
  Result(Status s) : v_(std::in_place_index<1>, s.error()) {}        // NOLINT: s must be !ok()

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }

  const Error& error() const { return std::get<1>(v_); }
  Status status() const { return ok() ? Status::Ok() : Status(error()); }

 private:
  std::variant<T, Error> v_;
};

// The one sanctioned way to drop a Status or Result on the floor.
template <typename T>
inline void IgnoreError(T&&) {}

inline Error MakeError(ErrorCode code, std::string message) {
  return Error::Make(code, std::move(message));
}

}  // namespace keyledger

#define KL_CONCAT_INNER(a, b) a##b
#define KL_CONCAT(a, b) KL_CONCAT_INNER(a, b)

// Returns the error of a Status or Result expression from the enclosing function.
#define KL_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    auto&& kl_status_ = (expr);                      \
    if (!kl_status_.ok()) return kl_status_.error(); \
  } while (false)

#define KL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.error();             \
  lhs = std::move(tmp).value()

// `KL_ASSIGN_OR_RETURN(auto x, Compute());` declares x from a Result or returns its error.
#define KL_ASSIGN_OR_RETURN(lhs, expr) \
  KL_ASSIGN_OR_RETURN_IMPL(KL_CONCAT(kl_result_, __LINE__), lhs, expr)
