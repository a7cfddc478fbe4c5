#pragma once
// An in-process keyledger HTTP server on 127.0.0.1:0 with dummy routes, for tests that speak real
// HTTP to it. Routes (see server_fixture.cpp):
//   GET|POST /echo                    public   JSON echo of what the handler saw
//   GET  /admin-only                  admin
//   GET  /auditor-read                auditor
//   GET  /slow?ms=N                   public   answers from a worker thread after N ms
//   GET  /async                       public   answers from a worker thread at once
//   GET  /throw                       public   throws
//   GET  /drop                        public   drops its Responder without answering
//   GET  /stream                      auditor  SSE: sends event "hello", then whatever tests push
//   PUT|DELETE /keys/{key_id}         admin    echo; GET /keys/grouped-by-format (auditor) echo,
//   GET  /keys/{key_id}/reveal        admin    registered after PUT /keys/{key_id}
//   GET  /providers/                  public   echo (for the trailing-slash redirect)

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/auth.hpp"
#include "api/http_server.hpp"
#include "api/logger.hpp"
#include "api/metrics.hpp"
#include "api/router.hpp"
#include "tests/api/test_client.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::api::testing {

// Runs callbacks on one background thread after a delay.
class Worker {
 public:
  Worker();
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  void After(std::chrono::milliseconds delay, std::function<void()> fn);
  // Runs everything still queued now, then joins.
  void Stop();

 private:
  struct Task {
    std::chrono::steady_clock::time_point due;
    std::function<void()> fn;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Task> tasks_;
  bool stop_ = false;
  std::thread thread_;
};

inline constexpr std::string_view kJwtSecret = "fixture-jwt-secret";

class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Defaults: port 0, 2 threads, and generous timeouts (tests shorten what they exercise).
  static ServerConfig TestConfig();
  void StartServer(ServerConfig config = TestConfig());
  uint16_t port() const { return server_->port(); }

  TestResponse Get(std::string_view target, const Headers& headers = {}) {
    return Fetch(port(), "GET", target, headers);
  }
  Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }
  std::string Jwt(std::string_view payload) { return SignJwtHs256(payload, kJwtSecret); }

  // The stream opened by the latest GET /stream (waits, bounded); nullptr if none appears.
  std::shared_ptr<EventStream> WaitStream();
  // Log lines captured so far.
  std::vector<std::string> LogLines();
  // Waits (bounded) until `pred` holds.
  static bool WaitFor(const std::function<bool()>& pred,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

  keyledger::testing::TempDir dir_;
  std::string tokens_file_;
  std::string admin_token_, auditor_token_, expired_token_, fenced_token_;

  std::mutex log_mu_;
  std::vector<std::string> log_lines_;
  Logger logger_{LogLevel::kDebug, [this](std::string_view line) {
                   std::lock_guard<std::mutex> lock(log_mu_);
                   log_lines_.emplace_back(line);
                 }};
  MetricsRegistry metrics_;
  Router router_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<HttpServer> server_;
  Worker worker_;

  // The latest SSE stream opened through GET /stream, and how many streams have ended.
  std::mutex stream_mu_;
  std::shared_ptr<EventStream> stream_;
  std::atomic<int> streams_closed_{0};
  // GET /slow handlers entered so far (the request is then in flight).
  std::atomic<int> slow_started_{0};
};

}  // namespace keyledger::api::testing
