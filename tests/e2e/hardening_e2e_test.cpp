// Hostile clients against the real keyledgerd (issue 13): a flood of distinct method names leaves
// memory and /metrics flat; smuggled and badly framed requests are refused, closed and write
// nothing; an encoded '/' never reaches another route; anonymous callers see no figures; an audit
// stream ends with its token; the number of open streams is bounded.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

using namespace std::chrono_literals;
using api::testing::BuildRequest;

constexpr std::string_view kAuditStream = "/api/admin/audit/stream";

// Resident set of a process in KiB (VmRSS), 0 when unreadable.
uint64_t RssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

class HardeningE2eTest : public E2eTest {
 protected:
  // A provider with one key; returns the key id.
  std::string SeedKey() {
    Client admin = Admin();
    provider_ = CreateProvider(admin, "hardening");
    return CreateKey(admin, provider_, R"(["CLAUDE"])", NewSecret("hardening"), "k").id;
  }

  // Sends raw bytes on a fresh connection; expects one answer with `status`, then the
  // connection closed and no second answer.
  void ExpectRefusedAndClosed(const std::string& bytes, int status) {
    auto c = Connection::Open(port());
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->Send(bytes));
    auto r = c->ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_FALSE(c->ReadResponse(2s).has_value()) << "the rest was parsed as a request";
    EXPECT_TRUE(c->WaitClosed(10s));
  }

  std::string provider_;
};

