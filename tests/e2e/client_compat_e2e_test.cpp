// Client compatibility: the sequence of calls Aether's admin UI makes (aether-spec.md §12:
// KeyFormDialog, ProviderDetailDrawer, PriorityManagementDialog), with the payloads it sends, and
// every answer checked against the shapes its TypeScript types read (EndpointAPIKey mirrors §7).
#include <barrier>
#include <set>
#include <thread>

#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

using simdjson::dom::element_type;

enum class T { kString, kNumber, kInt, kBool, kArray, kObject };

bool IsType(simdjson::dom::element v, T t) {
  switch (t) {
    case T::kString:
      return v.type() == element_type::STRING;
    case T::kNumber:
      return v.is_number();
    case T::kInt:
      return v.type() == element_type::INT64 || v.type() == element_type::UINT64;
    case T::kBool:
      return v.type() == element_type::BOOL;
    case T::kArray:
      return v.type() == element_type::ARRAY;
    case T::kObject:
      return v.type() == element_type::OBJECT;
  }
  return false;
}

struct FieldType {
  const char* name;
  T type;
  bool nullable;
};

// EndpointAPIKey as the UI's types.ts reads it (spec §7 / §12).
const std::vector<FieldType>& KeyFields() {
  static const std::vector<FieldType> fields = {
      {"id", T::kString, false},
      {"provider_id", T::kString, false},
      {"api_formats", T::kArray, false},
      {"api_key_masked", T::kString, false},
      {"api_key_plain", T::kString, true},
      {"name", T::kString, false},
      {"rate_multiplier", T::kNumber, false},
      {"rate_multipliers", T::kObject, true},
      {"internal_priority", T::kInt, false},
      {"global_priority", T::kInt, true},
      {"rpm_limit", T::kInt, true},
      {"allowed_models", T::kArray, true},  // or an object, checked separately
      {"capabilities", T::kObject, true},
      {"cache_ttl_minutes", T::kInt, false},
      {"max_probe_interval_minutes", T::kInt, false},
      {"health_by_format", T::kObject, true},
      {"circuit_breaker_by_format", T::kObject, true},
      {"health_score", T::kNumber, false},
      {"consecutive_failures", T::kInt, false},
      {"last_failure_at", T::kString, true},
      {"circuit_breaker_open", T::kBool, false},
      {"circuit_breaker_open_at", T::kString, true},
      {"next_probe_at", T::kString, true},
      {"half_open_until", T::kString, true},
      {"half_open_successes", T::kInt, true},
      {"half_open_failures", T::kInt, true},
      {"request_results_window", T::kArray, true},
      {"request_count", T::kInt, false},
      {"success_count", T::kInt, false},
      {"error_count", T::kInt, false},
      {"success_rate", T::kNumber, false},
      {"avg_response_time_ms", T::kNumber, false},
      {"is_active", T::kBool, false},
      {"is_adaptive", T::kBool, false},
      {"learned_rpm_limit", T::kInt, true},
      {"effective_limit", T::kInt, true},
      {"utilization_samples", T::kArray, true},
      {"last_probe_increase_at", T::kString, true},
      {"concurrent_429_count", T::kInt, true},
      {"rpm_429_count", T::kInt, true},
      {"last_429_at", T::kString, true},
      {"last_429_type", T::kString, true},
      {"note", T::kString, true},
      {"last_used_at", T::kString, true},
      {"created_at", T::kString, false},
      {"updated_at", T::kString, false},
  };
  return fields;
}

// A K4 entry as PriorityManagementDialog reads it (spec §8.4).
const std::vector<FieldType>& GroupedFields() {
  static const std::vector<FieldType> fields = {
      {"id", T::kString, false},
      {"name", T::kString, false},
      {"api_key_masked", T::kString, false},
      {"internal_priority", T::kInt, false},
      {"global_priority", T::kInt, true},
      {"rate_multiplier", T::kNumber, false},
      {"is_active", T::kBool, false},
      {"provider_name", T::kString, false},
      {"api_formats", T::kArray, false},
      {"capabilities", T::kArray, false},
      {"success_rate", T::kNumber, true},
      {"avg_response_time_ms", T::kNumber, true},
      {"request_count", T::kInt, false},
      {"api_format", T::kString, false},
      {"endpoint_base_url", T::kString, true},
      {"health_score", T::kNumber, false},
      {"circuit_breaker_open", T::kBool, false},
  };
  return fields;
}

