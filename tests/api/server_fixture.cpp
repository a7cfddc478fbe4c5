#include "tests/api/server_fixture.hpp"

#include <stdexcept>

#include "events/json_writer.hpp"

namespace keyledger::api::testing {

Worker::Worker() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      if (tasks_.empty()) {
        if (stop_) return;
        cv_.wait(lock);
        continue;
      }
      auto next = std::min_element(tasks_.begin(), tasks_.end(),
                                   [](const Task& a, const Task& b) { return a.due < b.due; });
      // Copy the deadline: tasks_ may reallocate while the lock is released.
      const auto due = next->due;
      if (!stop_ && due > std::chrono::steady_clock::now()) {
        cv_.wait_until(lock, due);
        continue;
      }
      std::function<void()> fn = std::move(next->fn);
      tasks_.erase(next);
      lock.unlock();
      fn();
      lock.lock();
    }
  });
}

Worker::~Worker() { Stop(); }

void Worker::After(std::chrono::milliseconds delay, std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back({std::chrono::steady_clock::now() + delay, std::move(fn)});
  }
  cv_.notify_all();
}

void Worker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

namespace {

std::string Echo(const Request& req) {
  json::Writer w;
  w.BeginObject().Member("method", req.method).Member("path", req.path);
  w.Member("target", req.target).Member("route", req.route_pattern);
  w.Key("params").BeginArray();
  for (const auto& [k, v] : req.path_params) w.BeginArray().String(k).String(v).EndArray();
  w.EndArray().Key("query").BeginArray();
  for (const auto& [k, v] : req.query) w.BeginArray().String(k).String(v).EndArray();
  w.EndArray();
  w.Member("body_size", static_cast<uint64_t>(req.body.size()));
  w.Member("actor", req.Actor()).Member("request_id", req.request_id);
  w.Member("x_test", req.Header("x-test").value_or("<none>"));
  w.Member("client_ip", req.client_ip);
  w.EndObject();
  return w.Take();
}

Handler EchoHandler() {
  return [](const RequestPtr& req, Responder respond) { respond(Response::Json(200, Echo(*req))); };
}

}  // namespace

ServerConfig ServerFixture::TestConfig() {
  ServerConfig c;
  c.address = "127.0.0.1";
  c.port = 0;
  c.threads = 2;
  c.read_timeout = std::chrono::seconds(20);
  c.write_timeout = std::chrono::seconds(20);
  c.idle_timeout = std::chrono::seconds(20);
  c.shutdown_grace = std::chrono::seconds(20);
  return c;
}

