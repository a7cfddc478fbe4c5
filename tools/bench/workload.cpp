#include "tools/bench/workload.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

#include "projections/domain.hpp"
#include "projections/event_payloads.hpp"
#include "src/command_support.hpp"
#include "src/health_rules.hpp"
#include "src/registry_commands.hpp"

namespace keyledger::bench {
namespace {

using registry::Command;
using registry::CommandResult;
using registry::RequestContext;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct ProviderInfo {
  std::string id;
  std::vector<std::string> endpoint_ids;
  std::vector<std::string> formats;
};

class Generator {
 public:
  Generator(registry::Registry& reg, const events::EventReader& log, const WorkloadOptions& o)
      : reg_(reg), log_(log), opt_(o), rng_(o.seed) {}

  Result<WorkloadStats> Run() {
    KL_RETURN_IF_ERROR(Setup());
    stats_.setup_commands = submitted_;
    submitted_ = 0;
    const WorkloadMix& m = opt_.mix;
    const uint32_t weights[] = {
        m.health_report, m.update_key, m.reveal_key,      m.rotate_secret,   m.reset_health,
        m.create_key,    m.delete_key, m.update_provider, m.update_endpoint, m.delete_provider};
    std::discrete_distribution<int> pick(std::begin(weights), std::end(weights));
    for (uint64_t i = 0; i < opt_.commands; ++i) {
      if (opt_.until_events > 0 && i % 64 == 0 && log_.GetHead().sequence >= opt_.until_events) {
        break;
      }
      if (opt_.stop && opt_.stop()) break;
      switch (pick(rng_)) {
        case 0:
          ReportHealth();
          break;
        case 1:
          UpdateKey(false);
          break;
        case 2:
          Reveal();
          break;
        case 3:
          UpdateKey(true);
          break;
        case 4:
          ResetHealth();
          break;
        case 5:
          CreateKey(RandomProvider());
          break;
        case 6:
          DeleteKey();
          break;
        case 7:
          UpdateProvider();
          break;
        case 8:
          UpdateEndpoint();
          break;
        case 9:
          KL_RETURN_IF_ERROR(ReplaceProvider());
          break;
      }
      stats_.commands++;
      if (opt_.progress && stats_.commands % 1000 == 0) {
        opt_.progress(stats_.commands, log_.GetHead().sequence);
      }
    }
    WaitAll();
    std::lock_guard lock(mu_);
    stats_.events = log_.GetHead().sequence;
    return stats_;
  }

 private:
  RequestContext Context(std::string actor) {
    RequestContext c;
    c.actor = std::move(actor);
    c.client_ip = "10.0.0." + std::to_string(1 + Uniform(20));
    c.request_id = "req-" + std::to_string(opt_.seed) + "-" + std::to_string(++request_counter_);
    return c;
  }
  RequestContext Admin() {
    static constexpr const char* kActors[] = {"ops", "alice", "bob", "deploy-bot"};
    return Context(kActors[Uniform(4)]);
  }

