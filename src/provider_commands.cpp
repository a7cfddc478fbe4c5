// Provider (spec §10.1) and endpoint (spec §10.2) commands.
#include <algorithm>

#include "events/crypto.hpp"
#include "projections/codec.hpp"
#include "projections/credentials.hpp"
#include "projections/telemetry.hpp"
#include "projections/views.hpp"
#include "src/command_support.hpp"
#include "src/registry_commands.hpp"

namespace keyledger::registry {
namespace {

using projections::EndpointState;
using projections::KeyState;
using projections::ProviderState;
using projections::State;

Error ProviderMissing(bool patch) {
  return patch ? NotFoundWithResource("Provider not found", "provider")
               : NotFoundWithResource("提供商不存在", "provider");
}

class CreateProvider final : public Command {
 public:
  explicit CreateProvider(ProviderCreateIntent intent) : in_(std::move(intent)) {}
  std::string_view Name() const override { return "CreateProvider"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    ProviderState p = in_.provider;
    if (ctx.state.provider_names.Find(p.name) != nullptr) {
      return InvalidRequest("提供商名称 '" + p.name + "' 已存在");
    }
    p.id = crypto::RandomUuid();
    Decision d;
    const std::string stream = projections::ProviderStream(p.id);
    KL_ASSIGN_OR_RETURN(p.proxy, ResolveProxy(d, ctx.keyring, stream, 1, in_.proxy, std::nullopt));
    KL_ASSIGN_OR_RETURN(p.config_secrets,
                        SealConfig(d, ctx, stream, 1, p.config, std::nullopt, {}));
    d.streams.push_back(OneEvent(stream, 0, ctx.request, projections::ProviderCreated{p}));
    d.respond = [id = p.id, name = p.name](const State& after) -> Result<PreparedResponse> {
      PreparedResponse r;
      json::Writer w;
      w.BeginObject()
          .Member("id", id)
          .Member("name", name)
          .Member("message", "提供商创建成功")
          .EndObject();
      r.body = w.Take();
      r.etag = after.providers.Find(id)->version;
      return r;
    };
    return d;
  }

 private:
  ProviderCreateIntent in_;
};

class UpdateProvider final : public Command {
 public:
  explicit UpdateProvider(ProviderUpdateIntent intent) : in_(std::move(intent)) {}
  std::string_view Name() const override { return "UpdateProvider"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const ProviderState* current = ctx.state.providers.Find(in_.provider_id);
    if (current == nullptr) return ProviderMissing(in_.patch_response);
    KL_RETURN_IF_ERROR(CheckIfMatch(ctx.request, current->version, "provider " + in_.provider_id));
    ProviderState next = *current;
    std::vector<std::string> fields;
    for (const std::string& f : in_.fields) {
      if (f == "proxy") continue;
      if (!projections::IsProviderField(f) || f == "config_secrets") {
        return MakeError(ErrorCode::kInternal, "unknown provider field " + f);
      }
      fields.push_back(f);
    }
    CopyFields(fields, in_.values, next, &projections::WriteProviderFields,
               &projections::ReadProviderFields);
    if (next.name != current->name) {
      if (const std::string* owner = ctx.state.provider_names.Find(next.name);
          owner && *owner != next.id) {
        return InvalidRequest("提供商名称 '" + next.name + "' 已存在");
      }
    }
    Decision d;
    const std::string stream = projections::ProviderStream(next.id);
    if (std::find(in_.fields.begin(), in_.fields.end(), "proxy") != in_.fields.end()) {
      KL_ASSIGN_OR_RETURN(
          next.proxy, ResolveProxy(d, ctx.keyring, stream, current->stream_version + 1, in_.proxy,
                                   current->proxy));
      fields.push_back("proxy");
    }
    if (std::find(fields.begin(), fields.end(), "config") != fields.end()) {
      KL_ASSIGN_OR_RETURN(next.config_secrets,
                          SealConfig(d, ctx, stream, current->stream_version + 1, next.config,
                                     current->config, current->config_secrets));
      fields.push_back("config_secrets");
    }
    d.streams.push_back(OneEvent(stream, current->stream_version, ctx.request,
                                 projections::ProviderUpdated{next.id, {fields, next}}));
    d.respond = [id = next.id,
                 patch = in_.patch_response](const State& after) -> Result<PreparedResponse> {
      const ProviderState& p = *after.providers.Find(id);
      PreparedResponse r;
      r.etag = p.version;
      if (patch) {
        r.body = projections::ProviderSummaryJson(after, p);
      } else {
        json::Writer w;
        w.BeginObject()
            .Member("id", p.id)
            .Member("name", p.name)
            .Member("is_active", p.is_active)
            .Member("message", "提供商更新成功")
            .EndObject();
        r.body = w.Take();
      }
      return r;
    };
    return d;
  }