void ServerFixture::SetUp() {
  tokens_file_ = dir_.Sub("tokens.json");
  admin_token_ = GenerateManagementToken();
  auditor_token_ = GenerateManagementToken();
  expired_token_ = GenerateManagementToken();
  fenced_token_ = GenerateManagementToken();
  ASSERT_OK(WriteTokensFileAtomic(
      tokens_file_,
      {{"ops", TokenSha256Hex(admin_token_), Role::kAdmin, std::nullopt, {}, ""},
       {"reader", TokenSha256Hex(auditor_token_), Role::kAuditor, std::nullopt, {}, ""},
       {"old", TokenSha256Hex(expired_token_), Role::kAdmin, 1000000000, {}, ""},
       {"fenced", TokenSha256Hex(fenced_token_), Role::kAdmin, std::nullopt, {"10.0.0.0/8"}, ""}}));
  AuthConfig auth;
  auth.tokens_file = tokens_file_;
  auth.jwt_secret = std::string(kJwtSecret);
  ASSERT_OK_AND_ASSIGN(auth_, Authenticator::Create(auth, &logger_, &metrics_));

  auto add = [this](RouteSpec spec) { ASSERT_OK(router_.Add(std::move(spec))); };
  add({.method = "GET", .pattern = "/echo", .access = Access::kPublic, .handler = EchoHandler()});
  add({.method = "POST", .pattern = "/echo", .access = Access::kPublic, .handler = EchoHandler()});
  add({.method = "GET",
       .pattern = "/admin-only",
       .access = Access::kAdmin,
       .handler = EchoHandler()});
  add({.method = "GET",
       .pattern = "/auditor-read",
       .access = Access::kAuditor,
       .handler = EchoHandler()});
  add({.method = "GET",
       .pattern = "/slow",
       .access = Access::kPublic,
       .handler = [this](const RequestPtr& req, Responder respond) {
         const int ms = std::stoi(std::string(req->Query("ms").value_or("100")));
         slow_started_.fetch_add(1);
         worker_.After(std::chrono::milliseconds(ms),
                       [req, respond] { respond(Response::Json(200, Echo(*req))); });
       }});
  add({.method = "GET",
       .pattern = "/async",
       .access = Access::kPublic,
       .handler = [this](const RequestPtr& req, Responder respond) {
         worker_.After(std::chrono::milliseconds(0),
                       [req, respond] { respond(Response::Json(200, Echo(*req))); });
       }});
  add({.method = "GET",
       .pattern = "/throw",
       .access = Access::kPublic,
       .handler = [](const RequestPtr&, Responder) -> void {
         throw std::runtime_error("kaboom internal detail");
       }});
  add({.method = "GET",
       .pattern = "/drop",
       .access = Access::kPublic,
       .handler = [](const RequestPtr&, Responder) {}});
  add({.method = "GET",
       .pattern = "/stream",
       .access = Access::kAuditor,
       .streaming = true,
       .handler = [this](const RequestPtr&, Responder respond) {
         std::shared_ptr<EventStream> stream = respond.StartEventStream({{"X-Stream", "yes"}});
         ASSERT_NE(stream, nullptr);
         stream->OnClose([this] { streams_closed_.fetch_add(1); });
         stream->Send("hello", "world", "1");
         std::lock_guard<std::mutex> lock(stream_mu_);
         stream_ = std::move(stream);
       }});
  add({.method = "GET",
       .pattern = "/not-streaming",
       .access = Access::kPublic,
       .handler = [](const RequestPtr&, Responder respond) {
         EXPECT_EQ(respond.StartEventStream(), nullptr);
       }});
  add({.method = "PUT",
       .pattern = "/keys/{key_id}",
       .access = Access::kAdmin,
       .handler = EchoHandler()});
  add({.method = "GET",
       .pattern = "/keys/grouped-by-format",
       .access = Access::kAuditor,
       .handler = EchoHandler()});
  add({.method = "GET",
       .pattern = "/keys/{key_id}/reveal",
       .access = Access::kAdmin,
       .handler = EchoHandler()});
  add({.method = "DELETE",
       .pattern = "/keys/{key_id}",
       .access = Access::kAdmin,
       .handler = EchoHandler()});
  add({.method = "GET",
       .pattern = "/providers/",
       .access = Access::kPublic,
       .handler = EchoHandler()});
}

void ServerFixture::StartServer(ServerConfig config) {
  server_ = std::make_unique<HttpServer>(config, router_, auth_.get(), logger_, &metrics_);
  ASSERT_OK(server_->Start());
  ASSERT_NE(server_->port(), 0);
}

void ServerFixture::TearDown() {
  worker_.Stop();
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    stream_.reset();
  }
  if (server_ != nullptr) server_->Stop();
  server_.reset();
}

std::shared_ptr<EventStream> ServerFixture::WaitStream() {
  std::shared_ptr<EventStream> out;
  WaitFor([&] {
    std::lock_guard<std::mutex> lock(stream_mu_);
    out = stream_;
    return out != nullptr;
  });
  return out;
}

std::vector<std::string> ServerFixture::LogLines() {
  std::lock_guard<std::mutex> lock(log_mu_);
  return log_lines_;
}

bool ServerFixture::WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace keyledger::api::testing
