#include "src/command_support.hpp"

#include "events/secrets.hpp"

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

events::StreamAppend OneEvent(std::string stream, uint64_t current_version,
                              const RequestContext& request, events::EventType type,
                              std::string payload) {
  events::StreamAppend sa;
  sa.stream = std::move(stream);
  sa.expected_version = static_cast<int64_t>(current_version);
  sa.metadata = Metadata(request);
  events::NewEvent e;
  e.type = type;
  e.payload = std::move(payload);
  sa.events.push_back(std::move(e));
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

std::string MessageBody(std::string_view message) {
  json::Writer w;
  w.BeginObject().Member("message", message).EndObject();
  return w.Take();
}

}  // namespace keyledger::registry