 private:
  ProviderUpdateIntent in_;
};

void DeleteEndpointInto(Decision& d, const EndpointState& e, const RequestContext& request,
                        std::string_view cause) {
  d.streams.push_back(
      OneEvent(projections::EndpointStream(e.id), e.stream_version, request,
               projections::EndpointDeleted{e.id, e.provider_id, std::string(cause)}));
  if (e.proxy && e.proxy->password) ShredInto(d, *e.proxy->password);
  ShredAllInto(d, e.header_secrets);
  ShredAllInto(d, e.config_secrets);
}

class DeleteProvider final : public Command {
 public:
  explicit DeleteProvider(std::string id) : id_(std::move(id)) {}
  std::string_view Name() const override { return "DeleteProvider"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const ProviderState* p = ctx.state.providers.Find(id_);
    if (p == nullptr) return ProviderMissing(false);
    KL_RETURN_IF_ERROR(CheckIfMatch(ctx.request, p->version, "provider " + id_));
    Decision d;
    // The cascade, as events: every key (shredded), every endpoint, then the provider.
    p->key_ids.ForEach([&](const std::string& key_id) {
      const KeyState* k = ctx.state.keys.Find(key_id);
      if (k == nullptr) return;
      d.streams.push_back(OneEvent(
          projections::KeyStream(key_id), k->stream_version, ctx.request,
          projections::KeyDeleted{key_id, id_, k->secret.sealed.dek_id, "provider_deleted"}));
      ShredInto(d, k->secret);
      d.aux.push_back(projections::TelemetryDelete(key_id));
    });
    p->endpoint_ids.ForEach([&](const std::string& endpoint_id) {
      if (const EndpointState* e = ctx.state.endpoints.Find(endpoint_id)) {
        DeleteEndpointInto(d, *e, ctx.request, "provider_deleted");
      }
    });
    d.streams.push_back(
        OneEvent(projections::ProviderStream(id_), p->stream_version, ctx.request,
                 projections::ProviderDeleted{id_, static_cast<uint64_t>(p->key_ids.size()),
                                              static_cast<uint64_t>(p->endpoint_ids.size())}));
    if (p->proxy && p->proxy->password) ShredInto(d, *p->proxy->password);
    ShredAllInto(d, p->config_secrets);
    d.respond = [](const State&) -> Result<PreparedResponse> {
      PreparedResponse r;
      r.body = MessageBody("提供商已删除");
      r.receipt = true;
      return r;
    };
    return d;
  }

