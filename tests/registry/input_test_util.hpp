#pragma once
// Helpers for the request-input tests: render a failed parse the way a client sees it.

#include <gtest/gtest.h>

#include <string>

#include "events/status.hpp"
#include "src/json_input.hpp"

namespace keyledger::registry::testing {

inline std::string DescribeError(const Error& e) {
  if (e.code == ErrorCode::kValidation) return ValidationErrorBody(e.details);
  return "<" + std::string(ErrorCodeName(e.code)) + ": " + e.message + ">";
}

// The 422 body {"detail":[...]} of a failed validation, "<ok>" on success, or
// "<code: message>" for any other error.
template <typename T>
std::string Detail(const Result<T>& r) {
  return r.ok() ? "<ok>" : DescribeError(r.error());
}

inline std::string Detail(const Status& s) { return s.ok() ? "<ok>" : DescribeError(s.error()); }

}  // namespace keyledger::registry::testing
