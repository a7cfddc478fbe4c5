// The error diagnoser: pydantic/FastAPI-shaped error entries and lists, Aether's manual
// validation message, the echo of rejected input (with credentials redacted), and the locator
// that explains a JSON syntax error the way Python's json.loads reports it.
#include "src/json_errors.hpp"

#include <algorithm>
#include <utility>

#include "events/json_writer.hpp"
#include "events/secret_names.hpp"
#include "src/json_detail.hpp"

namespace keyledger::registry {

// The shared helpers of the three input files (src/json_detail.hpp).
using namespace detail;

namespace {

// Members whose values are (or may well be) credentials (events/secret_names.hpp): their
// values are never echoed.
using events::IsSecretMemberName;

void AppendEcho(std::string& out, const JsonValue& v) {
  switch (v.kind()) {
    case JsonValue::Kind::kString:
      json::AppendString(out, ScrubUrlCredentials(v.string_value()));
      return;
    case JsonValue::Kind::kArray: {
      out += '[';
      bool first = true;
      for (const auto& item : v.items()) {
        if (!first) out += ',';
        first = false;
        AppendEcho(out, item);
      }
      out += ']';
      return;
    }
    case JsonValue::Kind::kObject: {
      out += '{';
      bool first = true;
      for (const auto& m : v.members()) {
        if (!first) out += ',';
        first = false;
        json::AppendString(out, m.key);
        out += ':';
        if (IsSecretMemberName(m.key)) {
          json::AppendString(out, kRedacted);
        } else {
          AppendEcho(out, m.value);
        }
      }
      out += '}';
      return;
    }
    default:
      v.AppendJson(out);
  }
}

// ---------------------------------------------------------------------------------------------
// Python json.loads error locator (CPython 3.13's C scanner, over UTF-8 bytes).

constexpr std::string_view kExpectingValue = "Expecting value";

class PyJsonDiagnoser {
 public:
  PyJsonDiagnoser(std::string_view s, size_t max_depth) : s_(s), max_depth_(max_depth) {}

  std::optional<JsonSyntaxError> Run() {
    size_t invalid = FindInvalidUtf8(s_);
    if (invalid != std::string_view::npos) {
      return JsonSyntaxError{CodePointIndex(s_, invalid), "Invalid UTF-8 byte sequence"};
    }
    size_t idx = SkipSpace(0);
    size_t next = 0;
    if (ScanOnce(idx, next, 0)) {
      size_t end = SkipSpace(next);
      if (end == s_.size()) return std::nullopt;
      Fail(end, "Extra data");
    }
    return JsonSyntaxError{CodePointIndex(s_, fail_pos_), std::string(fail_msg_)};
  }

 private:
  bool Fail(size_t pos, std::string_view msg) {
    fail_pos_ = pos;
    fail_msg_ = msg;
    return false;
  }
  // Python raises StopIteration(idx), which json.loads reports as "Expecting value" at idx.
  bool StopIteration(size_t idx) { return Fail(idx, kExpectingValue); }

  size_t SkipSpace(size_t idx) const {
    while (idx < s_.size() && IsJsonSpace(s_[idx])) ++idx;
    return idx;
  }
  bool At(size_t idx, char c) const { return idx < s_.size() && s_[idx] == c; }
  bool Matches(size_t idx, std::string_view word) const {
    return s_.size() - idx > word.size() - 1 && s_.substr(idx, word.size()) == word;
  }

  bool ScanOnce(size_t idx, size_t& next, size_t depth) {
    if (idx >= s_.size()) return StopIteration(idx);
    switch (s_[idx]) {
      case '"':
        return ScanString(idx + 1, next);
      case '{':
        if (depth + 1 > max_depth_) return Fail(idx, depth_msg_);
        return ParseObject(idx + 1, next, depth + 1);
      case '[':
        if (depth + 1 > max_depth_) return Fail(idx, depth_msg_);
        return ParseArray(idx + 1, next, depth + 1);
      case 'n':
        if (Matches(idx, "null")) {
          next = idx + 4;
          return true;
        }
        break;
      case 't':
        if (Matches(idx, "true")) {
          next = idx + 4;
          return true;
        }
        break;
      case 'f':
        if (Matches(idx, "false")) {
          next = idx + 5;
          return true;
        }
        break;
      default:
        // NaN, Infinity and -Infinity are refused: they fall through to the number match,
        // which fails with Python's "Expecting value" at their first character.
        break;
    }
    return MatchNumber(idx, next);
  }