 private:
  std::string id_;
};

Error EndpointMissing(std::string_view id) {
  return NotFound("Endpoint " + std::string(id) + " 不存在");
}

PreparedResponse EndpointResponse(const State& after, const std::string& id) {
  const EndpointState& e = *after.endpoints.Find(id);
  PreparedResponse r;
  r.body = projections::EndpointResponseJson(after, e);
  r.etag = e.version;
  return r;
}

class CreateEndpoint final : public Command {
 public:
  explicit CreateEndpoint(EndpointCreateIntent intent) : in_(std::move(intent)) {}
  std::string_view Name() const override { return "CreateEndpoint"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const ProviderState* p = ctx.state.providers.Find(in_.provider_id);
    if (p == nullptr) return NotFound("Provider " + in_.provider_id + " 不存在");
    if (in_.body_provider_id != in_.provider_id) return InvalidRequest("provider_id 不匹配");
    EndpointState e = in_.endpoint;
    bool exists = false;
    p->endpoint_ids.ForEach([&](const std::string& id) {
      const EndpointState* other = ctx.state.endpoints.Find(id);
      exists |= other && other->api_format == e.api_format;
    });
    if (exists) {
      return InvalidRequest("Provider " + p->name + " 已存在 " + e.api_format + " 格式的 Endpoint");
    }
    e.id = crypto::RandomUuid();
    e.provider_id = p->id;
    e.is_active = true;
    Decision d;
    const std::string stream = projections::EndpointStream(e.id);
    KL_ASSIGN_OR_RETURN(e.proxy, ResolveProxy(d, ctx.keyring, stream, 1, in_.proxy, std::nullopt));
    KL_ASSIGN_OR_RETURN(e.header_secrets,
                        SealHeaders(d, ctx, stream, 1, e.headers, std::nullopt, {}));
    KL_ASSIGN_OR_RETURN(e.config_secrets,
                        SealConfig(d, ctx, stream, 1, e.config, std::nullopt, {}));
    d.streams.push_back(OneEvent(stream, 0, ctx.request, projections::EndpointCreated{e}));
    d.respond = [id = e.id](const State& after) -> Result<PreparedResponse> {
      return EndpointResponse(after, id);
    };
    return d;
  }

 private:
  EndpointCreateIntent in_;
};

class UpdateEndpoint final : public Command {
 public:
  explicit UpdateEndpoint(EndpointUpdateIntent intent) : in_(std::move(intent)) {}
  std::string_view Name() const override { return "UpdateEndpoint"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const EndpointState* current = ctx.state.endpoints.Find(in_.endpoint_id);
    if (current == nullptr) return EndpointMissing(in_.endpoint_id);
    KL_RETURN_IF_ERROR(CheckIfMatch(ctx.request, current->version, "endpoint " + in_.endpoint_id));
    EndpointState next = *current;
    std::vector<std::string> fields;
    for (const std::string& f : in_.fields) {
      if (f == "proxy") continue;
      if (!projections::IsEndpointField(f) || f == "api_format" || f == "provider_id" ||
          f == "header_secrets" || f == "config_secrets") {
        return MakeError(ErrorCode::kInternal, "field " + f + " cannot be updated");
      }
      fields.push_back(f);
    }
    CopyFields(fields, in_.values, next, &projections::WriteEndpointFields,
               &projections::ReadEndpointFields);
    Decision d;
    const std::string stream = projections::EndpointStream(next.id);
    if (std::find(in_.fields.begin(), in_.fields.end(), "proxy") != in_.fields.end()) {
      KL_ASSIGN_OR_RETURN(
          next.proxy, ResolveProxy(d, ctx.keyring, stream, current->stream_version + 1, in_.proxy,
                                   current->proxy));
      fields.push_back("proxy");
    }
    const uint64_t secret_version = current->stream_version + 1;
    if (std::find(fields.begin(), fields.end(), "headers") != fields.end()) {
      KL_ASSIGN_OR_RETURN(next.header_secrets,
                          SealHeaders(d, ctx, stream, secret_version, next.headers,
                                      current->headers, current->header_secrets));
      fields.push_back("header_secrets");
    }
    if (std::find(fields.begin(), fields.end(), "config") != fields.end()) {
      KL_ASSIGN_OR_RETURN(next.config_secrets,
                          SealConfig(d, ctx, stream, secret_version, next.config, current->config,
                                     current->config_secrets));
      fields.push_back("config_secrets");
    }
    d.streams.push_back(OneEvent(stream, current->stream_version, ctx.request,
                                 projections::EndpointUpdated{next.id, {fields, next}}));
    d.respond = [id = next.id](const State& after) -> Result<PreparedResponse> {
      return EndpointResponse(after, id);
    };
    return d;
  }

