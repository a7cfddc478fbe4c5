// Health reports from gateways and the health reset routes (spec §4.4, §4.7, §11).
#include <algorithm>
#include <map>

#include "projections/codec.hpp"
#include "projections/domain.hpp"
#include "projections/telemetry.hpp"
#include "src/command_support.hpp"
#include "src/health_rules.hpp"
#include "src/registry_commands.hpp"

namespace keyledger::registry {
namespace {

using projections::FormatBreaker;
using projections::FormatHealth;
using projections::KeyState;
using projections::State;

class ReportHealth final : public Command {
 public:
  explicit ReportHealth(std::vector<HealthReportItem> items) : items_(std::move(items)) {}
  std::string_view Name() const override { return "ReportHealth"; }

  // Every accepted item updates the key's health telemetry (one aux entry per key, overwritten);
  // only an item that changes a format's breaker phase also appends a KeyHealthReported event
  // (README "Log growth"). The telemetry never moves the key's version (ETag).
  Result<Decision> Decide(DecideContext& ctx) override {
    Decision d;
    // Items of one batch may hit the same key and format: carry the running state along.
    struct Running {
      uint64_t stream_version;
      projections::KeyTelemetry telemetry;
    };
    std::map<std::string, Running> running;
    json::Writer results(256 + items_.size() * 96);
    int64_t accepted = 0;
    results.BeginArray();
    for (size_t i = 0; i < items_.size(); ++i) {
      const HealthReportItem& item = items_[i];
      std::string error;
      const KeyState* k = ctx.state.keys.Find(item.key_id);
      if (item.invalid) {
        error = *item.invalid;
      } else if (k == nullptr) {
        error = "Key " + item.key_id + " 不存在";
      } else if (!domain::IsApiFormat(item.api_format)) {
        error = "unknown API format " + item.api_format;
      } else if (std::find(k->api_formats.begin(), k->api_formats.end(), item.api_format) ==
                 k->api_formats.end()) {
        error = "key " + item.key_id + " does not serve " + item.api_format;
      }
      results.BeginObject().Member("index", static_cast<uint64_t>(i)).Member("key_id", item.key_id);
      results.Member("api_format", item.api_format);
      if (!error.empty()) {
        results.Member("status", "rejected").Member("error", error).EndObject();
        continue;
      }
      Running& run =
          running.try_emplace(item.key_id, Running{k->stream_version, projections::TelemetryOf(*k)})
              .first->second;
      projections::KeyTelemetry& t = run.telemetry;
      FormatHealth& health = projections::Upsert(t.health_by_format, item.api_format);
      FormatBreaker& breaker = projections::Upsert(t.circuit_breaker_by_format, item.api_format);
      const BreakerPhase before = PhaseOf(breaker);
      HealthOutcome out =
          ApplyObservation(health, breaker,
                           HealthObservation{item.successes, item.failures,
                                             item.total_response_time_ms, item.at_us});
      // The same counters the fold of a KeyHealthReported event adds (projections/fold.cpp).
      t.request_count += item.successes + item.failures;
      t.success_count += item.successes;
      t.error_count += item.failures;
      t.total_response_time_ms += item.total_response_time_ms;
      if (!t.last_used_at || *t.last_used_at < item.at_us) t.last_used_at = item.at_us;
      if (PhaseOf(out.breaker) != before) {
        d.streams.push_back(OneEvent(
            projections::KeyStream(item.key_id), run.stream_version++, ctx.request,
            projections::KeyHealthReported{item.key_id, item.api_format, item.successes,
                                           item.failures, item.total_response_time_ms,
                                           item.last_error, item.at_us, out.health, out.breaker}));
      }
      health = std::move(out.health);
      breaker = std::move(out.breaker);
      ++accepted;
      results.Member("status", "accepted").EndObject();
    }
    std::vector<std::pair<std::string, projections::KeyTelemetry>> telemetry;
    telemetry.reserve(running.size());
    for (auto& [id, run] : running) {
      d.aux.push_back(projections::TelemetryWrite(id, run.telemetry));
      telemetry.emplace_back(id, std::move(run.telemetry));
    }
    d.apply_unlogged = [updates = std::move(telemetry)](State& after) {
      for (const auto& [id, t] : updates) projections::ApplyTelemetry(after, id, t);
    };
    results.EndArray();
    json::Writer body;
    body.BeginObject()
        .Member("accepted", accepted)
        .Member("rejected", static_cast<int64_t>(items_.size()) - accepted)
        .Key("results")
        .Raw(results.str())
        .EndObject();
    d.respond = [text = body.Take()](const State&) -> Result<PreparedResponse> {
      PreparedResponse r;
      r.body = text;
      return r;
    };
    return d;
  }

