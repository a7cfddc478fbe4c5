// Key commands: create (K2), update (K3), delete (K6), reveal (K5).
#include <algorithm>

#include "events/crypto.hpp"
#include "events/secrets.hpp"
#include "projections/codec.hpp"
#include "projections/telemetry.hpp"
#include "projections/views.hpp"
#include "src/command_support.hpp"
#include "src/registry_commands.hpp"

namespace keyledger::registry {
namespace {

using projections::KeyState;
using projections::State;

// A deliberate difference from Aether, which ignores the body's provider_id (README "Deliberate
// differences"); the endpoint route answers Aether's own "provider_id 不匹配".
constexpr std::string_view kKeyProviderMismatch =
    "provider_id 不匹配 (the body's provider_id differs from the path's; Aether ignores it, "
    "keyledger refuses the request so that a secret is never stored under a provider the client "
    "did not name)";

Error KeyNotFound(std::string_view id) { return NotFound("Key " + std::string(id) + " 不存在"); }

// Another key of the provider already holds this secret (spec §14.20).
Status CheckDuplicate(const State& s, const std::string& provider_id,
                      const std::string& fingerprint, std::string_view self) {
  const projections::ProviderState* p = s.providers.Find(provider_id);
  if (p == nullptr) return Status::Ok();
  std::string duplicate;
  p->key_ids.ForEach([&](const std::string& id) {
    if (!duplicate.empty() || id == self) return;
    const KeyState* k = s.keys.Find(id);
    if (k && k->secret.fingerprint == fingerprint) duplicate = id;
  });
  if (!duplicate.empty()) {
    return InvalidRequest("this API key is already stored in this provider as key " + duplicate);
  }
  return Status::Ok();
}

PreparedResponse KeyResponse(const State& after, const std::string& id,
                             const std::optional<std::string>& plain = std::nullopt) {
  const KeyState& k = *after.keys.Find(id);
  PreparedResponse r;
  r.body = projections::KeyResponseJson(k, plain);
  r.etag = k.version;
  if (plain) {
    // A retry of the create gets the key without its plaintext: the secret is never stored.
    r.not_replayable = true;
    r.replay_body = projections::KeyResponseJson(k, std::nullopt);
  }
  return r;
}

// allowed_models [] / {} mean "unrestricted" (null), as Aether stores them.
void NormalizeAllowedModels(projections::AllowedModels& m) {
  if (const auto* list = std::get_if<projections::StringList>(&m); list && list->empty()) {
    m = std::monostate{};
  }
  if (const auto* dict = std::get_if<projections::OrderedMap<projections::StringList>>(&m);
      dict && dict->empty()) {
    m = std::monostate{};
  }
}

class CreateKey final : public Command {
 public:
  explicit CreateKey(KeyCreateIntent intent) : in_(std::move(intent)) {}
  std::string_view Name() const override { return "CreateKey"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    if (ctx.state.providers.Find(in_.provider_id) == nullptr) {
      return NotFound("Provider " + in_.provider_id + " 不存在");
    }
    if (in_.body_provider_id && *in_.body_provider_id != in_.provider_id) {
      return InvalidRequest(std::string(kKeyProviderMismatch));
    }
    if (in_.api_formats_missing) return InvalidRequest("api_formats 为必填字段");

    Decision d;
    KeyState k = in_.key;
    k.id = crypto::RandomUuid();
    k.provider_id = in_.provider_id;
    NormalizeAllowedModels(k.allowed_models);
    if (k.capabilities && k.capabilities->empty()) k.capabilities.reset();
    KL_ASSIGN_OR_RETURN(k.secret, SealInto(d, ctx.keyring, k.id, 1, in_.secret, true));
    KL_RETURN_IF_ERROR(CheckDuplicate(ctx.state, k.provider_id, k.secret.fingerprint, k.id));

    const std::string id = k.id;
    d.streams.push_back(OneEvent(projections::KeyStream(id), 0, ctx.request,
                                 projections::KeyCreated{std::move(k)}));
    std::optional<std::string> plain;
    if (ctx.options.echo_plaintext_on_create) plain = in_.secret;
    d.respond = [id, plain](const State& after) -> Result<PreparedResponse> {
      return KeyResponse(after, id, plain);
    };
    return d;
  }

