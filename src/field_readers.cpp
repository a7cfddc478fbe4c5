#include "src/field_readers.hpp"

#include <algorithm>
#include <utility>

#include "events/json_writer.hpp"
#include "projections/domain.hpp"
#include "src/field_tables.hpp"
#include "src/secret_input.hpp"

namespace keyledger::registry::readers {

namespace {

constexpr std::string_view kBillingTypes[] = {"monthly_quota", "pay_as_you_go", "free_tier"};

// Python's repr() of a list of plain strings: ['A', 'B'].
template <typename Range>
std::string PyListRepr(const Range& items) {
  std::string out = "[";
  bool first = true;
  for (std::string_view item : items) {
    if (!first) out += ", ";
    first = false;
    out += '\'';
    out += item;
    out += '\'';
  }
  out += ']';
  return out;
}

std::string CapabilityNames() {
  std::vector<std::string_view> names;
  for (const auto& c : domain::kCapabilities) names.push_back(c.name);
  return PyListRepr(names);
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  return AsciiUpper(s.substr(0, prefix.size())) == AsciiUpper(prefix);
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Field readers: each validates one value at `loc`, appends its errors, and returns nullopt on
// failure.

std::optional<bool> BoolField(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  return ReadBool(v, loc, errors);
}

std::optional<int64_t> TimestampField(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  return ReadTimestamp(v, loc, errors);
}

std::optional<std::string> PlainString(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  return ReadString(v, loc, errors);
}

// list[str] with min_length=1; items upper-cased, each an API format (Aether's message quotes
// the first bad item as sent), duplicates dropped keeping the first.
std::optional<std::vector<std::string>> ApiFormatsField(const JsonValue& v, const Loc& loc,
                                                        ErrorList& errors,
                                                        const ListLength& length) {
  const auto* items = ReadList(v, loc, errors);
  if (items == nullptr) return std::nullopt;
  const size_t before = errors.size();
  std::vector<std::string> raw;
  for (size_t i = 0; i < items->size(); ++i) {
    if (auto s = ReadString((*items)[i], LocIdx(loc, i), errors)) raw.push_back(std::move(*s));
  }
  if (errors.size() != before) return std::nullopt;
  if (!CheckListLength(v, raw.size(), loc, errors, length)) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& format : raw) {
    std::string upper = AsciiUpper(format);
    if (!domain::IsApiFormat(upper)) {
      errors.Add(ValueError(
          loc, "API 格式必须是 " + PyListRepr(domain::kApiFormats) + " 之一，当前值: " + format,
          EchoInput(v)));
      return std::nullopt;
    }
    if (!Contains(out, upper)) out.push_back(std::move(upper));
  }
  return out;
}

// The secret rule (src/secret_input.hpp); errors never carry the input.
std::optional<std::string> SecretField(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  auto s = ReadString(v, loc, errors, {}, Echo::kOmit);
  if (!s) return std::nullopt;
  auto checked = ValidateSecretInput(*s);
  if (!checked.ok()) {
    for (FieldError e : checked.error().details) {
      e.loc = loc;
      e.input_json.clear();
      errors.Add(std::move(e));
    }
    return std::nullopt;
  }
  return std::move(checked).value();
}

// A display name: the length is checked on the raw string (as pydantic does), the stored value
// is stripped. No regex mangling (aether-spec.md §14.6): the text is kept as given and escaped on
// output. Blank names and control characters are refused.
std::optional<std::string> NameField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                     const StrLength& length) {
  auto s = ReadString(v, loc, errors, length);
  if (!s) return std::nullopt;
  std::string_view stripped = PyStrip(*s);
  if (stripped.empty()) {
    errors.Add(ValueError(loc, "名称不能为空白", EchoInput(v)));
    return std::nullopt;
  }
  if (HasControlChars(stripped, /*allow_line_breaks=*/false)) {
    errors.Add(ValueError(loc, "名称不能包含控制字符", EchoInput(v)));
    return std::nullopt;
  }
  return std::string(stripped);
}

// Free text (note, description): stripped, line breaks and tabs allowed, other control
// characters refused.
std::optional<std::string> TextField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                     const StrLength& length, std::string_view what) {
  auto s = ReadString(v, loc, errors, length);
  if (!s) return std::nullopt;
  std::string_view stripped = PyStrip(*s);
  if (HasControlChars(stripped, /*allow_line_breaks=*/true)) {
    errors.Add(ValueError(loc, std::string(what) + "不能包含控制字符", EchoInput(v)));
    return std::nullopt;
  }
  return std::string(stripped);
}

