// The field tables (src/field_tables.hpp) against the request readers they drive: for every
// entry, the bounds the table states are exactly the bounds the reader enforces (min-1 and max+1
// refused with pydantic's error and the table's bound in ctx, min and max accepted), null is
// accepted exactly where the table says the field is nullable, the mapping records update
// fields in the order events have always carried them, and no secret reaches a response view.
// tests/api/openapi_test.cpp checks the same entries against the published schemas.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "events/json_writer.hpp"
#include "projections/response_fields.hpp"
#include "projections/views.hpp"
#include "src/commands.hpp"
#include "src/dto_adapters.hpp"
#include "src/field_tables.hpp"
#include "src/json_input.hpp"

namespace keyledger::registry {
namespace {

namespace f = fields;

// One request model: its table, which column, the members a valid body needs, and the parser
// (returning the field errors, empty when the body is accepted).
struct Model {
  const char* name;
  std::span<const f::FieldSpec> table;
  bool create;
  std::vector<std::pair<std::string, std::string>> base;  // member -> JSON
  std::function<std::vector<FieldError>(const std::string&)> errors;
};

template <typename T>
std::vector<FieldError> DetailsOf(const Result<T>& r) {
  if (r.ok()) return {};
  EXPECT_TRUE(r.error().code == ErrorCode::kValidation ||
              r.error().code == ErrorCode::kInvalidArgument)
      << r.error().message;
  EXPECT_FALSE(r.error().details.empty()) << r.error().message;
  return r.error().details;
}

std::vector<Model> Models() {
  const std::vector<std::pair<std::string, std::string>> key_base = {
      {"api_formats", R"(["CLAUDE"])"}, {"api_key", R"("sk-a-valid-key-0001")"}, {"name", "\"n\""}};
  const std::vector<std::pair<std::string, std::string>> endpoint_base = {
      {"provider_id", "\"p\""}, {"api_format", "\"CLAUDE\""}, {"base_url", "\"https://h\""}};
  return {
      {"KeyCreate", f::KeyFields(), true, key_base,
       [](const std::string& b) { return DetailsOf(ParseKeyCreate(b)); }},
      {"KeyUpdate",
       f::KeyFields(),
       false,
       {},
       [](const std::string& b) { return DetailsOf(ParseKeyUpdate(b)); }},
      {"ProviderCreate",
       f::ProviderFields(),
       true,
       {{"name", "\"p\""}},
       [](const std::string& b) { return DetailsOf(ParseProviderCreate(b)); }},
      {"ProviderUpdate",
       f::ProviderFields(),
       false,
       {},
       [](const std::string& b) { return DetailsOf(ParseProviderUpdate(b)); }},
      {"ProviderPatch",
       f::ProviderPatchFields(),
       false,
       {},
       [](const std::string& b) { return DetailsOf(ParseProviderPatch(b)); }},
      {"EndpointCreate", f::EndpointFields(), true, endpoint_base,
       [](const std::string& b) { return DetailsOf(ParseEndpointCreate(b)); }},
      {"EndpointUpdate",
       f::EndpointFields(),
       false,
       {},
       [](const std::string& b) { return DetailsOf(ParseEndpointUpdate(b)); }},
  };
}

// The model's valid base body with `name` set to `json`.
std::string Body(const Model& m, std::string_view name, const std::string& json) {
  std::string out = "{";
  bool replaced = false;
  for (const auto& [member, value] : m.base) {
    if (out.size() > 1) out += ',';
    json::AppendString(out, member);
    out += ':';
    if (member == name) {
      out += json;
      replaced = true;
    } else {
      out += value;
    }
  }
  if (!replaced) {
    if (out.size() > 1) out += ',';
    json::AppendString(out, name);
    out += ':' + json;
  }
  return out + "}";
}

bool Present(const Model& m, const f::FieldSpec& s) {
  return (m.create ? s.create : s.update) != f::Presence::kAbsent;
}

// The errors at ["body", name] (or below it).
std::vector<FieldError> At(const std::vector<FieldError>& all, std::string_view name) {
  std::vector<FieldError> out;
  for (const auto& e : all) {
    if (e.loc.size() >= 2 && e.loc[0] == "body" && e.loc[1] == name) out.push_back(e);
  }
  return out;
}

void ExpectAccepted(const Model& m, const f::FieldSpec& s, const std::string& json) {
  const auto errors = m.errors(Body(m, s.name, json));
  EXPECT_TRUE(errors.empty()) << m.name << "." << s.name << " = " << json << ": "
                              << (errors.empty() ? "" : errors.front().msg);
}

void ExpectRefused(const Model& m, const f::FieldSpec& s, const std::string& json,
                   const std::string& type, const std::string& ctx) {
  const auto errors = At(m.errors(Body(m, s.name, json)), s.name);
  ASSERT_EQ(errors.size(), 1u) << m.name << "." << s.name << " = " << json.substr(0, 40);
  EXPECT_EQ(errors[0].type, type) << m.name << "." << s.name;
  EXPECT_EQ(errors[0].ctx_json, ctx) << m.name << "." << s.name;
}

std::string Str(size_t chars, std::string_view prefix = {}) {
  std::string s(prefix);
  s += std::string(chars - prefix.size(), 'a');
  std::string out;
  json::AppendString(out, s);
  return out;
}

std::string BoundText(const FloatBound& b) {
  if (b.is_int) return std::to_string(static_cast<int64_t>(b.value));
  std::string out;
  json::AppendDouble(out, b.value);
  return out;
}

TEST(FieldTableTest, EveryIntegerRangeIsWhatTheReaderEnforces) {
  size_t checked = 0;
  for (const auto& m : Models()) {
    for (const auto& s : m.table) {
      if (!Present(m, s) || s.type != f::JsonType::kInteger) continue;
      ASSERT_TRUE(s.ints.ge && s.ints.le) << m.name << "." << s.name << " has no range";
      const int64_t ge = *s.ints.ge;
      const int64_t le = *s.ints.le;
      ASSERT_GT(ge, std::numeric_limits<int64_t>::min());
      ASSERT_LT(le, std::numeric_limits<int64_t>::max());
      ExpectAccepted(m, s, std::to_string(ge));
      ExpectAccepted(m, s, std::to_string(le));
      ExpectRefused(m, s, std::to_string(ge - 1), "greater_than_equal",
                    R"({"ge":)" + std::to_string(ge) + "}");
      ExpectRefused(m, s, std::to_string(le + 1), "less_than_equal",
                    R"({"le":)" + std::to_string(le) + "}");
      ++checked;
    }
  }
  // Keys 5 x 2 models, providers 5 x 2 + 4 (PATCH), endpoints 2 x 2.
  EXPECT_EQ(checked, 28u);
}

TEST(FieldTableTest, EveryNumberBoundIsWhatTheReaderEnforces) {
  size_t checked = 0;
  for (const auto& m : Models()) {
    for (const auto& s : m.table) {
      if (!Present(m, s) || s.type != f::JsonType::kNumber) continue;
      ASSERT_TRUE(s.floats.ge.has_value()) << m.name << "." << s.name;
      const double ge = s.floats.ge->value;
      std::string at, below;
      json::AppendDouble(at, ge);
      json::AppendDouble(below, ge - 0.005);
      ExpectAccepted(m, s, at);
      ExpectRefused(m, s, below, "greater_than_equal", R"({"ge":)" + BoundText(*s.floats.ge) + "}");
      ++checked;
    }
  }
  EXPECT_EQ(checked, 5u);  // rate_multiplier x 2, monthly_quota_usd x 3
}

TEST(FieldTableTest, EveryStringLengthIsWhatTheReaderEnforces) {
  size_t checked = 0;
  for (const auto& m : Models()) {
    for (const auto& s : m.table) {
      if (!Present(m, s) || !s.length.max) continue;
      // A valid value of a given length: base_url needs its scheme and host.
      const std::string_view prefix = s.name == "base_url" ? "https://h" : "";
      const size_t max = *s.length.max;
      ExpectAccepted(m, s, Str(max, prefix));
      ExpectRefused(m, s, Str(max + 1, prefix), "string_too_long",
                    R"({"max_length":)" + std::to_string(max) + "}");
      if (s.length.min && *s.length.min > 0) {
        ExpectAccepted(m, s, Str(std::max(*s.length.min, prefix.size() + 1), prefix));
        if (s.secret) {
          // An empty secret is the secret rule's own error, which carries no ctx.
          ExpectRefused(m, s, R"("")", "value_error", R"({"error":{}})");
        } else {
          ExpectRefused(m, s, R"("")", "string_too_short",
                        R"({"min_length":)" + std::to_string(*s.length.min) + "}");
        }
      }
      ++checked;
    }
  }
  // Keys 3 x 2 (name, api_key, note), providers 3 x 3, endpoints 2 x 2.
  EXPECT_EQ(checked, 19u);
}

TEST(FieldTableTest, EveryListLengthIsWhatTheReaderEnforces) {
  size_t checked = 0;
  for (const auto& m : Models()) {
    for (const auto& s : m.table) {
      if (!Present(m, s) || !s.items.min) continue;
      ASSERT_EQ(*s.items.min, 1u);
      ExpectAccepted(m, s, R"(["CLAUDE"])");
      ExpectRefused(m, s, "[]", "too_short",
                    R"({"field_type":"List","min_length":1,"actual_length":0})");
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2u);  // api_formats on create and update
}

TEST(FieldTableTest, NullIsAcceptedExactlyWhereTheTableSaysNullable) {
  size_t nullable = 0, refused = 0;
  for (const auto& m : Models()) {
    for (const auto& s : m.table) {
      if (!Present(m, s)) continue;
      const auto errors = At(m.errors(Body(m, s.name, "null")), s.name);
      if (s.nullable(m.create)) {
        EXPECT_TRUE(errors.empty()) << m.name << "." << s.name << ": " << errors.front().msg;
        ++nullable;
      } else {
        EXPECT_EQ(errors.size(), 1u) << m.name << "." << s.name << " accepted null";
        ++refused;
      }
    }
  }
  EXPECT_GT(nullable, 0u);
  EXPECT_GT(refused, 0u);
}

TEST(FieldTableTest, EveryModelReadsEveryTableFieldAndNothingElse) {
  // A body member the table does not name is ignored (pydantic extra='ignore'); one it names is
  // read: a wrong type fails at its loc.
  for (const auto& m : Models()) {
    for (const auto& s : m.table) {
      const auto errors = At(m.errors(Body(m, s.name, "[[[1]]]")), s.name);
      if (Present(m, s)) {
        EXPECT_FALSE(errors.empty()) << m.name << " does not read " << s.name;
      } else {
        EXPECT_TRUE(errors.empty()) << m.name << " reads " << s.name << ", absent from its model";
      }
    }
  }
}

TEST(FieldTableTest, UpdatesRecordTheirFieldsInTheOrderEventsCarry) {
  auto key = ParseKeyUpdate(
      R"({"note":"x","is_active":false,"max_probe_interval_minutes":4,"cache_ttl_minutes":1,
          "capabilities":{},"allowed_models":["m"],"rpm_limit":null,"global_priority":1,
          "internal_priority":2,"rate_multipliers":{},"rate_multiplier":2,"name":"k",
          "api_key":"sk-a-valid-key-0002","api_formats":["OPENAI"]})");
  ASSERT_TRUE(key.ok());
  const auto key_in = ToIntent("k1", std::move(key).value());
  EXPECT_EQ(key_in.fields,
            (std::vector<std::string>{"api_formats", "name", "rate_multiplier", "rate_multipliers",
                                      "internal_priority", "global_priority", "rpm_limit",
                                      "allowed_models", "capabilities", "cache_ttl_minutes",
                                      "max_probe_interval_minutes", "is_active", "note"}));
  EXPECT_EQ(key_in.new_secret, "sk-a-valid-key-0002");
  EXPECT_EQ(key_in.values.cache_ttl_minutes, 1);
  EXPECT_FALSE(key_in.values.rpm_limit.has_value());

  auto provider = ParseProviderUpdate(
      R"({"proxy":null,"config":{},"max_retries":1,"timeout":2,"concurrent_limit":3,
          "is_active":true,"provider_priority":4,"quota_expires_at":null,
          "quota_last_reset_at":null,"quota_reset_day":5,"monthly_quota_usd":6,
          "billing_type":"free_tier","website":"","description":"d","name":"p"})");
  ASSERT_TRUE(provider.ok());
  const auto provider_in = ToIntent("p1", std::move(provider).value(), false);
  EXPECT_EQ(provider_in.fields,
            (std::vector<std::string>{
                "name", "description", "website", "billing_type", "monthly_quota_usd",
                "quota_reset_day", "quota_last_reset_at", "quota_expires_at", "provider_priority",
                "is_active", "concurrent_limit", "timeout", "max_retries", "config", "proxy"}));
  EXPECT_FALSE(provider_in.values.website.has_value());  // blank is null
  EXPECT_EQ(provider_in.values.config->text, "{}");