  bool MatchNumber(size_t start, size_t& next) {
    const size_t len = s_.size();
    const size_t end_idx = len - 1;  // len > start here
    size_t idx = start;
    if (s_[idx] == '-') {
      ++idx;
      if (idx > end_idx) return StopIteration(start);
    }
    if (s_[idx] >= '1' && s_[idx] <= '9') {
      ++idx;
      while (idx <= end_idx && IsDigit(s_[idx])) ++idx;
    } else if (s_[idx] == '0') {
      ++idx;
    } else {
      return StopIteration(start);
    }
    if (idx < end_idx && s_[idx] == '.' && IsDigit(s_[idx + 1])) {
      idx += 2;
      while (idx <= end_idx && IsDigit(s_[idx])) ++idx;
    }
    if (idx < end_idx && (s_[idx] == 'e' || s_[idx] == 'E')) {
      size_t e_start = idx;
      ++idx;
      if (idx < end_idx && (s_[idx] == '-' || s_[idx] == '+')) ++idx;
      while (idx <= end_idx && IsDigit(s_[idx])) ++idx;
      if (!IsDigit(s_[idx - 1])) idx = e_start;
    }
    next = idx;
    return true;
  }

  static int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // `end` is the index after the opening quote.
  bool ScanString(size_t end, size_t& next_end) {
    const size_t len = s_.size();
    const size_t begin = end - 1;
    while (true) {
      size_t next = end;
      char c = 0;
      for (; next < len; ++next) {
        c = s_[next];
        if (c == '"' || c == '\\') break;
        if (static_cast<unsigned char>(c) <= 0x1f)
          return Fail(next, "Invalid control character at");
      }
      if (next >= len || (c != '"' && c != '\\')) {
        return Fail(begin, "Unterminated string starting at");
      }
      ++next;
      if (c == '"') {
        next_end = next;
        return true;
      }
      if (next == len) return Fail(begin, "Unterminated string starting at");
      const size_t escape_start = next - 1;
      c = s_[next];
      if (c != 'u') {
        end = next + 1;
        switch (c) {
          case '"':
          case '\\':
          case '/':
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
            break;
          default:
            return Fail(end - 2, "Invalid \\escape");
        }
        continue;
      }
      ++next;
      end = next + 4;
      if (end >= len) return Fail(next - 1, "Invalid \\uXXXX escape");
      uint32_t cp = 0;
      for (; next < end; ++next) {
        int h = HexValue(s_[next]);
        if (h < 0) return Fail(end - 5, "Invalid \\uXXXX escape");
        cp = (cp << 4) | static_cast<uint32_t>(h);
      }
      bool paired = false;
      if (cp >= 0xD800 && cp <= 0xDBFF && end + 6 < len && s_[next] == '\\' &&
          s_[next + 1] == 'u') {
        next += 2;
        end += 6;
        uint32_t cp2 = 0;
        for (; next < end; ++next) {
          int h = HexValue(s_[next]);
          if (h < 0) return Fail(end - 5, "Invalid \\uXXXX escape");
          cp2 = (cp2 << 4) | static_cast<uint32_t>(h);
        }
        if (cp2 >= 0xDC00 && cp2 <= 0xDFFF) {
          paired = true;
        } else {
          end -= 6;
        }
      }
      // Python keeps an unpaired surrogate in the str; it cannot be stored as UTF-8.
      if (!paired && cp >= 0xD800 && cp <= 0xDFFF) {
        return Fail(escape_start, "Unpaired UTF-16 surrogate in \\uXXXX escape");
      }
    }
  }

  bool ParseObject(size_t idx, size_t& next_idx, size_t depth) {
    const size_t len = s_.size();
    idx = SkipSpace(idx);
    if (idx >= len || s_[idx] != '}') {
      while (true) {
        if (idx >= len || s_[idx] != '"') {
          return Fail(idx, "Expecting property name enclosed in double quotes");
        }
        size_t after_key = 0;
        if (!ScanString(idx + 1, after_key)) return false;
        idx = SkipSpace(after_key);
        if (idx >= len || s_[idx] != ':') return Fail(idx, "Expecting ':' delimiter");
        idx = SkipSpace(idx + 1);
        size_t after_value = 0;
        if (!ScanOnce(idx, after_value, depth)) return false;
        idx = SkipSpace(after_value);
        if (At(idx, '}')) break;
        if (idx >= len || s_[idx] != ',') return Fail(idx, "Expecting ',' delimiter");
        size_t comma_idx = idx;
        idx = SkipSpace(idx + 1);
        if (At(idx, '}')) return Fail(comma_idx, "Illegal trailing comma before end of object");
      }
    }
    next_idx = idx + 1;
    return true;
  }

