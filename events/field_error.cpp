#include "events/field_error.hpp"

#include <charconv>

#include "events/json_writer.hpp"

namespace keyledger {

std::string LocIndex(size_t index) { return kLocIndexMarker + std::to_string(index); }

bool IsLocIndex(std::string_view part, size_t* index) {
  if (part.size() < 2 || part[0] != kLocIndexMarker) return false;
  size_t v = 0;
  auto r = std::from_chars(part.data() + 1, part.data() + part.size(), v);
  if (r.ec != std::errc() || r.ptr != part.data() + part.size()) return false;
  if (index != nullptr) *index = v;
  return true;
}

void AppendFieldErrorJson(std::string& out, const FieldError& e) {
  out += R"({"type":)";
  json::AppendString(out, e.type);
  out += R"(,"loc":[)";
  for (size_t i = 0; i < e.loc.size(); ++i) {
    if (i != 0) out += ',';
    if (IsLocIndex(e.loc[i])) {
      out.append(e.loc[i], 1);
    } else {
      json::AppendString(out, e.loc[i]);
    }
  }
  out += R"(],"msg":)";
  json::AppendString(out, e.msg);
  if (!e.input_json.empty()) {
    out += R"(,"input":)";
    out += e.input_json;
  }
  if (!e.ctx_json.empty()) {
    out += R"(,"ctx":)";
    out += e.ctx_json;
  }
  out += '}';
}

std::string ValidationErrorBody(const std::vector<FieldError>& errors) {
  std::string out = R"({"detail":[)";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i != 0) out += ',';
    AppendFieldErrorJson(out, errors[i]);
  }
  out += "]}";
  return out;
}

}  // namespace keyledger
