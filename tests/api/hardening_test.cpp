// Hostile clients against the in-process server (issue 13): metric labels from closed sets under
// a flood of distinct method names, strict framing (RFC 9112 §6.3, §3.2, §5.2), routing on raw
// path segments, and TLS that refuses what has no forward secrecy or no AEAD.
#include <openssl/ssl.h>

#include <thread>

#include "tests/api/server_fixture.hpp"

namespace keyledger::api::testing {
namespace {

using namespace std::chrono_literals;

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

size_t CountLines(const std::string& text, std::string_view prefix) {
  size_t n = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = text.find('\n', pos);
    if (text.compare(pos, prefix.size(), prefix) == 0) ++n;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return n;
}

class HardeningTest : public ServerFixture {
 protected:
  // Sends `request` on a fresh connection and expects exactly one answer with `status`, then the
  // connection closed: whatever followed the refused header is never parsed as a request.
  void ExpectRefusedAndClosed(const std::string& request, int status) {
    auto c = Connection::Open(port());
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->Send(request));
    auto r = c->ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_FALSE(r->keep_alive);
    EXPECT_FALSE(c->ReadResponse(2s).has_value()) << "a second response: the body was parsed";
    EXPECT_TRUE(c->WaitClosed(10s));
  }

  // How many requests reached `route` (from the request counter).
  double Hits(std::string_view route) {
    const std::string text = metrics_.Render();
    double total = 0;
    const std::string needle = "route=\"" + std::string(route) + "\"";
    for (size_t pos = 0;
         (pos = text.find("keyledger_http_requests_total{", pos)) != std::string::npos;) {
      const size_t end = text.find('\n', pos);
      const std::string line = text.substr(pos, end - pos);
      if (Contains(line, needle)) total += std::stod(line.substr(line.rfind(' ') + 1));
      pos = end;
    }
    return total;
  }
};

// ---- 1. Metric labels come from closed sets

TEST_F(HardeningTest, DistinctMethodNamesDoNotGrowTheMetrics) {
  StartServer();
  ASSERT_EQ(Get("/echo").status, 200);
  const size_t before = metrics_.Render().size();

  // 100,000 requests, each with a method name never seen before, over four connections in
  // batches of 16 (the server's pipeline limit), plus a few 8 KB names.
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25'000;
  constexpr int kBatch = 16;
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto c = Connection::Open(port());
      ASSERT_NE(c, nullptr);
      for (int i = 0; i < kPerThread; i += kBatch) {
        std::string batch;
        for (int j = i; j < i + kBatch && j < kPerThread; ++j) {
          batch += BuildRequest("M" + std::to_string(t) + "X" + std::to_string(j), "/echo");
        }
        ASSERT_TRUE(c->Send(batch));
        for (int j = i; j < i + kBatch && j < kPerThread; ++j) {
          auto r = c->ReadResponse();
          ASSERT_TRUE(r.has_value());
          ASSERT_EQ(r->status, 405);
          answered.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(answered.load(), kThreads * kPerThread);
  for (char fill : {'A', 'B', 'C'}) {
    EXPECT_EQ(Fetch(port(), std::string(8000, fill), "/nope").status, 404);
  }

  const std::string text = metrics_.Render();
  // Two new series per family (method "other", answered 405 and 404), not one per name.
  EXPECT_LT(text.size(), before + 8 * 1024) << "the metrics grew with the method names";
  EXPECT_TRUE(Contains(
      text,
      R"(keyledger_http_requests_total{method="other",route="unmatched",status="405"} 100000)"))
      << text;
  EXPECT_TRUE(Contains(
      text, R"(keyledger_http_requests_total{method="other",route="unmatched",status="404"} 3)"));
  EXPECT_FALSE(Contains(text, "M0X1"));
  EXPECT_EQ(CountLines(text, "keyledger_http_requests_total{"), 3u) << text;
  // The log names the method, cut short.
  bool long_line = false;
  for (const std::string& line : LogLines()) long_line |= line.size() > 2000;
  EXPECT_FALSE(long_line) << "a log line carried a whole 8 KB method name";
}

TEST_F(HardeningTest, KnownMethodsKeepTheirLabel) {
  StartServer();
  for (const char* m : {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"}) {
    Fetch(port(), m, "/echo");
  }
  Fetch(port(), "get", "/echo");  // methods are case-sensitive: "get" is not GET
  const std::string text = metrics_.Render();
  for (const char* m : {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"}) {
    EXPECT_TRUE(Contains(text, "keyledger_http_requests_total{method=\"" + std::string(m) + "\""))
        << m;
  }
  EXPECT_TRUE(Contains(text, R"(keyledger_http_requests_total{method="other")"));
}

// ---- 2. Framing: RFC 9112 §6.3 (Transfer-Encoding), §3.2 (Host), §5.2 (obs-fold)

TEST_F(HardeningTest, TransferEncodingNotEndingInChunkedIs400AndNothingIsSmuggled) {
  StartServer();
  // An authenticated request hidden in the body of an unauthenticated one.
  const std::string smuggled =
      BuildRequest("GET", "/admin-only", {{"Authorization", "Bearer " + admin_token_}});
  for (const std::string coding :
       {"xchunked", "identity", "chunked, identity", "chunked , gzip", "CHUNKED;x"}) {
    SCOPED_TRACE(coding);
    const std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding +
                             "\r\nContent-Type: application/json\r\n\r\n";
    ExpectRefusedAndClosed(head + smuggled, 400);
  }
  // The same coding twice, across two field lines.
  ExpectRefusedAndClosed(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: "
      "xchunked\r\n\r\n" +
          smuggled,
      400);
  // Transfer-Encoding in HTTP/1.0 is faulty framing.
  ExpectRefusedAndClosed(
      "POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
      400);
  // A coding we cannot decode before chunked: 501, and the connection closes too.
  ExpectRefusedAndClosed(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" +
          smuggled,
      501);
  EXPECT_EQ(Hits("/admin-only"), 0) << "a smuggled request was executed";
  EXPECT_EQ(Hits("/echo"), 0);
  EXPECT_EQ(Hits("invalid"), 8);

  // Plain chunked still works, and so does the connection after it.
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(
      c->Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\n{}\r\n0\r\n\r\n" +
              BuildRequest("GET", "/echo")));
  for (int i = 0; i < 2; ++i) {
    auto r = c->ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(HardeningTest, HostIsRequiredOnceOnHttp11) {
  StartServer();
  ExpectRefusedAndClosed("GET /echo HTTP/1.1\r\n\r\n", 400);
  ExpectRefusedAndClosed("GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  ExpectRefusedAndClosed("GET /echo HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  EXPECT_EQ(Hits("/echo"), 0);
  // HTTP/1.0 may omit it.
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send("GET /echo HTTP/1.0\r\n\r\n"));
  auto r = c->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST_F(HardeningTest, ObsoleteLineFoldingIs400) {
  StartServer();
  ExpectRefusedAndClosed("GET /admin-only HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n " +
                             admin_token_ + "\r\n\r\n",
                         400);
  ExpectRefusedAndClosed("GET /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\t2\r\n\r\n", 400);
  // Whitespace before the first field line is folding too.
  ExpectRefusedAndClosed("GET /echo HTTP/1.1\r\n Host: x\r\n\r\n", 400);
  EXPECT_EQ(Hits("/admin-only") + Hits("/echo"), 0);
  // Arriving byte by byte changes nothing.
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  for (char ch : std::string("GET /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n")) {
    ASSERT_TRUE(c->Send(std::string(1, ch)));
  }
  auto r = c->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  // Tabs and spaces inside a value are fine.
  EXPECT_EQ(Get("/echo", {{"X-A", "1 \t 2"}}).status, 200);
}

TEST_F(HardeningTest, HeaderArrivingInPiecesAndPipelinedStillWorks) {
  StartServer();
  auto c = Connection::Open(port());
  ASSERT_NE(c, nullptr);
  const std::string two = BuildRequest("GET", "/echo?a=1") + BuildRequest("GET", "/echo?a=2");
  for (size_t i = 0; i < two.size(); i += 7) ASSERT_TRUE(c->Send(two.substr(i, 7)));
  for (const char* a : {"a\",\"1", "a\",\"2"}) {
    auto r = c->ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(Contains(r->body, a)) << r->body;
  }
}

// ---- 6. Routes match raw segments; parameters are decoded after matching

TEST_F(HardeningTest, EncodedSlashNeverReachesAnotherRoute) {
  StartServer();
  const Headers admin = Bearer(admin_token_);
  // "%2F" keeps "k1%2Freveal" one segment: it is not the reveal route, and no key id holds '/'.
  TestResponse r = Get("/keys/k1%2Freveal", admin);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.body, R"({"detail":"Not Found"})");
  r = Fetch(port(), "DELETE", "/keys/k1%2Freveal", admin);
  EXPECT_EQ(r.status, 404) << r.body;
  r = Get("/keys/k1%2freveal", admin);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Hits("/keys/{key_id}/reveal") + Hits("/keys/{key_id}"), 0);
  // Other escapes decode after matching, as before.
  r = Get("/keys/k%31/reveal", admin);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(Contains(r.body, R"("params":[["key_id","k1"]])")) << r.body;
  EXPECT_EQ(Get("/e%63ho").status, 200);
  // A redirect keeps the client's own encoding.
  r = Get("/provider%73");
  EXPECT_EQ(r.status, 307);
  EXPECT_EQ(r.Header("Location"), "/provider%73/");
}

// ---- 5. TLS: 1.3, or 1.2 with ECDHE and AEAD only

class TlsHardeningTest : public ServerFixture {
 protected:
  void StartTls() {
    const std::string cert = dir_.Sub("cert.pem");
    const std::string key = dir_.Sub("key.pem");
    // RSA, so that RSA key exchange would be possible if the server allowed it.
    ASSERT_TRUE(GenerateSelfSignedCert(cert, key, CertKey::kRsa2048));
    ServerConfig config = TestConfig();
    config.tls = TlsConfig{cert, key};
    StartServer(config);
  }
};

TEST_F(TlsHardeningTest, RefusesSuitesWithoutForwardSecrecyOrAead) {
  StartTls();
  const int v12 = TLS1_2_VERSION;
  struct Case {
    const char* ciphers;
    bool accepted;
  };
  const Case cases[] = {{"AES128-SHA", false},                 // RSA key exchange, CBC, SHA-1
                        {"AES256-GCM-SHA384", false},          // RSA key exchange, AEAD
                        {"ECDHE-RSA-AES128-SHA", false},       // forward secret, but CBC with SHA-1
                        {"ECDHE-RSA-AES256-SHA384", false},    // forward secret, CBC
                        {"DHE-RSA-AES128-GCM-SHA256", false},  // finite-field DHE: not offered
                        {"ECDHE-RSA-AES128-GCM-SHA256", true},   // ECDHE + AEAD
                        {"ECDHE-RSA-AES256-GCM-SHA384", true},   // ECDHE + AEAD
                        {"ECDHE-RSA-CHACHA20-POLY1305", true}};  // ECDHE + AEAD
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ciphers);
    const std::string got = TlsHandshake(port(), {.max_version = v12, .ciphers = c.ciphers});
    if (c.accepted) {
      EXPECT_EQ(got, std::string("TLSv1.2 ") + c.ciphers);
    } else {
      EXPECT_EQ(got, "");
    }
  }
  // TLS 1.1 and 1.0 are refused; TLS 1.3 is served.
  EXPECT_EQ(TlsHandshake(port(), {.max_version = TLS1_1_VERSION}), "");
  EXPECT_EQ(TlsHandshake(port(), {.max_version = TLS1_VERSION}), "");
  EXPECT_EQ(TlsHandshake(port(), {.min_version = TLS1_3_VERSION}).rfind("TLSv1.3 TLS_", 0), 0u);
  // A default client negotiates TLS 1.3.
  EXPECT_EQ(TlsHandshake(port(), {}).rfind("TLSv1.3 ", 0), 0u);
  // The server still answers after the refused handshakes.
  auto conn = Connection::Open(port(), dir_.Sub("cert.pem"));
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Send(BuildRequest("GET", "/echo")));
  auto r = conn->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace keyledger::api::testing
