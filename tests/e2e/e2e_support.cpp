#include "tests/e2e/e2e_support.hpp"

#include <signal.h>

#include <filesystem>
#include <random>
#include <thread>

#include "events/json_writer.hpp"
#include "tests/support/file_scan.hpp"

namespace keyledger::e2e {
namespace {

using Clock = std::chrono::steady_clock;

size_t CountOccurrences(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace

// ---- JSON ----------------------------------------------------------------------------------

Json::Json(std::string_view text) : parser_(std::make_unique<simdjson::dom::parser>()) {
  ok_ = parser_->parse(text.data(), text.size(), true).get(root_) == simdjson::SUCCESS;
}

std::vector<std::string> Keys(simdjson::dom::element e) {
  std::vector<std::string> keys;
  simdjson::dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) return keys;
  for (auto field : obj) keys.emplace_back(field.key);
  return keys;
}

std::optional<std::string> Str(simdjson::dom::element e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v) != simdjson::SUCCESS) return std::nullopt;
  return std::string(v);
}

std::optional<int64_t> Int(simdjson::dom::element e, std::string_view key) {
  int64_t v = 0;
  if (e[key].get_int64().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::optional<double> Num(simdjson::dom::element e, std::string_view key) {
  double v = 0;
  if (e[key].get_double().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::optional<bool> Bool(simdjson::dom::element e, std::string_view key) {
  bool v = false;
  if (e[key].get_bool().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

bool IsNull(simdjson::dom::element e, std::string_view key) {
  simdjson::dom::element v;
  return e[key].get(v) == simdjson::SUCCESS && v.is_null();
}

bool Has(simdjson::dom::element e, std::string_view key) {
  simdjson::dom::element v;
  return e[key].get(v) == simdjson::SUCCESS;
}

std::vector<simdjson::dom::element> Items(simdjson::dom::element e) {
  std::vector<simdjson::dom::element> out;
  simdjson::dom::array a;
  if (e.get_array().get(a) != simdjson::SUCCESS) return out;
  for (auto item : a) out.push_back(item);
  return out;
}

std::string ToJson(simdjson::dom::element e) { return simdjson::to_string(e); }

std::string Quote(std::string_view s) {
  std::string out;
  json::AppendString(out, s);
  return out;
}

// ---- HTTP ----------------------------------------------------------------------------------

Client::Client(uint16_t port, std::string token) : port_(port), token_(std::move(token)) {}

TestResponse Client::Call(std::string_view method, std::string_view target, std::string_view body,
                          const Headers& headers) {
  Headers all;
  if (!token_.empty()) all.emplace_back("Authorization", "Bearer " + token_);
  if (!body.empty()) all.emplace_back("Content-Type", "application/json");
  all.insert(all.end(), headers.begin(), headers.end());
  if (conn_ == nullptr) conn_ = Connection::Open(port_);
  TestResponse r;
  if (conn_ != nullptr && conn_->Send(api::testing::BuildRequest(method, target, all, body))) {
    if (auto got = conn_->ReadResponse(std::chrono::seconds(60), method == "HEAD")) r = *got;
  }
  if (r.status == 0 || !r.keep_alive) conn_.reset();
  records_.push_back({std::string(method), std::string(target), r.status});
  return r;
}

bool SseReader::Open(uint16_t port, const std::string& token, const std::string& target,
                     const Headers& extra) {
  conn_ = Connection::Open(port);
  if (conn_ == nullptr) return false;
  Headers h = {{"Accept", "text/event-stream"}};
  if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
  h.insert(h.end(), extra.begin(), extra.end());
  if (!conn_->Send(api::testing::BuildRequest("GET", target, h))) return false;
  std::string got = conn_->ReadUntil("\r\n\r\n", std::chrono::seconds(30));
  const size_t end = got.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  head_ = got.substr(0, end + 4);
  raw_ = got.substr(end + 4);
  Decode();
  return head_.rfind("HTTP/1.1 200", 0) == 0 &&
         head_.find("text/event-stream") != std::string::npos;
}

void SseReader::Decode() {
  // Chunked framing: "<hex>[;ext]\r\n<data>\r\n" ... "0\r\n\r\n".
  while (true) {
    const size_t line_end = raw_.find("\r\n");
    if (line_end == std::string::npos) return;
    size_t size = 0;
    try {
      size = std::stoul(raw_.substr(0, line_end), nullptr, 16);
    } catch (...) {
      return;
    }
    if (raw_.size() < line_end + 2 + size + 2) return;
    body_ += raw_.substr(line_end + 2, size);
    raw_.erase(0, line_end + 2 + size + 2);
    if (size == 0) {
      ended_ = true;
      return;
    }
  }
}

bool SseReader::WaitEnd(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!ended_) {
    if (conn_ == nullptr) return false;
    if (Clock::now() >= deadline) return false;
    std::string got = conn_->ReadUntil("\x01\x02never\x03", std::chrono::milliseconds(50));
    raw_ += got;
    Decode();
    if (got.empty() && conn_->WaitClosed(std::chrono::milliseconds(1))) return true;
  }
  return true;
}

bool SseReader::WaitFor(std::string_view needle, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (body_.find(needle) == std::string::npos) {
    if (Clock::now() >= deadline || conn_ == nullptr) return false;
    // A needle that never occurs on the wire: returns whatever arrives within the slice.
    raw_ += conn_->ReadUntil("\x01\x02never\x03", std::chrono::milliseconds(50));
    Decode();
  }
  return true;
}

// ---- Fixture -------------------------------------------------------------------------------

const std::vector<std::string>& SpecKeyResponseOrder() {
  static const std::vector<std::string> order = {
      "id",
      "provider_id",
      "api_formats",
      "api_key_masked",
      "api_key_plain",
      "name",
      "rate_multiplier",
      "rate_multipliers",
      "internal_priority",
      "global_priority",
      "rpm_limit",
      "allowed_models",
      "capabilities",
      "cache_ttl_minutes",
      "max_probe_interval_minutes",
      "health_by_format",
      "circuit_breaker_by_format",
      "health_score",
      "consecutive_failures",
      "last_failure_at",
      "circuit_breaker_open",
      "circuit_breaker_open_at",
      "next_probe_at",
      "half_open_until",
      "half_open_successes",
      "half_open_failures",
      "request_results_window",
      "request_count",
      "success_count",
      "error_count",
      "success_rate",
      "avg_response_time_ms",
      "is_active",
      "is_adaptive",
      "learned_rpm_limit",
      "effective_limit",
      "utilization_samples",
      "last_probe_increase_at",
      "concurrent_429_count",
      "rpm_429_count",
      "last_429_at",
      "last_429_type",
      "note",
      "last_used_at",
      "created_at",
      "updated_at",
  };
  return order;
}

const std::vector<std::string>& SpecGroupedEntryOrder() {
  static const std::vector<std::string> order = {
      "id",
      "name",
      "api_key_masked",
      "internal_priority",
      "global_priority",
      "rate_multiplier",
      "is_active",
      "provider_name",
      "api_formats",
      "capabilities",
      "success_rate",
      "avg_response_time_ms",
      "request_count",
      "api_format",
      "endpoint_base_url",
      "health_score",
      "circuit_breaker_open",
  };
  return order;
}

const std::vector<std::string>& SpecEndpointResponseOrder() {
  static const std::vector<std::string> order = {
      "id",         "provider_id", "provider_name", "api_format", "base_url", "custom_path",
      "headers",    "timeout",     "max_retries",   "is_active",  "config",   "proxy",
      "total_keys", "active_keys", "created_at",    "updated_at",
  };
  return order;
}

std::string KeysOf(std::string_view provider_id) {
  return std::string(kEndpointsBase) + "/providers/" + std::string(provider_id) + "/keys";
}
std::string KeyPath(std::string_view key_id) {
  return std::string(kEndpointsBase) + "/keys/" + std::string(key_id);
}
std::string ProviderPath(std::string_view provider_id) {
  return "/api/admin/providers/" + std::string(provider_id);
}

void E2eTest::SetUp() {
  data_dir_ = dir_.Sub("data");
  log_dir_ = dir_.Sub("logs");
  scratch_dir_ = dir_.Sub("scratch");
  std::filesystem::create_directories(log_dir_);
  std::filesystem::create_directories(scratch_dir_);
  daemon_ = std::make_unique<Daemon>(data_dir_, log_dir_);
}

void E2eTest::TearDown() {
  if (daemon_->running()) {
    EXPECT_EQ(daemon_->Stop(SIGTERM), expected_exit_code_)
        << "keyledgerd did not shut down cleanly:\n"
        << daemon_->CurrentStderr();
    // With no request in flight, a graceful stop never has to force connections closed.
    EXPECT_EQ(daemon_->CurrentStderr().find("shutdown grace period over"), std::string::npos)
        << daemon_->CurrentStderr();
  }
  const std::string out = daemon_->AllStdout();
  const std::string err = daemon_->AllStderr();
  for (const std::string& s : secrets_) {
    EXPECT_EQ(out.find(s), std::string::npos) << "a plaintext secret reached stdout";
    EXPECT_EQ(err.find(s), std::string::npos) << "a plaintext secret reached the log: " << s;
  }
  // The daemon's own credentials never reach its log either.
  if (!admin_token_.empty()) {
    EXPECT_EQ(err.find(admin_token_), std::string::npos) << "the admin token reached the log";
  }
  // Nor does any plaintext reach the data directory: the event log, its WAL and SSTs (decoded),
  // snapshots, the tokens file.
  if (!daemon_->running() && std::filesystem::exists(data_dir_)) {
    std::vector<std::string> needles = secrets_;
    if (!admin_token_.empty()) needles.push_back(admin_token_);
    for (const auto& [needle, files] : keyledger::testing::FindInFiles(data_dir_, needles)) {
      for (const std::string& f : files) ADD_FAILURE() << "plaintext " << needle << " in " << f;
    }
  }
}

void E2eTest::StartServer(const std::vector<std::string>& args, SpawnOptions options) {
  args_ = args;
  spawn_options_ = options;
  ASSERT_TRUE(daemon_->Start(args_, spawn_options_)) << daemon_->error();
  if (admin_token_.empty()) {
    admin_token_ = daemon_->InitialToken();
    ASSERT_FALSE(admin_token_.empty()) << "no admin token on the first start's stdout:\n"
                                       << daemon_->AllStdout();
  }
}

std::unique_ptr<Daemon> E2eTest::AnotherNode(const std::string& name) {
  const std::string dir = dir_.Sub(name);
  const std::string logs = dir_.Sub(name + "-logs");
  std::filesystem::create_directories(dir);
  std::filesystem::create_directories(logs);
  for (const char* file : {"master.key", "tokens.json"}) {
    std::filesystem::copy_file(std::filesystem::path(data_dir_) / file,
                               std::filesystem::path(dir) / file);
  }
  return std::make_unique<Daemon>(dir, logs);
}

void E2eTest::RestartServer() {
  ASSERT_EQ(daemon_->Stop(SIGTERM), 0) << daemon_->CurrentStderr();
  EXPECT_EQ(daemon_->CurrentStderr().find("shutdown grace period over"), std::string::npos)
      << daemon_->CurrentStderr();
  ASSERT_TRUE(daemon_->Start(args_, spawn_options_)) << daemon_->error();
}

std::string E2eTest::Secret(std::string plaintext) {
  secrets_.push_back(plaintext);
  return plaintext;
}

std::string E2eTest::NewSecret(std::string_view tag) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string random;
  for (int i = 0; i < 24; ++i) random += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return Secret("sk-ant-api03-" + std::string(tag) + "-" + std::to_string(++secret_counter_) + "-" +
                random);
}

std::string E2eTest::CreateToken(const std::string& name, const std::string& role,
                                 const std::string& expires_in) {
  std::vector<std::string> argv = {
      KeyledgerdPath(),          "token", "create", "--name", name, "--role", role, "--tokens-file",
      data_dir_ + "/tokens.json"};
  if (!expires_in.empty()) {
    argv.push_back("--expires-in");
    argv.push_back(expires_in);
  }
  ProcessResult r = RunProcess(argv, scratch_dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string token = r.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  EXPECT_EQ(token.rfind("kl_", 0), 0u) << "token create printed: " << r.out;
  Secret(token);  // a credential: never in the daemon's output or data directory
  ReloadTokens();
  return token;
}

void E2eTest::ReloadTokens() {
  constexpr std::string_view kReloaded = R"("msg":"tokens file reloaded")";
  const size_t before = CountOccurrences(daemon_->CurrentStderr(), kReloaded);
  ASSERT_TRUE(daemon_->Signal(SIGHUP));
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (CountOccurrences(daemon_->CurrentStderr(), kReloaded) == before) {
    ASSERT_LT(Clock::now(), deadline) << "no reload line after SIGHUP";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

uint64_t E2eTest::HeadSequence() {
  // The signed checkpoint names the head; /readyz is public and shows no figures.
  Client c(port(), admin_token_);
  TestResponse r = c.Get("/api/admin/audit/checkpoint");
  EXPECT_EQ(r.status, 200) << r.body;
  Json j(r.body);
  auto head = j.ok() ? Int(j.root(), "sequence") : std::nullopt;
  EXPECT_TRUE(head.has_value()) << r.body;
  return head ? static_cast<uint64_t>(*head) : 0;
}

std::string E2eTest::CreateProvider(Client& c, const std::string& name, const std::string& extra) {
  TestResponse r = c.Post(kProvidersPath, "{\"name\":" + Quote(name) + extra + "}");
  EXPECT_EQ(r.status, 200) << r.body;
  Json j(r.body);
  auto id = j.ok() ? Str(j.root(), "id") : std::nullopt;
  EXPECT_TRUE(id.has_value()) << r.body;
  return id.value_or("");
}

std::string E2eTest::CreateEndpoint(Client& c, const std::string& provider_id,
                                    const std::string& format, const std::string& base_url) {
  TestResponse r =
      c.Post(std::string(kEndpointsBase) + "/providers/" + provider_id + "/endpoints",
             "{\"provider_id\":" + Quote(provider_id) + ",\"api_format\":" + Quote(format) +
                 ",\"base_url\":" + Quote(base_url) + "}");
  EXPECT_EQ(r.status, 200) << r.body;
  Json j(r.body);
  auto id = j.ok() ? Str(j.root(), "id") : std::nullopt;
  EXPECT_TRUE(id.has_value()) << r.body;
  return id.value_or("");
}

E2eTest::CreatedKey E2eTest::CreateKey(Client& c, const std::string& provider_id,
                                       const std::string& formats, const std::string& secret,
                                       const std::string& name, const std::string& extra) {
  TestResponse r =
      c.Post(KeysOf(provider_id), "{\"api_formats\":" + formats + ",\"api_key\":" + Quote(secret) +
                                      ",\"name\":" + Quote(name) + extra + "}");
  EXPECT_EQ(r.status, 200) << r.body;
  CreatedKey k;
  k.body = r.body;
  k.etag = r.Header("ETag");
  Json j(r.body);
  auto id = j.ok() ? Str(j.root(), "id") : std::nullopt;
  EXPECT_TRUE(id.has_value()) << r.body;
  k.id = id.value_or("");
  return k;
}

}  // namespace keyledger::e2e
