#include "src/secret_input.hpp"

#include <string>
#include <utility>

#include "src/json_input.hpp"

namespace keyledger::registry {

namespace {

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

Error SecretError(FieldError e) {
  Error error = MakeError(ErrorCode::kValidation, "invalid API key");
  error.details.push_back(std::move(e));
  return error;
}

}  // namespace

Result<std::string> ValidateSecretInput(std::string_view raw) {
  if (FindInvalidUtf8(raw) != std::string_view::npos) {
    return SecretError(ValueError({}, "API Key 必须是有效的 UTF-8 文本", ""));
  }
  while (!raw.empty() && IsAsciiSpace(raw.front())) raw.remove_prefix(1);
  while (!raw.empty() && IsAsciiSpace(raw.back())) raw.remove_suffix(1);
  if (raw.empty()) return SecretError(ValueError({}, "API Key 不能为空", ""));
  if (raw.size() > kMaxSecretInputBytes) {
    const std::string max = std::to_string(kMaxSecretInputBytes);
    return SecretError(MakeFieldError("string_too_long", {},
                                      "String should have at most " + max + " characters", "",
                                      R"({"max_length":)" + max + "}"));
  }
  if (HasControlChars(raw, /*allow_line_breaks=*/false)) {
    return SecretError(ValueError({}, "API Key 不能包含控制字符", ""));
  }
  return std::string(raw);
}

}  // namespace keyledger::registry