  auto endpoint = ParseEndpointUpdate(
      R"({"proxy":null,"config":null,"is_active":false,"max_retries":0,"timeout":10,
          "headers":{"X-A":"b"},"custom_path":"/v1","base_url":"http://h/"})");
  ASSERT_TRUE(endpoint.ok());
  const auto endpoint_in = ToIntent("e1", std::move(endpoint).value());
  EXPECT_EQ(endpoint_in.fields,
            (std::vector<std::string>{"base_url", "custom_path", "headers", "timeout",
                                      "max_retries", "is_active", "config", "proxy"}));
  EXPECT_EQ(endpoint_in.values.base_url, "http://h");
}

TEST(FieldTableTest, CreateMapsEveryTableFieldOntoTheState) {
  auto key = ParseKeyCreate(
      R"({"provider_id":"pb","api_formats":["openai"],"api_key":"sk-a-valid-key-0003",
          "name":" k ","rate_multiplier":2,"rate_multipliers":{"openai":3},
          "internal_priority":7,"global_priority":8,"rpm_limit":9,"allowed_models":["m"],
          "capabilities":{"cache_1h":true},"cache_ttl_minutes":10,
          "max_probe_interval_minutes":11,"is_active":false,"note":"n"})");
  ASSERT_TRUE(key.ok());
  const auto in = ToIntent("p", std::move(key).value());
  const projections::KeyState& k = in.key;
  EXPECT_EQ(in.body_provider_id, "pb");
  EXPECT_FALSE(in.api_formats_missing);
  EXPECT_EQ(in.secret, "sk-a-valid-key-0003");
  EXPECT_EQ(k.api_formats, projections::StringList{"OPENAI"});
  EXPECT_EQ(k.name, "k");
  EXPECT_EQ(k.rate_multiplier, 2.0);
  EXPECT_EQ(k.rate_multipliers, (projections::OrderedMap<double>{{"OPENAI", 3.0}}));
  EXPECT_EQ(k.internal_priority, 7);
  EXPECT_EQ(k.global_priority, 8);
  EXPECT_EQ(k.rpm_limit, 9);
  EXPECT_EQ(k.allowed_models, projections::AllowedModels(projections::StringList{"m"}));
  EXPECT_EQ(k.capabilities, (projections::OrderedMap<bool>{{"cache_1h", true}}));
  EXPECT_EQ(k.cache_ttl_minutes, 10);
  EXPECT_EQ(k.max_probe_interval_minutes, 11);
  EXPECT_FALSE(k.is_active);
  EXPECT_EQ(k.note, "n");
  EXPECT_TRUE(k.secret.mask.empty());  // the command seals the secret, not the mapping
}

