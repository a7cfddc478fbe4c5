// libFuzzer target: what the HTTP server does with the bytes of a request. Beast parses the header
// (and the body, with the server's limits); then the session's own checks run on it (obsolete
// line folding in the raw bytes, the framing rules: Host, Transfer-Encoding) and the request goes
// through the Dispatcher as a session hands it over: X-Request-Id, CORS preflight, the target
// check, routing on the raw path, authentication (no Authenticator: the admin route answers 500),
// the handler, and the finished answer's log line and metrics.
// Seeds (tests/fuzz/corpus/http_request) include the smuggling cases and a flood of method names.
// Every input must give an answer or an error: never crash, leak, hang or trip a sanitizer.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>

#include "api/cors.hpp"
#include "api/dispatcher.hpp"
#include "api/http_framing.hpp"
#include "api/logger.hpp"
#include "api/metrics.hpp"
#include "api/router.hpp"
#include "api/text.hpp"

namespace {

namespace http = boost::beast::http;
using keyledger::api::Router;

using keyledger::api::Access;
using keyledger::api::Dispatcher;
using keyledger::api::NameValue;
using keyledger::api::Response;

const Router& Routes() {
  static const Router* router = [] {
    auto* r = new Router();
    const auto echo = [](const keyledger::api::RequestPtr& req, keyledger::api::Responder respond) {
      Response answer = Response::Json(200, req->path);
      for (const auto& [name, value] : req->query) answer.headers.emplace_back(name, value);
      respond(std::move(answer));
    };
    for (const char* pattern :
         {"/api/admin/endpoints/keys/{key_id}", "/api/admin/endpoints/keys/{key_id}/reveal",
          "/api/admin/endpoints/keys/grouped-by-format", "/api/admin/providers/", "/healthz"}) {
      (void)r->Add(
          {.method = "GET", .pattern = pattern, .access = Access::kPublic, .handler = echo});
    }
    (void)r->Add({.method = "PUT",
                  .pattern = "/api/admin/endpoints/keys/{key_id}",
                  .access = Access::kAdmin,
                  .handler = echo});
    return r;
  }();
  return *router;
}

// Everything the dispatcher needs, made once: a logger and metrics that go nowhere but are
// formatted in full, and a CORS policy so preflights are exercised too.
const Dispatcher& Dispatch() {
  // Each part is held by a static pointer of its own: the dispatcher keeps only the metrics'
  // entries, and LeakSanitizer counts a registry reachable from nowhere as leaked.
  static auto* logger =
      new keyledger::api::Logger(keyledger::LogLevel::kDebug, [](std::string_view) {});
  static auto* metrics = new keyledger::api::MetricsRegistry();
  static const Dispatcher* dispatcher = [] {
    auto cors = std::make_shared<const keyledger::api::CorsPolicy>(
        std::vector<std::string>{"https://admin.example"});
    return new Dispatcher(Routes(), nullptr, *logger, metrics, cors);
  }();
  return *dispatcher;
}

// Keeps the answer; the fuzzer only needs it to exist and be well-formed.
class Sink final : public keyledger::api::ResponseSink {
 public:
  void Finish(Response response) override { answers.push_back(std::move(response)); }
  std::shared_ptr<keyledger::api::EventStream> StartStream(std::vector<NameValue>) override {
    return nullptr;
  }
  std::vector<Response> answers;
};

void Touch(size_t n) {
  volatile size_t sink = n;
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Touch(keyledger::api::HasObsoleteLineFolding(input) ? 1 : 0);

  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1024 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  std::string_view rest = input;
  while (!rest.empty() && !parser.is_done()) {
    const size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec || used == 0) break;
    rest.remove_prefix(used);
  }
  if (!parser.is_header_done()) return 0;

  const auto& msg = parser.get();
  const auto hosts = msg.equal_range(http::field::host);
  std::vector<std::string_view> codings;
  const auto te = msg.equal_range(http::field::transfer_encoding);
  for (auto it = te.first; it != te.second; ++it) {
    codings.emplace_back(it->value().data(), it->value().size());
  }
  const auto problem = keyledger::api::CheckFraming(
      msg.version(), static_cast<size_t>(std::distance(hosts.first, hosts.second)), codings);
  Touch(problem ? problem->message.size() : 0);

  const std::string_view method(msg.method_string().data(), msg.method_string().size());
  Touch(keyledger::api::MethodLabel(method).size());
  Touch(keyledger::api::LoggedMethod(method).size());

  std::string_view target(msg.target().data(), msg.target().size());
  const std::string_view raw_path = target.substr(0, target.find('?'));
  if (!raw_path.empty() && raw_path.front() == '/') {
    const auto match = Routes().Match(method, raw_path);
    Touch(match.params.size() + match.redirect_path.size());
  }
  if (problem) return 0;  // the session rejects it before dispatch

  keyledger::api::Request req;
  req.method = std::string(method);
  req.target = std::string(target);
  for (const auto& field : msg) {
    req.headers.emplace_back(
        keyledger::api::AsciiLower({field.name_string().data(), field.name_string().size()}),
        std::string(field.value().data(), field.value().size()));
  }
  req.body = msg.body();
  req.client_ip = "127.0.0.1";
  auto sink = std::make_shared<Sink>();
  Dispatch().Dispatch(std::move(req), sink);
  // Every request gets exactly one finished answer, with X-Request-Id first.
  if (sink->answers.size() != 1 || sink->answers[0].headers.empty() ||
      sink->answers[0].headers[0].first != "X-Request-Id") {
    __builtin_trap();
  }
  return 0;
}
