#include "src/field_tables.hpp"

#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>

#include "events/secrets.hpp"
#include "projections/domain.hpp"
#include "src/field_readers.hpp"

namespace keyledger::registry::fields {
namespace {

using projections::RawJson;
namespace r = readers;

// ---------------------------------------------------------------------------------------------
// Validators with the tables' signature: the entry hands them its limits.

std::optional<int64_t> Int(const FieldSpec& s, const JsonValue& v, const Loc& l, ErrorList& e) {
  return ReadInt(v, l, e, s.ints);
}
std::optional<double> Float(const FieldSpec& s, const JsonValue& v, const Loc& l, ErrorList& e) {
  return ReadFloat(v, l, e, s.floats);
}
std::optional<bool> Bool(const FieldSpec&, const JsonValue& v, const Loc& l, ErrorList& e) {
  return r::BoolField(v, l, e);
}
std::optional<int64_t> Time(const FieldSpec&, const JsonValue& v, const Loc& l, ErrorList& e) {
  return r::TimestampField(v, l, e);
}
std::optional<std::string> Plain(const FieldSpec& s, const JsonValue& v, const Loc& l,
                                 ErrorList& e) {
  return ReadString(v, l, e, s.length);
}
std::optional<std::vector<std::string>> Formats(const FieldSpec& s, const JsonValue& v,
                                                const Loc& l, ErrorList& e) {
  return r::ApiFormatsField(v, l, e, s.items);
}
std::optional<std::string> Secret(const FieldSpec&, const JsonValue& v, const Loc& l,
                                  ErrorList& e) {
  return r::SecretField(v, l, e);
}
std::optional<std::string> Name(const FieldSpec& s, const JsonValue& v, const Loc& l,
                                ErrorList& e) {
  return r::NameField(v, l, e, s.length);
}
std::optional<std::string> Note(const FieldSpec& s, const JsonValue& v, const Loc& l,
                                ErrorList& e) {
  return r::TextField(v, l, e, s.length, "备注");
}
std::optional<std::string> Description(const FieldSpec& s, const JsonValue& v, const Loc& l,
                                       ErrorList& e) {
  return r::TextField(v, l, e, s.length, "描述");
}
std::optional<RateMultipliers> Multipliers(const FieldSpec& s, const JsonValue& v, const Loc& l,
                                           ErrorList& e) {
  return r::RateMultipliersField(v, l, e, s.floats);
}
std::optional<Capabilities> Caps(const FieldSpec&, const JsonValue& v, const Loc& l, ErrorList& e) {
  return r::CapabilitiesField(v, l, e);
}
std::optional<std::string> Config(const FieldSpec&, const JsonValue& v, const Loc& l,
                                  ErrorList& e) {
  return r::ConfigField(v, l, e);
}
template <r::NestedMode kMode>
std::optional<ProxyConfig> Proxy(const FieldSpec&, const JsonValue& v, const Loc& l, ErrorList& e) {
  return r::ProxyField(v, l, e, kMode);
}
std::optional<std::string> BaseUrl(const FieldSpec& s, const JsonValue& v, const Loc& l,
                                   ErrorList& e) {
  return r::BaseUrlField(v, l, e, s.length);
}
std::optional<std::string> CustomPath(const FieldSpec& s, const JsonValue& v, const Loc& l,
                                      ErrorList& e) {
  return r::CustomPathField(v, l, e, s.length);
}
std::optional<Headers> HeaderMap(const FieldSpec&, const JsonValue& v, const Loc& l, ErrorList& e) {
  return r::HeadersField(v, l, e);
}
std::optional<std::string> EndpointFormat(const FieldSpec&, const JsonValue& v, const Loc& l,
                                          ErrorList& e) {
  return r::EndpointFormatField(v, l, e);
}

// ---------------------------------------------------------------------------------------------
// Generic readers and mappings over member pointers

template <typename M>
struct MemberOf;
template <typename C, typename T>
struct MemberOf<T C::*> {
  using Class = C;
  using Type = T;
};
template <typename C, typename T>
struct MemberOf<T C::*const> : MemberOf<T C::*> {};

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

// A create-model field: an optional member takes null (the entry says kNullable); any other is
// required or keeps its default.
template <auto kMember, auto kRead>
void CreateRead(ModelReader& m, const FieldSpec& s,
                typename MemberOf<decltype(kMember)>::Class& dto) {
  auto& out = dto.*kMember;
  auto read = [&s](const JsonValue& v, const Loc& l, ErrorList& e) { return kRead(s, v, l, e); };
  if constexpr (IsOptional<std::remove_reference_t<decltype(out)>>::value) {
    r::OptionalField(m, s.name, out, read);
  } else if (s.create == Presence::kRequired) {
    r::RequiredField(m, s.name, out, read);
  } else {
    r::DefaultField(m, s.name, out, read);
  }
}

template <auto kMember, auto kRead>
void UpdateRead(ModelReader& m, const FieldSpec& s,
                typename MemberOf<decltype(kMember)>::Class& dto) {
  auto read = [&s](const JsonValue& v, const Loc& l, ErrorList& e) { return kRead(s, v, l, e); };
  r::PatchField(m, s.name, s.update == Presence::kNullable, dto.*kMember, read);
}

projections::AllowedModels ConvertModels(const AllowedModels& in) {
  if (in.kind == AllowedModels::Kind::kList) return projections::StringList(in.models);
  return projections::OrderedMap<projections::StringList>(in.by_format.begin(), in.by_format.end());
}

// A DTO value as the state member's type.
template <typename S, typename D>
S To(const D& d) {
  if constexpr (std::is_same_v<D, AllowedModels>) {
    return ConvertModels(d);
  } else if constexpr (std::is_same_v<S, RawJson>) {
    return RawJson{d};
  } else {
    return S(d);
  }
}

template <typename S, typename D>
void Assign(S& slot, const D& value) {
  slot = To<S>(value);
}
template <typename S, typename D>
void Assign(std::optional<S>& slot, const D& value) {
  slot = To<S>(value);
}
template <typename S, typename D>
void Assign(std::optional<S>& slot, const std::optional<D>& value) {
  if (value) {
    slot = To<S>(*value);
  } else {
    slot.reset();
  }
}
// A non-nullable state member keeps its default when the optional DTO value is absent.
template <typename S, typename D>
void Assign(S& slot, const std::optional<D>& value) {
  if (value) slot = To<S>(*value);
}

template <auto kFrom, auto kTo>
void CreateMap(const FieldSpec&, const typename MemberOf<decltype(kFrom)>::Class& dto,
               typename MemberOf<decltype(kTo)>::Class& state) {
  Assign(state.*kTo, dto.*kFrom);
}

template <auto kFrom, auto kTo>
void UpdateMap(const FieldSpec& s, const typename MemberOf<decltype(kFrom)>::Class& dto,
               typename MemberOf<decltype(kTo)>::Class& state, std::vector<std::string>& fields) {
  const auto& patch = dto.*kFrom;
  if (!patch.present()) return;
  fields.emplace_back(s.name);
  auto& slot = state.*kTo;
  using Slot = std::remove_reference_t<decltype(slot)>;
  if (patch.has_value()) {
    Assign(slot, patch.value());
  } else {
    slot = Slot{};  // explicit null (only nullable fields get here)
  }
}

// One table line: the entry, and what the models do with it (nullptr: not in that model, or
// mapped by hand in src/dto_adapters.cpp).
template <typename Create, typename Update, typename State>
struct Row {
  FieldSpec spec{};
  void (*create)(ModelReader&, const FieldSpec&, Create&) = nullptr;
  void (*update)(ModelReader&, const FieldSpec&, Update&) = nullptr;
  void (*map_create)(const FieldSpec&, const Create&, State&) = nullptr;
  void (*map_update)(const FieldSpec&, const Update&, State&, std::vector<std::string>&) = nullptr;
};

template <typename Rows>
std::vector<FieldSpec> Specs(const Rows& rows) {
  std::vector<FieldSpec> out;
  for (const auto& row : rows) out.push_back(row.spec);
  return out;
}

template <typename Rows, typename Dto>
void ReadCreate(const Rows& rows, ModelReader& m, Dto& dto) {
  for (const auto& row : rows) {
    if (row.create != nullptr && row.spec.create != Presence::kAbsent) row.create(m, row.spec, dto);
  }
}

template <typename Rows, typename Dto>
void ReadUpdate(const Rows& rows, ModelReader& m, Dto& dto) {
  for (const auto& row : rows) {
    if (row.update != nullptr && row.spec.update != Presence::kAbsent) row.update(m, row.spec, dto);
  }
}

template <typename Rows, typename Dto, typename State>
void MapCreate(const Rows& rows, const Dto& dto, State& out) {
  for (const auto& row : rows) {
    if (row.map_create != nullptr) row.map_create(row.spec, dto, out);
  }
}

template <typename Rows, typename Dto, typename State>
void MapUpdate(const Rows& rows, const Dto& dto, State& out, std::vector<std::string>& fields) {
  for (const auto& row : rows) {
    if (row.map_update != nullptr) row.map_update(row.spec, dto, out, fields);
  }
}

// Table-line shorthands; each table defines the aliases C (create DTO), U (update DTO) and S
// (state) they refer to.
#define KL_CREATE(member, reader) (&CreateRead<&C::member, &reader>)
#define KL_UPDATE(member, reader) (&UpdateRead<&U::member, &reader>)
#define KL_MAP_CREATE(member) (&CreateMap<&C::member, &S::member>)
#define KL_MAP_UPDATE(member) (&UpdateMap<&U::member, &S::member>)
// A field of both models, mapped onto the state member of the same name.
#define KL_FIELD(member, reader, ...)                                                              \
  {                                                                                                \
    FieldSpec{.name = #member, __VA_ARGS__}, KL_CREATE(member, reader), KL_UPDATE(member, reader), \
        KL_MAP_CREATE(member), KL_MAP_UPDATE(member)                                               \
  }

constexpr auto kRequired = Presence::kRequired;
constexpr auto kOptional = Presence::kOptional;
constexpr auto kNullable = Presence::kNullable;
constexpr auto kInteger = JsonType::kInteger;
constexpr auto kNumber = JsonType::kNumber;
constexpr auto kBoolean = JsonType::kBoolean;
constexpr auto kObject = JsonType::kObject;
constexpr auto kDateTime = JsonType::kDateTime;
constexpr auto kArray = JsonType::kArray;

// Limits shared by several lines: Aether's (aether-spec.md §6, §10) and keyledger's
// (registry::limits).
constexpr IntRange kPriority{limits::kMinPriority, limits::kMaxPriority};
constexpr IntRange kProviderTimeout{1, 600};
constexpr IntRange kMaxRetries{0, 10};
constexpr IntRange kProviderPriority{0, 1000};
constexpr FloatRange kMultiplier{FloatBound{0.01, false}, std::nullopt};
constexpr FloatRange kQuotaUsd{FloatBound{0, true}, std::nullopt};
constexpr StrLength kProviderName{1, 100};
constexpr StrLength kDescription{std::nullopt, 1000};
constexpr StrLength kWebsite{std::nullopt, 500};

constexpr std::string_view kPriorityDoc =
    "lower is preferred; any 32-bit integer (Aether's column), negative values included";
constexpr std::string_view kWebsiteDoc =
    "https:// is prepended when there is no scheme; blank means null";
constexpr std::string_view kFormatInDoc =
    "CLAUDE, CLAUDE_CLI, OPENAI, OPENAI_CLI, GEMINI or GEMINI_CLI in any letter case, stored "
    "upper-case";
constexpr std::string_view kSecretDoc =
    "The provider's API key: non-empty after trimming, valid UTF-8 without control characters, at "
    "most 8192 bytes. Never echoed in an error";

// ---------------------------------------------------------------------------------------------
// Keys (aether-spec.md §6.1, §6.2)

// allowed_models: [] and {} become null; absent or null on create leaves it unrestricted.
void AllowedModelsCreate(ModelReader& m, const FieldSpec& s, KeyCreate& dto) {
  const JsonValue* v = m.Get(s.name);
  if (v == nullptr || v->is_null()) return;
  std::optional<AllowedModels> allowed;
  if (r::AllowedModelsField(*v, m.At(s.name), m.errors(), allowed)) {
    dto.allowed_models = std::move(allowed);
  }
}

void AllowedModelsUpdate(ModelReader& m, const FieldSpec& s, KeyUpdate& dto) {
  const JsonValue* v = m.Get(s.name);
  if (v == nullptr) return;
  if (v->is_null()) {
    dto.allowed_models = Patch<AllowedModels>::Null();
    return;
  }
  std::optional<AllowedModels> allowed;
  if (r::AllowedModelsField(*v, m.At(s.name), m.errors(), allowed)) {
    dto.allowed_models =
        allowed ? Patch<AllowedModels>::Of(std::move(*allowed)) : Patch<AllowedModels>::Null();
  }
}

// capabilities: {} becomes null on create (an update stores {} as given).
void CapabilitiesCreate(ModelReader& m, const FieldSpec& s, KeyCreate& dto) {
  CreateRead<&KeyCreate::capabilities, &Caps>(m, s, dto);
  if (dto.capabilities && dto.capabilities->empty()) dto.capabilities.reset();
}

using KeyRow = Row<KeyCreate, KeyUpdate, projections::KeyState>;

std::span<const KeyRow> KeyTable() {
  using C = KeyCreate;
  using U = KeyUpdate;
  using S = projections::KeyState;
  static const KeyRow kRows[] = {
      {{.name = "provider_id",
        .create = kNullable,
        .create_doc = "When given it must equal the path's provider_id, else 400"},
       KL_CREATE(provider_id, Plain)},
      KL_FIELD(api_formats, Formats, .type = kArray, .items = {1, std::nullopt},
               .create = kNullable, .update = kOptional, .schema = Schema::kApiFormats,
               .create_doc = "Required in practice: missing or null answers 400 \"api_formats "
                             "为必填字段\". Duplicates are dropped, first seen order kept"),
      {{.name = "api_key",
        .length = {1, events::kMaxSecretBytes},
        .create = kRequired,
        .update = kOptional,
        .secret = true,
        .create_doc = kSecretDoc,
        .update_doc = kSecretDoc},
       KL_CREATE(api_key, Secret),
       KL_UPDATE(api_key, Secret)},
      KL_FIELD(name, Name, .length = {1, 100}, .create = kRequired, .update = kOptional),
      KL_FIELD(rate_multiplier, Float, .type = kNumber, .floats = kMultiplier, .create = kOptional,
               .update = kOptional, .default_json = "1.0"),
      KL_FIELD(rate_multipliers, Multipliers, .type = kObject, .floats = kMultiplier,
               .create = kNullable, .update = kNullable, .schema = Schema::kRateMultipliers),
      KL_FIELD(internal_priority, Int, .type = kInteger, .ints = kPriority, .create = kOptional,
               .update = kOptional, .default_json = "50", .update_doc = kPriorityDoc),
      KL_FIELD(global_priority, Int, .type = kInteger, .ints = kPriority, .create = kNullable,
               .update = kNullable, .create_doc = kPriorityDoc, .update_doc = kPriorityDoc),
      KL_FIELD(rpm_limit, Int, .type = kInteger, .ints = {1, domain::rpm::kMaxRpmLimit},
               .create = kNullable, .update = kNullable, .create_doc = "null: adaptive mode",
               .update_doc = "null switches to adaptive mode and resets learned_rpm_limit"),
      {{.name = "allowed_models",
        .create = kNullable,
        .update = kNullable,
        .schema = Schema::kAllowedModels},
       &AllowedModelsCreate,
       &AllowedModelsUpdate,
       KL_MAP_CREATE(allowed_models),
       KL_MAP_UPDATE(allowed_models)},
      {{.name = "capabilities",
        .type = kObject,
        .create = kNullable,
        .update = kNullable,
        .schema = Schema::kCapabilities},
       &CapabilitiesCreate,
       KL_UPDATE(capabilities, Caps),
       KL_MAP_CREATE(capabilities),
       KL_MAP_UPDATE(capabilities)},
      KL_FIELD(cache_ttl_minutes, Int, .type = kInteger, .ints = {0, 60}, .create = kOptional,
               .update = kOptional, .default_json = "5"),
      KL_FIELD(max_probe_interval_minutes, Int, .type = kInteger, .ints = {2, 32},
               .create = kOptional, .update = kOptional, .default_json = "32"),
      KL_FIELD(is_active, Bool, .type = kBoolean, .create = kOptional, .update = kOptional,
               .default_json = "true"),
      KL_FIELD(note, Note, .length = {std::nullopt, 500}, .create = kNullable, .update = kNullable),
  };
  return kRows;
}

// ---------------------------------------------------------------------------------------------
// Providers (aether-spec.md §10.1)

// website: blank becomes null.
void WebsiteCreate(ModelReader& m, const FieldSpec& s, ProviderCreate& dto) {
  const JsonValue* v = m.Get(s.name);
  if (v == nullptr || v->is_null()) return;
  bool blank = false;
  if (auto w = r::WebsiteValue(*v, m.At(s.name), m.errors(), s.length, blank)) {
    if (blank) {
      dto.website.reset();
    } else {
      dto.website = std::move(*w);
    }
  }
}

void WebsiteUpdate(ModelReader& m, const FieldSpec& s, ProviderUpdate& dto) {
  const JsonValue* v = m.Get(s.name);
  if (v == nullptr) return;
  if (v->is_null()) {
    dto.website = Patch<std::string>::Null();
    return;
  }
  bool blank = false;
  if (auto w = r::WebsiteValue(*v, m.At(s.name), m.errors(), s.length, blank)) {
    dto.website = blank ? Patch<std::string>::Null() : Patch<std::string>::Of(std::move(*w));
  }
}

// billing_type: null means the default (Aether's validator), in every model.
void BillingTypeCreate(ModelReader& m, const FieldSpec& s, ProviderCreate& dto) {
  if (const JsonValue* v = m.Get(s.name)) {
    if (auto b = r::BillingTypeValue(*v, m.At(s.name), m.errors())) dto.billing_type = *b;
  }
}

void BillingTypeUpdate(ModelReader& m, const FieldSpec& s, ProviderUpdate& dto) {
  if (const JsonValue* v = m.Get(s.name)) {
    if (auto b = r::BillingTypeValue(*v, m.At(s.name), m.errors())) {
      dto.billing_type = Patch<std::string>::Of(std::move(*b));
    }
  }
}

using ProviderRow = Row<ProviderCreate, ProviderUpdate, projections::ProviderState>;

std::span<const ProviderRow> ProviderTable() {
  using C = ProviderCreate;
  using U = ProviderUpdate;
  using S = projections::ProviderState;
  static const ProviderRow kRows[] = {
      KL_FIELD(name, Name, .length = kProviderName, .create = kRequired, .update = kOptional),
      KL_FIELD(description, Description, .length = kDescription, .create = kNullable,
               .update = kNullable),
      {{.name = "website",
        .length = kWebsite,
        .create = kNullable,
        .update = kNullable,
        .create_doc = kWebsiteDoc,
        .update_doc = kWebsiteDoc},
       &WebsiteCreate,
       &WebsiteUpdate,
       KL_MAP_CREATE(website),
       KL_MAP_UPDATE(website)},
      {{.name = "billing_type",
        .create = kNullable,
        .update = kNullable,
        .schema = Schema::kBillingType},
       &BillingTypeCreate,
       &BillingTypeUpdate,
       KL_MAP_CREATE(billing_type),
       KL_MAP_UPDATE(billing_type)},
      KL_FIELD(monthly_quota_usd, Float, .type = kNumber, .floats = kQuotaUsd, .create = kNullable,
               .update = kNullable),
      KL_FIELD(quota_reset_day, Int, .type = kInteger, .ints = {1, 365}, .create = kNullable,
               .update = kNullable, .default_json = "30"),
      KL_FIELD(quota_last_reset_at, Time, .type = kDateTime, .create = kNullable,
               .update = kNullable),
      KL_FIELD(quota_expires_at, Time, .type = kDateTime, .create = kNullable, .update = kNullable),
      KL_FIELD(provider_priority, Int, .type = kInteger, .ints = kProviderPriority,
               .create = kNullable, .update = kNullable, .default_json = "100"),
      KL_FIELD(is_active, Bool, .type = kBoolean, .create = kOptional, .update = kOptional,
               .default_json = "true"),
      KL_FIELD(concurrent_limit, Int, .type = kInteger, .ints = {0, limits::kMaxConcurrentLimit},
               .create = kNullable, .update = kNullable),
      KL_FIELD(timeout, Int, .type = kInteger, .ints = kProviderTimeout, .create = kNullable,
               .update = kNullable, .default_json = "300"),
      KL_FIELD(max_retries, Int, .type = kInteger, .ints = kMaxRetries, .create = kNullable,
               .update = kNullable, .default_json = "2"),
      {{.name = "proxy",
        .type = kObject,
        .create = kNullable,
        .update = kNullable,
        .schema = Schema::kProxy},
       KL_CREATE(proxy, Proxy<r::NestedMode::kManual>),
       KL_UPDATE(proxy, Proxy<r::NestedMode::kManual>)},
      KL_FIELD(config, Config, .type = kObject, .create = kNullable, .update = kNullable),
  };
  return kRows;
}

// PATCH /api/admin/providers/{id}: Aether's ProviderUpdateRequest, in its declaration order.
std::span<const ProviderRow> ProviderPatchTable() {
  using U = ProviderUpdate;
  static const ProviderRow kRows[] = {
      {{.name = "name", .length = kProviderName, .update = kOptional},
       nullptr,
       KL_UPDATE(name, Name)},
      {{.name = "description", .length = kDescription, .update = kNullable},
       nullptr,
       KL_UPDATE(description, Description)},
      {{.name = "website", .length = kWebsite, .update = kNullable, .update_doc = kWebsiteDoc},
       nullptr,
       &WebsiteUpdate},
      {{.name = "provider_priority",
        .type = kInteger,
        .ints = kProviderPriority,
        .update = kNullable},
       nullptr,
       KL_UPDATE(provider_priority, Int)},
      {{.name = "is_active", .type = kBoolean, .update = kOptional},
       nullptr,
       KL_UPDATE(is_active, Bool)},
      {{.name = "billing_type", .update = kNullable, .schema = Schema::kBillingType},
       nullptr,
       &BillingTypeUpdate},
      {{.name = "monthly_quota_usd", .type = kNumber, .floats = kQuotaUsd, .update = kNullable},
       nullptr,
       KL_UPDATE(monthly_quota_usd, Float)},
      {{.name = "quota_reset_day", .type = kInteger, .ints = {1, 31}, .update = kNullable},
       nullptr,
       KL_UPDATE(quota_reset_day, Int)},
      {{.name = "quota_expires_at", .type = kDateTime, .update = kNullable},
       nullptr,
       KL_UPDATE(quota_expires_at, Time)},
      {{.name = "timeout", .type = kInteger, .ints = kProviderTimeout, .update = kNullable},
       nullptr,
       KL_UPDATE(timeout, Int)},
      {{.name = "max_retries", .type = kInteger, .ints = kMaxRetries, .update = kNullable},
       nullptr,
       KL_UPDATE(max_retries, Int)},
      {{.name = "proxy", .type = kObject, .update = kNullable, .schema = Schema::kProxy},
       nullptr,
       KL_UPDATE(proxy, Proxy<r::NestedMode::kDict>)},
  };
  return kRows;
}

// ---------------------------------------------------------------------------------------------
// Endpoints (aether-spec.md §10.2)

using EndpointRow = Row<EndpointCreate, EndpointUpdate, projections::EndpointState>;

std::span<const EndpointRow> EndpointTable() {
  using C = EndpointCreate;
  using U = EndpointUpdate;
  using S = projections::EndpointState;
  static const EndpointRow kRows[] = {
      {{.name = "provider_id",
        .create = kRequired,
        .create_doc = "Must equal the path's provider_id, else 400"},
       KL_CREATE(provider_id, Plain)},
      {{.name = "api_format", .create = kRequired, .create_doc = kFormatInDoc},
       KL_CREATE(api_format, EndpointFormat),
       nullptr,
       KL_MAP_CREATE(api_format)},
      KL_FIELD(base_url, BaseUrl, .length = {1, 500}, .pattern = "^[hH][tT][tT][pP][sS]?://",
               .create = kRequired, .update = kOptional,
               .create_doc = "http(s) URL with a host; a trailing / is removed",
               .update_doc = "http(s) URL with a host; a trailing / is removed"),
      KL_FIELD(custom_path, CustomPath, .length = {std::nullopt, 200}, .create = kNullable,
               .update = kNullable),
      KL_FIELD(headers, HeaderMap, .type = kObject, .create = kNullable, .update = kNullable,
               .schema = Schema::kHeaders),
      KL_FIELD(timeout, Int, .type = kInteger, .ints = {10, 600}, .create = kOptional,
               .update = kOptional, .default_json = "300"),
      KL_FIELD(max_retries, Int, .type = kInteger, .ints = kMaxRetries, .create = kOptional,
               .update = kOptional, .default_json = "2"),
      {{.name = "is_active", .type = kBoolean, .update = kOptional},
       nullptr,
       KL_UPDATE(is_active, Bool),
       nullptr,
       KL_MAP_UPDATE(is_active)},
      KL_FIELD(config, Config, .type = kObject, .create = kNullable, .update = kNullable),
      {{.name = "proxy",
        .type = kObject,
        .create = kNullable,
        .update = kNullable,
        .schema = Schema::kProxy},
       KL_CREATE(proxy, Proxy<r::NestedMode::kFastApi>),
       KL_UPDATE(proxy, Proxy<r::NestedMode::kFastApi>)},
  };
  return kRows;
}

#undef KL_FIELD
#undef KL_MAP_UPDATE
#undef KL_MAP_CREATE
#undef KL_UPDATE
#undef KL_CREATE

}  // namespace

std::span<const FieldSpec> KeyFields() {
  static const std::vector<FieldSpec> kSpecs = Specs(KeyTable());
  return kSpecs;
}

std::span<const FieldSpec> ProviderFields() {
  static const std::vector<FieldSpec> kSpecs = Specs(ProviderTable());
  return kSpecs;
}

std::span<const FieldSpec> ProviderPatchFields() {
  static const std::vector<FieldSpec> kSpecs = Specs(ProviderPatchTable());
  return kSpecs;
}

std::span<const FieldSpec> EndpointFields() {
  static const std::vector<FieldSpec> kSpecs = Specs(EndpointTable());
  return kSpecs;
}

// ProxyConfig (a provider's or an endpoint's proxy; src/field_readers.cpp reads it with these
// limits). Only the create column: the nested model has no update form (an update replaces
// the proxy, keeping a stored password when none is given).
std::span<const FieldSpec> ProxyFields() {
  static const FieldSpec kSpecs[] = {
      {.name = "url",
       .create = kRequired,
       .create_doc = "http://, https:// or socks5://, with a host and without user name or "
                     "password"},
      {.name = "username", .length = {std::nullopt, 255}, .create = kNullable},
      {.name = "password",
       .length = {std::nullopt, 500},
       .create = kNullable,
       .secret = true,
       .create_doc = "Responses show \"***\" when one is stored; an update without a password "
                     "keeps the stored one"},
      {.name = "enabled", .type = kBoolean, .create = kOptional, .default_json = "true"},
  };
  return kSpecs;
}

// HealthReport (one item of a health-report batch; src/commands.cpp reads it with these limits).
std::span<const FieldSpec> HealthReportFields() {
  static const FieldSpec kSpecs[] = {
      {.name = "key_id", .length = {1, limits::kMaxKeyIdChars}, .create = kRequired},
      {.name = "api_format", .create = kRequired, .create_doc = kFormatInDoc},
      {.name = "successes",
       .type = kInteger,
       .ints = {0, limits::kMaxReportedRequests},
       .create = kRequired},
      {.name = "failures",
       .type = kInteger,
       .ints = {0, limits::kMaxReportedRequests},
       .create = kRequired},
      {.name = "total_response_time_ms",
       .type = kInteger,
       .ints = {0, limits::kMaxReportedResponseMs},
       .create = kRequired,
       .create_doc = "Sum over the successful requests"},
      {.name = "last_error",
       .length = {std::nullopt, limits::kMaxLastErrorChars},
       .create = kNullable},
      {.name = "at", .type = kDateTime, .create = kRequired, .schema = Schema::kReportTime},
  };
  return kSpecs;
}

const FieldSpec* FindField(std::span<const FieldSpec> table, std::string_view name) {
  for (const auto& spec : table) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const FieldSpec& FieldOf(std::span<const FieldSpec> table, std::string_view name) {
  const FieldSpec* spec = FindField(table, name);
  if (spec == nullptr) std::abort();
  return *spec;
}

void ReadKeyCreate(ModelReader& m, KeyCreate& dto) { ReadCreate(KeyTable(), m, dto); }
void ReadKeyUpdate(ModelReader& m, KeyUpdate& dto) { ReadUpdate(KeyTable(), m, dto); }
void ReadProviderCreate(ModelReader& m, ProviderCreate& dto) {
  ReadCreate(ProviderTable(), m, dto);
}
void ReadProviderUpdate(ModelReader& m, ProviderUpdate& dto) {
  ReadUpdate(ProviderTable(), m, dto);
}
void ReadProviderPatch(ModelReader& m, ProviderUpdate& dto) {
  ReadUpdate(ProviderPatchTable(), m, dto);
}
void ReadEndpointCreate(ModelReader& m, EndpointCreate& dto) {
  ReadCreate(EndpointTable(), m, dto);
}
void ReadEndpointUpdate(ModelReader& m, EndpointUpdate& dto) {
  ReadUpdate(EndpointTable(), m, dto);
}

void MapKeyCreate(const KeyCreate& dto, projections::KeyState& out) {
  MapCreate(KeyTable(), dto, out);
}
void MapKeyUpdate(const KeyUpdate& dto, projections::KeyState& out,
                  std::vector<std::string>& fields) {
  MapUpdate(KeyTable(), dto, out, fields);
}
void MapProviderCreate(const ProviderCreate& dto, projections::ProviderState& out) {
  MapCreate(ProviderTable(), dto, out);
}
void MapProviderUpdate(const ProviderUpdate& dto, projections::ProviderState& out,
                       std::vector<std::string>& fields) {
  MapUpdate(ProviderTable(), dto, out, fields);
}
void MapEndpointCreate(const EndpointCreate& dto, projections::EndpointState& out) {
  MapCreate(EndpointTable(), dto, out);
}
void MapEndpointUpdate(const EndpointUpdate& dto, projections::EndpointState& out,
                       std::vector<std::string>& fields) {
  MapUpdate(EndpointTable(), dto, out, fields);
}

}  // namespace keyledger::registry::fields
