// The JSON value: strict parsing of request bodies into owned JsonValue trees (simdjson on
// demand), the value's own serialization, and the UTF-8 text helpers. Syntax errors are explained
// by the diagnoser (json_errors.cpp).
#include "src/json_value.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <system_error>
#include <utility>

#include "events/json_writer.hpp"
#include "src/json_detail.hpp"
#include "src/json_errors.hpp"

namespace keyledger::registry {

// The shared helpers of the three input files (src/json_detail.hpp).
using namespace detail;

namespace detail {

// A double from a JSON/decimal literal the way Python's float() rounds it: overflow is ±inf,
// underflow ±0.0. `literal` must match the JSON number grammar (or Rust's decimal grammar).
double LiteralToDouble(std::string_view literal) {
  double d = 0;
  std::string_view body = literal;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  auto r = std::from_chars(body.data(), body.data() + body.size(), d);
  if (r.ec == std::errc()) return negative ? -d : d;
  // Out of range: decide between overflow and underflow from the decimal exponent of the
  // leading significant digit.
  int64_t exp10 = 0;
  size_t e_pos = body.find_first_of("eE");
  if (e_pos != std::string_view::npos) {
    std::string_view e = body.substr(e_pos + 1);
    bool e_neg = false;
    if (!e.empty() && (e[0] == '-' || e[0] == '+')) {
      e_neg = e[0] == '-';
      e.remove_prefix(1);
    }
    for (char c : e) exp10 = std::min<int64_t>(exp10 * 10 + (c - '0'), 1'000'000'000);
    if (e_neg) exp10 = -exp10;
  }
  std::string_view mantissa = body.substr(0, e_pos);
  size_t dot = mantissa.find('.');
  int64_t int_len = static_cast<int64_t>(dot == std::string_view::npos ? mantissa.size() : dot);
  int64_t first_nonzero = -1;
  int64_t idx = 0;
  for (char c : mantissa) {
    if (c == '.') continue;
    if (c != '0') {
      first_nonzero = idx;
      break;
    }
    ++idx;
  }
  double result = 0;
  if (first_nonzero >= 0 && int_len - 1 - first_nonzero + exp10 > 0) {
    result = std::numeric_limits<double>::infinity();
  }
  return negative ? -result : result;
}

// JSON number grammar over the whole of `t`: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool MatchJsonNumber(std::string_view t, bool& is_int) {
  size_t i = 0;
  const size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n) return false;
  if (t[i] == '0') {
    ++i;
  } else if (t[i] >= '1' && t[i] <= '9') {
    while (i < n && IsDigit(t[i])) ++i;
  } else {
    return false;
  }
  is_int = true;
  if (i < n && t[i] == '.') {
    ++i;
    if (i >= n || !IsDigit(t[i])) return false;
    while (i < n && IsDigit(t[i])) ++i;
    is_int = false;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= n || !IsDigit(t[i])) return false;
    while (i < n && IsDigit(t[i])) ++i;
    is_int = false;
  }
  return i == n;
}

// Decimal integer text (optional '-', digits) to int64; false on overflow.
bool DigitsToInt64(std::string_view text, int64_t& out) {
  bool negative = !text.empty() && text[0] == '-';
  std::string_view digits = negative ? text.substr(1) : text;
  uint64_t magnitude = 0;
  for (char c : digits) {
    auto d = static_cast<uint64_t>(c - '0');
    if (magnitude > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    magnitude = magnitude * 10 + d;
  }
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (magnitude > kMaxPositive + 1) return false;
    out = magnitude == kMaxPositive + 1 ? std::numeric_limits<int64_t>::min()
                                        : -static_cast<int64_t>(magnitude);
  } else {
    if (magnitude > kMaxPositive) return false;
    out = static_cast<int64_t>(magnitude);
  }
  return true;
}

// Canonical Python int text of an integer literal: no leading zeros, no "-0".
std::string CanonicalIntText(std::string_view text) {
  bool negative = !text.empty() && text[0] == '-';
  std::string_view digits = negative ? text.substr(1) : text;
  size_t nz = digits.find_first_not_of('0');
  if (nz == std::string_view::npos) return "0";
  std::string out;
  if (negative) out += '-';
  out.append(digits.substr(nz));
  return out;
}

}  // namespace detail

namespace {

// ---------------------------------------------------------------------------------------------
// simdjson tree builder

namespace ondemand = simdjson::ondemand;

class TreeBuilder {
 public:
  explicit TreeBuilder(size_t max_depth) : max_depth_(max_depth) {}

