#include "src/commands.hpp"

#include <algorithm>
#include <utility>

#include "events/json_writer.hpp"
#include "projections/domain.hpp"
#include "src/secret_input.hpp"

namespace keyledger::registry {

namespace {

// ---------------------------------------------------------------------------------------------
// Aether's limits (aether-spec.md §6, §10) and keyledger's additions (limits:: in the header).

constexpr size_t kMaxKeyNameChars = 100;
constexpr size_t kMaxNoteChars = 500;
constexpr size_t kMaxProviderNameChars = 100;
constexpr size_t kMaxDescriptionChars = 1000;
constexpr size_t kMaxWebsiteChars = 500;
constexpr size_t kMaxBaseUrlChars = 500;
constexpr size_t kMaxCustomPathChars = 200;
constexpr size_t kMaxProxyUsernameChars = 255;
constexpr size_t kMaxProxyPasswordChars = 500;

constexpr IntRange kPriorityRange{limits::kMinPriority, limits::kMaxPriority};
constexpr IntRange kRpmRange{1, domain::rpm::kMaxRpmLimit};
constexpr IntRange kCacheTtlRange{0, 60};
constexpr IntRange kProbeIntervalRange{2, 32};
constexpr IntRange kQuotaResetDayRange{1, 365};
constexpr IntRange kPatchQuotaResetDayRange{1, 31};
constexpr IntRange kProviderPriorityRange{0, 1000};
constexpr IntRange kConcurrentLimitRange{0, limits::kMaxConcurrentLimit};
constexpr IntRange kProviderTimeoutRange{1, 600};
constexpr IntRange kEndpointTimeoutRange{10, 600};
constexpr IntRange kMaxRetriesRange{0, 10};
constexpr IntRange kReportCountRange{0, limits::kMaxReportedRequests};
constexpr IntRange kReportMillisRange{0, limits::kMaxReportedResponseMs};

const FloatRange kMultiplierRange{FloatBound{0.01, false}, std::nullopt};
const FloatRange kQuotaUsdRange{FloatBound{0, true}, std::nullopt};

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

// ---------------------------------------------------------------------------------------------
// Field readers: each validates one value at `loc`, appends its errors, and returns nullopt on
// failure.

auto IntReader(IntRange range) {
  return [range](const JsonValue& v, const Loc& loc, ErrorList& errors) {
    return ReadInt(v, loc, errors, range);
  };
}

auto FloatReader(FloatRange range) {
  return [range](const JsonValue& v, const Loc& loc, ErrorList& errors) {
    return ReadFloat(v, loc, errors, range);
  };
}

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
                                                        ErrorList& errors) {
  const auto* items = ReadList(v, loc, errors);
  if (items == nullptr) return std::nullopt;
  const size_t before = errors.size();
  std::vector<std::string> raw;
  for (size_t i = 0; i < items->size(); ++i) {
    if (auto s = ReadString((*items)[i], LocIdx(loc, i), errors)) raw.push_back(std::move(*s));
  }
  if (errors.size() != before) return std::nullopt;
  if (!CheckListLength(v, raw.size(), loc, errors, {1, std::nullopt})) return std::nullopt;
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
                                     size_t max_chars) {
  auto s = ReadString(v, loc, errors, {1, max_chars});
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

auto KeyNameField(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  return NameField(v, loc, errors, kMaxKeyNameChars);
}

auto ProviderNameField(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  return NameField(v, loc, errors, kMaxProviderNameChars);
}

// Free text (note, description): stripped, line breaks and tabs allowed, other control
// characters refused.
auto TextReader(size_t max_chars, std::string_view what) {
  return [max_chars, what](const JsonValue& v, const Loc& loc,
                           ErrorList& errors) -> std::optional<std::string> {
    auto s = ReadString(v, loc, errors, {std::nullopt, max_chars});
    if (!s) return std::nullopt;
    std::string_view stripped = PyStrip(*s);
    if (HasControlChars(stripped, /*allow_line_breaks=*/true)) {
      errors.Add(ValueError(loc, std::string(what) + "不能包含控制字符", EchoInput(v)));
      return std::nullopt;
    }
    return std::string(stripped);
  };
}

// dict[str, float] with every value >= 0.01 and finite; keys upper-cased, each an API format.
std::optional<RateMultipliers> RateMultipliersField(const JsonValue& v, const Loc& loc,
                                                    ErrorList& errors) {
  const auto* members = ReadDict(v, loc, errors);
  if (members == nullptr) return std::nullopt;
  const size_t before = errors.size();
  RateMultipliers raw;
  for (const auto& m : *members) {
    if (auto d = ReadFloat(m.value, LocKey(loc, m.key), errors, kMultiplierRange)) {
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

// Aether's model list cleaning: strip, drop empties and duplicates, keep order.
std::vector<std::string> CleanModelList(const std::vector<std::string>& models) {
  std::vector<std::string> out;
  for (const auto& m : models) {
    std::string stripped(PyStrip(m));
    if (!stripped.empty() && !Contains(out, stripped)) out.push_back(std::move(stripped));
  }
  return out;
}

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
                                        bool& blank) {
  auto s = ReadString(v, loc, errors, {std::nullopt, kMaxWebsiteChars});
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

// How a nested model reports a value that is not an object.
enum class NestedMode : uint8_t {
  kFastApi,  // FastAPI body (from_attributes): model_attributes_type
  kManual,   // model_validate in a handler: model_type with the class name
  kDict,     // a plain dict field in Aether's model: dict_type
};

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

std::optional<ProxyConfig> ProxyField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                      NestedMode mode) {
  if (!CheckNestedObject(v, loc, errors, mode, "ProxyConfig")) return std::nullopt;
  ModelReader m(v, loc, errors);
  const size_t before = errors.size();
  ProxyConfig proxy;
  if (const JsonValue* url = m.Required("url")) {
    if (auto s = ProxyUrlField(*url, m.At("url"), errors)) proxy.url = std::move(*s);
  }
  if (const JsonValue* user = m.Get("username"); user != nullptr && !user->is_null()) {
    proxy.username =
        ReadString(*user, m.At("username"), errors, {std::nullopt, kMaxProxyUsernameChars});
  }
  if (const JsonValue* password = m.Get("password"); password != nullptr && !password->is_null()) {
    proxy.password = ReadString(*password, m.At("password"), errors,
                                {std::nullopt, kMaxProxyPasswordChars}, Echo::kOmit);
  }
  if (const JsonValue* enabled = m.Get("enabled")) {
    if (auto b = ReadBool(*enabled, m.At("enabled"), errors)) proxy.enabled = *b;
  }
  if (errors.size() != before) return std::nullopt;
  return proxy;
}

auto ProxyReader(NestedMode mode) {
  return [mode](const JsonValue& v, const Loc& loc, ErrorList& errors) {
    return ProxyField(v, loc, errors, mode);
  };
}

// base_url: 1-500 raw; Aether's ^https?:// check (case-insensitive, on the raw text) and
// trailing '/' removal; keyledger also refuses whitespace and control characters and a URL
// without a host.
std::optional<std::string> BaseUrlField(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  auto s = ReadString(v, loc, errors, {1, kMaxBaseUrlChars});
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

std::optional<std::string> CustomPathField(const JsonValue& v, const Loc& loc, ErrorList& errors) {
  auto s = ReadString(v, loc, errors, {std::nullopt, kMaxCustomPathChars});
  if (!s) return std::nullopt;
  if (HasControlChars(*s, /*allow_line_breaks=*/false)) {
    errors.Add(ValueError(loc, "custom_path 包含非法字符", EchoInput(v)));
    return std::nullopt;
  }
  return s;
}

bool IsHeaderTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

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

// ---------------------------------------------------------------------------------------------
// Field plumbing

// A non-nullable field with a default: absent keeps the default; null is the type's error.
template <typename T, typename Read>
void DefaultField(ModelReader& m, std::string_view name, T& out, Read read) {
  const JsonValue* v = m.Get(name);
  if (v == nullptr) return;
  if (auto value = read(*v, m.At(name), m.errors())) out = std::move(*value);
}

// A nullable field: absent keeps the default, null clears it.
template <typename T, typename Read>
void OptionalField(ModelReader& m, std::string_view name, std::optional<T>& out, Read read) {
  const JsonValue* v = m.Get(name);
  if (v == nullptr) return;
  if (v->is_null()) {
    out.reset();
    return;
  }
  if (auto value = read(*v, m.At(name), m.errors())) out = std::move(*value);
}

// A required field: absent is `missing`.
template <typename T, typename Read>
void RequiredField(ModelReader& m, std::string_view name, T& out, Read read) {
  const JsonValue* v = m.Required(name);
  if (v == nullptr) return;
  if (auto value = read(*v, m.At(name), m.errors())) out = std::move(*value);
}

// A field of a partial update. Null is kept as Patch::Null() only when `nullable`; otherwise the
// reader sees the null and reports the type error pydantic gives for None.
template <typename T, typename Read>
void PatchField(ModelReader& m, std::string_view name, bool nullable, Patch<T>& out, Read read) {
  const JsonValue* v = m.Get(name);
  if (v == nullptr) return;
  if (nullable && v->is_null()) {
    out = Patch<T>::Null();
    return;
  }
  if (auto value = read(*v, m.At(name), m.errors())) out = Patch<T>::Of(std::move(*value));
}

constexpr bool kNullable = true;
constexpr bool kNotNullable = false;

template <typename T>
Result<T> Finish(ErrorList& errors, T value) {
  if (!errors.empty()) return errors.ToError();
  return value;
}

// The 400 answers of Aether's hand-validated provider routes.
Error InvalidRequest(std::string message, std::vector<FieldError> details = {}) {
  Error e = MakeError(ErrorCode::kInvalidArgument, std::move(message));
  e.details = std::move(details);
  return e;
}

// Aether's ensure_json_body() + model_validate(): the body as JSON, or the 400 to answer.
Result<JsonValue> ManualBody(std::string_view body, JsonBodyParser& parser,
                             std::string_view class_name) {
  if (body.empty()) return InvalidRequest("请求体不能为空");
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) {
    switch (ClassifyBodyError(parsed.error())) {
      case BodyFailure::kTooLarge:
        return parsed.error();
      case BodyFailure::kDuplicateKeys:
        return InvalidRequest(InvalidRequestMessage(parsed.error().details),
                              parsed.error().details);
      default:
        return InvalidRequest("请求体必须是合法的JSON");
    }
  }
  if (!parsed->is_object()) {
    std::vector<FieldError> details{MakeFieldError(
        "model_type", {},
        "Input should be a valid dictionary or instance of " + std::string(class_name),
        EchoInput(*parsed), R"({"class_name":")" + std::string(class_name) + "\"}")};
    std::string message = InvalidRequestMessage(details);
    return InvalidRequest(std::move(message), std::move(details));
  }
  return parsed;
}

template <typename T>
Result<T> FinishManual(ErrorList& errors, T value) {
  if (!errors.empty()) {
    auto details = errors.Take();
    std::string message = InvalidRequestMessage(details);
    return InvalidRequest(std::move(message), std::move(details));
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Models

void ReadProviderCreate(ModelReader& m, ProviderCreate& cmd) {
  RequiredField(m, "name", cmd.name, ProviderNameField);
  OptionalField(m, "description", cmd.description, TextReader(kMaxDescriptionChars, "描述"));
  if (const JsonValue* v = m.Get("website"); v != nullptr && !v->is_null()) {
    bool blank = false;
    if (auto w = WebsiteValue(*v, m.At("website"), m.errors(), blank)) {
      if (blank) {
        cmd.website.reset();
      } else {
        cmd.website = std::move(*w);
      }
    }
  }
  if (const JsonValue* v = m.Get("billing_type")) {
    if (auto b = BillingTypeValue(*v, m.At("billing_type"), m.errors())) cmd.billing_type = *b;
  }
  OptionalField(m, "monthly_quota_usd", cmd.monthly_quota_usd, FloatReader(kQuotaUsdRange));
  OptionalField(m, "quota_reset_day", cmd.quota_reset_day, IntReader(kQuotaResetDayRange));
  OptionalField(m, "quota_last_reset_at", cmd.quota_last_reset_at, TimestampField);
  OptionalField(m, "quota_expires_at", cmd.quota_expires_at, TimestampField);
  OptionalField(m, "provider_priority", cmd.provider_priority, IntReader(kProviderPriorityRange));
  DefaultField(m, "is_active", cmd.is_active, BoolField);
  OptionalField(m, "concurrent_limit", cmd.concurrent_limit, IntReader(kConcurrentLimitRange));
  OptionalField(m, "timeout", cmd.timeout, IntReader(kProviderTimeoutRange));
  OptionalField(m, "max_retries", cmd.max_retries, IntReader(kMaxRetriesRange));
  OptionalField(m, "proxy", cmd.proxy, ProxyReader(NestedMode::kManual));
  OptionalField(m, "config", cmd.config, ConfigField);
}

void WebsitePatch(ModelReader& m, ProviderUpdate& cmd) {
  const JsonValue* v = m.Get("website");
  if (v == nullptr) return;
  if (v->is_null()) {
    cmd.website = Patch<std::string>::Null();
    return;
  }
  bool blank = false;
  if (auto w = WebsiteValue(*v, m.At("website"), m.errors(), blank)) {
    cmd.website = blank ? Patch<std::string>::Null() : Patch<std::string>::Of(std::move(*w));
  }
}

void BillingTypePatch(ModelReader& m, ProviderUpdate& cmd) {
  if (const JsonValue* v = m.Get("billing_type")) {
    if (auto b = BillingTypeValue(*v, m.At("billing_type"), m.errors())) {
      cmd.billing_type = Patch<std::string>::Of(std::move(*b));
    }
  }
}

void ReadProviderUpdate(ModelReader& m, ProviderUpdate& cmd) {
  PatchField(m, "name", kNotNullable, cmd.name, ProviderNameField);
  PatchField(m, "description", kNullable, cmd.description,
             TextReader(kMaxDescriptionChars, "描述"));
  WebsitePatch(m, cmd);
  BillingTypePatch(m, cmd);
  PatchField(m, "monthly_quota_usd", kNullable, cmd.monthly_quota_usd, FloatReader(kQuotaUsdRange));
  PatchField(m, "quota_reset_day", kNullable, cmd.quota_reset_day, IntReader(kQuotaResetDayRange));
  PatchField(m, "quota_last_reset_at", kNullable, cmd.quota_last_reset_at, TimestampField);
  PatchField(m, "quota_expires_at", kNullable, cmd.quota_expires_at, TimestampField);
  PatchField(m, "provider_priority", kNullable, cmd.provider_priority,
             IntReader(kProviderPriorityRange));
  PatchField(m, "is_active", kNotNullable, cmd.is_active, BoolField);
  PatchField(m, "concurrent_limit", kNullable, cmd.concurrent_limit,
             IntReader(kConcurrentLimitRange));
  PatchField(m, "timeout", kNullable, cmd.timeout, IntReader(kProviderTimeoutRange));
  PatchField(m, "max_retries", kNullable, cmd.max_retries, IntReader(kMaxRetriesRange));
  PatchField(m, "proxy", kNullable, cmd.proxy, ProxyReader(NestedMode::kManual));
  PatchField(m, "config", kNullable, cmd.config, ConfigField);
}

// Aether's PATCH model (ProviderUpdateRequest), in its declaration order.
void ReadProviderPatch(ModelReader& m, ProviderUpdate& cmd) {
  PatchField(m, "name", kNotNullable, cmd.name, ProviderNameField);
  PatchField(m, "description", kNullable, cmd.description,
             TextReader(kMaxDescriptionChars, "描述"));
  WebsitePatch(m, cmd);
  PatchField(m, "provider_priority", kNullable, cmd.provider_priority,
             IntReader(kProviderPriorityRange));
  PatchField(m, "is_active", kNotNullable, cmd.is_active, BoolField);
  BillingTypePatch(m, cmd);
  PatchField(m, "monthly_quota_usd", kNullable, cmd.monthly_quota_usd, FloatReader(kQuotaUsdRange));
  PatchField(m, "quota_reset_day", kNullable, cmd.quota_reset_day,
             IntReader(kPatchQuotaResetDayRange));
  PatchField(m, "quota_expires_at", kNullable, cmd.quota_expires_at, TimestampField);
  PatchField(m, "timeout", kNullable, cmd.timeout, IntReader(kProviderTimeoutRange));
  PatchField(m, "max_retries", kNullable, cmd.max_retries, IntReader(kMaxRetriesRange));
  PatchField(m, "proxy", kNullable, cmd.proxy, ProxyReader(NestedMode::kDict));
}

std::optional<HealthReport> ReadHealthReport(const JsonValue& v, const Loc& loc,
                                             ErrorList& errors) {
  if (!CheckNestedObject(v, loc, errors, NestedMode::kFastApi, "HealthReport")) {
    return std::nullopt;
  }
  ModelReader m(v, loc, errors);
  HealthReport report;
  RequiredField(m, "key_id", report.key_id, [](const JsonValue& x, const Loc& l, ErrorList& e) {
    return ReadString(x, l, e, {1, limits::kMaxKeyIdChars});
  });
  RequiredField(m, "api_format", report.api_format, ReportFormatField);
  RequiredField(m, "successes", report.successes, IntReader(kReportCountRange));
  RequiredField(m, "failures", report.failures, IntReader(kReportCountRange));
  RequiredField(m, "total_response_time_ms", report.total_response_time_ms,
                IntReader(kReportMillisRange));
  OptionalField(m, "last_error", report.last_error,
                [](const JsonValue& x, const Loc& l, ErrorList& e) {
                  return ReadString(x, l, e, {std::nullopt, limits::kMaxLastErrorChars});
                });
  RequiredField(m, "at", report.at, TimestampField);
  if (!errors.empty()) return std::nullopt;
  return report;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Value types

std::string AllowedModels::ToJson() const {
  json::Writer w;
  if (kind == Kind::kList) {
    w.BeginArray();
    for (const auto& m : models) w.String(m);
    w.EndArray();
  } else {
    w.BeginObject();
    for (const auto& [format, list] : by_format) {
      w.Key(format).BeginArray();
      for (const auto& m : list) w.String(m);
      w.EndArray();
    }
    w.EndObject();
  }
  return w.Take();
}

std::string RateMultipliersToJson(const RateMultipliers& v) {
  json::Writer w;
  w.BeginObject();
  for (const auto& [format, multiplier] : v) w.Member(format, multiplier);
  w.EndObject();
  return w.Take();
}

std::string CapabilitiesToJson(const Capabilities& v) {
  json::Writer w;
  w.BeginObject();
  for (const auto& [name, enabled] : v) w.Member(name, enabled);
  w.EndObject();
  return w.Take();
}

std::string HeadersToJson(const Headers& v) {
  json::Writer w;
  w.BeginObject();
  for (const auto& [name, value] : v) w.Member(name, std::string_view(value));
  w.EndObject();
  return w.Take();
}

std::string ProxyConfig::ToMaskedJson() const {
  json::Writer w;
  w.BeginObject().Member("url", std::string_view(url)).Key("username");
  if (username) {
    w.String(*username);
  } else {
    w.Null();
  }
  w.Key("password");
  if (password) {
    w.String("***");
  } else {
    w.Null();
  }
  w.Member("enabled", enabled).EndObject();
  return w.Take();
}

bool KeyUpdate::empty() const {
  return api_formats.absent() && api_key.absent() && name.absent() && rate_multiplier.absent() &&
         rate_multipliers.absent() && internal_priority.absent() && global_priority.absent() &&
         rpm_limit.absent() && allowed_models.absent() && capabilities.absent() &&
         cache_ttl_minutes.absent() && max_probe_interval_minutes.absent() && is_active.absent() &&
         note.absent();
}

bool ProviderUpdate::empty() const {
  return name.absent() && description.absent() && website.absent() && billing_type.absent() &&
         monthly_quota_usd.absent() && quota_reset_day.absent() && quota_last_reset_at.absent() &&
         quota_expires_at.absent() && provider_priority.absent() && is_active.absent() &&
         concurrent_limit.absent() && timeout.absent() && max_retries.absent() && proxy.absent() &&
         config.absent();
}

bool EndpointUpdate::empty() const {
  return base_url.absent() && custom_path.absent() && headers.absent() && timeout.absent() &&
         max_retries.absent() && is_active.absent() && config.absent() && proxy.absent();
}

size_t HealthReportBatch::accepted() const {
  return static_cast<size_t>(std::count_if(reports.begin(), reports.end(), [](const auto& r) {
    return std::holds_alternative<HealthReport>(r);
  }));
}

// ---------------------------------------------------------------------------------------------
// Keys

Result<KeyCreate> KeyCreateFromJson(const JsonValue& body) {
  ErrorList errors;
  if (!CheckBodyObject(body, {"body"}, errors)) return errors.ToError();
  ModelReader m(body, {"body"}, errors);
  KeyCreate cmd;
  OptionalField(m, "provider_id", cmd.provider_id, PlainString);
  OptionalField(m, "api_formats", cmd.api_formats, ApiFormatsField);
  RequiredField(m, "api_key", cmd.api_key, SecretField);
  RequiredField(m, "name", cmd.name, KeyNameField);
  DefaultField(m, "rate_multiplier", cmd.rate_multiplier, FloatReader(kMultiplierRange));
  OptionalField(m, "rate_multipliers", cmd.rate_multipliers, RateMultipliersField);
  DefaultField(m, "internal_priority", cmd.internal_priority, IntReader(kPriorityRange));
  OptionalField(m, "global_priority", cmd.global_priority, IntReader(kPriorityRange));
  OptionalField(m, "rpm_limit", cmd.rpm_limit, IntReader(kRpmRange));
  if (const JsonValue* v = m.Get("allowed_models"); v != nullptr && !v->is_null()) {
    std::optional<AllowedModels> allowed;
    if (AllowedModelsField(*v, m.At("allowed_models"), errors, allowed)) {
      cmd.allowed_models = std::move(allowed);
    }
  }
  OptionalField(m, "capabilities", cmd.capabilities, CapabilitiesField);
  if (cmd.capabilities && cmd.capabilities->empty()) cmd.capabilities.reset();
  DefaultField(m, "cache_ttl_minutes", cmd.cache_ttl_minutes, IntReader(kCacheTtlRange));
  DefaultField(m, "max_probe_interval_minutes", cmd.max_probe_interval_minutes,
               IntReader(kProbeIntervalRange));
  DefaultField(m, "is_active", cmd.is_active, BoolField);
  OptionalField(m, "note", cmd.note, TextReader(kMaxNoteChars, "备注"));
  return Finish(errors, std::move(cmd));
}

Result<KeyCreate> ParseKeyCreate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  return KeyCreateFromJson(*parsed);
}

Result<KeyCreate> ParseKeyCreate(std::string_view body) {
  return ParseKeyCreate(body, ThreadBodyParser());
}

Result<KeyUpdate> KeyUpdateFromJson(const JsonValue& body) {
  ErrorList errors;
  if (!CheckBodyObject(body, {"body"}, errors)) return errors.ToError();
  ModelReader m(body, {"body"}, errors);
  KeyUpdate cmd;
  PatchField(m, "api_formats", kNotNullable, cmd.api_formats, ApiFormatsField);
  PatchField(m, "api_key", kNotNullable, cmd.api_key, SecretField);
  PatchField(m, "name", kNotNullable, cmd.name, KeyNameField);
  PatchField(m, "rate_multiplier", kNotNullable, cmd.rate_multiplier,
             FloatReader(kMultiplierRange));
  PatchField(m, "rate_multipliers", kNullable, cmd.rate_multipliers, RateMultipliersField);
  PatchField(m, "internal_priority", kNotNullable, cmd.internal_priority,
             IntReader(kPriorityRange));
  PatchField(m, "global_priority", kNullable, cmd.global_priority, IntReader(kPriorityRange));
  PatchField(m, "rpm_limit", kNullable, cmd.rpm_limit, IntReader(kRpmRange));
  if (const JsonValue* v = m.Get("allowed_models")) {
    if (v->is_null()) {
      cmd.allowed_models = Patch<AllowedModels>::Null();
    } else {
      std::optional<AllowedModels> allowed;
      if (AllowedModelsField(*v, m.At("allowed_models"), errors, allowed)) {
        cmd.allowed_models =
            allowed ? Patch<AllowedModels>::Of(std::move(*allowed)) : Patch<AllowedModels>::Null();
      }
    }
  }
  PatchField(m, "capabilities", kNullable, cmd.capabilities, CapabilitiesField);
  PatchField(m, "cache_ttl_minutes", kNotNullable, cmd.cache_ttl_minutes,
             IntReader(kCacheTtlRange));
  PatchField(m, "max_probe_interval_minutes", kNotNullable, cmd.max_probe_interval_minutes,
             IntReader(kProbeIntervalRange));
  PatchField(m, "is_active", kNotNullable, cmd.is_active, BoolField);
  PatchField(m, "note", kNullable, cmd.note, TextReader(kMaxNoteChars, "备注"));
  return Finish(errors, std::move(cmd));
}

Result<KeyUpdate> ParseKeyUpdate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  return KeyUpdateFromJson(*parsed);
}

Result<KeyUpdate> ParseKeyUpdate(std::string_view body) {
  return ParseKeyUpdate(body, ThreadBodyParser());
}

// ---------------------------------------------------------------------------------------------
// Providers

Result<ProviderCreate> ParseProviderCreate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = ManualBody(body, parser, "CreateProviderRequest");
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  ModelReader m(*parsed, {"body"}, errors);
  ProviderCreate cmd;
  ReadProviderCreate(m, cmd);
  return FinishManual(errors, std::move(cmd));
}

Result<ProviderCreate> ParseProviderCreate(std::string_view body) {
  return ParseProviderCreate(body, ThreadBodyParser());
}

Result<ProviderUpdate> ParseProviderUpdate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = ManualBody(body, parser, "UpdateProviderRequest");
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  ModelReader m(*parsed, {"body"}, errors);
  ProviderUpdate cmd;
  ReadProviderUpdate(m, cmd);
  return FinishManual(errors, std::move(cmd));
}

Result<ProviderUpdate> ParseProviderUpdate(std::string_view body) {
  return ParseProviderUpdate(body, ThreadBodyParser());
}

Result<ProviderUpdate> ParseProviderPatch(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  if (!CheckBodyObject(*parsed, {"body"}, errors)) return errors.ToError();
  ModelReader m(*parsed, {"body"}, errors);
  ProviderUpdate cmd;
  ReadProviderPatch(m, cmd);
  return Finish(errors, std::move(cmd));
}

Result<ProviderUpdate> ParseProviderPatch(std::string_view body) {
  return ParseProviderPatch(body, ThreadBodyParser());
}

// ---------------------------------------------------------------------------------------------
// Endpoints

Result<EndpointCreate> ParseEndpointCreate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  if (!CheckBodyObject(*parsed, {"body"}, errors)) return errors.ToError();
  ModelReader m(*parsed, {"body"}, errors);
  EndpointCreate cmd;
  RequiredField(m, "provider_id", cmd.provider_id, PlainString);
  RequiredField(m, "api_format", cmd.api_format, EndpointFormatField);
  RequiredField(m, "base_url", cmd.base_url, BaseUrlField);
  OptionalField(m, "custom_path", cmd.custom_path, CustomPathField);
  OptionalField(m, "headers", cmd.headers, HeadersField);
  DefaultField(m, "timeout", cmd.timeout, IntReader(kEndpointTimeoutRange));
  DefaultField(m, "max_retries", cmd.max_retries, IntReader(kMaxRetriesRange));
  OptionalField(m, "config", cmd.config, ConfigField);
  OptionalField(m, "proxy", cmd.proxy, ProxyReader(NestedMode::kFastApi));
  return Finish(errors, std::move(cmd));
}

Result<EndpointCreate> ParseEndpointCreate(std::string_view body) {
  return ParseEndpointCreate(body, ThreadBodyParser());
}

Result<EndpointUpdate> ParseEndpointUpdate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  if (!CheckBodyObject(*parsed, {"body"}, errors)) return errors.ToError();
  ModelReader m(*parsed, {"body"}, errors);
  EndpointUpdate cmd;
  PatchField(m, "base_url", kNotNullable, cmd.base_url, BaseUrlField);
  PatchField(m, "custom_path", kNullable, cmd.custom_path, CustomPathField);
  PatchField(m, "headers", kNullable, cmd.headers, HeadersField);
  PatchField(m, "timeout", kNotNullable, cmd.timeout, IntReader(kEndpointTimeoutRange));
  PatchField(m, "max_retries", kNotNullable, cmd.max_retries, IntReader(kMaxRetriesRange));
  PatchField(m, "is_active", kNotNullable, cmd.is_active, BoolField);
  PatchField(m, "config", kNullable, cmd.config, ConfigField);
  PatchField(m, "proxy", kNullable, cmd.proxy, ProxyReader(NestedMode::kFastApi));
  return Finish(errors, std::move(cmd));
}

