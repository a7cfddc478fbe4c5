#include "src/idempotency.hpp"

#include <simdjson.h>

#include "events/crypto.hpp"
#include "events/json_writer.hpp"

namespace keyledger::registry {

std::string IdempotencyAuxKey(std::string_view actor, std::string_view key) {
  std::string material(actor);
  material += '\0';
  material += key;
  return "i/" + crypto::HexEncode(crypto::AsBytes(crypto::Sha256(material)));
}

namespace {

Result<IdempotencyRecord> Decode(std::string_view value) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto bad = [] { return MakeError(ErrorCode::kCorruption, "malformed idempotency record"); };
  if (parser.parse(value.data(), value.size(), true).get(doc)) return bad();
  IdempotencyRecord r;
  std::string_view fp, body;
  int64_t status = 0;
  if (doc["fp"].get_string().get(fp) || doc["expires"].get_int64().get(r.expires_us) ||
      doc["status"].get_int64().get(status) || doc["body"].get_string().get(body) ||
      doc["receipt"].get_bool().get(r.receipt) || doc["seq"].get_uint64().get(r.sequence)) {
    return bad();
  }
  simdjson::dom::element etag;
  if (doc["etag"].get(etag)) return bad();
  if (!etag.is_null()) {
    uint64_t v = 0;
    if (etag.get_uint64().get(v)) return bad();
    r.etag = v;
  }
  r.fingerprint = std::string(fp);
  r.status = static_cast<int>(status);
  r.body = std::string(body);
  return r;
}

}  // namespace

Result<std::optional<IdempotencyRecord>> LookupIdempotency(const events::EventReader& log,
                                                           const std::string& aux_key,
                                                           int64_t now_us) {
  KL_ASSIGN_OR_RETURN(auto value, log.GetAux(events::AuxSpace::kIdempotency, aux_key));
  if (!value) return std::optional<IdempotencyRecord>();
  KL_ASSIGN_OR_RETURN(IdempotencyRecord r, Decode(*value));
  if (r.expires_us <= now_us) return std::optional<IdempotencyRecord>();
  return std::optional<IdempotencyRecord>(std::move(r));
}

events::AuxWrite MakeIdempotencyWrite(const std::string& aux_key, const std::string& fingerprint,
                                      int64_t expires_us, const PreparedResponse& response,
                                      uint64_t sequence) {
  json::Writer w;
  w.BeginObject();
  w.Member("fp", fingerprint);
  w.Member("expires", expires_us);
  w.Member("status", int64_t{200});
  w.Member("body", response.body);
  w.Key("etag");
  if (response.etag) {
    w.Uint(*response.etag);
  } else {
    w.Null();
  }
  w.Member("receipt", response.receipt);
  w.Member("seq", sequence);
  w.EndObject();
  return events::AuxWrite{events::AuxSpace::kIdempotency, aux_key, w.Take()};
}

Result<CommandResult> ReplayResult(const events::EventReader& log, const IdempotencyRecord& r) {
  CommandResult out;
  out.status = r.status;
  out.etag = r.etag;
  out.sequence = r.sequence;
  out.replayed = true;
  if (r.sequence > 0) {
    KL_ASSIGN_OR_RETURN(auto recs, log.ReadRange(r.sequence, 1));
    if (!recs.empty() && recs[0].sequence == r.sequence) {
      out.hash = crypto::HexEncode(crypto::AsBytes(recs[0].hash));
    }
  }
  out.body = r.receipt ? WithReceipt(r.body, r.sequence, out.hash) : r.body;
  return out;
}

std::string WithReceipt(const std::string& object_json, uint64_t seq, const std::string& hash) {
  std::string out = object_json.substr(0, object_json.size() - 1);  // drop the closing brace
  if (out.size() > 1) out += ',';
  out += "\"seq\":" + std::to_string(seq) + ",\"hash\":";
  json::AppendString(out, hash);
  out += '}';
  return out;
}

Error IdempotencyMismatch() {
  Error e = MakeError(ErrorCode::kValidation,
                      "Idempotency-Key was already used with a different request");
  FieldError f;
  f.type = "value_error";
  f.loc = {"header", "Idempotency-Key"};
  f.msg = "Value error, Idempotency-Key was already used with a different request";
  f.ctx_json = "{\"error\":{}}";
  e.details.push_back(std::move(f));
  return e;
}

Result<size_t> PurgeExpiredIdempotency(events::EventLog& log, int64_t now_us) {
  events::AppendRequest req;
  Status scan = log.ScanAux(
      events::AuxSpace::kIdempotency, "i/", [&](std::string_view key, std::string_view value) {
        auto r = Decode(value);
        if (!r.ok() || r->expires_us <= now_us) {
          req.aux.push_back({events::AuxSpace::kIdempotency, std::string(key), std::nullopt});
        }
        return true;
      });
  KL_RETURN_IF_ERROR(scan);
  size_t n = req.aux.size();
  if (n > 0) KL_RETURN_IF_ERROR(log.Append(std::move(req)));
  return n;
}

}  // namespace keyledger::registry
