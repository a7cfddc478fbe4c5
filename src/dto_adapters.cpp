#include "src/dto_adapters.hpp"

namespace keyledger::registry {
namespace {

using projections::OrderedMap;
using projections::RawJson;
using projections::StringList;

projections::AllowedModels Convert(const AllowedModels& in) {
  if (in.kind == AllowedModels::Kind::kList) return StringList(in.models);
  return OrderedMap<StringList>(in.by_format.begin(), in.by_format.end());
}

ProxyInput Convert(const ProxyConfig& in) {
  return ProxyInput{in.url, in.username, in.password, in.enabled};
}

std::optional<RawJson> Json(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return RawJson{*text};
}

// Applies one Patch to a field of `values` and records its name.
template <typename T, typename U, typename Convert>
void Take(const Patch<T>& patch, std::string_view name, U& slot, std::vector<std::string>& fields,
          Convert convert) {
  if (!patch.present()) return;
  fields.emplace_back(name);
  if (patch.has_value()) {
    slot = convert(patch.value());
  } else {
    slot = U{};  // explicit null (only nullable fields get here)
  }
}

template <typename T, typename U>
void Take(const Patch<T>& patch, std::string_view name, U& slot, std::vector<std::string>& fields) {
  Take(patch, name, slot, fields, [](const T& v) { return U(v); });
}

}  // namespace

KeyCreateIntent ToIntent(std::string provider_id, KeyCreate dto) {
  KeyCreateIntent in;
  in.provider_id = std::move(provider_id);
  in.body_provider_id = std::move(dto.provider_id);
  in.api_formats_missing = !dto.api_formats.has_value();
  projections::KeyState& k = in.key;
  if (dto.api_formats) k.api_formats = std::move(*dto.api_formats);
  k.name = std::move(dto.name);
  k.note = std::move(dto.note);
  k.rate_multiplier = dto.rate_multiplier;
  if (dto.rate_multipliers) {
    k.rate_multipliers =
        OrderedMap<double>(dto.rate_multipliers->begin(), dto.rate_multipliers->end());
  }
  k.internal_priority = dto.internal_priority;
  k.global_priority = dto.global_priority;
  k.rpm_limit = dto.rpm_limit;
  if (dto.allowed_models) k.allowed_models = Convert(*dto.allowed_models);
  if (dto.capabilities) {
    k.capabilities = OrderedMap<bool>(dto.capabilities->begin(), dto.capabilities->end());
  }
  k.cache_ttl_minutes = dto.cache_ttl_minutes;
  k.max_probe_interval_minutes = dto.max_probe_interval_minutes;
  k.is_active = dto.is_active;
  in.secret = std::move(dto.api_key);
  return in;
}

KeyUpdateIntent ToIntent(std::string key_id, KeyUpdate dto) {
  KeyUpdateIntent in;
  in.key_id = std::move(key_id);
  projections::KeyState& v = in.values;
  auto& f = in.fields;
  Take(dto.api_formats, "api_formats", v.api_formats, f);
  Take(dto.name, "name", v.name, f);
  Take(dto.rate_multiplier, "rate_multiplier", v.rate_multiplier, f);
  Take(dto.rate_multipliers, "rate_multipliers", v.rate_multipliers, f,
       [](const RateMultipliers& m) { return OrderedMap<double>(m.begin(), m.end()); });
  Take(dto.internal_priority, "internal_priority", v.internal_priority, f);
  Take(dto.global_priority, "global_priority", v.global_priority, f);
  Take(dto.rpm_limit, "rpm_limit", v.rpm_limit, f);
  Take(dto.allowed_models, "allowed_models", v.allowed_models, f,
       [](const AllowedModels& m) { return Convert(m); });
  Take(dto.capabilities, "capabilities", v.capabilities, f,
       [](const Capabilities& c) { return OrderedMap<bool>(c.begin(), c.end()); });
  Take(dto.cache_ttl_minutes, "cache_ttl_minutes", v.cache_ttl_minutes, f);
  Take(dto.max_probe_interval_minutes, "max_probe_interval_minutes", v.max_probe_interval_minutes,
       f);
  Take(dto.is_active, "is_active", v.is_active, f);
  Take(dto.note, "note", v.note, f);
  if (dto.api_key.has_value()) in.new_secret = std::move(dto.api_key.value());
  return in;
}

ProviderCreateIntent ToIntent(ProviderCreate dto) {
  ProviderCreateIntent in;
  projections::ProviderState& p = in.provider;
  p.name = std::move(dto.name);
  p.description = std::move(dto.description);
  p.website = std::move(dto.website);
  p.billing_type = std::move(dto.billing_type);
  p.monthly_quota_usd = dto.monthly_quota_usd;
  p.quota_reset_day = dto.quota_reset_day;
  p.quota_last_reset_at = dto.quota_last_reset_at;
  p.quota_expires_at = dto.quota_expires_at;
  p.provider_priority = dto.provider_priority;
  p.is_active = dto.is_active;
  p.concurrent_limit = dto.concurrent_limit;
  p.timeout = dto.timeout;
  p.max_retries = dto.max_retries;
  p.config = Json(dto.config);
  if (dto.proxy) in.proxy = Convert(*dto.proxy);
  return in;
}

ProviderUpdateIntent ToIntent(std::string provider_id, ProviderUpdate dto, bool patch) {
  ProviderUpdateIntent in;
  in.provider_id = std::move(provider_id);
  in.patch_response = patch;
  projections::ProviderState& v = in.values;
  auto& f = in.fields;
  Take(dto.name, "name", v.name, f);
  Take(dto.description, "description", v.description, f);
  Take(dto.website, "website", v.website, f);
  Take(dto.billing_type, "billing_type", v.billing_type, f);
  Take(dto.monthly_quota_usd, "monthly_quota_usd", v.monthly_quota_usd, f);
  Take(dto.quota_reset_day, "quota_reset_day", v.quota_reset_day, f);
  Take(dto.quota_last_reset_at, "quota_last_reset_at", v.quota_last_reset_at, f);
  Take(dto.quota_expires_at, "quota_expires_at", v.quota_expires_at, f);
  Take(dto.provider_priority, "provider_priority", v.provider_priority, f);
  Take(dto.is_active, "is_active", v.is_active, f);
  Take(dto.concurrent_limit, "concurrent_limit", v.concurrent_limit, f);
  Take(dto.timeout, "timeout", v.timeout, f);
  Take(dto.max_retries, "max_retries", v.max_retries, f);
  Take(dto.config, "config", v.config, f, [](const std::string& t) { return RawJson{t}; });
  if (dto.proxy.present()) {
    f.emplace_back("proxy");
    if (dto.proxy.has_value()) in.proxy = Convert(dto.proxy.value());
  }
  return in;
}

EndpointCreateIntent ToIntent(std::string provider_id, EndpointCreate dto) {
  EndpointCreateIntent in;
  in.provider_id = std::move(provider_id);
  in.body_provider_id = std::move(dto.provider_id);
  projections::EndpointState& e = in.endpoint;
  e.api_format = std::move(dto.api_format);
  e.base_url = std::move(dto.base_url);
  e.custom_path = std::move(dto.custom_path);
  if (dto.headers) e.headers = OrderedMap<std::string>(dto.headers->begin(), dto.headers->end());
  e.timeout = dto.timeout;
  e.max_retries = dto.max_retries;
  e.config = Json(dto.config);
  if (dto.proxy) in.proxy = Convert(*dto.proxy);
  return in;
}

EndpointUpdateIntent ToIntent(std::string endpoint_id, EndpointUpdate dto) {
  EndpointUpdateIntent in;
  in.endpoint_id = std::move(endpoint_id);
  projections::EndpointState& v = in.values;
  auto& f = in.fields;
  Take(dto.base_url, "base_url", v.base_url, f);
  Take(dto.custom_path, "custom_path", v.custom_path, f);
  Take(dto.headers, "headers", v.headers, f,
       [](const Headers& h) { return OrderedMap<std::string>(h.begin(), h.end()); });
  Take(dto.timeout, "timeout", v.timeout, f);
  Take(dto.max_retries, "max_retries", v.max_retries, f);
  Take(dto.is_active, "is_active", v.is_active, f);
  Take(dto.config, "config", v.config, f, [](const std::string& t) { return RawJson{t}; });
  if (dto.proxy.present()) {
    f.emplace_back("proxy");
    if (dto.proxy.has_value()) in.proxy = Convert(dto.proxy.value());
  }
  return in;
}

std::vector<HealthReportItem> ToItems(HealthReportBatch batch) {
  std::vector<HealthReportItem> items;
  items.reserve(batch.reports.size());
  for (auto& entry : batch.reports) {
    HealthReportItem item;
    if (auto* report = std::get_if<HealthReport>(&entry)) {
      item.key_id = std::move(report->key_id);
      item.api_format = std::move(report->api_format);
      item.successes = report->successes;
      item.failures = report->failures;
      item.total_response_time_ms = report->total_response_time_ms;
      item.last_error = std::move(report->last_error);
      item.at_us = report->at;
    } else {
      const auto& errors = std::get<std::vector<FieldError>>(entry);
      item.invalid = errors.empty() ? std::string("invalid report") : errors.front().msg;
    }
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace keyledger::registry
