#include "src/commands.hpp"

#include <algorithm>
#include <utility>

#include "events/json_writer.hpp"
#include "src/field_readers.hpp"
#include "src/field_tables.hpp"

namespace keyledger::registry {

namespace {

using readers::CheckNestedObject;
using readers::IntReader;
using readers::NestedMode;
using readers::OptionalField;
using readers::ReportFormatField;
using readers::RequiredField;
using readers::TimestampField;

template <typename T>
Result<T> Finish(ErrorList& errors, T value) {
  if (!errors.empty()) return errors.ToError();
  return value;
}

// The 400 answers of Aether's hand-validated provider routes.
Error InvalidRequest(std::string message, std::vector<FieldError> details = {}) {
  Error e = MakeError(ErrorCode::kInvalidArgument, std::move(message));
  e.details = std::move(details);
  return e;
}

// Aether's ensure_json_body() + model_validate(): the body as JSON, or the 400 to answer.
Result<JsonValue> ManualBody(std::string_view body, JsonBodyParser& parser,
                             std::string_view class_name) {
  if (body.empty()) return InvalidRequest("请求体不能为空");
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) {
    switch (ClassifyBodyError(parsed.error())) {
      case BodyFailure::kTooLarge:
        return parsed.error();
      case BodyFailure::kDuplicateKeys:
        return InvalidRequest(InvalidRequestMessage(parsed.error().details),
                              parsed.error().details);
      default:
        return InvalidRequest("请求体必须是合法的JSON");
    }
  }
  if (!parsed->is_object()) {
    std::vector<FieldError> details{MakeFieldError(
        "model_type", {},
        "Input should be a valid dictionary or instance of " + std::string(class_name),
        EchoInput(*parsed), R"({"class_name":")" + std::string(class_name) + "\"}")};
    std::string message = InvalidRequestMessage(details);
    return InvalidRequest(std::move(message), std::move(details));
  }
  return parsed;
}

template <typename T>
Result<T> FinishManual(ErrorList& errors, T value) {
  if (!errors.empty()) {
    auto details = errors.Take();
    std::string message = InvalidRequestMessage(details);
    return InvalidRequest(std::move(message), std::move(details));
  }
  return value;
}

