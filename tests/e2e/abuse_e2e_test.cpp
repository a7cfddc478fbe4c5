// 10,000 malformed requests against a running keyledgerd: random bytes, truncated JSON, huge
// numbers, deep nesting, invalid UTF-8, wrong types, bad queries and headers, oversized headers
// and bodies, broken framing. The daemon must answer each with a proper error (a 4xx with an
// Aether-shaped JSON body; framing errors close the connection after their answer), never crash,
// and never append anything: the head of the log and the signed checkpoint's hash are unchanged.
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

struct Case {
  std::string category;
  std::string bytes;       // the whole request as sent
  std::set<int> statuses;  // acceptable answers
  bool closes = false;     // the server must close the connection after answering
};

class Generator {
 public:
  Generator(uint64_t seed, std::string token, std::string provider_id, std::string key_id,
            std::string endpoint_id)
      : rng_(seed),
        token_(std::move(token)),
        provider_(std::move(provider_id)),
        key_(std::move(key_id)),
        endpoint_(std::move(endpoint_id)) {}

  Case Make(size_t i) {
    // Categories by weight; the total is 10,000 per 10,000 cases.
    static constexpr std::pair<int, Case (Generator::*)()> kTable[] = {
        {1400, &Generator::RandomBytes},    {1500, &Generator::TruncatedJson},
        {800, &Generator::HugeNumbers},     {700, &Generator::DeepNesting},
        {800, &Generator::InvalidUtf8},     {1300, &Generator::WrongTypes},
        {300, &Generator::OversizedHeader}, {300, &Generator::OversizedBody},
        {700, &Generator::BadQuery},        {500, &Generator::BadHeaders},
        {400, &Generator::BadAuth},         {500, &Generator::BrokenFraming},
        {300, &Generator::BadPath},         {500, &Generator::BadMethod},
    };
    int slot = static_cast<int>(i % 10'000);
    for (const auto& [weight, make] : kTable) {
      if (slot < weight) return (this->*make)();
      slot -= weight;
    }
    return RandomBytes();
  }

 private:
  size_t Below(size_t n) { return static_cast<size_t>(rng_() % n); }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(N)];
  }

  Headers Auth() const { return {{"Authorization", "Bearer " + token_}}; }

  std::string Request(std::string_view method, std::string_view target, std::string_view body,
                      Headers headers = {}) {
    Headers all = Auth();
    if (!body.empty()) all.emplace_back("Content-Type", "application/json");
    all.insert(all.end(), headers.begin(), headers.end());
    return api::testing::BuildRequest(method, target, all, body);
  }

  // A body route: its method, path, a valid body, and the status a malformed body gets (the
  // provider POST/PUT routes answer 400 like Aether's hand validation, the rest 422).
  struct BodyRoute {
    std::string name, method, path, valid_body;
    int bad_status;
  };
  BodyRoute Route() {
    const std::string secret = "sk-never-stored-" + std::to_string(rng_());
    switch (Below(8)) {
      case 0:
        return {"key create", "POST", KeysOf(provider_),
                R"({"api_formats":["CLAUDE"],"api_key":")" + secret + R"(","name":"abuse"})", 422};
      case 1:
        return {"key update", "PUT", KeyPath(key_),
                R"({"name":"renamed","note":"x","internal_priority":3})", 422};
      case 2:
        return {"provider create", "POST", std::string(kProvidersPath),
                R"({"name":"abuse-)" + std::to_string(rng_()) + R"(","timeout":30})", 400};
      case 3:
        return {"provider update", "PUT", ProviderPath(provider_),
                R"({"description":"d","max_retries":3})", 400};
      case 4:
        return {"provider patch", "PATCH", ProviderPath(provider_),
                R"({"description":"d","max_retries":3})", 422};
      case 5:
        return {"endpoint create", "POST",
                std::string(kEndpointsBase) + "/providers/" + provider_ + "/endpoints",
                R"({"provider_id":")" + provider_ +
                    R"(","api_format":"OPENAI","base_url":"https://api.example.com/v1"})",
                422};
      case 6:
        return {"endpoint update", "PUT", std::string(kEndpointsBase) + "/" + endpoint_,
                R"({"base_url":"https://other.example.com","timeout":30})", 422};
      default:
        return {
            "health reports", "POST", std::string(kEndpointsBase) + "/keys/health-reports",
            R"({"reports":[{"key_id":")" + key_ +
                R"(","api_format":"CLAUDE","successes":1,"failures":0,"total_response_time_ms":5,"at":"2026-01-13T05:00:00Z"}]})",
            422};
    }
  }

  Case RandomBytes() {
    std::string bytes;
    const size_t n = 1 + Below(1500);
    for (size_t k = 0; k < n; ++k) {
      char c = static_cast<char>(rng_() & 0xFF);
      // A request head ends at the first empty line: keep the garbage in one piece.
      if (c == '\n' || c == '\r') c = '#';
      bytes += c;
    }
    return {"random bytes", bytes + "\r\n\r\n", {400}, true};
  }

  Case TruncatedJson() {
    BodyRoute r = Route();
    const size_t cut = 1 + Below(r.valid_body.size() - 1);  // a proper, non-empty prefix
    return {"truncated json, " + r.name,
            Request(r.method, r.path, r.valid_body.substr(0, cut)),
            {r.bad_status}};
  }

  Case HugeNumbers() {
    static const char* kNumbers[] = {"1e400",
                                     "-1e400",
                                     "123456789012345678901234567890123456789",
                                     "-99999999999999999999999",
                                     "1e99999",
                                     "9223372036854775808",
                                     "-9223372036854775809",
                                     "18446744073709551616",
                                     "1.7976931348623157e309",
                                     "4e-400e5"};
    const std::string number = Pick(kNumbers);
    const std::string long_digits = "7" + std::string(1 + Below(20000), '3');
    const std::string n = Below(4) == 0 ? long_digits : number;
    static const char* kKeyFields[] = {
        "rpm_limit",         "internal_priority",          "global_priority",
        "cache_ttl_minutes", "max_probe_interval_minutes", "rate_multiplier"};
    if (Below(3) == 0) {
      const std::string body = R"({"timeout":)" + n + R"(,"max_retries":)" + n + "}";
      return {"huge numbers endpoint",
              Request("PUT", std::string(kEndpointsBase) + "/" + endpoint_, body),
              {422}};
    }
    const std::string field = Pick(kKeyFields);
    if (field == "rate_multiplier") {
      // A large positive integer is a finite float >= 0.01, a valid multiplier: only overflowing
      // and negative numbers are malformed here.
      static const char* kBadMultipliers[] = {"1e400", "-1e400", "1e99999",
                                              "-99999999999999999999999"};
      return {"huge numbers rate_multiplier",
              Request("PUT", KeyPath(key_),
                      std::string(R"({"rate_multiplier":)") + Pick(kBadMultipliers) + "}"),
              {422}};
    }
    return {
        "huge numbers key", Request("PUT", KeyPath(key_), "{\"" + field + "\":" + n + "}"), {422}};
  }

  Case DeepNesting() {
    const size_t depth = 65 + Below(Below(4) == 0 ? 100'000 : 500);
    std::string body;
    switch (Below(3)) {
      case 0:
        body = std::string(depth, '[') + std::string(depth, ']');
        break;
      case 1:
        for (size_t k = 0; k < depth; ++k) body += R"({"a":)";
        body += "1" + std::string(depth, '}');
        break;
      default:
        body = R"({"api_formats":["CLAUDE"],"name":"n","api_key":)" + std::string(depth, '[') +
               std::string(depth, ']') + "}";
        break;
    }
    BodyRoute r = Route();
    return {"deep nesting, " + r.name, Request(r.method, r.path, body), {r.bad_status}};
  }

  Case InvalidUtf8() {
    static const char* kBad[] = {
        "\xff", "\xc0\xaf",         "\xed\xa0\x80", "\xe2\x82", "\xf8\x88\x80\x80\x80",
        "\x80", "\xf4\x90\x80\x80", "\xc3"};
    const std::string bad = Pick(kBad);
    std::string body;
    switch (Below(4)) {
      case 0:
        body = R"({"api_formats":["CLAUDE"],"api_key":"sk-)" + bad + R"(-x","name":"n"})";
        break;
      case 1:
        body = R"({"api_formats":["CLAUDE"],"api_key":"sk-valid-but-unused","name":"n)" + bad +
               R"("})";
        break;
      case 2:
        body = R"({"api_formats":["CLA)" + bad + R"(UDE"],"api_key":"sk-valid-2","name":"n"})";
        break;
      default:
        body = R"({"api_formats":["CLAUDE"],"api_key":"sk-valid-3","name":"n",")" + bad + R"(":1})";
        break;
    }
    return {"invalid utf-8", Request("POST", KeysOf(provider_), body), {422}};
  }

  Case WrongTypes() {
    static const char* kKeyCreate[] = {
        R"({"api_formats":"CLAUDE","api_key":"sk-w-1","name":"n"})",
        R"({"api_formats":[5],"api_key":"sk-w-2","name":"n"})",
        R"({"api_formats":["CLAUDE"],"api_key":5,"name":"n"})",
        R"({"api_formats":["CLAUDE"],"api_key":"sk-w-3","name":["n"]})",
        R"({"api_formats":["CLAUDE"],"api_key":"sk-w-4","name":"n","is_active":"maybe"})",
        R"({"api_formats":["CLAUDE"],"api_key":"sk-w-5","name":"n","rpm_limit":12.5})",
        R"({"api_formats":["CLAUDE"],"api_key":"sk-w-6","name":"n","rpm_limit":[1]})",
        R"({"api_formats":["CLAUDE"],"api_key":"sk-w-7","name":"n","allowed_models":5})",
        R"({"api_formats":["CLAUDE"],"api_key":"sk-w-8","name":"n","capabilities":{"cache_1h":"x"}})",
        R"({"api_formats":["CLAUDE"],"api_key":"sk-w-9","name":"n","rate_multipliers":{"CLAUDE":"x"}})",
        R"({"api_formats":["CLAUDE"],"api_key":"sk-w-10","name":"n","note":{}})",
        R"({"api_formats":["CLAUDE"],"api_key":null,"name":"n"})",
        R"([{"api_formats":["CLAUDE"],"api_key":"sk-w-11","name":"n"}])",
        R"("a string")",
        R"(42)",
        R"(null)",
        R"(true)",
    };
    static const char* kKeyUpdate[] = {
        R"({"name":null})",
        R"({"is_active":null})",
        R"({"internal_priority":null})",
        R"({"api_formats":null})",
        R"({"api_key":null})",
        R"({"api_formats":[]})",
        R"({"is_active":"maybe"})",
        R"({"cache_ttl_minutes":"x"})",
        R"({"name":""})",
        R"([])",
        R"({"rate_multiplier":"fast"})",
    };
    static const char* kProvider[] = {
        R"({"name":5})",
        R"({"name":"x","timeout":"slow"})",
        R"({"name":"x","is_active":"maybe"})",
        R"({"name":"x","proxy":"socks"})",
        R"({"name":"x","billing_type":"gratis"})",
        R"([])",
    };
    switch (Below(4)) {
      case 0:
      case 1:
        return {
            "wrong types key create", Request("POST", KeysOf(provider_), Pick(kKeyCreate)), {422}};
      case 2:
        return {"wrong types key update", Request("PUT", KeyPath(key_), Pick(kKeyUpdate)), {422}};
      default:
        return {"wrong types provider",
                Request("POST", std::string(kProvidersPath), Pick(kProvider)),
                {400}};
    }
  }

  Case OversizedHeader() {
    const size_t n = 17 * 1024 + Below(48 * 1024);
    Headers h = {{"X-Padding", std::string(n, 'p')}};
    return {"oversized header", Request("GET", KeysOf(provider_), "", h), {431}, true};
  }

  Case OversizedBody() {
    if (Below(15) == 0) {
      // Really sent: a chunked body over the 1 MiB limit.
      const size_t n = (1 << 20) + 1 + Below(64 * 1024);
      std::string chunk(n, 'x');
      std::string bytes =
          "POST " + KeysOf(provider_) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
          token_ + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", n);
      bytes += size + chunk + "\r\n0\r\n\r\n";
      return {"oversized chunked body", bytes, {413}, true};
    }
    // Announced only: the answer must not wait for the body.
    const uint64_t n = (uint64_t{1} << 20) + 1 + rng_() % 4'000'000'000ull;
    std::string bytes = "PUT " + KeyPath(key_) +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token_ +
                        "\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n{\"name\":";
    return {"oversized announced body", bytes, {413}, true};
  }

  Case BadQuery() {
    static const char* kKeys[] = {"skip=-1",      "limit=0",
                                  "limit=1001",   "limit=abc",
                                  "skip=1.5",     "as_of_seq=x",
                                  "as_of_seq=-1", "as_of=yesterday",
                                  "limit=",       "as_of_seq=1&as_of=2026-01-01T00:00:00Z"};
    static const char* kAudit[] = {"after=-5",   "limit=0",        "limit=5000",
                                   "type=Bogus", "since=notatime", "type=KeyCreated,Nope",
                                   "after=x"};
    static const char* kProviders[] = {"limit=501", "skip=-3", "is_active=maybe", "limit=x"};
    switch (Below(5)) {
      case 0:
      case 1:
        return {"bad query keys", Request("GET", KeysOf(provider_) + "?" + Pick(kKeys), ""), {422}};
      case 2:
        return {"bad query audit",
                Request("GET", std::string("/api/admin/audit/events?") + Pick(kAudit), ""),
                {422}};
      case 3:
        return {"bad query providers",
                Request("GET", std::string(kProvidersPath) + "?" + Pick(kProviders), ""),
                {422}};
      default:
        return {"bad query grouped",
                Request("GET",
                        std::string(kEndpointsBase) +
                            "/keys/grouped-by-format?as_of_seq=" + (Below(2) ? "abc" : "-7"),
                        ""),
                {422}};
    }
  }

  Case BadHeaders() {
    static const char* kIfMatch[] = {"garbage", "\"abc\"", "W/", "\"\"", "12345678901234567890123",
                                     "\"-1\""};
    switch (Below(3)) {
      case 0:
        // A valid update with a bad If-Match: refused before anything is decided.
        return {"bad If-Match",
                Request("PUT", KeyPath(key_), R"({"note":"never written"})",
                        {{"If-Match", Pick(kIfMatch)}}),
                {400}};
      case 1: {
        std::string key = Below(2) ? std::string(256 + Below(100), 'k') : "bad\x01key";
        return {"bad Idempotency-Key",
                Request("PUT", KeyPath(key_), R"({"note":"never written either"})",
                        {{"Idempotency-Key", key}}),
                {400}};
      }
      default:
        // A reveal would append KeyRevealed; a bad reason must stop it first.
        return {"bad X-Audit-Reason",
                Request("GET", KeyPath(key_) + "/reveal", "",
                        {{"X-Audit-Reason", Below(2) ? std::string(1025 + Below(2000), 'r')
                                                     : std::string("why\x01not")}}),
                {400}};
    }
  }

  Case BadAuth() {
    static const char* kAuth[] = {"Bearer kl_0000000000000000000000000000000000000000",
                                  "Basic YWRtaW46YWRtaW4=",
                                  "Bearer",
                                  "Bearer a.b.c",
                                  "bearer   ",
                                  "Token kl_x",
                                  "Bearer eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoiMSJ9."};
    std::string bytes = "POST " + KeysOf(provider_) +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + Pick(kAuth) +
                        "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    return {"bad credentials", bytes, {401, 429}};
  }

  Case BrokenFraming() {
    const std::string target = KeyPath(key_);
    const std::string head = "PUT " + target +
                             " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token_ +
                             "\r\n";
    switch (Below(6)) {
      case 0:
        return {"bad chunk size",
                head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
                {400},
                true};
      case 1:
        return {"two content lengths",
                head + "Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}",
                {400},
                true};
      case 2:
        return {"negative content length", head + "Content-Length: -2\r\n\r\n{}", {400}, true};
      case 3:
        return {"bad version", "PUT " + target + " HTTP/9.Z\r\nHost: x\r\n\r\n", {400}, true};
      case 4:
        return {"header without colon", head + "NoColonHere\r\n\r\n", {400}, true};
      default:
        return {"space in header name", head + "Bad Name: v\r\n\r\n", {400}, true};
    }
  }

  Case BadPath() {
    static const char* kPaths[] = {"/api/admin/endpoints/keys/%zz/reveal",
                                   "/api/admin/endpoints/keys/%00",
                                   "/api/admin/../../etc/passwd",
                                   "/api/admin/endpoints/providers//keys",
                                   "/%ff%fe",
                                   "/api/admin/endpoints/keys/a/b/c/d"};
    if (Below(4) == 0) {
      std::string long_path = std::string(kEndpointsBase) + "/providers/" +
                              std::string(4000 + Below(8000), 'a') + "/keys";
      return {"long path", Request("GET", long_path, ""), {404}};
    }
    // Unknown ids answer 404 not_found; unmatched paths 404 {"detail":...}; a bad escape may be
    // refused as a bad request.
    return {"bad path", Request("GET", Pick(kPaths), ""), {400, 404, 405}};
  }

  Case BadMethod() {
    static const char* kMethods[] = {"FOO", "TRACE", "CONNECTX", "PROPFIND", "OPTIONS", "PATCH"};
    // Every path here exists for other methods only.
    const std::string paths[] = {KeysOf(provider_),
                                 std::string(kEndpointsBase) + "/keys/grouped-by-format",
                                 "/api/admin/audit/checkpoint", KeyPath(key_) + "/reveal"};
    return {"wrong method", Request(Pick(kMethods), paths[Below(4)], "{}"), {405}};
  }

  std::mt19937_64 rng_;
  std::string token_, provider_, key_, endpoint_;
};

