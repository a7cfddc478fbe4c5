// Adaptive RPM writes (aether-spec.md §11.3: A2 mode, A3 limit, A5 learning reset) and the A2
// body parser. Each write is one event on the key's stream; the fold applies the values the
// event carries (projections/fold.cpp), so replay never re-decides.
//
// Deliberate differences from Aether (README "Deliberate differences"): an unknown key is the
// same 404 not_found "Key <id> 不存在" as on every other key route (Aether's adaptive routes say
// http_error "Key not found"); limits are 1-10000 as on K2/K3 (Aether: 1-100 here); A2 ignores
// fixed_limit when enabled is true instead of validating a value it does not use; A2 switching to
// adaptive clears learned_rpm_limit as K3's rpm_limit:null does (Aether's A2 keeps it).
#include <string>

#include "events/json_writer.hpp"
#include "projections/domain.hpp"
#include "src/command_support.hpp"
#include "src/commands.hpp"
#include "src/registry_commands.hpp"

namespace keyledger::registry {
namespace {

using projections::KeyState;

constexpr IntRange kLimitRange{1, domain::rpm::kMaxRpmLimit};

Error KeyNotFound(std::string_view id) { return NotFound("Key " + std::string(id) + " 不存在"); }

void PutOptInt(json::Writer& w, const std::optional<int64_t>& v) {
  if (v) {
    w.Int(*v);
  } else {
    w.Null();
  }
}

int64_t EffectiveLimit(const std::optional<int64_t>& rpm_limit,
                       const std::optional<int64_t>& learned) {
  return rpm_limit ? *rpm_limit : learned.value_or(domain::rpm::kInitialLimit);
}

// Aether's translation of pydantic's messages in A2 (spec §11.3.2's table).
std::string Translate(const FieldError& e) {
  if (e.type == "missing") return "此字段为必填项";
  if (e.type == "bool_type") return "输入应为布尔值";
  if (e.type == "bool_parsing") return "输入应为布尔值, unable to interpret input";
  if (e.type == "int_type") return "输入应为有效的整数";
  if (e.type == "int_from_float") return "输入应为有效的整数, got a number with a fractional part";
  if (e.type == "int_parsing") return "输入应为有效的整数, unable to parse string as an integer";
  if (e.type == "greater_than_equal") return "数值应大于或等于 " + std::to_string(*kLimitRange.ge);
  if (e.type == "less_than_equal") return "数值应小于或等于 " + std::to_string(*kLimitRange.le);
  return e.msg;
}

class SetAdaptiveMode final : public Command {
 public:
  SetAdaptiveMode(std::string key_id, Result<AdaptiveModeInput> input)
      : key_id_(std::move(key_id)), input_(std::move(input)) {}
  std::string_view Name() const override { return "SetAdaptiveMode"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    // Aether looks the key up before it reads the body (spec §11.3.2).
    const KeyState* k = ctx.state.keys.Find(key_id_);
    if (k == nullptr) return KeyNotFound(key_id_);
    if (!input_.ok()) return input_.error();
    KL_RETURN_IF_ERROR(CheckIfMatch(ctx.request, k->version, "key " + key_id_));
    const AdaptiveModeInput& in = *input_;
    std::optional<int64_t> rpm_limit;
    if (!in.enabled) {
      if (!in.fixed_limit)
        return MakeError(ErrorCode::kInvalidArgument, std::string(kFixedLimitRequired));
      rpm_limit = in.fixed_limit;
    }
    // As K3's rpm_limit:null, switching to adaptive restarts learning. (Written without a copy
    // of the optional that is then reset: g++ 12 -O3 calls that maybe-uninitialized.)
    const bool keeps_learned = !in.enabled && k->learned_rpm_limit.has_value();
    projections::KeyAdaptiveModeChanged event;
    event.key_id = key_id_;
    event.adaptive = in.enabled;
    event.rpm_limit = rpm_limit;
    if (keeps_learned) event.learned_rpm_limit = *k->learned_rpm_limit;
    event.previous_rpm_limit = k->rpm_limit;
    Decision d;
    d.streams.push_back(
        OneEvent(projections::KeyStream(key_id_), k->stream_version, ctx.request, event));
    d.respond = [id = key_id_, enabled = in.enabled](const State& after) {
      return Respond(after, id, enabled);
    };
    return d;
  }

 private:
  static Result<PreparedResponse> Respond(const State& after, const std::string& id, bool enabled) {
    const KeyState* k = after.keys.Find(id);
    if (k == nullptr) return MakeError(ErrorCode::kInternal, "key vanished");
    json::Writer w;
    w.BeginObject().Member(
        "message", enabled ? std::string("已切换为自适应模式，系统将自动学习并调整 RPM 限制")
                           : "已切换为固定限制模式，RPM 限制设为 " + std::to_string(*k->rpm_limit));
    w.Member("key_id", id).Member("is_adaptive", !k->rpm_limit.has_value()).Key("rpm_limit");
    PutOptInt(w, k->rpm_limit);
    w.Member("effective_limit", EffectiveLimit(k->rpm_limit, k->learned_rpm_limit));
    w.EndObject();
    PreparedResponse r;
    r.body = w.Take();
    r.etag = k->version;
    return r;
  }

