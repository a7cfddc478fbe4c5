// The live OpenAPI document against the live routes: every documented (method, path) is routed
// (never 404 or 405 when called with real ids), no other method is routed on a documented path,
// x-required-role matches what the server enforces, every $ref resolves, and the response
// schemas list the members of live responses in the order the server emits them.
#include <map>
#include <set>

#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

void CollectRefs(simdjson::dom::element e, std::vector<std::string>& refs) {
  if (e.is_object()) {
    for (auto field : simdjson::dom::object(e)) {
      if (field.key == "$ref") {
        std::string_view ref;
        if (field.value.get_string().get(ref) == simdjson::SUCCESS) refs.emplace_back(ref);
      } else {
        CollectRefs(field.value, refs);
      }
    }
  } else if (e.is_array()) {
    for (auto item : simdjson::dom::array(e)) CollectRefs(item, refs);
  }
}

std::vector<std::string> PropertyNames(const Json& doc, std::string_view schema) {
  return Keys(doc["components"]["schemas"][schema]["properties"]);
}

std::vector<std::string> RequiredNames(const Json& doc, std::string_view schema) {
  std::vector<std::string> out;
  for (auto r : Items(doc["components"]["schemas"][schema]["required"])) {
    std::string_view s;
    if (r.get_string().get(s) == simdjson::SUCCESS) out.emplace_back(s);
  }
  return out;
}

// Whether a path template ("/a/{id}/b") matches a concrete path, as the router matches: literal
// segments equal, a parameter any non-empty segment.
bool TemplateMatches(std::string_view pattern, std::string_view path) {
  auto split = [](std::string_view s) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
      const size_t slash = s.find('/', start);
      parts.push_back(s.substr(start, slash == std::string_view::npos ? slash : slash - start));
      if (slash == std::string_view::npos) return parts;
      start = slash + 1;
    }
  };
  const auto a = split(pattern);
  const auto b = split(path);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool param = a[i].size() > 2 && a[i].front() == '{' && a[i].back() == '}';
    if (param ? b[i].empty() : a[i] != b[i]) return false;
  }
  return true;
}

class OpenApiTest : public E2eTest {};

TEST_F(OpenApiTest, TheLiveDocumentDescribesTheLiveRoutes) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  const std::string auditor = CreateToken("reader", "auditor");
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "documented");
  const std::string endpoint = CreateEndpoint(admin, provider, "CLAUDE", "https://c.example");
  const CreatedKey key = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("doc"), "k");

  Client anonymous(port());
  TestResponse r = anonymous.Get("/openapi.json");
  ASSERT_EQ(r.status, 200);
  Json doc(r.body);
  ASSERT_TRUE(doc.ok()) << r.body.substr(0, 500);
  EXPECT_EQ(Str(doc.root(), "openapi"), "3.1.0");

  // Every $ref resolves to a component.
  std::vector<std::string> refs;
  CollectRefs(doc.root(), refs);
  ASSERT_FALSE(refs.empty());
  const std::vector<std::string> components = Keys(doc["components"]["schemas"]);
  const std::set<std::string> known(components.begin(), components.end());
  std::set<std::string> used;
  for (const std::string& ref : refs) {
    ASSERT_EQ(ref.rfind("#/components/schemas/", 0), 0u) << ref;
    const std::string name = ref.substr(std::string("#/components/schemas/").size());
    EXPECT_TRUE(known.count(name)) << "unresolved $ref " << ref;
    used.insert(name);
  }
  // The routes' own schema names are all there (and used).
  for (const char* name :
       {"EndpointAPIKeyCreate", "EndpointAPIKeyUpdate", "EndpointAPIKeyResponse",
        "CreateProviderRequest", "UpdateProviderRequest", "ProviderUpdateRequest",
        "ProviderWithEndpointsSummary", "ProviderEndpointCreate", "ProviderEndpointUpdate",
        "ProviderEndpointResponse", "HealthReportBatch", "SystemConfigUpdate", "SystemConfigValue",
        "SystemConfigResponse", "ApiFormatList", "ModelCapabilities"}) {
    EXPECT_TRUE(used.count(name)) << name;
  }

  // Every documented operation is routed: called with real ids it never answers 404 or 405.
  // Deletes go last, key before endpoint before provider.
  struct Op {
    std::string method, path, role;
  };
  std::vector<Op> ops;
  std::map<std::string, std::set<std::string>> methods_of;
  simdjson::dom::object paths;
  ASSERT_EQ(doc["paths"].get_object().get(paths), simdjson::SUCCESS);
  for (auto path : paths) {
    for (auto op : simdjson::dom::object(path.value)) {
      std::string method(op.key);
      for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ops.push_back(
          {method, std::string(path.key), Str(op.value, "x-required-role").value_or("?")});
      methods_of[std::string(path.key)].insert(method);
    }
  }
  EXPECT_GE(ops.size(), 30u);
  auto rank = [](const Op& o) {
    if (o.method != "DELETE") return 0;
    if (o.path.find("{key_id}") != std::string::npos) return 1;
    if (o.path.find("{endpoint_id}") != std::string::npos) return 2;
    return 3;
  };
  std::stable_sort(ops.begin(), ops.end(),
                   [&](const Op& a, const Op& b) { return rank(a) < rank(b); });
  auto concrete = [&](std::string path) {
    for (const auto& [param, value] :
         std::vector<std::pair<std::string, std::string>>{{"{provider_id}", provider},
                                                          {"{endpoint_id}", endpoint},
                                                          {"{key_id}", key.id},
                                                          {"{key}", "scheduling_mode"},
                                                          {"{model_name}", "claude-sonnet-4"}}) {
      for (size_t at = path.find(param); at != std::string::npos; at = path.find(param)) {
        path.replace(at, param.size(), value);
      }
    }
    return path;
  };
  Client reader(port(), auditor);
  for (const Op& op : ops) {
    SCOPED_TRACE(op.method + " " + op.path);
    const std::string target = concrete(op.path);
    if (op.path == "/api/admin/audit/stream") {
      SseReader stream;
      EXPECT_TRUE(stream.Open(port(), admin_token_, target)) << stream.head();
      continue;
    }
    // The role the document names is the one enforced (403s do not count toward the failure
    // limit, so the auditor probes every route).
    if (op.role == "admin") {
      TestResponse denied = reader.Call(op.method, target, op.method == "GET" ? "" : "{}");
      EXPECT_EQ(denied.status, 403) << denied.body;
    } else if (op.role == "auditor") {
      EXPECT_NE(reader.Call(op.method, target).status, 403);
    } else {
      EXPECT_EQ(op.role, "public");
      TestResponse open = anonymous.Call(op.method, target);
      EXPECT_EQ(open.status, 200) << open.body.substr(0, 200);
    }
    // Bodies: "{}" is enough to reach the handler (a 422 or 400 is a routed answer).
    const bool has_body = op.method == "POST" || op.method == "PUT" || op.method == "PATCH";
    TestResponse answer = admin.Call(op.method, target, has_body ? "{}" : "");
    EXPECT_NE(answer.status, 404) << answer.body;
    EXPECT_NE(answer.status, 405) << answer.body;
    EXPECT_LT(answer.status, 500) << answer.body;
  }

  // No undocumented method is routed on a documented path.
  for (const auto& [path, methods] : methods_of) {
    const std::string target = concrete(path);
    for (const char* m : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      if (methods.count(m)) continue;
      // Another documented template may match the same path for this method (Starlette-style
      // matching: PUT /keys/health-reports is K3 with key_id "health-reports"); otherwise the
      // answer must be 405: nothing undocumented is routed.
      bool other_template = false;
      for (const auto& [p2, m2] : methods_of) {
        if (p2 != path && m2.count(m) && TemplateMatches(p2, target)) other_template = true;
      }
      if (other_template) continue;
      TestResponse a = admin.Call(m, target, std::string_view(m) == "GET" ? "" : "{}");
      EXPECT_EQ(a.status, 405) << m << " " << path << ": " << a.body;
    }
  }
}

