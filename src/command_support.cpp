#include "src/command_support.hpp"

#include "events/crypto.hpp"
#include "events/secrets.hpp"
#include "projections/credentials.hpp"

namespace keyledger::registry {

Error NotFound(std::string message) { return MakeError(ErrorCode::kNotFound, std::move(message)); }

Error NotFoundWithResource(std::string message, std::string_view resource_type) {
  Error e = NotFound(std::move(message));
  json::Writer w;
  w.BeginObject().Member("resource_type", resource_type).EndObject();
  e.details_json = w.Take();
  return e;
}

Error InvalidRequest(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

Status CheckIfMatch(const RequestContext& request, uint64_t version, std::string_view what) {
  if (request.if_match && *request.if_match != version) {
    Error e = MakeError(ErrorCode::kPreconditionFailed,
                        std::string(what) + " is at version " + std::to_string(version) +
                            ", not the version " + std::to_string(*request.if_match) +
                            " named in If-Match");
    e.actual_version = version;
    return e;
  }
  return Status::Ok();
}

events::EventMetadata Metadata(const RequestContext& request) {
  return events::EventMetadata{request.actor, request.client_ip, request.request_id,
                               request.reason};
}

events::StreamAppend detail::AppendOf(std::string stream, uint64_t current_version,
                                      const RequestContext& request, events::NewEvent event) {
  events::StreamAppend sa;
  sa.stream = std::move(stream);
  sa.expected_version = static_cast<int64_t>(current_version);
  sa.metadata = Metadata(request);
  sa.events.push_back(std::move(event));
  return sa;
}

Result<projections::StoredSecret> SealInto(Decision& decision, events::Keyring& keyring,
                                           std::string_view owner, uint64_t version,
                                           std::string_view plaintext, bool with_fingerprint) {
  KL_ASSIGN_OR_RETURN(auto sealed, keyring.SealNew(owner, version, plaintext));
  projections::StoredSecret stored;
  stored.sealed = std::move(sealed.secret);
  stored.version = version;
  stored.mask = with_fingerprint ? events::MaskSecret(plaintext) : "***";
  if (with_fingerprint) stored.fingerprint = keyring.Fingerprint(plaintext);
  decision.aux.push_back(std::move(sealed.dek_write));
  decision.streams.push_back(std::move(sealed.kek_guard));
  return stored;
}

void ShredInto(Decision& decision, const projections::StoredSecret& secret) {
  decision.aux.push_back(events::Keyring::ShredDek(secret.sealed.dek_id));
  decision.purge_keyring = true;
}

Result<std::optional<projections::Proxy>> ResolveProxy(
    Decision& decision, events::Keyring& keyring, std::string_view owner, uint64_t version,
    const std::optional<ProxyInput>& input, const std::optional<projections::Proxy>& previous) {
  if (!input) {
    if (previous && previous->password) ShredInto(decision, *previous->password);
    return std::optional<projections::Proxy>();
  }
  projections::Proxy proxy;
  proxy.url = input->url;
  proxy.username = input->username;
  proxy.enabled = input->enabled;
  if (input->password) {
    KL_ASSIGN_OR_RETURN(auto stored, SealInto(decision, keyring, std::string(owner) + "/proxy",
                                              version, *input->password, false));
    proxy.password = std::move(stored);
    if (previous && previous->password) ShredInto(decision, *previous->password);
  } else if (previous) {
    proxy.password = previous->password;  // a proxy without a password keeps the old one
  }
  return std::optional<projections::Proxy>(std::move(proxy));
}

namespace {

using projections::OrderedMap;
using projections::StoredSecret;

// Shreds each previous sealed value whose DEK `kept` does not hold.
void ShredReplaced(Decision& decision, const OrderedMap<StoredSecret>& previous,
                   const OrderedMap<StoredSecret>& kept) {
  for (const auto& [name, old] : previous) {
    bool still_used = false;
    for (const auto& [k, v] : kept) still_used |= v.sealed.dek_id == old.sealed.dek_id;
    if (!still_used) ShredInto(decision, old);
  }
}

Result<StoredSecret> SealCredential(Decision& decision, events::Keyring& keyring,
                                    const std::string& owner, uint64_t version,
                                    std::string_view plaintext) {
  KL_ASSIGN_OR_RETURN(StoredSecret stored,
                      SealInto(decision, keyring, owner, version, plaintext, false));
  stored.mask = events::MaskSecret(plaintext);
  return stored;
}

}  // namespace

std::string HeaderSecretOwner(std::string_view stream, std::string_view name) {
  return std::string(stream) + projections::ChildPointer("/headers", name);
}

std::string ConfigSecretOwner(std::string_view stream, std::string_view pointer) {
  return std::string(stream) + "/config" + std::string(pointer);
}

void ShredAllInto(Decision& decision, const OrderedMap<StoredSecret>& secrets) {
  for (const auto& [name, secret] : secrets) ShredInto(decision, secret);
}

Result<OrderedMap<StoredSecret>> SealHeaders(Decision& decision, const DecideContext& ctx,
                                             std::string_view stream, uint64_t version,
                                             std::optional<OrderedMap<std::string>>& headers,
                                             const std::optional<OrderedMap<std::string>>& previous,
                                             const OrderedMap<StoredSecret>& previous_secrets) {
  OrderedMap<StoredSecret> sealed;
  if (headers) {
    for (auto& [name, value] : *headers) {
      const StoredSecret* old = projections::FindIn(previous_secrets, name);
      if (old != nullptr && value == old->mask) {
        sealed.emplace_back(name, *old);
        continue;
      }
      if (value.empty() || !ctx.options.secret_names.Matches(name)) continue;
      std::string_view plaintext = value;
      const std::string* legacy = previous ? projections::FindIn(*previous, name) : nullptr;
      if (old == nullptr && legacy != nullptr && !legacy->empty() &&
          value == events::MaskSecret(*legacy)) {
        plaintext = *legacy;
      }
      KL_ASSIGN_OR_RETURN(StoredSecret stored,
                          SealCredential(decision, ctx.keyring, HeaderSecretOwner(stream, name),
                                         version, plaintext));
      value = stored.mask;
      sealed.emplace_back(name, std::move(stored));
    }
  }
  ShredReplaced(decision, previous_secrets, sealed);
  return sealed;
}

Result<OrderedMap<StoredSecret>> SealConfig(Decision& decision, const DecideContext& ctx,
                                            std::string_view stream, uint64_t version,
                                            std::optional<projections::RawJson>& config,
                                            const std::optional<projections::RawJson>& previous,
                                            const OrderedMap<StoredSecret>& previous_secrets) {
  OrderedMap<StoredSecret> sealed;
  if (config) {
    KL_ASSIGN_OR_RETURN(
        config->text,
        projections::RewriteStrings(
            config->text,
            [&](const std::string& pointer, std::string_view name,
                std::string_view value) -> Result<std::optional<std::string>> {
              const StoredSecret* old = projections::FindIn(previous_secrets, pointer);
              if (old != nullptr && value == old->mask) {
                sealed.emplace_back(pointer, *old);
                return std::optional<std::string>();
              }
              if (value.empty() || !ctx.options.secret_names.Matches(name)) {
                return std::optional<std::string>();
              }
              std::string plaintext(value);
              if (old == nullptr && previous) {
                std::optional<std::string> legacy =
                    projections::StringAtPointer(previous->text, pointer);
                if (legacy && !legacy->empty() && value == events::MaskSecret(*legacy)) {
                  plaintext = std::move(*legacy);
                }
              }
              KL_ASSIGN_OR_RETURN(
                  StoredSecret stored,
                  SealCredential(decision, ctx.keyring, ConfigSecretOwner(stream, pointer), version,
                                 plaintext));
              crypto::SecureWipe(plaintext);
              std::string mask = stored.mask;
              sealed.emplace_back(pointer, std::move(stored));
              return std::optional<std::string>(std::move(mask));
            }));
  }
  ShredReplaced(decision, previous_secrets, sealed);
  return sealed;
}

std::string MessageBody(std::string_view message) {
  json::Writer w;
  w.BeginObject().Member("message", message).EndObject();
  return w.Take();
}

}  // namespace keyledger::registry