// dict[str, float] with every value >= 0.01 and finite; keys upper-cased, each an API format.
std::optional<RateMultipliers> RateMultipliersField(const JsonValue& v, const Loc& loc,
                                                    ErrorList& errors, const FloatRange& range) {
  const auto* members = ReadDict(v, loc, errors);
  if (members == nullptr) return std::nullopt;
  const size_t before = errors.size();
  RateMultipliers raw;
  for (const auto& m : *members) {
    if (auto d = ReadFloat(m.value, LocKey(loc, m.key), errors, range)) {
      raw.emplace_back(m.key, *d);
    }
  }
  if (errors.size() != before) return std::nullopt;
  RateMultipliers out;
  for (const auto& [key, multiplier] : raw) {
    std::string upper = AsciiUpper(key);
    if (!domain::IsApiFormat(upper)) {
      errors.Add(ValueError(loc,
                            "rate_multipliers 的 key 必须是 " + PyListRepr(domain::kApiFormats) +
                                " 之一，当前值: " + key,
                            EchoInput(v)));
      return std::nullopt;
    }
    for (const auto& existing : out) {
      if (existing.first == upper) {
        errors.Add(ValueError(loc, "rate_multipliers 中的格式重复: " + upper, EchoInput(v)));
        return std::nullopt;
      }
    }
    out.emplace_back(std::move(upper), multiplier);
  }
  return out;
}

// A deliberate difference from Aether, which stores any name (README "Deliberate differences").
constexpr std::string_view kUnknownCapabilityReason =
    " (keyledger accepts only the capabilities of GET /api/capabilities: Aether stores an unknown "
    "name, which no scheduler rule ever matches, so a misspelt capability would look configured "
    "and do nothing)";

// dict[str, bool]; names from the capability catalogue.
std::optional<Capabilities> CapabilitiesField(const JsonValue& v, const Loc& loc,
                                              ErrorList& errors) {
  const auto* members = ReadDict(v, loc, errors);
  if (members == nullptr) return std::nullopt;
  const size_t before = errors.size();
  Capabilities out;
  for (const auto& m : *members) {
    if (auto b = ReadBool(m.value, LocKey(loc, m.key), errors)) out.emplace_back(m.key, *b);
  }
  if (errors.size() != before) return std::nullopt;
  for (const auto& [name, enabled] : out) {
    if (domain::FindCapability(name) == nullptr) {
      errors.Add(ValueError(loc,
                            "capabilities 的 key 必须是 " + CapabilityNames() +
                                " 之一，当前值: " + name + std::string(kUnknownCapabilityReason),
                            EchoInput(v)));
      return std::nullopt;
    }
  }
  return out;
}

namespace {

// Aether's model list cleaning: strip, drop empties and duplicates, keep order.
std::vector<std::string> CleanModelList(const std::vector<std::string>& models) {
  std::vector<std::string> out;
  for (const auto& m : models) {
    std::string stripped(PyStrip(m));
    if (!stripped.empty() && !Contains(out, stripped)) out.push_back(std::move(stripped));
  }
  return out;
}

}  // namespace

namespace {

// list[str] items of `v` (an array) into `out`; errors at loc + index.
bool ModelListItems(const JsonValue& v, const Loc& loc, ErrorList& errors,
                    std::vector<std::string>& out) {
  bool ok = true;
  for (size_t i = 0; i < v.items().size(); ++i) {
    if (auto s = ReadString(v.items()[i], LocIdx(loc, i), errors)) {
      out.push_back(std::move(*s));
    } else {
      ok = false;
    }
  }
  return ok;
}

}  // namespace