Result<EndpointUpdate> ParseEndpointUpdate(std::string_view body) {
  return ParseEndpointUpdate(body, ThreadBodyParser());
}

// ---------------------------------------------------------------------------------------------
// Health reports

Result<HealthReportBatch> ParseHealthReportBatch(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  if (!CheckBodyObject(*parsed, {"body"}, errors)) return errors.ToError();
  ModelReader m(*parsed, {"body"}, errors);
  const JsonValue* reports = m.Required("reports");
  if (reports == nullptr) return errors.ToError();
  const Loc loc = m.At("reports");
  const auto* items = ReadList(*reports, loc, errors);
  if (items == nullptr) return errors.ToError();
  if (!CheckListLength(*reports, items->size(), loc, errors, {1, limits::kMaxHealthReports})) {
    return errors.ToError();
  }
  HealthReportBatch batch;
  batch.reports.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    ErrorList item_errors;
    if (auto report = ReadHealthReport((*items)[i], LocIdx(loc, i), item_errors)) {
      batch.reports.emplace_back(std::move(*report));
    } else {
      batch.reports.emplace_back(item_errors.Take());
    }
  }
  return batch;
}

Result<HealthReportBatch> ParseHealthReportBatch(std::string_view body) {
  return ParseHealthReportBatch(body, ThreadBodyParser());
}

}  // namespace keyledger::registry