 private:
  KeyCreateIntent in_;
};

class UpdateKey final : public Command {
 public:
  explicit UpdateKey(KeyUpdateIntent intent) : in_(std::move(intent)) {}
  std::string_view Name() const override { return "UpdateKey"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const KeyState* current = ctx.state.keys.Find(in_.key_id);
    if (current == nullptr) return KeyNotFound(in_.key_id);
    KL_RETURN_IF_ERROR(CheckIfMatch(ctx.request, current->version, "key " + in_.key_id));

    Decision d;
    KeyState next = *current;
    std::vector<std::string_view> fields;
    auto set = [&](std::string_view name) {
      if (std::find(fields.begin(), fields.end(), name) == fields.end()) fields.push_back(name);
    };
    for (const std::string& f : in_.fields) {
      if (!projections::IsKeyField(f)) {
        return MakeError(ErrorCode::kInternal, "unknown key field " + f);
      }
    }
    CopyFields(in_.fields, in_.values, next, &projections::WriteKeyFields,
               &projections::ReadKeyFields);
    for (const std::string& f : in_.fields) set(f);
    if (Has("allowed_models")) NormalizeAllowedModels(next.allowed_models);
    if (Has("rpm_limit") && !next.rpm_limit) {
      // Switching to adaptive restarts learning (aether-spec.md §8.3 step 4).
      next.learned_rpm_limit.reset();
      set("learned_rpm_limit");
    }
    if (Has("api_formats")) {
      // Per-format data for formats the key no longer serves is dropped (spec §14.15).
      auto serves = [&](const std::string& f) {
        return std::find(next.api_formats.begin(), next.api_formats.end(), f) !=
               next.api_formats.end();
      };
      auto prune = [&](auto& map, std::string_view name) {
        size_t before = map.size();
        std::erase_if(map, [&](const auto& entry) { return !serves(entry.first); });
        if (map.size() != before) set(name);
      };
      prune(next.health_by_format, "health_by_format");
      prune(next.circuit_breaker_by_format, "circuit_breaker_by_format");
      // The key's health telemetry loses those formats too, or a restart would bring them back.
      if (projections::ShowsTelemetry(ctx.state, next.id)) {
        d.aux.push_back(projections::TelemetryWrite(next.id, projections::TelemetryOf(next)));
      }
      if (next.rate_multipliers) {
        size_t before = next.rate_multipliers->size();
        std::erase_if(*next.rate_multipliers, [&](const auto& e) { return !serves(e.first); });
        if (next.rate_multipliers->size() != before) set("rate_multipliers");
      }
    }
    std::optional<std::string> retired_dek;
    if (in_.new_secret) {
      KL_ASSIGN_OR_RETURN(
          next.secret,
          SealInto(d, ctx.keyring, next.id, current->secret.version + 1, *in_.new_secret, true));
      KL_RETURN_IF_ERROR(
          CheckDuplicate(ctx.state, next.provider_id, next.secret.fingerprint, next.id));
      ShredInto(d, current->secret);
      retired_dek = current->secret.sealed.dek_id;
      set("secret");
    }

    const std::string id = next.id;
    projections::KeyUpdated event;
    event.key_id = id;
    event.set.names.assign(fields.begin(), fields.end());
    event.set.values = std::move(next);
    event.retired_dek_id = std::move(retired_dek);
    d.streams.push_back(
        OneEvent(projections::KeyStream(id), current->stream_version, ctx.request, event));
    d.respond = [id](const State& after) -> Result<PreparedResponse> {
      return KeyResponse(after, id);
    };
    return d;
  }

 private:
  bool Has(std::string_view f) const {
    return std::find(in_.fields.begin(), in_.fields.end(), f) != in_.fields.end();
  }

  KeyUpdateIntent in_;
};

class DeleteKey final : public Command {
 public:
  explicit DeleteKey(std::string id) : id_(std::move(id)) {}
  std::string_view Name() const override { return "DeleteKey"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const KeyState* k = ctx.state.keys.Find(id_);
    if (k == nullptr) return KeyNotFound(id_);
    KL_RETURN_IF_ERROR(CheckIfMatch(ctx.request, k->version, "key " + id_));
    Decision d;
    d.streams.push_back(
        OneEvent(projections::KeyStream(id_), k->stream_version, ctx.request,
                 projections::KeyDeleted{id_, k->provider_id, k->secret.sealed.dek_id, "request"}));
    ShredInto(d, k->secret);
    d.aux.push_back(projections::TelemetryDelete(id_));
    d.respond = [id = id_](const State&) -> Result<PreparedResponse> {
      PreparedResponse r;
      r.body = MessageBody("Key " + id + " 已删除");
      r.receipt = true;
      return r;
    };
    return d;
  }

 private:
  std::string id_;
};

class RevealKey final : public Command {
 public:
  explicit RevealKey(std::string id) : id_(std::move(id)) {}
  std::string_view Name() const override { return "RevealKey"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const KeyState* k = ctx.state.keys.Find(id_);
    if (k == nullptr) return KeyNotFound(id_);
    if (ctx.options.require_reveal_reason && (!ctx.request.reason || ctx.request.reason->empty())) {
      return InvalidRequest("an X-Audit-Reason header is required to reveal a key");
    }
    auto plain = ctx.keyring.Open(k->secret.sealed, k->id, k->secret.version);
    if (!plain.ok()) {
      // The store could not be read (a full disk while the log reopens, an I/O error): a
      // retryable 503, never the message that tells the operator to re-add the key.
      const ErrorCode code = plain.error().code;
      if (code == ErrorCode::kIoError || code == ErrorCode::kUnavailable) return plain.error();
      // The reason (shredded, or authentication failure) goes to the log via the caller's
      // error; the client gets Aether's message.
      return InvalidRequest("无法解密 API Key，可能是加密密钥已更改。请重新添加该密钥。");
    }
    Decision d;
    d.streams.push_back(
        OneEvent(projections::KeyStream(id_), k->stream_version, ctx.request,
                 projections::KeyRevealed{id_, k->secret.sealed.dek_id, k->secret.version}));
    d.respond = [secret =
                     std::move(plain).value()](const State&) mutable -> Result<PreparedResponse> {
      PreparedResponse r;
      json::Writer body;
      body.BeginObject().Member("api_key", secret).EndObject();
      r.body = body.Take();
      r.not_replayable = true;
      crypto::SecureWipe(secret);
      return r;
    };
    return d;
  }

 private:
  std::string id_;
};

}  // namespace

std::unique_ptr<Command> MakeCreateKey(KeyCreateIntent intent) {
  return std::make_unique<CreateKey>(std::move(intent));
}
std::unique_ptr<Command> MakeUpdateKey(KeyUpdateIntent intent) {
  return std::make_unique<UpdateKey>(std::move(intent));
}
std::unique_ptr<Command> MakeDeleteKey(std::string key_id) {
  return std::make_unique<DeleteKey>(std::move(key_id));
}
std::unique_ptr<Command> MakeRevealKey(std::string key_id) {
  return std::make_unique<RevealKey>(std::move(key_id));
}

}  // namespace keyledger::registry