void ExpectShape(simdjson::dom::element obj, const std::vector<FieldType>& fields,
                 const std::vector<std::string>& order) {
  EXPECT_EQ(Keys(obj), order) << ToJson(obj);
  for (const FieldType& f : fields) {
    simdjson::dom::element v;
    ASSERT_EQ(obj[f.name].get(v), simdjson::SUCCESS) << f.name << " missing in " << ToJson(obj);
    if (v.is_null()) {
      EXPECT_TRUE(f.nullable) << f.name << " is null";
      continue;
    }
    const bool ok = IsType(v, f.type) ||
                    (std::string_view(f.name) == "allowed_models" && IsType(v, T::kObject));
    EXPECT_TRUE(ok) << f.name << " has the wrong type: " << ToJson(v);
  }
}

void ExpectKeyShape(simdjson::dom::element k) {
  ExpectShape(k, KeyFields(), SpecKeyResponseOrder());
}

class ClientCompatTest : public E2eTest {};

TEST_F(ClientCompatTest, AetherAdminUiSequence) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client ui = Admin();

  // 1. Provider and endpoints.
  const std::string provider = CreateProvider(ui, "anthropic-direct");
  const std::string claude = CreateEndpoint(ui, provider, "CLAUDE", "https://api.anthropic.com");
  const std::string openai = CreateEndpoint(ui, provider, "OPENAI", "https://api.openai.com/v1/");
  ASSERT_FALSE(claude.empty());
  ASSERT_FALSE(openai.empty());

  // 2. KeyFormDialog on create: rate_multipliers filtered to the selected formats (never
  //    rate_multiplier), capabilities undefined (absent), rpm_limit null = adaptive.
  struct UiKey {
    std::string id, secret, name;
    std::vector<std::string> formats;
  };
  std::vector<UiKey> keys;
  const std::vector<std::pair<std::string, std::string>> forms = {
      {R"(["CLAUDE","OPENAI"])", R"({"CLAUDE":1.0,"OPENAI":0.8})"},
      {R"(["CLAUDE"])", R"({"CLAUDE":1.2})"},
      {R"(["OPENAI"])", "null"},
      {R"(["CLAUDE"])", "null"},
  };
  for (size_t i = 0; i < forms.size(); ++i) {
    UiKey k;
    k.secret = NewSecret("ui");
    k.name = "key-" + std::to_string(i);
    const std::string rpm = i % 2 == 0 ? "null" : "600";
    TestResponse r = ui.Post(
        KeysOf(provider),
        R"({"api_formats":)" + forms[i].first + R"(,"api_key":)" + Quote(k.secret) + R"(,"name":)" +
            Quote(k.name) + R"(,"rate_multipliers":)" + forms[i].second +
            R"(,"internal_priority":)" + std::to_string(10 * (i + 1)) + R"(,"rpm_limit":)" + rpm +
            R"(,"cache_ttl_minutes":5,"max_probe_interval_minutes":32,"allowed_models":null,"note":""})");
    ASSERT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    ExpectKeyShape(j.root());
    k.id = Str(j.root(), "id").value_or("");
    EXPECT_EQ(Bool(j.root(), "is_adaptive"), rpm == "null");
    EXPECT_EQ(Int(j.root(), "effective_limit"), rpm == "null" ? 50 : 600);
    keys.push_back(k);
  }

  // 3. ProviderDetailDrawer lists the keys (no skip/limit).
  TestResponse list = ui.Get(KeysOf(provider));
  ASSERT_EQ(list.status, 200);
  Json lj(list.body);
  auto items = Items(lj.root());
  ASSERT_EQ(items.size(), keys.size());
  for (size_t i = 0; i < items.size(); ++i) {
    ExpectKeyShape(items[i]);
    EXPECT_EQ(Str(items[i], "id"), keys[i].id) << "by internal_priority";
    EXPECT_EQ(
        Str(items[i], "api_key_masked"),
        keys[i].secret.substr(0, 8) + "***" + keys[i].secret.substr(keys[i].secret.size() - 4));
  }

  // 4. Toggling is_active sends {is_active}.
  for (bool active : {false, true}) {
    TestResponse t =
        ui.Put(KeyPath(keys[1].id), active ? R"({"is_active":true})" : R"({"is_active":false})");
    ASSERT_EQ(t.status, 200) << t.body;
    ExpectKeyShape(Json(t.body).root());
    EXPECT_EQ(Bool(Json(t.body).root(), "is_active"), active);
  }

  // 5. KeyFormDialog on edit: api_key only when typed, capabilities reduced to the true entries
  //    (or null), rpm_limit null switches to adaptive.
  const std::string rotated = NewSecret("ui-rotated");
  TestResponse edit = ui.Put(
      KeyPath(keys[1].id),
      R"({"api_formats":["CLAUDE"],"api_key":)" + Quote(rotated) +
          R"(,"name":"key-1-renamed","rate_multipliers":{"CLAUDE":1.5},"rpm_limit":null,"cache_ttl_minutes":0,"max_probe_interval_minutes":2,"allowed_models":["claude-sonnet-4"],"capabilities":{"cache_1h":true},"note":"rotated"})");
  ASSERT_EQ(edit.status, 200) << edit.body;
  Json ej(edit.body);
  ExpectKeyShape(ej.root());
  EXPECT_EQ(Bool(ej.root(), "is_adaptive"), true);
  EXPECT_EQ(Str(ej.root(), "api_key_masked"),
            rotated.substr(0, 8) + "***" + rotated.substr(rotated.size() - 4));
  keys[1].secret = rotated;
  TestResponse caps_null =
      ui.Put(KeyPath(keys[1].id), R"({"name":"key-1-renamed","capabilities":null})");
  ASSERT_EQ(caps_null.status, 200) << caps_null.body;
  EXPECT_TRUE(IsNull(Json(caps_null.body).root(), "capabilities"));

  // 6. Drag-and-drop reordering: one PUT {internal_priority} per key, all in parallel, each on
  //    its own connection. New order: reversed.
  {
    std::barrier start(static_cast<std::ptrdiff_t>(keys.size()));
    std::vector<int> statuses(keys.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < keys.size(); ++i) {
      threads.emplace_back([&, i] {
        Client c(port(), admin_token_);
        start.arrive_and_wait();
        TestResponse r = c.Put(KeyPath(keys[i].id),
                               R"({"internal_priority":)" + std::to_string(keys.size() - i) + "}");
        statuses[i] = r.status;
        if (r.status == 200) ExpectKeyShape(Json(r.body).root());
      });
    }
    for (auto& t : threads) t.join();
    for (int s : statuses) EXPECT_EQ(s, 200);
    Json reordered(ui.Get(KeysOf(provider)).body);
    std::vector<std::string> ids;
    for (auto k : Items(reordered.root())) ids.push_back(Str(k, "id").value_or(""));
    std::vector<std::string> expected;
    for (auto it = keys.rbegin(); it != keys.rend(); ++it) expected.push_back(it->id);
    EXPECT_EQ(ids, expected);
  }

  // 7. PriorityManagementDialog: GET grouped-by-format directly, display priority
  //    global_priority ?? index+1, then PUT {global_priority} once per (format, key) entry, in
  //    parallel. A key listed under two formats gets two conflicting writes: one of them wins.
  TestResponse grouped = ui.Get(std::string(kEndpointsBase) + "/keys/grouped-by-format");
  ASSERT_EQ(grouped.status, 200) << grouped.body;
  Json gj(grouped.body);
  struct Entry {
    std::string format, id;
    int64_t priority;
  };
  std::vector<Entry> entries;
  for (const std::string& format : Keys(gj.root())) {
    auto list_of_format = Items(gj[format]);
    for (size_t i = 0; i < list_of_format.size(); ++i) {
      ExpectShape(list_of_format[i], GroupedFields(), SpecGroupedEntryOrder());
      EXPECT_EQ(Bool(list_of_format[i], "is_active"), true);
      const int64_t display =
          Int(list_of_format[i], "global_priority").value_or(static_cast<int64_t>(i) + 1);
      // The user moves the last entry of each format to the top.
      const int64_t chosen = i + 1 == list_of_format.size() ? 0 : display;
      entries.push_back({format, Str(list_of_format[i], "id").value_or(""), chosen});
    }
  }
  EXPECT_EQ(Str(Items(gj["CLAUDE"]).at(0), "endpoint_base_url"), "https://api.anthropic.com");
  EXPECT_EQ(Str(Items(gj["OPENAI"]).at(0), "endpoint_base_url"), "https://api.openai.com/v1");
  {
    std::barrier start(static_cast<std::ptrdiff_t>(entries.size()));
    std::vector<int> statuses(entries.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < entries.size(); ++i) {
      threads.emplace_back([&, i] {
        Client c(port(), admin_token_);
        start.arrive_and_wait();
        statuses[i] = c.Put(KeyPath(entries[i].id),
                            R"({"global_priority":)" + std::to_string(entries[i].priority) + "}")
                          .status;
      });
    }
    for (auto& t : threads) t.join();
    for (int s : statuses) EXPECT_EQ(s, 200);
  }
  Json final_list(ui.Get(KeysOf(provider)).body);
  for (auto k : Items(final_list.root())) {
    const std::string id = Str(k, "id").value_or("");
    std::set<int64_t> written;
    for (const Entry& e : entries) {
      if (e.id == id) written.insert(e.priority);
    }
    if (written.empty()) continue;  // an inactive key is not in K4
    const auto gp = Int(k, "global_priority");
    ASSERT_TRUE(gp.has_value()) << ToJson(k);
    EXPECT_TRUE(written.count(*gp)) << "global_priority " << *gp << " was never written";
  }
  // The history shows every write, so the conflict is visible to an auditor.
  Json history(ui.Get(KeyPath(keys[0].id) + "/history").body);
  EXPECT_GE(Items(history["events"]).size(), 3u);

  // 8. Reveal (show and copy): {api_key}.
  for (const UiKey& k : keys) {
    TestResponse r = ui.Get(KeyPath(k.id) + "/reveal");
    ASSERT_EQ(r.status, 200);
    Json rj(r.body);
    EXPECT_EQ(Keys(rj.root()), std::vector<std::string>{"api_key"});
    EXPECT_EQ(Str(rj.root(), "api_key"), k.secret);
  }

  // 9. Delete: the UI reads `message`; the receipt fields come after it.
  TestResponse del = ui.Delete(KeyPath(keys[2].id));
  ASSERT_EQ(del.status, 200) << del.body;
  Json dj(del.body);
  EXPECT_EQ(Str(dj.root(), "message"), "Key " + keys[2].id + " 已删除");
  EXPECT_EQ(Items(Json(ui.Get(KeysOf(provider)).body).root()).size(), keys.size() - 1);

  // 10. The UI's error parser reads error.message first, then detail[].
  TestResponse gone = ui.Put(KeyPath(keys[2].id), R"({"is_active":true})");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(Str(Json(gone.body)["error"], "message"), "Key " + keys[2].id + " 不存在");
  TestResponse invalid = ui.Put(KeyPath(keys[0].id), R"({"rpm_limit":0})");
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(Str(Items(Json(invalid.body)["detail"]).at(0), "msg"),
            "Input should be greater than or equal to 1");
}

}  // namespace
}  // namespace keyledger::e2e