bool IsErrorBody(const TestResponse& r) {
  Json j(r.body);
  if (!j.ok()) {
    // A 422 echoes a rejected number literally (1e99999, 40-digit integers): valid JSON that
    // simdjson refuses to hold. Only then fall back to checking the shape's frame.
    simdjson::dom::parser p;
    const auto code = p.parse(r.body).error();
    if (code != simdjson::NUMBER_OUT_OF_RANGE && code != simdjson::NUMBER_ERROR) {
      return false;
    }
    return r.body.rfind(R"({"detail":[{"type":")", 0) == 0 && r.body.back() == '}';
  }
  if (Has(j.root(), "detail")) return true;
  simdjson::dom::element error;
  if (j.root()["error"].get(error) != simdjson::SUCCESS) return false;
  return Str(error, "type").has_value() && Str(error, "message").has_value();
}

class AbuseTest : public E2eTest {};

TEST_F(AbuseTest, TenThousandMalformedRequestsChangeNothing) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "abuse-target");
  const std::string endpoint =
      CreateEndpoint(admin, provider, "CLAUDE", "https://api.anthropic.example");
  const CreatedKey key = CreateKey(admin, provider, R"(["CLAUDE"])", NewSecret("abuse"), "target");
  ASSERT_FALSE(key.id.empty());

  auto checkpoint = [&] {
    TestResponse r = admin.Get("/api/admin/audit/checkpoint");
    EXPECT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    return std::make_pair(Int(j.root(), "sequence").value_or(-1),
                          Str(j.root(), "hash").value_or(""));
  };
  const uint64_t head_before = HeadSequence();
  const auto checkpoint_before = checkpoint();
  const std::string key_list_before = admin.Get(KeysOf(provider)).body;

  constexpr size_t kCases = 10'000;
  constexpr int kThreads = 4;
  std::mutex mu;
  std::map<std::string, std::map<int, int>> tally;  // category -> status -> count
  std::vector<std::string> failures;
  std::atomic<size_t> answered{0};
  auto worker = [&](int t) {
    Generator gen(0x5eed0000u + static_cast<uint64_t>(t), admin_token_, provider, key.id, endpoint);
    std::unique_ptr<Connection> conn;
    for (size_t i = static_cast<size_t>(t); i < kCases; i += kThreads) {
      Case c = gen.Make(i);
      if (conn == nullptr) conn = Connection::Open(port());
      std::string problem;
      std::optional<TestResponse> r;
      if (conn == nullptr) {
        problem = "cannot connect";
      } else if (!conn->Send(c.bytes)) {
        // The server may close while a large request is still being sent (413 and 431 are
        // answered before the rest arrives); the answer is then already in the socket.
        r = conn->ReadResponse(std::chrono::seconds(30));
        if (!r) problem = "send failed and no answer";
      } else {
        r = conn->ReadResponse(std::chrono::seconds(30));
        if (!r) problem = "no answer";
      }
      if (r) {
        answered.fetch_add(1);
        if (!c.statuses.count(r->status)) {
          problem = "status " + std::to_string(r->status) + ": " + r->body.substr(0, 300);
        } else if (!IsErrorBody(*r)) {
          problem = "not an error body: " + r->body.substr(0, 300);
        } else if (c.closes && r->keep_alive) {
          problem = "framing error answered without closing the connection";
        }
      }
      {
        std::lock_guard lock(mu);
        tally[c.category][r ? r->status : 0]++;
        if (!problem.empty() && failures.size() < 50) {
          failures.push_back("case " + std::to_string(i) + " (" + c.category + "): " + problem);
        }
      }
      if (!r || !r->keep_alive || c.closes) conn.reset();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();

  for (const std::string& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(answered.load(), kCases);
  std::string summary;
  for (const auto& [category, statuses] : tally) {
    summary += category + ":";
    for (const auto& [status, n] : statuses) {
      summary += " " + std::to_string(status) + "x" + std::to_string(n);
    }
    summary += "\n";
  }
  RecordProperty("statuses", summary);
  SCOPED_TRACE(summary);

  // Still alive, nothing appended, nothing changed.
  EXPECT_TRUE(daemon_->running());
  EXPECT_EQ(HeadSequence(), head_before);
  EXPECT_EQ(checkpoint().first, checkpoint_before.first);
  EXPECT_EQ(checkpoint().second, checkpoint_before.second);
  TestResponse list = admin.Get(KeysOf(provider));
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body, key_list_before);
  // And it still serves a valid write.
  TestResponse ok = admin.Put(KeyPath(key.id), R"({"note":"after the storm"})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(HeadSequence(), head_before + 1);
}

}  // namespace
}  // namespace keyledger::e2e
