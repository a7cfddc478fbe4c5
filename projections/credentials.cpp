#include "projections/credentials.hpp"

#include <simdjson.h>

#include "events/json_writer.hpp"
#include "events/secret_names.hpp"
#include "events/secrets.hpp"

namespace keyledger::projections {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

Status Walk(json::Writer& w, element v, const std::string& pointer, std::string_view name,
            const StringVisitor& visit) {
  switch (v.type()) {
    case element_type::OBJECT: {
      simdjson::dom::object obj;
      if (v.get_object().get(obj)) return Status::Ok();  // cannot happen: the type says object
      w.BeginObject();
      for (auto field : obj) {
        w.Key(field.key);
        KL_RETURN_IF_ERROR(
            Walk(w, field.value, ChildPointer(pointer, field.key), field.key, visit));
      }
      w.EndObject();
      return Status::Ok();
    }
    case element_type::ARRAY: {
      simdjson::dom::array arr;
      if (v.get_array().get(arr)) return Status::Ok();  // cannot happen: the type says array
      w.BeginArray();
      size_t i = 0;
      for (element item : arr) {
        KL_RETURN_IF_ERROR(Walk(w, item, ChildPointer(pointer, std::to_string(i++)), name, visit));
      }
      w.EndArray();
      return Status::Ok();
    }
    case element_type::STRING: {
      std::string_view s = v.get_string().value_unsafe();
      KL_ASSIGN_OR_RETURN(std::optional<std::string> replaced, visit(pointer, name, s));
      w.String(replaced ? std::string_view(*replaced) : s);
      return Status::Ok();
    }
    default:
      w.Raw(simdjson::minify(v));
      return Status::Ok();
  }
}

}  // namespace

std::string ChildPointer(std::string_view parent, std::string_view name) {
  std::string out(parent);
  out += '/';
  for (char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::string> RewriteStrings(std::string_view json, const StringVisitor& visit) {
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(json.data(), json.size(), true).get(doc)) {
    return MakeError(ErrorCode::kInvalidArgument, "config is not JSON");
  }
  json::Writer w(json.size() + 64);
  KL_RETURN_IF_ERROR(Walk(w, doc, "", "", visit));
  return w.Take();
}

std::optional<std::string> StringAtPointer(std::string_view json, std::string_view pointer) {
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(json.data(), json.size(), true).get(doc)) return std::nullopt;
  std::string_view s;
  if (doc.at_pointer(pointer).get_string().get(s)) return std::nullopt;
  return std::string(s);
}

std::string ShownHeaderValue(std::string_view name, const std::string& value,
                             const OrderedMap<StoredSecret>& header_secrets) {
  if (value.empty() || FindIn(header_secrets, name) != nullptr) return value;
  return events::IsSecretMemberName(name) ? events::MaskSecret(value) : value;
}

std::string ShownConfig(const RawJson& config, const OrderedMap<StoredSecret>& config_secrets) {
  // No member name can match when the whole text holds none of the markers: skip the parse.
  if (!events::IsSecretMemberName(config.text)) return config.text;
  auto shown = RewriteStrings(config.text,
                              [&](const std::string& pointer, std::string_view name,
                                  std::string_view value) -> Result<std::optional<std::string>> {
                                if (value.empty() || !events::IsSecretMemberName(name) ||
                                    FindIn(config_secrets, pointer) != nullptr) {
                                  return std::optional<std::string>();
                                }
                                return std::optional<std::string>(events::MaskSecret(value));
                              });
  // Stored config is always JSON (it was parsed when written); never show it unmasked.
  return shown.ok() ? std::move(shown).value() : std::string("null");
}

}  // namespace keyledger::projections