 private:
  std::vector<HealthReportItem> items_;
};

std::vector<std::string> FormatsWithState(const KeyState& k) {
  std::vector<std::string> formats;
  for (const auto& [f, h] : k.health_by_format) formats.push_back(f);
  for (const auto& [f, b] : k.circuit_breaker_by_format) {
    if (std::find(formats.begin(), formats.end(), f) == formats.end()) formats.push_back(f);
  }
  return formats;
}

// The reset event and, for a key that shows telemetry, its telemetry entry as the reset leaves
// it (the fold resets the same formats in the state): otherwise a restart would bring the old
// health back from the telemetry space.
void ResetInto(Decision& d, const State& state, const KeyState& k,
               const std::optional<std::string>& requested, const std::vector<std::string>& formats,
               const RequestContext& request) {
  d.streams.push_back(OneEvent(projections::KeyStream(k.id), k.stream_version, request,
                               projections::KeyHealthReset{k.id, requested, formats}));
  if (!projections::ShowsTelemetry(state, k.id)) return;
  projections::KeyTelemetry t = projections::TelemetryOf(k);
  for (const std::string& name : formats) {
    projections::Upsert(t.health_by_format, name) = FormatHealth{};
    projections::Upsert(t.circuit_breaker_by_format, name) = FormatBreaker{};
  }
  d.aux.push_back(projections::TelemetryWrite(k.id, t));
}

class ResetKeyHealth final : public Command {
 public:
  ResetKeyHealth(std::string key_id, std::optional<std::string> format)
      : key_id_(std::move(key_id)), format_(std::move(format)) {}
  std::string_view Name() const override { return "ResetKeyHealth"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const KeyState* k = ctx.state.keys.Find(key_id_);
    if (k == nullptr) return NotFound("Key " + key_id_ + " 不存在");
    if (format_ && !domain::IsApiFormat(*format_)) {
      return InvalidRequest(
          "API 格式必须是 ['CLAUDE', 'CLAUDE_CLI', 'OPENAI', 'OPENAI_CLI', "
          "'GEMINI', 'GEMINI_CLI'] 之一，当前值: " +
          *format_);
    }
    std::vector<std::string> formats =
        format_ ? std::vector<std::string>{*format_} : FormatsWithState(*k);
    Decision d;
    ResetInto(d, ctx.state, *k, format_, formats, ctx.request);
    // Aether's body (spec §11.1.3). Its details are constants there because H2 re-enables the
    // key; keyledger never does (README), so is_active is the key's own.
    d.respond = [id = key_id_, format = format_](const State& after) -> Result<PreparedResponse> {
      const KeyState* reset = after.keys.Find(id);
      if (reset == nullptr) return MakeError(ErrorCode::kInternal, "key vanished");
      PreparedResponse r;
      json::Writer w;
      w.BeginObject()
          .Member("message",
                  format ? "Key 的 " + *format + " 格式已恢复" : std::string("Key 所有格式已恢复"))
          .Key("details")
          .BeginObject();
      if (format) w.Member("api_format", *format);
      w.Member("health_score", 1.0)
          .Member("circuit_breaker_open", false)
          .Member("is_active", reset->is_active)
          .EndObject()
          .EndObject();
      r.body = w.Take();
      r.etag = reset->version;
      return r;
    };
    return d;
  }

 private:
  std::string key_id_;
  std::optional<std::string> format_;
};

class RecoverAllKeys final : public Command {
 public:
  std::string_view Name() const override { return "RecoverAllKeys"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    Decision d;
    json::Writer keys;
    keys.BeginArray();
    int64_t recovered = 0;
    for (const std::string& id : ctx.state.keys.SortedKeys()) {
      const KeyState& k = *ctx.state.keys.Find(id);
      std::vector<std::string> open;
      for (const auto& [f, b] : k.circuit_breaker_by_format) {
        if (b.open) open.push_back(f);
      }
      if (open.empty()) continue;
      ResetInto(d, ctx.state, k, std::nullopt, open, ctx.request);
      keys.BeginObject()
          .Member("key_id", k.id)
          .Member("key_name", k.name)
          .Member("provider_id", k.provider_id)
          .Key("api_formats")
          .BeginArray();
      for (const auto& f : k.api_formats) keys.String(f);
      keys.EndArray().EndObject();
      ++recovered;
    }
    keys.EndArray();
    // Aether's body (spec §11.1.4), recovered keys by id.
    d.respond = [recovered, list = keys.Take()](const State&) -> Result<PreparedResponse> {
      PreparedResponse r;
      json::Writer w;
      w.BeginObject()
          .Member("message", recovered == 0 ? std::string("没有需要恢复的 Key")
                                            : "已恢复 " + std::to_string(recovered) + " 个 Key")
          .Member("recovered_count", recovered)
          .Key("recovered_keys")
          .Raw(list)
          .EndObject();
      r.body = w.Take();
      return r;
    };
    return d;
  }
};

}  // namespace

std::unique_ptr<Command> MakeReportHealth(std::vector<HealthReportItem> items) {
  return std::make_unique<ReportHealth>(std::move(items));
}
std::unique_ptr<Command> MakeResetKeyHealth(std::string key_id,
                                            std::optional<std::string> api_format) {
  return std::make_unique<ResetKeyHealth>(std::move(key_id), std::move(api_format));
}
std::unique_ptr<Command> MakeRecoverAllKeys() { return std::make_unique<RecoverAllKeys>(); }

}  // namespace keyledger::registry