// list[str] | dict[str, list[str]], validated as pydantic's smart union does (the errors of
// both members, tagged "list[str]" and "dict[str,list[str]]"), then Aether's validator (§6.3).
// On success `out` is the cleaned value, or nullopt for [] / {} (null: unrestricted).
bool AllowedModelsField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                        std::optional<AllowedModels>& out) {
  ErrorList list_errors;
  const Loc list_loc = LocKey(loc, "list[str]");
  std::vector<std::string> list;
  if (!v.is_array()) {
    list_errors.Add(
        MakeFieldError("list_type", list_loc, "Input should be a valid list", EchoInput(v)));
  } else {
    ModelListItems(v, list_loc, list_errors, list);
  }
  AllowedModels result;
  if (list_errors.empty()) {
    result.kind = AllowedModels::Kind::kList;
    result.models = CleanModelList(list);
  } else {
    ErrorList dict_errors;
    const Loc dict_loc = LocKey(loc, "dict[str,list[str]]");
    std::vector<std::pair<std::string, std::vector<std::string>>> raw;
    if (!v.is_object()) {
      dict_errors.Add(MakeFieldError("dict_type", dict_loc, "Input should be a valid dictionary",
                                     EchoInput(v)));
    } else {
      for (const auto& m : v.members()) {
        const Loc key_loc = LocKey(dict_loc, m.key);
        if (!m.value.is_array()) {
          dict_errors.Add(MakeFieldError("list_type", key_loc, "Input should be a valid list",
                                         EchoInput(m.value)));
          continue;
        }
        std::vector<std::string> models;
        if (ModelListItems(m.value, key_loc, dict_errors, models)) {
          raw.emplace_back(m.key, std::move(models));
        }
      }
    }
    if (!dict_errors.empty()) {
      errors.Append(list_errors.Take());
      errors.Append(dict_errors.Take());
      return false;
    }
    result.kind = AllowedModels::Kind::kByFormat;
    for (const auto& [key, models] : raw) {
      std::string upper = AsciiUpper(key);
      if (!domain::IsApiFormat(upper) && upper != "*") {
        errors.Add(ValueError(loc,
                              "allowed_models 字典的 key 必须是 " +
                                  PyListRepr(domain::kApiFormatsSorted) + " 或 '*'，当前值: " + key,
                              EchoInput(v)));
        return false;
      }
      for (const auto& existing : result.by_format) {
        if (existing.first == upper) {
          errors.Add(ValueError(loc, "allowed_models 字典的 key 重复: " + upper, EchoInput(v)));
          return false;
        }
      }
      result.by_format.emplace_back(std::move(upper), CleanModelList(models));
    }
  }
  const bool empty =
      result.kind == AllowedModels::Kind::kList ? result.models.empty() : result.by_format.empty();
  if (empty) {
    out.reset();
  } else {
    out = std::move(result);
  }
  return true;
}

// A JSON object stored as canonical text (Python's json.dumps of it), member order kept.
std::optional<std::string> ConfigField(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  if (ReadDict(v, loc, errors) == nullptr) return std::nullopt;
  if (!CheckStorableJson(v, loc, errors)) return std::nullopt;
  return v.ToJson();
}

// Whether the website needs no "https://": it already starts with http:// or https://.
std::optional<std::string> WebsiteValue(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                        const StrLength& length, bool& blank) {
  auto s = ReadString(v, loc, errors, length);
  if (!s) return std::nullopt;
  std::string_view stripped = PyStrip(*s);
  blank = stripped.empty();
  if (blank) return std::string();
  if (HasControlChars(stripped, /*allow_line_breaks=*/false)) {
    errors.Add(ValueError(loc, "网站地址不能包含控制字符", EchoInput(v)));
    return std::nullopt;
  }
  if (StartsWithIgnoreCase(stripped, "http://") || StartsWithIgnoreCase(stripped, "https://")) {
    return std::string(stripped);
  }
  return "https://" + std::string(stripped);
}

// Aether's billing_type validator: null means the default; otherwise one of the enum values.
std::optional<std::string> BillingTypeValue(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  if (v.is_null()) return std::string(kDefaultBillingType);
  auto s = ReadString(v, loc, errors);
  if (!s) return std::nullopt;
  for (std::string_view t : kBillingTypes) {
    if (*s == t) return s;
  }
  std::string valid;
  for (std::string_view t : kBillingTypes) {
    if (!valid.empty()) valid += ", ";
    valid += t;
  }
  errors.Add(ValueError(loc, "无效的计费类型，有效值为: " + valid, EchoInput(v)));
  return std::nullopt;
}