// The response view against the table: the table's fields that a response echoes come in table
// order (keys and endpoints: their create/update order; providers: the PATCH model's, which is
// Aether's response order), and no secret is ever a response member.
std::vector<std::string> Members(const std::string& object_json) {
  JsonBodyParser parser;
  auto v = parser.Parse(object_json);
  EXPECT_TRUE(v.ok());
  std::vector<std::string> out;
  if (v.ok()) {
    for (const auto& m : v->members()) out.push_back(m.key);
  }
  return out;
}

void ExpectTableOrder(std::span<const f::FieldSpec> table, const std::vector<std::string>& view,
                      size_t expected_shared) {
  size_t last = 0, shared = 0;
  for (const auto& s : table) {
    auto it = std::find(view.begin(), view.end(), s.name);
    if (s.secret) {
      EXPECT_EQ(it, view.end()) << "secret " << s.name << " is a response member";
      continue;
    }
    if (it == view.end()) continue;
    const auto pos = static_cast<size_t>(it - view.begin());
    EXPECT_GE(pos, last) << s.name << " is out of table order in the view";
    last = pos;
    ++shared;
  }
  EXPECT_EQ(shared, expected_shared);
}

TEST(FieldTableTest, ViewsEchoTableFieldsInTableOrderAndNoSecret) {
  projections::State state;
  projections::ProviderState p;
  p.id = "p1";
  p.name = "p";
  state.providers.Set(p.id, std::make_shared<projections::ProviderState>(p));
  projections::KeyState k;
  k.id = "k1";
  k.provider_id = "p1";
  k.secret.mask = "sk-a***0004";
  const std::string key_view = projections::KeyResponseJson(k);
  EXPECT_EQ(key_view.find("sk-a-valid"), std::string::npos);
  // Every key field but api_key.
  ExpectTableOrder(f::KeyFields(), Members(key_view), 14);
  ExpectTableOrder(f::ProviderPatchFields(),
                   Members(projections::ProviderSummaryJson(state, *state.providers.Find("p1"))),
                   12);
  projections::EndpointState e;
  e.id = "e1";
  e.provider_id = "p1";
  ExpectTableOrder(f::EndpointFields(), Members(projections::EndpointResponseJson(state, e)), 10);
}