  // False when the document is not acceptable JSON (the caller diagnoses why).
  bool BuildRoot(ondemand::document& doc, std::string_view text, JsonValue& out) {
    ondemand::json_type type;
    if (doc.type().get(type) != simdjson::SUCCESS) return false;
    if (type == ondemand::json_type::object || type == ondemand::json_type::array) {
      bool ok = false;
      if (type == ondemand::json_type::object) {
        ondemand::object object;
        ok = doc.get_object().get(object) == simdjson::SUCCESS && BuildObject(object, 1, out);
      } else {
        ondemand::array array;
        ok = doc.get_array().get(array) == simdjson::SUCCESS && BuildArray(array, 1, out);
      }
      if (!ok) return false;
      const char* location = nullptr;
      auto err = doc.current_location().get(location);
      return err == simdjson::OUT_OF_BOUNDS;  // anything after the root value is an error
    }
    std::string_view raw;
    if (doc.raw_json_token().get(raw) != simdjson::SUCCESS) return false;
    size_t start = static_cast<size_t>(raw.data() - text.data());
    size_t token_len = 0;
    switch (type) {
      case ondemand::json_type::string: {
        std::string_view sv;
        if (doc.get_string().get(sv) != simdjson::SUCCESS) return false;
        out = JsonValue::String(std::string(sv));
        token_len = 1;
        while (start + token_len < text.size() && text[start + token_len] != '"') {
          token_len += text[start + token_len] == '\\' ? size_t{2} : size_t{1};
        }
        ++token_len;
        break;
      }
      case ondemand::json_type::number: {
        std::string_view token = raw;
        while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
        auto number = JsonValue::Number(token);
        if (!number) return false;
        out = std::move(*number);
        token_len = token.size();
        break;
      }
      // simdjson's root-level atom getters refuse trailing whitespace, which JSON allows: the
      // atoms are matched here instead (the token ends at the next structural character).
      case ondemand::json_type::boolean:
      case ondemand::json_type::null: {
        std::string_view token = raw;
        while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
        if (token == "true" || token == "false") {
          out = JsonValue::Bool(token == "true");
        } else if (token == "null") {
          out = JsonValue();
        } else {
          return false;
        }
        token_len = token.size();
        break;
      }
      default:
        return false;
    }
    for (size_t i = start + token_len; i < text.size(); ++i) {
      if (!IsJsonSpace(text[i])) return false;
    }
    return start + token_len <= text.size();
  }

  std::vector<FieldError> TakeDuplicates() { return std::move(duplicates_); }

 private:
  bool Build(ondemand::value value, size_t parent_depth, JsonValue& out) {
    ondemand::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) return false;
    switch (type) {
      case ondemand::json_type::object: {
        ondemand::object object;
        return value.get_object().get(object) == simdjson::SUCCESS &&
               BuildObject(object, parent_depth + 1, out);
      }
      case ondemand::json_type::array: {
        ondemand::array array;
        return value.get_array().get(array) == simdjson::SUCCESS &&
               BuildArray(array, parent_depth + 1, out);
      }
      case ondemand::json_type::string: {
        std::string_view sv;
        if (value.get_string().get(sv) != simdjson::SUCCESS) return false;
        out = JsonValue::String(std::string(sv));
        return true;
      }
      case ondemand::json_type::number: {
        std::string_view token = value.raw_json_token();
        while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
        auto number = JsonValue::Number(token);
        if (!number) return false;
        out = std::move(*number);
        return true;
      }
      case ondemand::json_type::boolean: {
        bool b = false;
        if (value.get_bool().get(b) != simdjson::SUCCESS) return false;
        out = JsonValue::Bool(b);
        return true;
      }
      case ondemand::json_type::null: {
        bool is_null = false;
        if (value.is_null().get(is_null) != simdjson::SUCCESS || !is_null) return false;
        out = JsonValue();
        return true;
      }
    }
    return false;
  }

  bool BuildObject(ondemand::object& object, size_t depth, JsonValue& out) {
    if (depth > max_depth_) return false;
    std::vector<JsonMember> members;
    for (auto field_result : object) {
      ondemand::field field;
      if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
      JsonMember member{std::string(key), JsonValue()};
      path_.push_back(member.key);
      bool ok = Build(field.value(), depth, member.value);
      path_.pop_back();
      if (!ok) return false;
      members.push_back(std::move(member));
    }
    NoteDuplicates(members);
    out = JsonValue::Object(std::move(members));
    return true;
  }