 private:
  EndpointUpdateIntent in_;
};

class DeleteEndpoint final : public Command {
 public:
  explicit DeleteEndpoint(std::string id) : id_(std::move(id)) {}
  std::string_view Name() const override { return "DeleteEndpoint"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const EndpointState* e = ctx.state.endpoints.Find(id_);
    if (e == nullptr) return EndpointMissing(id_);
    KL_RETURN_IF_ERROR(CheckIfMatch(ctx.request, e->version, "endpoint " + id_));
    int64_t affected = 0;
    if (const ProviderState* p = ctx.state.providers.Find(e->provider_id)) {
      p->key_ids.ForEach([&](const std::string& key_id) {
        const KeyState* k = ctx.state.keys.Find(key_id);
        if (k && std::find(k->api_formats.begin(), k->api_formats.end(), e->api_format) !=
                     k->api_formats.end()) {
          affected++;
        }
      });
    }
    Decision d;
    DeleteEndpointInto(d, *e, ctx.request, "request");
    d.respond = [id = id_, affected](const State&) -> Result<PreparedResponse> {
      PreparedResponse r;
      json::Writer w;
      w.BeginObject()
          .Member("message", "Endpoint " + id + " 已删除")
          .Member("affected_keys_count", affected)
          .EndObject();
      r.body = w.Take();
      r.receipt = true;
      return r;
    };
    return d;
  }

 private:
  std::string id_;
};

// Decrypts one sealed header or config value for a reveal. A store that cannot be read is a
// retryable error; a shredded or unauthenticated value is reported without detail (the reason
// reaches the log through the caller's error).
Result<std::string> OpenCredential(const DecideContext& ctx, const projections::StoredSecret& s,
                                   const std::string& owner) {
  auto plain = ctx.keyring.Open(s.sealed, owner, s.version);
  if (plain.ok()) return plain;
  const ErrorCode code = plain.error().code;
  if (code == ErrorCode::kIoError || code == ErrorCode::kUnavailable) return plain.error();
  return InvalidRequest("无法解密凭据，可能是加密密钥已更改。请重新设置该值。");
}

// The config with every sealed value decrypted, and the pointers revealed.
Result<std::optional<std::string>> RevealConfig(
    const DecideContext& ctx, std::string_view stream,
    const std::optional<projections::RawJson>& config,
    const projections::OrderedMap<projections::StoredSecret>& secrets,
    std::vector<std::string>& revealed) {
  if (!config) return std::optional<std::string>();
  KL_ASSIGN_OR_RETURN(
      std::string text,
      projections::RewriteStrings(
          config->text,
          [&](const std::string& pointer, std::string_view,
              std::string_view) -> Result<std::optional<std::string>> {
            const projections::StoredSecret* s = projections::FindIn(secrets, pointer);
            if (s == nullptr) return std::optional<std::string>();
            KL_ASSIGN_OR_RETURN(std::string plain,
                                OpenCredential(ctx, *s, ConfigSecretOwner(stream, pointer)));
            revealed.push_back("/config" + pointer);
            return std::optional<std::string>(std::move(plain));
          }));
  return std::optional<std::string>(std::move(text));
}

Status CheckRevealReason(const DecideContext& ctx) {
  if (ctx.options.require_reveal_reason && (!ctx.request.reason || ctx.request.reason->empty())) {
    return InvalidRequest("an X-Audit-Reason header is required to reveal credentials");
  }
  return Status::Ok();
}

// The data keys of the revealed values, for the *CredentialsRevealed events.
projections::StringList DekIds(const std::vector<const projections::StoredSecret*>& secrets) {
  projections::StringList ids;
  for (const projections::StoredSecret* s : secrets) ids.push_back(s->sealed.dek_id);
  return ids;
}

// The answer of a credential reveal: the plaintext body, never stored for Idempotency-Key replay.
std::function<Result<PreparedResponse>(const State&)> RevealAnswer(std::string body) {
  return [text = std::move(body)](const State&) mutable -> Result<PreparedResponse> {
    PreparedResponse r;
    r.body = std::move(text);
    r.not_replayable = true;
    return r;
  };
}

class RevealProviderCredentials final : public Command {
 public:
  explicit RevealProviderCredentials(std::string id) : id_(std::move(id)) {}
  std::string_view Name() const override { return "RevealProviderCredentials"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const ProviderState* p = ctx.state.providers.Find(id_);
    if (p == nullptr) return ProviderMissing(false);
    KL_RETURN_IF_ERROR(CheckRevealReason(ctx));
    const std::string stream = projections::ProviderStream(id_);
    std::vector<std::string> revealed;
    KL_ASSIGN_OR_RETURN(std::optional<std::string> config,
                        RevealConfig(ctx, stream, p->config, p->config_secrets, revealed));
    std::vector<const projections::StoredSecret*> secrets;
    for (const auto& [k, v] : p->config_secrets) secrets.push_back(&v);
    Decision d;
    d.streams.push_back(
        OneEvent(stream, p->stream_version, ctx.request,
                 projections::ProviderCredentialsRevealed{id_, revealed, DekIds(secrets)}));
    json::Writer body;
    body.BeginObject().Member("provider_id", id_).Key("config");
    config ? body.Raw(*config) : body.Null();
    body.EndObject();
    if (config) crypto::SecureWipe(*config);
    d.respond = RevealAnswer(body.Take());
    return d;
  }