  uint64_t Uniform(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  std::string RandomSecret() {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s = "sk-ant-api03-";
    for (int i = 0; i < 40; ++i) s += kHex[Uniform(16)];
    return s + "-" + std::to_string(++secret_counter_);
  }

  // Submits, waiting while `in_flight` commands are outstanding. `on_ok` runs on the writer
  // thread after a successful command.
  void Submit(std::unique_ptr<Command> cmd, RequestContext ctx,
              std::function<void(const CommandResult&)> on_ok = nullptr) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return in_flight_ < MaxInFlight(); });
      ++in_flight_;
      ++submitted_;
    }
    // Not under mu_: the registry may complete a command before Submit returns.
    reg_.Submit(std::move(cmd), std::move(ctx),
                [this, on_ok = std::move(on_ok)](Result<CommandResult> r) {
                  if (r.ok() && on_ok) on_ok(*r);
                  std::lock_guard lock(mu_);
                  (r.ok() ? stats_.succeeded : stats_.failed)++;
                  --in_flight_;
                  cv_.notify_all();
                });
  }

  size_t MaxInFlight() const {
    constexpr size_t kMaxEventsInFlight = 8'000;
    const size_t per_command = std::max<size_t>(opt_.health_items_per_report, 1);
    return std::clamp<size_t>(kMaxEventsInFlight / per_command, 1,
                              std::max<size_t>(opt_.in_flight, 1));
  }

  void WaitAll() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }

  Status Setup() {
    for (size_t i = 0; i < opt_.providers; ++i) KL_RETURN_IF_ERROR(AddProvider());
    for (size_t i = 0; i < opt_.keys; ++i) CreateKey(providers_[i % providers_.size()].id);
    WaitAll();
    // Setup outcomes count separately from the random commands.
    std::lock_guard lock(mu_);
    stats_.succeeded = stats_.failed = 0;
    return Status::Ok();
  }

  Status AddProvider() {
    const std::string name =
        "provider-" + std::to_string(opt_.seed) + "-" + std::to_string(++provider_counter_);
    registry::ProviderCreateIntent p;
    p.provider.name = name;
    p.provider.website = "https://" + name + ".example.com";
    p.provider.provider_priority = static_cast<int64_t>(Uniform(200));
    KL_ASSIGN_OR_RETURN(auto created, reg_.Execute(registry::MakeCreateProvider(p), Admin()));
    const std::string* id = reg_.Current()->provider_names.Find(name);
    if (id == nullptr) return MakeError(ErrorCode::kInternal, "created provider not found");
    ProviderInfo info;
    info.id = *id;
    const size_t n = std::min(opt_.endpoints_per_provider, domain::kApiFormats.size());
    for (size_t f = 0; f < std::max<size_t>(n, 1); ++f) {
      registry::EndpointCreateIntent e;
      e.provider_id = e.body_provider_id = info.id;
      e.endpoint.api_format = std::string(domain::kApiFormats[f]);
      e.endpoint.base_url = "https://api." + name + ".example.com/v" + std::to_string(f + 1);
      KL_ASSIGN_OR_RETURN(auto ep, reg_.Execute(registry::MakeCreateEndpoint(e), Admin()));
      info.endpoint_ids.push_back(ep.body.substr(7, 36));
      info.formats.push_back(e.endpoint.api_format);
    }
    std::lock_guard lock(mu_);
    providers_.push_back(std::move(info));
    return Status::Ok();
  }

  std::string RandomProvider() {
    std::lock_guard lock(mu_);
    return providers_[Uniform(providers_.size())].id;
  }

  void CreateKey(const std::string& provider_id) {
    std::vector<std::string> formats;
    {
      std::lock_guard lock(mu_);
      for (const auto& p : providers_) {
        if (p.id == provider_id) formats = p.formats;
      }
    }
    if (formats.empty()) return;
    std::shuffle(formats.begin(), formats.end(), rng_);
    formats.resize(1 + Uniform(formats.size()));
    registry::KeyCreateIntent in;
    in.provider_id = provider_id;
    in.key.api_formats = formats;
    in.key.name = "key-" + std::to_string(++key_counter_);
    in.key.internal_priority = static_cast<int64_t>(Uniform(100));
    if (Uniform(4) == 0) in.key.note = "created by the workload";
    in.secret = RandomSecret();
    Submit(registry::MakeCreateKey(std::move(in)), Admin(),
           [this, formats](const CommandResult& r) {
             std::lock_guard lock(mu_);
             AddKeyLocked(r.body.substr(7, 36), formats);
           });
  }

  void AddKeyLocked(std::string id, std::vector<std::string> formats) {
    key_index_[id] = key_ids_.size();
    key_formats_[id] = std::move(formats);
    key_ids_.push_back(std::move(id));
  }

  void RemoveKeyLocked(const std::string& id) {
    auto it = key_index_.find(id);
    if (it == key_index_.end()) return;
    const size_t i = it->second;
    key_index_.erase(it);
    if (i + 1 != key_ids_.size()) {
      key_ids_[i] = std::move(key_ids_.back());
      key_index_[key_ids_[i]] = i;
    }
    key_ids_.pop_back();
    key_formats_.erase(id);
  }

  // A random key and one of its formats; empty when there is none.
  std::pair<std::string, std::string> RandomKey() {
    std::lock_guard lock(mu_);
    if (key_ids_.empty()) return {};
    const std::string& id = key_ids_[Uniform(key_ids_.size())];
    const auto& formats = key_formats_[id];
    return {id, formats[Uniform(formats.size())]};
  }

  void ReportHealth() {
    std::vector<registry::HealthReportItem> items;
    const int64_t now = NowMicros();
    for (size_t i = 0; i < std::max<size_t>(opt_.health_items_per_report, 1); ++i) {
      auto [id, format] = RandomKey();
      if (id.empty()) return;
      registry::HealthReportItem item;
      item.key_id = id;
      item.api_format = format;
      item.successes = static_cast<int64_t>(Uniform(6));
      item.failures = Uniform(10) == 0 ? static_cast<int64_t>(1 + Uniform(4)) : 0;
      item.total_response_time_ms =
          (item.successes + item.failures) * (200 + static_cast<int64_t>(Uniform(800)));
      if (item.failures > 0) item.last_error = Uniform(2) == 0 ? "429 rate limited" : "timeout";
      item.at_us = now;
      items.push_back(std::move(item));
    }
    Submit(registry::MakeReportHealth(std::move(items)),
           Context("gateway-" + std::to_string(Uniform(3))));
  }

  void UpdateKey(bool rotate) {
    auto [id, format] = RandomKey();
    if (id.empty()) return;
    registry::KeyUpdateIntent in;
    in.key_id = id;
    if (rotate) {
      in.new_secret = RandomSecret();
    } else {
      switch (Uniform(5)) {
        case 0:
          in.fields = {"name"};
          in.values.name = "renamed-" + std::to_string(++key_counter_);
          break;
        case 1:
          in.fields = {"note"};
          in.values.note = "note " + std::to_string(Uniform(1000));
          break;
        case 2:
          in.fields = {"internal_priority", "global_priority"};
          in.values.internal_priority = static_cast<int64_t>(Uniform(100));
          if (Uniform(2) == 0) in.values.global_priority = static_cast<int64_t>(Uniform(10));
          break;
        case 3:
          in.fields = {"is_active"};
          in.values.is_active = Uniform(4) != 0;
          break;
        default:
          in.fields = {"rate_multiplier"};
          in.values.rate_multiplier = 0.5 + static_cast<double>(Uniform(20)) / 10.0;
          break;
      }
    }
    Submit(registry::MakeUpdateKey(std::move(in)), Admin());
  }

  void Reveal() {
    auto [id, format] = RandomKey();
    if (id.empty()) return;
    RequestContext ctx = Admin();
    if (Uniform(3) != 0) ctx.reason = "ticket OPS-" + std::to_string(1000 + Uniform(9000));
    Submit(registry::MakeRevealKey(id), std::move(ctx));
  }

  void ResetHealth() {
    auto [id, format] = RandomKey();
    if (id.empty()) return;
    std::optional<std::string> which;
    if (Uniform(2) == 0) which = format;
    Submit(registry::MakeResetKeyHealth(id, which), Admin());
  }

  void DeleteKey() {
    std::string id;
    {
      std::lock_guard lock(mu_);
      if (key_ids_.size() <= 1) return;
      id = key_ids_[Uniform(key_ids_.size())];
      RemoveKeyLocked(id);  // no new command targets it
    }
    Submit(registry::MakeDeleteKey(id), Admin());
  }

  void UpdateProvider() {
    registry::ProviderUpdateIntent in;
    in.provider_id = RandomProvider();
    in.fields = {"description", "provider_priority"};
    in.values.description = "tier " + std::to_string(Uniform(5));
    in.values.provider_priority = static_cast<int64_t>(Uniform(200));
    in.patch_response = true;
    Submit(registry::MakeUpdateProvider(std::move(in)), Admin());
  }

  void UpdateEndpoint() {
    std::string id;
    {
      std::lock_guard lock(mu_);
      const auto& p = providers_[Uniform(providers_.size())];
      id = p.endpoint_ids[Uniform(p.endpoint_ids.size())];
    }
    registry::EndpointUpdateIntent in;
    in.endpoint_id = id;
    in.fields = {"timeout", "max_retries"};
    in.values.timeout = static_cast<int64_t>(30 + Uniform(600));
    in.values.max_retries = static_cast<int64_t>(Uniform(5));
    Submit(registry::MakeUpdateEndpoint(std::move(in)), Admin());
  }

  // Deletes a provider (its keys and endpoints go with it) and adds a new one with as many keys.
  Status ReplaceProvider() {
    std::string id;
    size_t keys = 0;
    const registry::StatePtr state = reg_.Current();  // not under mu_ (lock order)
    {
      std::lock_guard lock(mu_);
      if (providers_.size() < 2) return Status::Ok();
      const size_t i = Uniform(providers_.size());
      id = providers_[i].id;
      providers_.erase(providers_.begin() + static_cast<std::ptrdiff_t>(i));
      std::vector<std::string> doomed;
      for (const auto& k : key_ids_) {
        // Keys still being created may be missing here; their commands then fail with 404.
        const projections::KeyState* ks = state->keys.Find(k);
        if (ks != nullptr && ks->provider_id == id) doomed.push_back(k);
      }
      for (const auto& k : doomed) RemoveKeyLocked(k);
      keys = doomed.size();
    }
    Submit(registry::MakeDeleteProvider(id), Admin());
    KL_RETURN_IF_ERROR(AddProvider());
    const std::string fresh = RandomProvider();
    for (size_t i = 0; i < keys; ++i) CreateKey(fresh);
    return Status::Ok();
  }

  registry::Registry& reg_;
  const events::EventReader& log_;
  const WorkloadOptions opt_;
  std::mt19937_64 rng_;  // used by the submitting thread only

  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;                                                   // guarded by mu_
  uint64_t submitted_ = 0;                                                 // guarded by mu_
  WorkloadStats stats_;                                                    // guarded by mu_
  std::vector<ProviderInfo> providers_;                                    // guarded by mu_
  std::vector<std::string> key_ids_;                                       // guarded by mu_
  std::unordered_map<std::string, size_t> key_index_;                      // guarded by mu_
  std::unordered_map<std::string, std::vector<std::string>> key_formats_;  // guarded by mu_
  uint64_t request_counter_ = 0, secret_counter_ = 0, key_counter_ = 0, provider_counter_ = 0;
};

}  // namespace

