#include "src/query_input.hpp"

#include <limits>

#include "events/event_type.hpp"
#include "events/record.hpp"
#include "projections/domain.hpp"

namespace keyledger::registry {

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// urllib.parse.unquote_plus on one name or value: bytes first, then UTF-8 with errors='replace'.
std::string Unquote(std::string_view s) {
  std::string bytes;
  bytes.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      bytes += ' ';
    } else if (c == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      bytes += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      bytes += c;
    }
  }
  // Replace each maximal invalid subsequence with U+FFFD, as Python's decoder does.
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t bad = FindInvalidUtf8(std::string_view(bytes).substr(i));
    if (bad == std::string_view::npos) {
      out.append(bytes, i, std::string::npos);
      break;
    }
    out.append(bytes, i, bad);
    i += bad;
    auto b0 = static_cast<unsigned char>(bytes[i]);
    size_t need = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      need = 2;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      need = 3;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    }
    ++i;
    for (size_t k = 0; k < need && i < bytes.size(); ++k) {
      auto b = static_cast<unsigned char>(bytes[i]);
      if (b < lo || b > hi) break;
      ++i;
      lo = 0x80;
      hi = 0xBF;
    }
    out += "\xEF\xBF\xBD";
  }
  return out;
}

std::string PyFormatsRepr() {
  std::string out = "[";
  for (size_t i = 0; i < domain::kApiFormats.size(); ++i) {
    if (i != 0) out += ", ";
    out += '\'';
    out += domain::kApiFormats[i];
    out += '\'';
  }
  return out + "]";
}

constexpr IntRange kSequenceRange{0, std::nullopt};

}  // namespace

const std::string* QueryParams::Get(std::string_view name) const {
  const std::string* found = nullptr;
  for (const auto& [key, value] : items) {
    if (key == name) found = &value;
  }
  return found;
}

QueryParams ParseQueryString(std::string_view raw) {
  QueryParams params;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t end = raw.find('&', start);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view piece = raw.substr(start, end - start);
    if (!piece.empty()) {
      size_t eq = piece.find('=');
      std::string_view name = piece.substr(0, eq);
      std::string_view value =
          eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
      params.items.emplace_back(Unquote(name), Unquote(value));
    }
    start = end + 1;
  }
  return params;
}

int64_t QueryReader::Int(std::string_view name, int64_t default_value, const IntRange& range) {
  return OptionalInt(name, range).value_or(default_value);
}

std::optional<int64_t> QueryReader::OptionalInt(std::string_view name, const IntRange& range) {
  const std::string* raw = params_.Get(name);
  if (raw == nullptr) return std::nullopt;
  return ReadInt(JsonValue::String(*raw), At(name), errors_, range);
}

std::optional<bool> QueryReader::OptionalBool(std::string_view name) {
  const std::string* raw = params_.Get(name);
  if (raw == nullptr) return std::nullopt;
  return ReadBool(JsonValue::String(*raw), At(name), errors_);
}

std::optional<std::string> QueryReader::OptionalString(std::string_view name,
                                                       const StrLength& length) {
  const std::string* raw = params_.Get(name);
  if (raw == nullptr) return std::nullopt;
  return ReadString(JsonValue::String(*raw), At(name), errors_, length);
}

std::optional<int64_t> QueryReader::OptionalTimestamp(std::string_view name) {
  const std::string* raw = params_.Get(name);
  if (raw == nullptr) return std::nullopt;
  return ReadTimestamp(JsonValue::String(*raw), At(name), errors_);
}

std::optional<std::string> QueryReader::OptionalApiFormat(std::string_view name) {
  const std::string* raw = params_.Get(name);
  if (raw == nullptr) return std::nullopt;
  std::string upper = AsciiUpper(*raw);
  if (domain::IsApiFormat(upper)) return upper;
  errors_.Add(ValueError(At(name), "API 格式必须是 " + PyFormatsRepr() + " 之一，当前值: " + *raw,
                         EchoInput(JsonValue::String(*raw))));
  return std::nullopt;
}

Status QueryReader::Finish() const {
  if (errors_.empty()) return Status::Ok();
  return errors_.ToError();
}

void ReadPaging(QueryReader& reader, Paging& paging, int64_t max_limit) {
  paging.skip = reader.Int("skip", 0, IntRange{0, std::nullopt});
  paging.limit = reader.Int("limit", kDefaultPageLimit, IntRange{1, max_limit});
}

Result<Paging> ParsePaging(const QueryParams& params, int64_t max_limit) {
  QueryReader reader(params);
  Paging paging;
  ReadPaging(reader, paging, max_limit);
  KL_RETURN_IF_ERROR(reader.Finish());
  return paging;
}

Result<ProviderListQuery> ParseProviderListQuery(const QueryParams& params) {
  QueryReader reader(params);
  ProviderListQuery query;
  ReadPaging(reader, query.paging, kMaxProviderPageLimit);
  query.is_active = reader.OptionalBool("is_active");
  KL_RETURN_IF_ERROR(reader.Finish());
  return query;
}

void ReadAsOf(QueryReader& reader, AsOf& as_of) {
  if (auto seq = reader.OptionalInt("as_of_seq", kSequenceRange)) {
    as_of.seq = static_cast<uint64_t>(*seq);
  }
  as_of.time = reader.OptionalTimestamp("as_of");
  if (as_of.seq && as_of.time) {
    reader.AddError(ValueError(reader.At("as_of"), "as_of 与 as_of_seq 不能同时使用",
                               EchoInput(JsonValue::String(*reader.Raw("as_of")))));
  }
}

Result<AsOf> ParseAsOf(const QueryParams& params) {
  QueryReader reader(params);
  AsOf as_of;
  ReadAsOf(reader, as_of);
  KL_RETURN_IF_ERROR(reader.Finish());
  return as_of;
}

Result<AuditQuery> ParseAuditQuery(const QueryParams& params) {
  QueryReader reader(params);
  AuditQuery query;
  if (auto after = reader.OptionalInt("after", kSequenceRange)) {
    query.after = static_cast<uint64_t>(*after);
  }
  query.limit = reader.Int("limit", kDefaultPageLimit, IntRange{1, kMaxPageLimit});
  query.stream = reader.OptionalString("stream", {1, events::kMaxStreamIdBytes});
  if (auto type = reader.OptionalString("type", {1, std::nullopt})) {
    if (events::EventTypeFromName(*type)) {
      query.type = std::move(type);
    } else {
      reader.AddError(ValueError(reader.At("type"), "未知的事件类型: " + *type,
                                 EchoInput(JsonValue::String(*type))));
    }
  }
  query.actor = reader.OptionalString("actor", {1, events::kMaxMetadataBytes});
  query.since = reader.OptionalTimestamp("since");
  query.until = reader.OptionalTimestamp("until");
  if (query.since && query.until && *query.until < *query.since) {
    reader.AddError(ValueError(reader.At("until"), "until 不能早于 since",
                               EchoInput(JsonValue::String(*reader.Raw("until")))));
  }
  KL_RETURN_IF_ERROR(reader.Finish());
  return query;
}

Result<HealthResetQuery> ParseHealthResetQuery(const QueryParams& params) {
  QueryReader reader(params);
  HealthResetQuery query;
  query.api_format = reader.OptionalApiFormat("api_format");
  KL_RETURN_IF_ERROR(reader.Finish());
  return query;
}

}  // namespace keyledger::registry
