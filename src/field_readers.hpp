#pragma once
// The validators of request fields (internal to src/: commands.cpp and field_tables.cpp). Each
// reads one JSON value at `loc`, appends pydantic-shaped errors (src/json_input.hpp) and returns
// the normalized value, or nullopt on failure. Limits are arguments: the field tables
// (src/field_tables.hpp) hold them, so the validator and the published schema cannot disagree.
//
// Thread safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/commands.hpp"
#include "src/json_input.hpp"

namespace keyledger::registry::readers {

inline auto IntReader(IntRange range) {
  return [range](const JsonValue& v, const Loc& loc, ErrorList& errors) {
    return ReadInt(v, loc, errors, range);
  };
}

inline auto FloatReader(FloatRange range) {
  return [range](const JsonValue& v, const Loc& loc, ErrorList& errors) {
    return ReadFloat(v, loc, errors, range);
  };
}

std::optional<bool> BoolField(const JsonValue& v, const Loc& loc, ErrorList& errors);
std::optional<int64_t> TimestampField(const JsonValue& v, const Loc& loc, ErrorList& errors);
std::optional<std::string> PlainString(const JsonValue& v, const Loc& loc, ErrorList& errors);

// list[str] with `length`; items upper-cased, each an API format (Aether's message quotes the
// first bad item as sent), duplicates dropped keeping the first.
std::optional<std::vector<std::string>> ApiFormatsField(const JsonValue& v, const Loc& loc,
                                                        ErrorList& errors,
                                                        const ListLength& length);
// The secret rule (src/secret_input.hpp); errors never carry the input.
std::optional<std::string> SecretField(const JsonValue& v, const Loc& loc, ErrorList& errors);
// A display name: `length` on the raw string (as pydantic checks it), stored stripped; blank
// names and control characters refused.
std::optional<std::string> NameField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                     const StrLength& length);
// Free text (note, description): `length` on the raw string, stripped, line breaks and tabs
// allowed, other control characters refused ("<what>不能包含控制字符").
std::optional<std::string> TextField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                     const StrLength& length, std::string_view what);
// dict[str, float] with every value in `range` and finite; keys upper-cased API formats.
std::optional<RateMultipliers> RateMultipliersField(const JsonValue& v, const Loc& loc,
                                                    ErrorList& errors, const FloatRange& range);
// dict[str, bool]; names from the capability catalogue.
std::optional<Capabilities> CapabilitiesField(const JsonValue& v, const Loc& loc,
                                              ErrorList& errors);
// list[str] | dict[str, list[str]] as pydantic's smart union, then Aether's validator. On
// success `out` is the cleaned value, or nullopt for [] / {}.
bool AllowedModelsField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                        std::optional<AllowedModels>& out);
// A JSON object stored as canonical text, member order kept.
std::optional<std::string> ConfigField(const JsonValue& v, const Loc& loc, ErrorList& errors);
// A website: `length` raw, stripped, "https://" added without a scheme; `blank` when empty.
std::optional<std::string> WebsiteValue(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                        const StrLength& length, bool& blank);
// Aether's billing_type validator: null means the default; otherwise one of the enum values.
std::optional<std::string> BillingTypeValue(const JsonValue& v, const Loc& loc, ErrorList& errors);

// How a nested model reports a value that is not an object.
enum class NestedMode : uint8_t {
  kFastApi,  // FastAPI body (from_attributes): model_attributes_type
  kManual,   // model_validate in a handler: model_type with the class name
  kDict,     // a plain dict field in Aether's model: dict_type
};
bool CheckNestedObject(const JsonValue& v, const Loc& loc, ErrorList& errors, NestedMode mode,
                       std::string_view class_name);
std::optional<ProxyConfig> ProxyField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                      NestedMode mode);
// base_url: `length` raw, http(s):// with a host, no whitespace or controls, trailing '/' removed.
std::optional<std::string> BaseUrlField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                        const StrLength& length);
std::optional<std::string> CustomPathField(const JsonValue& v, const Loc& loc, ErrorList& errors,
                                           const StrLength& length);
// dict[str, str] of HTTP token names (unique ignoring case) to values without controls.
std::optional<Headers> HeadersField(const JsonValue& v, const Loc& loc, ErrorList& errors);
// api_format of an endpoint: Aether's message has no "当前值".
std::optional<std::string> EndpointFormatField(const JsonValue& v, const Loc& loc,
                                               ErrorList& errors);
// A single API format, with the key validator's message.
std::optional<std::string> ReportFormatField(const JsonValue& v, const Loc& loc, ErrorList& errors);

// ---------------------------------------------------------------------------------------------
// Field plumbing: how a model treats absence and null.

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

inline constexpr bool kNullable = true;
inline constexpr bool kNotNullable = false;

}  // namespace keyledger::registry::readers