  bool ParseArray(size_t idx, size_t& next_idx, size_t depth) {
    const size_t len = s_.size();
    idx = SkipSpace(idx);
    if (idx >= len || s_[idx] != ']') {
      while (true) {
        size_t after_value = 0;
        if (!ScanOnce(idx, after_value, depth)) return false;
        idx = SkipSpace(after_value);
        if (At(idx, ']')) break;
        if (idx >= len || s_[idx] != ',') return Fail(idx, "Expecting ',' delimiter");
        size_t comma_idx = idx;
        idx = SkipSpace(idx + 1);
        if (At(idx, ']')) return Fail(comma_idx, "Illegal trailing comma before end of array");
      }
    }
    next_idx = idx + 1;
    return true;
  }

  std::string_view s_;
  size_t max_depth_;
  std::string depth_msg_ = "Nesting depth exceeds the limit of " + SizeText(max_depth_);
  size_t fail_pos_ = 0;
  std::string_view fail_msg_;
};

}  // namespace

namespace detail {

FieldError JsonInvalid(const JsonSyntaxError& e) {
  std::string ctx = R"({"error":)" + QuoteJson(e.reason) + "}";
  return MakeFieldError("json_invalid", {"body", LocIndex(e.position)}, "JSON decode error", "{}",
                        std::move(ctx));
}

Error ValidationFailure(std::vector<FieldError> details) {
  Error e = MakeError(ErrorCode::kValidation, "request validation failed");
  e.details = std::move(details);
  return e;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Locations

Loc LocKey(const Loc& loc, std::string_view key) {
  Loc out = loc;
  out.emplace_back(key);
  return out;
}

Loc LocIdx(const Loc& loc, size_t index) {
  Loc out = loc;
  out.push_back(LocIndex(index));
  return out;
}

std::optional<JsonSyntaxError> DiagnoseJson(std::string_view text, size_t max_depth) {
  return PyJsonDiagnoser(text, max_depth).Run();
}

// ---------------------------------------------------------------------------------------------
// Errors

void ErrorList::Append(std::vector<FieldError> more) {
  for (auto& e : more) errors_.push_back(std::move(e));
}

Error ErrorList::ToError() const { return ValidationFailure(errors_); }

std::string InvalidRequestMessage(const std::vector<FieldError>& errors) {
  std::string out = "输入验证失败: ";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i != 0) out += "; ";
    const Loc& loc = errors[i].loc;
    size_t start = !loc.empty() && loc[0] == "body" ? 1 : 0;
    for (size_t k = start; k < loc.size(); ++k) {
      if (k != start) out += " -> ";
      if (IsLocIndex(loc[k])) {
        out.append(loc[k], 1);
      } else {
        out += loc[k];
      }
    }
    out += ": ";
    out += errors[i].msg;
  }
  return out;
}

FieldError MakeFieldError(std::string type, Loc loc, std::string msg, std::string input_json,
                          std::string ctx_json) {
  return FieldError{std::move(type), std::move(loc), std::move(msg), std::move(input_json),
                    std::move(ctx_json)};
}

FieldError ValueError(Loc loc, std::string_view message, std::string input_json) {
  return MakeFieldError("value_error", std::move(loc), "Value error, " + std::string(message),
                        std::move(input_json), R"({"error":{}})");
}

FieldError MissingError(Loc loc, const JsonValue& container) {
  return MakeFieldError("missing", std::move(loc), "Field required", EchoInput(container));
}

// ---------------------------------------------------------------------------------------------
// Echo

std::string EchoInput(const JsonValue& v) {
  std::string out;
  AppendEcho(out, v);
  return out;
}

std::string ScrubUrlCredentials(std::string_view text) {
  size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::string(text);
  for (size_t i = 0; i < sep; ++i) {
    char c = text[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!(alpha || (i > 0 && (IsDigit(c) || c == '+' || c == '-' || c == '.')))) {
      return std::string(text);
    }
  }
  size_t authority_start = sep + 3;
  size_t authority_end = text.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = text.size();
  std::string_view authority = text.substr(authority_start, authority_end - authority_start);
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(text);
  std::string out(text.substr(0, authority_start));
  out += kRedacted;
  out += text.substr(authority_start + at);
  return out;
}

}  // namespace keyledger::registry