  std::string key_id_;
  Result<AdaptiveModeInput> input_;
};

class SetRpmLimit final : public Command {
 public:
  SetRpmLimit(std::string key_id, int64_t limit) : key_id_(std::move(key_id)), limit_(limit) {}
  std::string_view Name() const override { return "SetRpmLimit"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const KeyState* k = ctx.state.keys.Find(key_id_);
    if (k == nullptr) return KeyNotFound(key_id_);
    KL_RETURN_IF_ERROR(CheckIfMatch(ctx.request, k->version, "key " + key_id_));
    Decision d;
    d.streams.push_back(
        OneEvent(projections::KeyStream(key_id_), k->stream_version, ctx.request,
                 projections::KeyRpmLimitSet{key_id_, k->provider_id, limit_, k->rpm_limit}));
    const bool was_adaptive = !k->rpm_limit.has_value();
    d.respond = [id = key_id_, limit = limit_,
                 was_adaptive](const State& after) -> Result<PreparedResponse> {
      json::Writer b;
      b.BeginObject()
          .Member("message", "已设置为固定限制模式，RPM 限制为 " + std::to_string(limit))
          .Member("key_id", id)
          .Member("is_adaptive", false)
          .Member("rpm_limit", limit)
          .Member("previous_mode", was_adaptive ? "adaptive" : "fixed")
          .EndObject();
      PreparedResponse r;
      r.body = b.Take();
      if (const KeyState* now = after.keys.Find(id)) r.etag = now->version;
      return r;
    };
    return d;
  }

 private:
  std::string key_id_;
  int64_t limit_;
};

class ResetLearning final : public Command {
 public:
  explicit ResetLearning(std::string key_id) : key_id_(std::move(key_id)) {}
  std::string_view Name() const override { return "ResetLearning"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const KeyState* k = ctx.state.keys.Find(key_id_);
    if (k == nullptr) return KeyNotFound(key_id_);
    Decision d;
    d.streams.push_back(OneEvent(projections::KeyStream(key_id_), k->stream_version, ctx.request,
                                 projections::KeyLearningReset{key_id_, k->learned_rpm_limit}));
    d.respond = [id = key_id_](const State&) -> Result<PreparedResponse> {
      json::Writer b;
      b.BeginObject().Member("message", "学习状态已重置").Member("key_id", id).EndObject();
      PreparedResponse r;
      r.body = b.Take();
      return r;
    };
    return d;
  }

 private:
  std::string key_id_;
};

}  // namespace

Result<AdaptiveModeInput> ParseAdaptiveModeBody(std::string_view body) {
  if (body.empty()) return MakeError(ErrorCode::kInvalidArgument, std::string(kBodyEmpty));
  auto parsed = ThreadBodyParser().Parse(body);
  if (!parsed.ok()) {
    if (ClassifyBodyError(parsed.error()) == BodyFailure::kTooLarge) return parsed.error();
    return MakeError(ErrorCode::kInvalidArgument, std::string(kBodyNotJson));
  }
  if (!parsed->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "输入应为有效的字典 or instance of EnableAdaptiveRequest");
  }
  ErrorList errors;
  AdaptiveModeInput in;
  const JsonValue* enabled = parsed->Find("enabled");
  if (enabled == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "启用状态: 此字段为必填项");
  }
  std::optional<bool> e = ReadBool(*enabled, {"body", "enabled"}, errors);
  if (!e) {
    return MakeError(ErrorCode::kInvalidArgument, "启用状态: " + Translate(errors.errors()[0]));
  }
  in.enabled = *e;
  const JsonValue* fixed = parsed->Find("fixed_limit");
  if (!in.enabled && fixed != nullptr && !fixed->is_null()) {
    std::optional<int64_t> n = ReadInt(*fixed, {"body", "fixed_limit"}, errors, kLimitRange);
    if (!n) {
      return MakeError(ErrorCode::kInvalidArgument, "固定限制: " + Translate(errors.errors()[0]));
    }
    in.fixed_limit = *n;
  }
  return in;
}

std::unique_ptr<Command> MakeSetAdaptiveMode(std::string key_id, Result<AdaptiveModeInput> input) {
  return std::make_unique<SetAdaptiveMode>(std::move(key_id), std::move(input));
}
std::unique_ptr<Command> MakeSetRpmLimit(std::string key_id, int64_t limit) {
  return std::make_unique<SetRpmLimit>(std::move(key_id), limit);
}
std::unique_ptr<Command> MakeResetLearning(std::string key_id) {
  return std::make_unique<ResetLearning>(std::move(key_id));
}

}  // namespace keyledger::registry
