#pragma once
// The one rule for a provider API key, on create and on update alike (DESIGN.md "HTTP API";
// aether-spec.md §14.5, §14.6, §14.10): after trimming ASCII whitespace the secret is non-empty,
// valid UTF-8, at most events::kMaxSecretBytes bytes, and free of control characters (C0, DEL, C1).
// There is no forbidden-character list and no minimum length beyond non-empty.
//
// The rule itself is events::CheckSecret (events/secrets.hpp); this file only words its verdict
// as a pydantic error for the 422 body.

#include <cstddef>
#include <string>
#include <string_view>

#include "events/status.hpp"

namespace keyledger::registry {

// Returns the trimmed secret. Errors are kValidation with exactly one FieldError in pydantic's
// shape and an empty loc, which the caller fills in; it never carries the input and its message
// never quotes the value:
//   value_error "Value error, API Key 不能为空"              (empty after trimming)
//   value_error "Value error, API Key 必须是有效的 UTF-8 文本"
//   string_too_long "String should have at most 8192 characters", ctx {"max_length":8192}
//   value_error "Value error, API Key 不能包含控制字符"
Result<std::string> ValidateSecretInput(std::string_view raw);

}  // namespace keyledger::registry