std::optional<HealthReport> ReadHealthReport(const JsonValue& v, const Loc& loc,
                                             ErrorList& errors) {
  if (!CheckNestedObject(v, loc, errors, NestedMode::kFastApi, "HealthReport")) {
    return std::nullopt;
  }
  // The limits are the table's (fields::HealthReportFields), which the schema publishes.
  static const fields::FieldSpec& kKeyId = fields::FieldOf(fields::HealthReportFields(), "key_id");
  static const fields::FieldSpec& kSuccesses =
      fields::FieldOf(fields::HealthReportFields(), "successes");
  static const fields::FieldSpec& kFailures =
      fields::FieldOf(fields::HealthReportFields(), "failures");
  static const fields::FieldSpec& kMillis =
      fields::FieldOf(fields::HealthReportFields(), "total_response_time_ms");
  static const fields::FieldSpec& kLastError =
      fields::FieldOf(fields::HealthReportFields(), "last_error");
  ModelReader m(v, loc, errors);
  HealthReport report;
  RequiredField(m, "key_id", report.key_id, [](const JsonValue& x, const Loc& l, ErrorList& e) {
    return ReadString(x, l, e, kKeyId.length);
  });
  RequiredField(m, "api_format", report.api_format, ReportFormatField);
  RequiredField(m, "successes", report.successes, IntReader(kSuccesses.ints));
  RequiredField(m, "failures", report.failures, IntReader(kFailures.ints));
  RequiredField(m, "total_response_time_ms", report.total_response_time_ms,
                IntReader(kMillis.ints));
  OptionalField(m, "last_error", report.last_error,
                [](const JsonValue& x, const Loc& l, ErrorList& e) {
                  return ReadString(x, l, e, kLastError.length);
                });
  RequiredField(m, "at", report.at, TimestampField);
  if (!errors.empty()) return std::nullopt;
  return report;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Value types

std::string AllowedModels::ToJson() const {
  json::Writer w;
  if (kind == Kind::kList) {
    w.BeginArray();
    for (const auto& m : models) w.String(m);
    w.EndArray();
  } else {
    w.BeginObject();
    for (const auto& [format, list] : by_format) {
      w.Key(format).BeginArray();
      for (const auto& m : list) w.String(m);
      w.EndArray();
    }
    w.EndObject();
  }
  return w.Take();
}

std::string RateMultipliersToJson(const RateMultipliers& v) {
  json::Writer w;
  w.BeginObject();
  for (const auto& [format, multiplier] : v) w.Member(format, multiplier);
  w.EndObject();
  return w.Take();
}

std::string CapabilitiesToJson(const Capabilities& v) {
  json::Writer w;
  w.BeginObject();
  for (const auto& [name, enabled] : v) w.Member(name, enabled);
  w.EndObject();
  return w.Take();
}

std::string HeadersToJson(const Headers& v) {
  json::Writer w;
  w.BeginObject();
  for (const auto& [name, value] : v) w.Member(name, std::string_view(value));
  w.EndObject();
  return w.Take();
}

std::string ProxyConfig::ToMaskedJson() const {
  json::Writer w;
  w.BeginObject().Member("url", std::string_view(url)).Key("username");
  if (username) {
    w.String(*username);
  } else {
    w.Null();
  }
  w.Key("password");
  if (password) {
    w.String("***");
  } else {
    w.Null();
  }
  w.Member("enabled", enabled).EndObject();
  return w.Take();
}

bool KeyUpdate::empty() const {
  return api_formats.absent() && api_key.absent() && name.absent() && rate_multiplier.absent() &&
         rate_multipliers.absent() && internal_priority.absent() && global_priority.absent() &&
         rpm_limit.absent() && allowed_models.absent() && capabilities.absent() &&
         cache_ttl_minutes.absent() && max_probe_interval_minutes.absent() && is_active.absent() &&
         note.absent();
}

bool ProviderUpdate::empty() const {
  return name.absent() && description.absent() && website.absent() && billing_type.absent() &&
         monthly_quota_usd.absent() && quota_reset_day.absent() && quota_last_reset_at.absent() &&
         quota_expires_at.absent() && provider_priority.absent() && is_active.absent() &&
         concurrent_limit.absent() && timeout.absent() && max_retries.absent() && proxy.absent() &&
         config.absent();
}

bool EndpointUpdate::empty() const {
  return base_url.absent() && custom_path.absent() && headers.absent() && timeout.absent() &&
         max_retries.absent() && is_active.absent() && config.absent() && proxy.absent();
}

size_t HealthReportBatch::accepted() const {
  return static_cast<size_t>(std::count_if(reports.begin(), reports.end(), [](const auto& r) {
    return std::holds_alternative<HealthReport>(r);
  }));
}

// ---------------------------------------------------------------------------------------------
// Keys

Result<KeyCreate> KeyCreateFromJson(const JsonValue& body) {
  ErrorList errors;
  if (!CheckBodyObject(body, {"body"}, errors)) return errors.ToError();
  ModelReader m(body, {"body"}, errors);
  KeyCreate cmd;
  fields::ReadKeyCreate(m, cmd);
  return Finish(errors, std::move(cmd));
}

Result<KeyCreate> ParseKeyCreate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  return KeyCreateFromJson(*parsed);
}

Result<KeyCreate> ParseKeyCreate(std::string_view body) {
  return ParseKeyCreate(body, ThreadBodyParser());
}

Result<KeyUpdate> KeyUpdateFromJson(const JsonValue& body) {
  ErrorList errors;
  if (!CheckBodyObject(body, {"body"}, errors)) return errors.ToError();
  ModelReader m(body, {"body"}, errors);
  KeyUpdate cmd;
  fields::ReadKeyUpdate(m, cmd);
  return Finish(errors, std::move(cmd));
}

Result<KeyUpdate> ParseKeyUpdate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  return KeyUpdateFromJson(*parsed);
}