// The response tables (projections/response_fields.hpp) drive the views: each view writes
// exactly its table's members, in table order.
template <typename View>
std::vector<std::string> NamesOf(std::span<const projections::response::Member<View>> table) {
  std::vector<std::string> out;
  for (const auto& m : table) out.emplace_back(m.name);
  return out;
}

TEST(FieldTableTest, ViewsWriteExactlyTheirResponseTablesInOrder) {
  namespace resp = projections::response;
  projections::State state;
  projections::ProviderState p;
  p.id = "p1";
  p.name = "p";
  p.proxy = projections::Proxy{.url = "http://proxy:1",
                               .username = std::nullopt,
                               .password = projections::StoredSecret{},
                               .enabled = true};
  state.providers.Set(p.id, std::make_shared<projections::ProviderState>(p));
  projections::EndpointState e;
  e.id = "e1";
  e.provider_id = "p1";
  e.api_format = "CLAUDE";
  e.headers = projections::OrderedMap<std::string>{{"x-a", "b"}};
  state.endpoints.Set(e.id, std::make_shared<projections::EndpointState>(e));
  projections::KeyState k;
  k.id = "k1";
  k.provider_id = "p1";
  k.secret.mask = "sk-a***0005";
  k.last_used_at = 1;

  EXPECT_EQ(Members(projections::KeyResponseJson(k, std::string("sk-a-valid-key-0005"))),
            NamesOf(resp::KeyMembers()));
  EXPECT_EQ(Members(projections::ProviderSummaryJson(state, *state.providers.Find("p1"))),
            NamesOf(resp::ProviderMembers()));
  EXPECT_EQ(Members(projections::EndpointResponseJson(state, e)), NamesOf(resp::EndpointMembers()));
}

