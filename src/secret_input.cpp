#include "src/secret_input.hpp"

#include <string>
#include <utility>

#include "events/secrets.hpp"
#include "src/json_input.hpp"

namespace keyledger::registry {

namespace {

Error SecretError(FieldError e) {
  Error error = MakeError(ErrorCode::kValidation, "invalid API key");
  error.details.push_back(std::move(e));
  return error;
}

}  // namespace

Result<std::string> ValidateSecretInput(std::string_view raw) {
  // The rule itself is events::CheckSecret; this only words its verdict as pydantic would.
  std::string_view trimmed;
  switch (events::CheckSecret(raw, &trimmed)) {
    case events::SecretProblem::kNone:
      return std::string(trimmed);
    case events::SecretProblem::kInvalidUtf8:
      return SecretError(ValueError({}, "API Key 必须是有效的 UTF-8 文本", ""));
    case events::SecretProblem::kEmpty:
      return SecretError(ValueError({}, "API Key 不能为空", ""));
    case events::SecretProblem::kTooLong: {
      const std::string max = std::to_string(events::kMaxSecretBytes);
      return SecretError(MakeFieldError("string_too_long", {},
                                        "String should have at most " + max + " characters", "",
                                        R"({"max_length":)" + max + "}"));
    }
    case events::SecretProblem::kControlCharacter:
      return SecretError(ValueError({}, "API Key 不能包含控制字符", ""));
  }
  return SecretError(ValueError({}, "API Key 无效", ""));
}

}  // namespace keyledger::registry