Result<WorkloadStats> RunWorkload(registry::Registry& registry, const events::EventReader& log,
                                  const WorkloadOptions& options) {
  Generator g(registry, log, options);
  return g.Run();
}

namespace {

class LegacyHealthReports final : public registry::Command {
 public:
  explicit LegacyHealthReports(std::vector<registry::HealthReportItem> items)
      : items_(std::move(items)) {}
  std::string_view Name() const override { return "LegacyHealthReports"; }

  Result<registry::Decision> Decide(registry::DecideContext& ctx) override {
    using namespace registry;  // NOLINT: the command vocabulary
    registry::Decision d;
    std::map<std::string, uint64_t> versions;
    std::map<std::pair<std::string, std::string>, HealthOutcome> running;
    for (const HealthReportItem& item : items_) {
      const projections::KeyState* k = ctx.state.keys.Find(item.key_id);
      if (k == nullptr) return MakeError(ErrorCode::kNotFound, "no key " + item.key_id);
      uint64_t& version = versions.try_emplace(item.key_id, k->stream_version).first->second;
      auto [it, fresh] = running.try_emplace({item.key_id, item.api_format});
      if (fresh) {
        const auto* h = projections::FindIn(k->health_by_format, item.api_format);
        const auto* b = projections::FindIn(k->circuit_breaker_by_format, item.api_format);
        it->second = {h ? *h : projections::FormatHealth{}, b ? *b : projections::FormatBreaker{}};
      }
      it->second = ApplyObservation(it->second.health, it->second.breaker,
                                    HealthObservation{item.successes, item.failures,
                                                      item.total_response_time_ms, item.at_us});
      d.streams.push_back(OneEvent(projections::KeyStream(item.key_id), version++, ctx.request,
                                   projections::KeyHealthReported{
                                       item.key_id, item.api_format, item.successes, item.failures,
                                       item.total_response_time_ms, item.last_error, item.at_us,
                                       it->second.health, it->second.breaker}));
    }
    d.respond = [](const State&) -> Result<PreparedResponse> { return PreparedResponse{}; };
    return d;
  }

 private:
  std::vector<registry::HealthReportItem> items_;
};

}  // namespace

std::unique_ptr<registry::Command> MakeLegacyHealthReports(
    std::vector<registry::HealthReportItem> items) {
  return std::make_unique<LegacyHealthReports>(std::move(items));
}

}  // namespace keyledger::bench