  bool BuildArray(ondemand::array& array, size_t depth, JsonValue& out) {
    if (depth > max_depth_) return false;
    std::vector<JsonValue> items;
    for (auto item_result : array) {
      ondemand::value item;
      if (std::move(item_result).get(item) != simdjson::SUCCESS) return false;
      path_.push_back(LocIndex(items.size()));
      JsonValue value;
      bool ok = Build(item, depth, value);
      path_.pop_back();
      if (!ok) return false;
      items.push_back(std::move(value));
    }
    out = JsonValue::Array(std::move(items));
    return true;
  }

  void NoteDuplicates(const std::vector<JsonMember>& members) {
    if (members.size() < 2) return;
    std::vector<size_t> order(members.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return members[a].key < members[b].key; });
    std::vector<size_t> second_occurrences;
    for (size_t i = 1; i < order.size(); ++i) {
      if (members[order[i]].key != members[order[i - 1]].key) continue;
      if (i >= 2 && members[order[i - 2]].key == members[order[i]].key) continue;  // once per key
      second_occurrences.push_back(order[i]);
    }
    std::sort(second_occurrences.begin(), second_occurrences.end());
    for (size_t index : second_occurrences) {
      Loc loc{"body"};
      loc.insert(loc.end(), path_.begin(), path_.end());
      loc.push_back(members[index].key);
      duplicates_.push_back(MakeFieldError("value_error", std::move(loc),
                                           "Value error, JSON 对象中存在重复的键", "",
                                           R"({"error":{}})"));
    }
  }

  size_t max_depth_;
  std::vector<std::string> path_;
  std::vector<FieldError> duplicates_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// JsonValue

JsonValue JsonValue::Bool(bool v) {
  JsonValue j;
  j.kind_ = Kind::kBool;
  j.bool_ = v;
  return j;
}

JsonValue JsonValue::String(std::string v) {
  JsonValue j;
  j.kind_ = Kind::kString;
  j.text_ = std::move(v);
  return j;
}

JsonValue JsonValue::Int(int64_t v) {
  JsonValue j;
  j.kind_ = Kind::kInt;
  j.fits_ = true;
  j.int_ = v;
  j.double_ = static_cast<double>(v);
  j.text_ = IntText(v);
  return j;
}

std::optional<JsonValue> JsonValue::Number(std::string_view literal) {
  bool is_int = false;
  if (!MatchJsonNumber(literal, is_int)) return std::nullopt;
  JsonValue j;
  if (is_int) {
    j.kind_ = Kind::kInt;
    j.text_ = CanonicalIntText(literal);
    j.fits_ = DigitsToInt64(j.text_, j.int_);
    j.double_ = j.fits_ ? static_cast<double>(j.int_) : LiteralToDouble(j.text_);
  } else {
    j.kind_ = Kind::kFloat;
    j.text_ = std::string(literal);
    j.double_ = LiteralToDouble(literal);
  }
  return j;
}

JsonValue JsonValue::Array(std::vector<JsonValue> items) {
  JsonValue j;
  j.kind_ = Kind::kArray;
  j.items_ = std::move(items);
  return j;
}

JsonValue JsonValue::Object(std::vector<JsonMember> members) {
  JsonValue j;
  j.kind_ = Kind::kObject;
  j.members_ = std::move(members);
  return j;
}

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const auto& m : members_) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

std::string JsonValue::ToJson() const {
  std::string out;
  AppendJson(out);
  return out;
}

