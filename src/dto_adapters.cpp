#include "src/dto_adapters.hpp"

#include "src/field_tables.hpp"

namespace keyledger::registry {
namespace {

ProxyInput Convert(const ProxyConfig& in) {
  return ProxyInput{in.url, in.username, in.password, in.enabled};
}

}  // namespace

KeyCreateIntent ToIntent(std::string provider_id, KeyCreate dto) {
  KeyCreateIntent in;
  in.provider_id = std::move(provider_id);
  in.body_provider_id = std::move(dto.provider_id);
  in.api_formats_missing = !dto.api_formats.has_value();
  fields::MapKeyCreate(dto, in.key);
  in.secret = std::move(dto.api_key);
  return in;
}

KeyUpdateIntent ToIntent(std::string key_id, KeyUpdate dto) {
  KeyUpdateIntent in;
  in.key_id = std::move(key_id);
  fields::MapKeyUpdate(dto, in.values, in.fields);
  if (dto.api_key.has_value()) in.new_secret = std::move(dto.api_key.value());
  return in;
}

ProviderCreateIntent ToIntent(ProviderCreate dto) {
  ProviderCreateIntent in;
  fields::MapProviderCreate(dto, in.provider);
  if (dto.proxy) in.proxy = Convert(*dto.proxy);
  return in;
}

ProviderUpdateIntent ToIntent(std::string provider_id, ProviderUpdate dto, bool patch) {
  ProviderUpdateIntent in;
  in.provider_id = std::move(provider_id);
  in.patch_response = patch;
  fields::MapProviderUpdate(dto, in.values, in.fields);
  if (dto.proxy.present()) {
    in.fields.emplace_back("proxy");
    if (dto.proxy.has_value()) in.proxy = Convert(dto.proxy.value());
  }
  return in;
}

EndpointCreateIntent ToIntent(std::string provider_id, EndpointCreate dto) {
  EndpointCreateIntent in;
  in.provider_id = std::move(provider_id);
  in.body_provider_id = std::move(dto.provider_id);
  fields::MapEndpointCreate(dto, in.endpoint);
  if (dto.proxy) in.proxy = Convert(*dto.proxy);
  return in;
}

EndpointUpdateIntent ToIntent(std::string endpoint_id, EndpointUpdate dto) {
  EndpointUpdateIntent in;
  in.endpoint_id = std::move(endpoint_id);
  fields::MapEndpointUpdate(dto, in.values, in.fields);
  if (dto.proxy.present()) {
    in.fields.emplace_back("proxy");
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
