// System configs: the catalogue, S2 body parsing and validation, and the set command.
#include "src/system_config.hpp"

#include <array>

#include "events/json_writer.hpp"
#include "events/time_format.hpp"
#include "src/command_support.hpp"

namespace keyledger::registry {
namespace {

using projections::State;
using projections::SystemConfigState;

// Aether's scheduler values and defaults (aether-spec.md §11.4.1).
constexpr std::array<std::string_view, 2> kPriorityModes = {"provider", "global_key"};
constexpr std::array<std::string_view, 3> kSchedulingModes = {"fixed_order", "cache_affinity",
                                                              "load_balance"};

constexpr std::array<SystemConfigSpec, 2> kCatalogue = {{
    {"provider_priority_mode", kPriorityModes, "provider",
     "provider: providers by provider_priority, then keys by internal_priority; global_key: keys "
     "by global_priority (nulls last)"},
    {"scheduling_mode", kSchedulingModes, "cache_affinity",
     "fixed_order: strict priority order; cache_affinity: candidates with a cache hit first; "
     "load_balance: ties shuffled"},
}};

// Python's repr() of a list of plain strings: ['a', 'b'].
std::string PyListRepr(std::span<const std::string_view> items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += '\'';
    out += items[i];
    out += '\'';
  }
  return out + "]";
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// str.strip() of ASCII whitespace, then str.lower() of ASCII letters (the allowed values are
// ASCII, so nothing else can match anyway).
std::string Canonical(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return "";
  s = s.substr(first, s.find_last_not_of(kSpace) - first + 1);
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Quoted(std::string_view s) {
  json::Writer w;
  w.String(s);
  return w.Take();
}

class SetSystemConfig final : public Command {
 public:
  SetSystemConfig(std::string key, std::string value_json, std::optional<std::string> description)
      : key_(std::move(key)),
        value_json_(std::move(value_json)),
        description_(std::move(description)) {}
  std::string_view Name() const override { return "SetSystemConfig"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    if (FindSystemConfig(key_) == nullptr) return SystemConfigNotFound(key_);
    auto it = ctx.state.system_configs.find(key_);
    const SystemConfigState* existing =
        it == ctx.state.system_configs.end() ? nullptr : &it->second;
    const uint64_t version = existing ? existing->version : 0;
    KL_RETURN_IF_ERROR(CheckIfMatch(ctx.request, version, "system config " + key_));
    // Aether's upsert: a new row stores the description as sent; an existing row replaces its
    // description only when the sent one is truthy (a non-empty string).
    std::optional<std::string> description = description_;
    if (existing != nullptr && (!description_ || description_->empty())) {
      description = existing->description;
    }
    Decision d;
    d.streams.push_back(OneEvent(
        projections::SystemConfigStream(key_), version, ctx.request,
        projections::SystemConfigSet{key_, projections::RawJson{value_json_}, description}));
    d.respond = [key = key_](const State& after) -> Result<PreparedResponse> {
      const SystemConfigState& c = after.system_configs.find(key)->second;
      json::Writer body;
      body.BeginObject().Member("key", c.key).Key("value").Raw(c.value).Key("description");
      if (c.description) {
        body.String(*c.description);
      } else {
        body.Null();
      }
      body.Member("updated_at", events::FormatTimestampIso(c.updated_at)).EndObject();
      PreparedResponse r;
      r.body = body.Take();
      r.etag = c.version;
      return r;
    };
    return d;
  }

 private:
  std::string key_;
  std::string value_json_;
  std::optional<std::string> description_;
};

}  // namespace

std::span<const SystemConfigSpec> SystemConfigCatalogue() { return kCatalogue; }

const SystemConfigSpec* FindSystemConfig(std::string_view key) {
  for (const auto& spec : kCatalogue) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

Error SystemConfigNotFound(std::string_view key) {
  return NotFound("配置项 '" + std::string(key) + "' 不存在");
}

Result<SystemConfigPut> ParseSystemConfigPut(std::string_view body) {
  if (body.empty()) return InvalidRequest("请求体不能为空");
  auto parsed = ThreadBodyParser().Parse(body);
  if (!parsed.ok()) {
    switch (ClassifyBodyError(parsed.error())) {
      case BodyFailure::kTooLarge:
        return parsed.error();
      case BodyFailure::kDuplicateKeys:
        return InvalidRequest("请求体中存在重复的键");
      default:
        return InvalidRequest("请求体必须是合法的JSON");
    }
  }
  if (!parsed->is_object()) return InvalidRequest("请求体必须是 JSON 对象");
  SystemConfigPut put;
  if (const JsonValue* v = parsed->Find("value")) put.value = *v;
  if (const JsonValue* d = parsed->Find("description"); d != nullptr && !d->is_null()) {
    if (!d->is_string()) return InvalidRequest("description 必须是字符串或 null");
    if (CodePoints(d->string_value()) > kMaxSystemConfigDescriptionChars) {
      return InvalidRequest("description 最多 " + std::to_string(kMaxSystemConfigDescriptionChars) +
                            " 个字符");
    }
    put.description = d->string_value();
  }
  return put;
}

Result<std::string> NormalizeSystemConfigValue(const SystemConfigSpec& spec,
                                               const std::optional<JsonValue>& value) {
  if (value && value->is_string()) {
    const std::string canonical = Canonical(value->string_value());
    for (std::string_view allowed : spec.allowed) {
      if (canonical == allowed) return Quoted(canonical);
    }
  }
  const std::string shown =
      !value ? "null" : (value->is_string() ? value->string_value() : value->ToJson());
  return InvalidRequest("配置项 '" + std::string(spec.key) + "' 的值必须是 " +
                        PyListRepr(spec.allowed) + " 之一，当前值: " + shown);
}

std::string SystemConfigGetJson(const State& state, const SystemConfigSpec& spec) {
  json::Writer w;
  w.BeginObject().Member("key", spec.key).Key("value");
  if (auto it = state.system_configs.find(spec.key); it != state.system_configs.end()) {
    w.Raw(it->second.value);
  } else {
    w.String(spec.default_value);
  }
  w.EndObject();
  return w.Take();
}

uint64_t SystemConfigVersion(const State& state, std::string_view key) {
  auto it = state.system_configs.find(key);
  return it == state.system_configs.end() ? 0 : it->second.version;
}

std::unique_ptr<Command> MakeSetSystemConfig(std::string key, std::string value_json,
                                             std::optional<std::string> description) {
  return std::make_unique<SetSystemConfig>(std::move(key), std::move(value_json),
                                           std::move(description));
}

}  // namespace keyledger::registry