// 1. Unauthenticated memory exhaustion through method names.
TEST_F(HardeningE2eTest, MethodFloodLeavesMemoryAndMetricsFlat) {
  // Freed memory must show as freed: ASan's quarantine would otherwise hold up to 256 MB of it.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string saved = asan != nullptr ? asan : "";
  setenv("ASAN_OPTIONS", (saved + (saved.empty() ? "" : ":") + "quarantine_size_mb=0").c_str(), 1);
  StartServer();
  setenv("ASAN_OPTIONS", saved.c_str(), 1);
  if (saved.empty()) unsetenv("ASAN_OPTIONS");
  ASSERT_FALSE(HasFatalFailure());

  // Distinct names, none of them a method keyledgerd knows, pipelined in batches of 16 over two
  // connections; `long_every` of them are 8 KB long.
  auto flood = [this](int tag, int count) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        auto c = Connection::Open(port());
        ASSERT_NE(c, nullptr);
        for (int i = 0; i < count / 2; i += 16) {
          std::string batch;
          int n = 0;
          for (int j = i; j < i + 16 && j < count / 2; ++j, ++n) {
            std::string method =
                "F" + std::to_string(tag) + "T" + std::to_string(t) + "N" + std::to_string(j);
            if (j % 1000 == 0) method += std::string(8000, 'X');
            batch += BuildRequest(method, "/healthz");
          }
          ASSERT_TRUE(c->Send(batch));
          for (int k = 0; k < n; ++k) {
            auto r = c->ReadResponse();
            ASSERT_TRUE(r.has_value());
            ASSERT_EQ(r->status, 405);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  Client reader = Admin();
  flood(0, 10'000);  // warm-up: buffers, allocator arenas
  ASSERT_FALSE(HasFatalFailure());
  const uint64_t rss_before = RssKib(daemon_->pid());
  const size_t metrics_before = reader.Get("/metrics").body.size();
  flood(1, 100'000);
  ASSERT_FALSE(HasFatalFailure());
  const uint64_t rss_after = RssKib(daemon_->pid());
  const TestResponse metrics = reader.Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  ASSERT_GT(rss_before, 0u);
  std::printf("method flood: RSS %llu KiB -> %llu KiB, /metrics %zu -> %zu bytes\n",
              static_cast<unsigned long long>(rss_before),
              static_cast<unsigned long long>(rss_after), metrics_before, metrics.body.size());
  // Before the fix: a series per name, tens of MB for 100,000 names and a /metrics of 100+ MB.
  EXPECT_LT(rss_after, rss_before + 16 * 1024)
      << "RSS grew from " << rss_before << " KiB to " << rss_after << " KiB";
  EXPECT_LT(metrics.body.size(), metrics_before + 4 * 1024)
      << "/metrics grew from " << metrics_before << " to " << metrics.body.size() << " bytes";
  EXPECT_NE(
      metrics.body.find(
          R"(keyledger_http_requests_total{method="other",route="unmatched",status="405"} 110000)"),
      std::string::npos);
  EXPECT_EQ(metrics.body.find("F1T0N"), std::string::npos);
}

// 2. Request smuggling and framing: 400 (or 501), connection closed, nothing written.
TEST_F(HardeningE2eTest, SmuggledWritesAreRefusedAndNothingIsWritten) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  const std::string key_id = SeedKey();
  const uint64_t head = HeadSequence();
  // An authenticated provider create hidden in the body of an unauthenticated POST /healthz.
  const std::string body = R"({"name":"smuggled"})";
  const std::string smuggled = BuildRequest(
      "POST", kProvidersPath,
      {{"Authorization", "Bearer " + admin_token_}, {"Content-Type", "application/json"}}, body);
  for (const std::string coding : {"xchunked", "identity", "chunked, identity"}) {
    SCOPED_TRACE(coding);
    ExpectRefusedAndClosed("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: " +
                               coding + "\r\n\r\n" + smuggled,
                           400);
  }
  ExpectRefusedAndClosed("POST /healthz HTTP/1.1\r\n\r\n" + smuggled, 400);  // no Host
  ExpectRefusedAndClosed("DELETE " + std::string(kEndpointsBase) + "/keys/" + key_id +
                             " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer\r\n " +
                             admin_token_ + "\r\n\r\n",
                         400);  // the token folded onto a second line
  EXPECT_EQ(HeadSequence(), head) << "a refused request appended events";
  Client admin = Admin();
  const TestResponse providers = admin.Get(kProvidersPath);
  EXPECT_EQ(providers.body.find("smuggled"), std::string::npos) << providers.body;
  EXPECT_EQ(admin.Get(std::string(kEndpointsBase) + "/providers/" + provider_ + "/keys").status,
            200);
}

// 6. An encoded separator stays inside its segment.
TEST_F(HardeningE2eTest, EncodedSlashNeverReachesRevealOrDelete) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  const std::string key_id = SeedKey();
  const uint64_t head = HeadSequence();
  Client admin = Admin();
  const std::string keys = std::string(kEndpointsBase) + "/keys/";
  TestResponse r = admin.Get(keys + key_id + "%2Freveal");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.body.find("sk-ant"), std::string::npos);
  r = admin.Delete(keys + key_id + "%2Freveal");
  EXPECT_EQ(r.status, 404) << r.body;
  r = admin.Get(keys + key_id + "%2freveal", {{"X-Audit-Reason", "probe"}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(HeadSequence(), head) << "no reveal and no delete may be recorded";
  // The real route still works, with an escape decoded inside the id after matching.
  char escape[4];
  std::snprintf(escape, sizeof(escape), "%%%02X", static_cast<unsigned char>(key_id[0]));
  EXPECT_EQ(admin.Get(keys + escape + key_id.substr(1) + "/reveal").status, 200);
  EXPECT_EQ(HeadSequence(), head + 1);  // the reveal is audited
}

// 7. What anonymous callers see.
TEST_F(HardeningE2eTest, AnonymousCallersSeeNoFiguresAndMetricsHaveTheirOwnListener) {
  StartServer({"--metrics-listen", "127.0.0.1:0"});
  ASSERT_FALSE(HasFatalFailure());
  SeedKey();
  Client anonymous(port());
  EXPECT_EQ(anonymous.Get("/healthz").body, R"({"status":"ok"})");
  EXPECT_EQ(anonymous.Get("/readyz").body, R"({"status":"ready"})");
  TestResponse m = anonymous.Get("/metrics");
  EXPECT_EQ(m.status, 401);
  EXPECT_EQ(m.body.find("keyledger_"), std::string::npos);
  const std::string auditor = CreateToken("prom", "auditor");
  m = As(auditor).Get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("keyledger_keys 1"), std::string::npos) << m.body;

  // The separate listener: /metrics without a token, and nothing else.
  const std::string err = daemon_->CurrentStderr();
  const size_t at = err.find(R"("metrics_url":"http://127.0.0.1:)");
  ASSERT_NE(at, std::string::npos) << err;
  const size_t digits = at + std::string_view(R"("metrics_url":"http://127.0.0.1:)").size();
  const uint16_t metrics_port =
      static_cast<uint16_t>(std::stoi(err.substr(digits, err.find('/', digits) - digits)));
  ASSERT_NE(metrics_port, port());
  Client scraper(metrics_port);
  m = scraper.Get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("keyledger_head_sequence"), std::string::npos);
  EXPECT_EQ(scraper.Get(kProvidersPath).status, 404);
  EXPECT_EQ(scraper.Get("/readyz").status, 404);
}

// 4. A stream ends with its token: revoked (on the reload) or expired (at the next event).
TEST_F(HardeningE2eTest, AuditStreamEndsWhenItsTokenIsRevokedOrExpires) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  const std::string watcher = CreateToken("watcher", "auditor");
  const std::string other = CreateToken("other", "auditor");
  SseReader revoked_stream, kept_stream;
  ASSERT_TRUE(revoked_stream.Open(port(), watcher, std::string(kAuditStream)));
  ASSERT_TRUE(kept_stream.Open(port(), other, std::string(kAuditStream)));
  Client admin = Admin();
  CreateProvider(admin, "before-revoke");
  EXPECT_TRUE(revoked_stream.WaitFor("before-revoke", 10s));
  EXPECT_TRUE(kept_stream.WaitFor("before-revoke", 10s));

  ProcessResult revoked = RunProcess({KeyledgerdPath(), "token", "revoke", "--name", "watcher",
                                      "--tokens-file", data_dir_ + "/tokens.json"},
                                     scratch_dir_);
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  ReloadTokens();
  // Closed by the reload itself, with a last event saying why; no event needed.
  EXPECT_TRUE(revoked_stream.WaitEnd(10s)) << revoked_stream.body();
  EXPECT_NE(revoked_stream.body().find("event: stream-closed"), std::string::npos)
      << revoked_stream.body();
  EXPECT_NE(revoked_stream.body().find(R"("reason":"invalid_token")"), std::string::npos);
  CreateProvider(admin, "after-revoke");
  EXPECT_TRUE(kept_stream.WaitFor("after-revoke", 10s)) << "the other stream must go on";
  EXPECT_EQ(revoked_stream.body().find("after-revoke"), std::string::npos);

  // A token that expires while its stream is open: the next event closes it.
  const std::string brief = CreateToken("brief", "auditor", "2s");
  SseReader expiring;
  ASSERT_TRUE(expiring.Open(port(), brief, std::string(kAuditStream)));
  std::this_thread::sleep_for(3s);
  CreateProvider(admin, "after-expiry");
  EXPECT_TRUE(expiring.WaitEnd(10s)) << expiring.body();
  EXPECT_NE(expiring.body().find(R"("reason":"expired_token")"), std::string::npos)
      << expiring.body();
  EXPECT_EQ(expiring.body().find("after-expiry"), std::string::npos);
}

// The number of open audit streams is bounded (kDefaultMaxAuditStreams = 64).
TEST_F(HardeningE2eTest, OpenAuditStreamsAreBounded) {
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  std::vector<std::unique_ptr<SseReader>> streams;
  for (int i = 0; i < 64; ++i) {
    streams.push_back(std::make_unique<SseReader>());
    ASSERT_TRUE(streams.back()->Open(port(), admin_token_, std::string(kAuditStream))) << i;
  }
  Client admin = Admin();
  TestResponse refused = admin.Get(kAuditStream);
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_NE(refused.body.find("too many open audit streams"), std::string::npos);
  // One ends; its place is free again.
  streams.pop_back();
  bool reopened = false;
  for (int attempt = 0; attempt < 100 && !reopened; ++attempt) {
    auto s = std::make_unique<SseReader>();
    reopened = s->Open(port(), admin_token_, std::string(kAuditStream));
    if (reopened) streams.push_back(std::move(s));
    if (!reopened) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(reopened);
}

}  // namespace
}  // namespace keyledger::e2e