TEST_F(OpenApiTest, ResponseSchemasListTheLiveMembersInOrder) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  Json doc(admin.Get("/openapi.json").body);
  ASSERT_TRUE(doc.ok());
  const std::string provider =
      CreateProvider(admin, "schema", R"(,"proxy":{"url":"http://p.example"})");
  TestResponse ep =
      admin.Post(std::string(kEndpointsBase) + "/providers/" + provider + "/endpoints",
                 R"({"provider_id":")" + provider +
                     R"(","api_format":"CLAUDE","base_url":"https://c.example"})");
  ASSERT_EQ(ep.status, 200) << ep.body;
  const CreatedKey key = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("schema"), "k");

  const std::vector<std::string> key_members = Keys(Json(key.body).root());
  EXPECT_EQ(PropertyNames(doc, "EndpointAPIKeyResponse"), key_members);
  EXPECT_EQ(RequiredNames(doc, "EndpointAPIKeyResponse"), key_members);
  EXPECT_EQ(key_members, SpecKeyResponseOrder());

  const std::vector<std::string> endpoint_members = Keys(Json(ep.body).root());
  EXPECT_EQ(PropertyNames(doc, "ProviderEndpointResponse"), endpoint_members);
  EXPECT_EQ(RequiredNames(doc, "ProviderEndpointResponse"), endpoint_members);

  const std::vector<std::string> summary_members =
      Keys(Json(admin.Get(ProviderPath(provider) + "/summary").body).root());
  EXPECT_EQ(PropertyNames(doc, "ProviderWithEndpointsSummary"), summary_members);
  EXPECT_EQ(RequiredNames(doc, "ProviderWithEndpointsSummary"), summary_members);

  // Request schemas name the fields the server reads: a body with every documented optional
  // field of EndpointAPIKeyUpdate set to a valid value is accepted.
  std::vector<std::string> update = PropertyNames(doc, "EndpointAPIKeyUpdate");
  EXPECT_EQ(update, (std::vector<std::string>{"api_formats", "api_key", "name", "rate_multiplier",
                                              "rate_multipliers", "internal_priority",
                                              "global_priority", "rpm_limit", "allowed_models",
                                              "capabilities", "cache_ttl_minutes",
                                              "max_probe_interval_minutes", "is_active", "note"}));
  const std::vector<std::string> create = PropertyNames(doc, "EndpointAPIKeyCreate");
  EXPECT_EQ(RequiredNames(doc, "EndpointAPIKeyCreate"),
            (std::vector<std::string>{"api_key", "name"}));
  for (const std::string& f : update) {
    EXPECT_NE(std::find(create.begin(), create.end(), f), create.end()) << f;
  }
  EXPECT_EQ(RequiredNames(doc, "ProviderEndpointCreate"),
            (std::vector<std::string>{"provider_id", "api_format", "base_url"}));
  EXPECT_EQ(RequiredNames(doc, "CreateProviderRequest"), std::vector<std::string>{"name"});
  EXPECT_EQ(RequiredNames(doc, "HealthReportBatch"), std::vector<std::string>{"reports"});
}

}  // namespace
}  // namespace keyledger::e2e