 private:
  std::string id_;
};

class RevealEndpointCredentials final : public Command {
 public:
  explicit RevealEndpointCredentials(std::string id) : id_(std::move(id)) {}
  std::string_view Name() const override { return "RevealEndpointCredentials"; }

  Result<Decision> Decide(DecideContext& ctx) override {
    const EndpointState* e = ctx.state.endpoints.Find(id_);
    if (e == nullptr) return EndpointMissing(id_);
    KL_RETURN_IF_ERROR(CheckRevealReason(ctx));
    const std::string stream = projections::EndpointStream(id_);
    std::vector<std::string> revealed;
    std::vector<const projections::StoredSecret*> secrets;
    json::Writer body;
    body.BeginObject().Member("endpoint_id", id_).Key("headers");
    if (e->headers) {
      body.BeginObject();
      for (const auto& [name, value] : *e->headers) {
        const projections::StoredSecret* s = projections::FindIn(e->header_secrets, name);
        if (s == nullptr) {
          body.Member(name, value);
          continue;
        }
        KL_ASSIGN_OR_RETURN(std::string plain,
                            OpenCredential(ctx, *s, HeaderSecretOwner(stream, name)));
        body.Member(name, plain);
        crypto::SecureWipe(plain);
        revealed.push_back(projections::ChildPointer("/headers", name));
        secrets.push_back(s);
      }
      body.EndObject();
    } else {
      body.Null();
    }
    KL_ASSIGN_OR_RETURN(std::optional<std::string> config,
                        RevealConfig(ctx, stream, e->config, e->config_secrets, revealed));
    for (const auto& [k, v] : e->config_secrets) secrets.push_back(&v);
    body.Key("config");
    config ? body.Raw(*config) : body.Null();
    body.EndObject();
    if (config) crypto::SecureWipe(*config);
    Decision d;
    d.streams.push_back(OneEvent(
        stream, e->stream_version, ctx.request,
        projections::EndpointCredentialsRevealed{id_, e->provider_id, revealed, DekIds(secrets)}));
    d.respond = RevealAnswer(body.Take());
    return d;
  }

 private:
  std::string id_;
};

}  // namespace

std::unique_ptr<Command> MakeRevealProviderCredentials(std::string provider_id) {
  return std::make_unique<RevealProviderCredentials>(std::move(provider_id));
}
std::unique_ptr<Command> MakeRevealEndpointCredentials(std::string endpoint_id) {
  return std::make_unique<RevealEndpointCredentials>(std::move(endpoint_id));
}

std::unique_ptr<Command> MakeCreateProvider(ProviderCreateIntent intent) {
  return std::make_unique<CreateProvider>(std::move(intent));
}
std::unique_ptr<Command> MakeUpdateProvider(ProviderUpdateIntent intent) {
  return std::make_unique<UpdateProvider>(std::move(intent));
}
std::unique_ptr<Command> MakeDeleteProvider(std::string provider_id) {
  return std::make_unique<DeleteProvider>(std::move(provider_id));
}
std::unique_ptr<Command> MakeCreateEndpoint(EndpointCreateIntent intent) {
  return std::make_unique<CreateEndpoint>(std::move(intent));
}
std::unique_ptr<Command> MakeUpdateEndpoint(EndpointUpdateIntent intent) {
  return std::make_unique<UpdateEndpoint>(std::move(intent));
}
std::unique_ptr<Command> MakeDeleteEndpoint(std::string endpoint_id) {
  return std::make_unique<DeleteEndpoint>(std::move(endpoint_id));
}

}  // namespace keyledger::registry