bool CheckNestedObject(const JsonValue& v, const Loc& loc, ErrorList& errors, NestedMode mode,
                       std::string_view class_name) {
  if (v.is_object()) return true;
  switch (mode) {
    case NestedMode::kFastApi:
      errors.Add(MakeFieldError(
          "model_attributes_type", loc,
          "Input should be a valid dictionary or object to extract fields from", EchoInput(v)));
      break;
    case NestedMode::kManual:
      errors.Add(MakeFieldError(
          "model_type", loc,
          "Input should be a valid dictionary or instance of " + std::string(class_name),
          EchoInput(v), R"({"class_name":)" + [&] {
            std::string q;
            json::AppendString(q, class_name);
            return q;
          }() + "}"));
      break;
    case NestedMode::kDict:
      errors.Add(
          MakeFieldError("dict_type", loc, "Input should be a valid dictionary", EchoInput(v)));
      break;
  }
  return false;
}

namespace {

// The proxy URL rules of Aether's ProxyConfig validator, plus: any control character is
// refused (Aether only refuses CR and LF).
std::optional<std::string> ProxyUrlField(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  auto s = ReadString(v, loc, errors);
  if (!s) return std::nullopt;
  std::string_view url = PyStrip(*s);
  auto fail = [&](std::string_view message) {
    errors.Add(ValueError(loc, message, EchoInput(v)));
    return std::nullopt;
  };
  if (HasControlChars(url, /*allow_line_breaks=*/false)) return fail("代理 URL 包含非法字符");
  size_t scheme_end = url.find("://");
  std::string scheme =
      scheme_end == std::string_view::npos ? std::string() : AsciiUpper(url.substr(0, scheme_end));
  if (scheme != "HTTP" && scheme != "HTTPS" && scheme != "SOCKS5") {
    return fail("代理 URL 必须以 http://, https:// 或 socks5:// 开头");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  std::string_view netloc = rest.substr(0, rest.find_first_of("/?#"));
  if (netloc.empty()) return fail("代理 URL 必须包含有效的 host");
  // urlparse: user-info is what precedes the last '@'; "user" or ":password" both count.
  size_t at = netloc.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = netloc.substr(0, at);
    size_t colon = userinfo.find(':');
    std::string_view user = userinfo.substr(0, colon);
    std::string_view password =
        colon == std::string_view::npos ? std::string_view() : userinfo.substr(colon + 1);
    if (!user.empty() || !password.empty()) {
      return fail("请勿在 URL 中包含用户名和密码，请使用独立的认证字段");
    }
  }
  return std::string(url);
}

}  // namespace

std::optional<ProxyConfig> ProxyField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                      NestedMode mode) {
  if (!CheckNestedObject(v, loc, errors, mode, "ProxyConfig")) return std::nullopt;
  ModelReader m(v, loc, errors);
  const size_t before = errors.size();
  ProxyConfig proxy;
  if (const JsonValue* url = m.Required("url")) {
    if (auto s = ProxyUrlField(*url, m.At("url"), errors)) proxy.url = std::move(*s);
  }
  // The limits are the table's (fields::ProxyFields), which the schema publishes.
  static const fields::FieldSpec& kUsername = fields::FieldOf(fields::ProxyFields(), "username");
  static const fields::FieldSpec& kPassword = fields::FieldOf(fields::ProxyFields(), "password");
  if (const JsonValue* user = m.Get("username"); user != nullptr && !user->is_null()) {
    proxy.username = ReadString(*user, m.At("username"), errors, kUsername.length);
  }
  if (const JsonValue* password = m.Get("password"); password != nullptr && !password->is_null()) {
    proxy.password = ReadString(*password, m.At("password"), errors, kPassword.length, Echo::kOmit);
  }
  if (const JsonValue* enabled = m.Get("enabled")) {
    if (auto b = ReadBool(*enabled, m.At("enabled"), errors)) proxy.enabled = *b;
  }
  if (errors.size() != before) return std::nullopt;
  return proxy;
}