// The response tables against the request tables: the request fields a response echoes come in
// request-table order (the same fields and counts as the views above), a secret request field is
// never a member of its own name but has the members that stand for it, and every `stands_for`
// names a secret field of the entity.
template <typename View>
void ExpectResponseTable(std::span<const f::FieldSpec> request,
                         std::span<const projections::response::Member<View>> response,
                         size_t expected_shared) {
  const std::vector<std::string> names = NamesOf(response);
  ExpectTableOrder(request, names, expected_shared);
  for (const auto& s : request) {
    if (!s.secret) continue;
    const auto standing = std::count_if(response.begin(), response.end(),
                                        [&](const auto& m) { return m.stands_for == s.name; });
    EXPECT_GT(standing, 0) << "secret " << s.name << " has no masked member";
  }
  for (const auto& m : response) {
    if (m.stands_for.empty()) continue;
    const f::FieldSpec* s = f::FindField(request, m.stands_for);
    ASSERT_NE(s, nullptr) << m.name;
    EXPECT_TRUE(s->secret) << m.name << " stands for a field that is not secret";
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "duplicate member";
}

TEST(FieldTableTest, ResponseTablesEchoRequestFieldsInTableOrderAndNoSecret) {
  namespace resp = projections::response;
  ExpectResponseTable(f::KeyFields(), resp::KeyMembers(), 14);
  ExpectResponseTable(f::ProviderPatchFields(), resp::ProviderMembers(), 12);
  ExpectResponseTable(f::EndpointFields(), resp::EndpointMembers(), 10);
  // api_key is the one secret request field; its mask and the create-time echo stand for it.
  std::vector<std::string> standing;
  for (const auto& m : resp::KeyMembers()) {
    if (!m.stands_for.empty()) standing.emplace_back(m.name);
  }
  EXPECT_EQ(standing, (std::vector<std::string>{"api_key_masked", "api_key_plain"}));
}

// The nested models' tables (ProxyConfig, HealthReport) against their hand-written readers: the
// readers take every string length and integer range from the table, so the table's bound is
// accepted and one past it refused.
TEST(FieldTableTest, NestedModelLimitsAreWhatTheReadersEnforce) {
  auto proxy_errors = [](const std::string& member, const std::string& value) {
    return DetailsOf(ParseProviderCreate(R"({"name":"p","proxy":{"url":"http://h:1",")" + member +
                                         R"(":")" + value + R"("}})"));
  };
  size_t checked = 0;
  for (const auto& spec : f::ProxyFields()) {
    if (!spec.length.max) continue;
    SCOPED_TRACE(std::string(spec.name));
    EXPECT_TRUE(proxy_errors(std::string(spec.name), std::string(*spec.length.max, 'a')).empty());
    EXPECT_FALSE(
        proxy_errors(std::string(spec.name), std::string(*spec.length.max + 1, 'a')).empty());
    ++checked;
  }
  EXPECT_EQ(checked, 2u);  // username, password
  EXPECT_TRUE(f::FieldOf(f::ProxyFields(), "password").secret);

  // One report with `member` set to `json`; the errors of that report (none when accepted).
  auto report_errors = [](const std::string& member, const std::string& json) {
    std::vector<std::pair<std::string, std::string>> report = {
        {"key_id", "\"k\""}, {"api_format", "\"CLAUDE\""},    {"successes", "1"},
        {"failures", "0"},   {"total_response_time_ms", "1"}, {"last_error", "null"},
        {"at", "1700000000"}};
    std::string body = R"({"reports":[{)";
    for (size_t i = 0; i < report.size(); ++i) {
      if (i > 0) body += ',';
      body += '"' + report[i].first + "\":" + (report[i].first == member ? json : report[i].second);
    }
    body += "}]}";
    auto r = ParseHealthReportBatch(body);
    EXPECT_TRUE(r.ok()) << body;
    if (!r.ok() || r->reports.empty()) return std::vector<FieldError>{};
    if (const auto* errors = std::get_if<std::vector<FieldError>>(&r->reports[0])) return *errors;
    return std::vector<FieldError>{};
  };
  checked = 0;
  for (const auto& spec : f::HealthReportFields()) {
    SCOPED_TRACE(std::string(spec.name));
    const std::string name(spec.name);
    if (spec.type == f::JsonType::kInteger) {
      ASSERT_TRUE(spec.ints.ge && spec.ints.le);
      EXPECT_TRUE(report_errors(name, std::to_string(*spec.ints.ge)).empty());
      EXPECT_TRUE(report_errors(name, std::to_string(*spec.ints.le)).empty());
      EXPECT_FALSE(report_errors(name, std::to_string(*spec.ints.ge - 1)).empty());
      EXPECT_FALSE(report_errors(name, std::to_string(*spec.ints.le + 1)).empty());
      ++checked;
    }
    if (spec.length.max) {
      EXPECT_TRUE(report_errors(name, '"' + std::string(*spec.length.max, 'a') + '"').empty());
      EXPECT_FALSE(report_errors(name, '"' + std::string(*spec.length.max + 1, 'a') + '"').empty());
      ++checked;
    }
    if (spec.length.min) {
      EXPECT_FALSE(report_errors(name, '"' + std::string(*spec.length.min - 1, 'a') + '"').empty());
      ++checked;
    }
    if (spec.create == f::Presence::kNullable) {
      EXPECT_TRUE(report_errors(name, "null").empty());
    }
    if (spec.create == f::Presence::kRequired) {
      EXPECT_FALSE(report_errors(name, "null").empty());
    }
  }
  EXPECT_EQ(checked, 6u);  // 3 integer ranges, key_id's two lengths, last_error's maximum
}

}  // namespace
}  // namespace keyledger::registry