Result<KeyUpdate> ParseKeyUpdate(std::string_view body) {
  return ParseKeyUpdate(body, ThreadBodyParser());
}

// ---------------------------------------------------------------------------------------------
// Providers

Result<ProviderCreate> ParseProviderCreate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = ManualBody(body, parser, "CreateProviderRequest");
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  ModelReader m(*parsed, {"body"}, errors);
  ProviderCreate cmd;
  fields::ReadProviderCreate(m, cmd);
  return FinishManual(errors, std::move(cmd));
}

Result<ProviderCreate> ParseProviderCreate(std::string_view body) {
  return ParseProviderCreate(body, ThreadBodyParser());
}

Result<ProviderUpdate> ParseProviderUpdate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = ManualBody(body, parser, "UpdateProviderRequest");
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  ModelReader m(*parsed, {"body"}, errors);
  ProviderUpdate cmd;
  fields::ReadProviderUpdate(m, cmd);
  return FinishManual(errors, std::move(cmd));
}

Result<ProviderUpdate> ParseProviderUpdate(std::string_view body) {
  return ParseProviderUpdate(body, ThreadBodyParser());
}

Result<ProviderUpdate> ParseProviderPatch(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  if (!CheckBodyObject(*parsed, {"body"}, errors)) return errors.ToError();
  ModelReader m(*parsed, {"body"}, errors);
  ProviderUpdate cmd;
  fields::ReadProviderPatch(m, cmd);
  return Finish(errors, std::move(cmd));
}

Result<ProviderUpdate> ParseProviderPatch(std::string_view body) {
  return ParseProviderPatch(body, ThreadBodyParser());
}

// ---------------------------------------------------------------------------------------------
// Endpoints

Result<EndpointCreate> ParseEndpointCreate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  if (!CheckBodyObject(*parsed, {"body"}, errors)) return errors.ToError();
  ModelReader m(*parsed, {"body"}, errors);
  EndpointCreate cmd;
  fields::ReadEndpointCreate(m, cmd);
  return Finish(errors, std::move(cmd));
}

Result<EndpointCreate> ParseEndpointCreate(std::string_view body) {
  return ParseEndpointCreate(body, ThreadBodyParser());
}

Result<EndpointUpdate> ParseEndpointUpdate(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  if (!CheckBodyObject(*parsed, {"body"}, errors)) return errors.ToError();
  ModelReader m(*parsed, {"body"}, errors);
  EndpointUpdate cmd;
  fields::ReadEndpointUpdate(m, cmd);
  return Finish(errors, std::move(cmd));
}

Result<EndpointUpdate> ParseEndpointUpdate(std::string_view body) {
  return ParseEndpointUpdate(body, ThreadBodyParser());
}

// ---------------------------------------------------------------------------------------------
// Health reports

Result<HealthReportBatch> ParseHealthReportBatch(std::string_view body, JsonBodyParser& parser) {
  auto parsed = parser.Parse(body);
  if (!parsed.ok()) return parsed.error();
  ErrorList errors;
  if (!CheckBodyObject(*parsed, {"body"}, errors)) return errors.ToError();
  ModelReader m(*parsed, {"body"}, errors);
  const JsonValue* reports = m.Required("reports");
  if (reports == nullptr) return errors.ToError();
  const Loc loc = m.At("reports");
  const auto* items = ReadList(*reports, loc, errors);
  if (items == nullptr) return errors.ToError();
  if (!CheckListLength(*reports, items->size(), loc, errors, {1, limits::kMaxHealthReports})) {
    return errors.ToError();
  }
  HealthReportBatch batch;
  batch.reports.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    ErrorList item_errors;
    if (auto report = ReadHealthReport((*items)[i], LocIdx(loc, i), item_errors)) {
      batch.reports.emplace_back(std::move(*report));
    } else {
      batch.reports.emplace_back(item_errors.Take());
    }
  }
  return batch;
}

Result<HealthReportBatch> ParseHealthReportBatch(std::string_view body) {
  return ParseHealthReportBatch(body, ThreadBodyParser());
}

}  // namespace keyledger::registry