// base_url: 1-500 raw; Aether's ^https?:// check (case-insensitive, on the raw text) and
// trailing '/' removal; keyledger also refuses whitespace and control characters and a URL
// without a host.
std::optional<std::string> BaseUrlField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                        const StrLength& length) {
  auto s = ReadString(v, loc, errors, length);
  if (!s) return std::nullopt;
  std::string_view url = *s;
  if (!StartsWithIgnoreCase(url, "http://") && !StartsWithIgnoreCase(url, "https://")) {
    errors.Add(ValueError(loc, "URL 必须以 http:// 或 https:// 开头", EchoInput(v)));
    return std::nullopt;
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
      errors.Add(ValueError(loc, "URL 包含非法字符", EchoInput(v)));
      return std::nullopt;
    }
  }
  std::string_view rest = url.substr(url.find("://") + 3);
  if (rest.substr(0, rest.find_first_of("/?#")).empty()) {
    errors.Add(ValueError(loc, "URL 必须包含有效的 host", EchoInput(v)));
    return std::nullopt;
  }
  while (url.back() == '/') url.remove_suffix(1);  // the host is not empty: never empties url
  return std::string(url);
}

std::optional<std::string> CustomPathField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                           const StrLength& length) {
  auto s = ReadString(v, loc, errors, length);
  if (!s) return std::nullopt;
  if (HasControlChars(*s, /*allow_line_breaks=*/false)) {
    errors.Add(ValueError(loc, "custom_path 包含非法字符", EchoInput(v)));
    return std::nullopt;
  }
  return s;
}

namespace {

bool IsHeaderTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

// dict[str, str]; keyledger also refuses header names that are not HTTP tokens, values with
// control characters other than tab (header injection), and names repeated ignoring case.
std::optional<Headers> HeadersField(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  const auto* members = ReadDict(v, loc, errors);
  if (members == nullptr) return std::nullopt;
  const size_t before = errors.size();
  Headers out;
  for (const auto& m : *members) {
    if (auto s = ReadString(m.value, LocKey(loc, m.key), errors)) out.emplace_back(m.key, *s);
  }
  if (errors.size() != before) return std::nullopt;
  std::vector<std::string> seen;
  for (const auto& [name, value] : out) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsHeaderTokenChar)) {
      errors.Add(ValueError(loc, "请求头名称不合法: " + name, EchoInput(v)));
      return std::nullopt;
    }
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) {
        errors.Add(ValueError(loc, "请求头 " + name + " 的值包含非法字符", EchoInput(v)));
        return std::nullopt;
      }
    }
    std::string folded = AsciiUpper(name);
    if (Contains(seen, folded)) {
      errors.Add(ValueError(loc, "请求头重复: " + name, EchoInput(v)));
      return std::nullopt;
    }
    seen.push_back(std::move(folded));
  }
  return out;
}

// api_format of an endpoint: Aether's message has no "当前值".
std::optional<std::string> EndpointFormatField(const JsonValue& v, const Loc& loc,
                                               ErrorList& errors) {
  auto s = ReadString(v, loc, errors);
  if (!s) return std::nullopt;
  std::string upper = AsciiUpper(*s);
  if (!domain::IsApiFormat(upper)) {
    errors.Add(ValueError(loc, "API 格式必须是 " + PyListRepr(domain::kApiFormats) + " 之一",
                          EchoInput(v)));
    return std::nullopt;
  }
  return upper;
}

// A single API format, with the key validator's message.
std::optional<std::string> ReportFormatField(const JsonValue& v, const Loc& loc,
                                             ErrorList& errors) {
  auto s = ReadString(v, loc, errors);
  if (!s) return std::nullopt;
  std::string upper = AsciiUpper(*s);
  if (!domain::IsApiFormat(upper)) {
    errors.Add(ValueError(
        loc, "API 格式必须是 " + PyListRepr(domain::kApiFormats) + " 之一，当前值: " + *s,
        EchoInput(v)));
    return std::nullopt;
  }
  return upper;
}

}  // namespace keyledger::registry::readers