void JsonValue::AppendJson(std::string& out) const {
  switch (kind_) {
    case Kind::kNull:
      out += "null";
      return;
    case Kind::kBool:
      out += bool_ ? "true" : "false";
      return;
    case Kind::kInt:
      out += text_;
      return;
    case Kind::kFloat:
      if (std::isfinite(double_)) {
        json::AppendDouble(out, double_);
      } else {
        out += text_;
      }
      return;
    case Kind::kString:
      json::AppendString(out, text_);
      return;
    case Kind::kArray: {
      out += '[';
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i != 0) out += ',';
        items_[i].AppendJson(out);
      }
      out += ']';
      return;
    }
    case Kind::kObject: {
      out += '{';
      for (size_t i = 0; i < members_.size(); ++i) {
        if (i != 0) out += ',';
        json::AppendString(out, members_[i].key);
        out += ':';
        members_[i].value.AppendJson(out);
      }
      out += '}';
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

size_t FindInvalidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t min_cp = 0;
    uint32_t cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
      min_cp = 0x80;
      cp = b0 & 0x1Fu;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      min_cp = 0x800;
      cp = b0 & 0x0Fu;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      min_cp = 0x10000;
      cp = b0 & 0x07u;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

// Bodies up to this size leave their simdjson buffers allocated for the next one.
constexpr size_t kRetainedCapacity = 64 * 1024;

struct JsonBodyParser::Impl {
  explicit Impl(size_t max) : max_body_bytes(max) {}
  size_t max_body_bytes;
  ondemand::parser parser;
  std::string buffer;  // the body, followed by simdjson's padding
};

JsonBodyParser::JsonBodyParser(size_t max_body_bytes)
    : impl_(std::make_unique<Impl>(max_body_bytes)) {}

JsonBodyParser::~JsonBodyParser() = default;

JsonBodyParser& ThreadBodyParser() {
  thread_local JsonBodyParser parser;
  return parser;
}

Result<JsonValue> JsonBodyParser::Parse(std::string_view body) {
  if (body.empty()) {
    return ValidationFailure({MakeFieldError("missing", {"body"}, "Field required", "null")});
  }
  if (body.size() > impl_->max_body_bytes) {
    return MakeError(ErrorCode::kPayloadTooLarge,
                     "request body exceeds " + SizeText(impl_->max_body_bytes) + " bytes");
  }
  // json.loads(bytes) decodes a body that starts with a UTF-8 BOM as utf-8-sig.
  if (body.size() >= 3 && body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);

  auto& buffer = impl_->buffer;
  if (impl_->parser.capacity() > kRetainedCapacity && body.size() <= kRetainedCapacity) {
    // A reused parser keeps its buffers for the next body, but not a large body's.
    impl_->parser = ondemand::parser{};
    std::string().swap(buffer);
  }
  buffer.assign(body.data(), body.size());
  buffer.append(static_cast<size_t>(simdjson::SIMDJSON_PADDING), '\0');
  const std::string_view text(buffer.data(), body.size());

  JsonValue root;
  TreeBuilder builder(kMaxJsonDepth);
  bool ok = false;
  ondemand::document doc;
  if (impl_->parser.iterate(buffer.data(), body.size(), buffer.size()).get(doc) ==
      simdjson::SUCCESS) {
    ok = builder.BuildRoot(doc, text, root);
  }
  if (!ok) {
    auto diagnosis = DiagnoseJson(text);
    // simdjson and the diagnoser implement the same grammar; should they ever disagree, the
    // body is still refused.
    if (!diagnosis) diagnosis = JsonSyntaxError{0, "Invalid JSON"};
    return ValidationFailure({JsonInvalid(*diagnosis)});
  }
  auto duplicates = builder.TakeDuplicates();
  if (!duplicates.empty()) return ValidationFailure(std::move(duplicates));
  return root;
}

BodyFailure ClassifyBodyError(const Error& error) {
  if (error.code == ErrorCode::kPayloadTooLarge) return BodyFailure::kTooLarge;
  if (error.code != ErrorCode::kValidation || error.details.empty()) return BodyFailure::kOther;
  const std::string& type = error.details.front().type;
  if (type == "missing" && error.details.front().loc == Loc{"body"}) return BodyFailure::kEmpty;
  if (type == "json_invalid") return BodyFailure::kInvalidJson;
  if (type == "value_error") return BodyFailure::kDuplicateKeys;
  return BodyFailure::kOther;
}

// ---------------------------------------------------------------------------------------------
// Text helpers

size_t CharCount(std::string_view s) { return CodePointIndex(s, s.size()); }

std::string_view PyStrip(std::string_view s) { return TrimWith(s, IsPySpace); }

std::string_view RustTrim(std::string_view s) { return TrimWith(s, IsUnicodeSpaceCommon); }

bool HasControlChars(std::string_view s, bool allow_line_breaks) {
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20) {
      if (allow_line_breaks && (c == '\t' || c == '\n' || c == '\r')) continue;
      return true;
    }
    if (c == 0x7F) return true;
    // C1 controls U+0080..U+009F are C2 80..C2 9F in UTF-8.
    if (c == 0xC2 && i + 1 < s.size()) {
      auto next = static_cast<unsigned char>(s[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return true;
    }
  }
  return false;
}

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace keyledger::registry
