#include "api/dispatcher.hpp"

#include <chrono>
#include <exception>
#include <utility>

#include "api/auth.hpp"
#include "api/cors.hpp"
#include "api/errors.hpp"
#include "api/http_framing.hpp"
#include "api/logger.hpp"
#include "api/metrics.hpp"
#include "api/router.hpp"
#include "api/text.hpp"
#include "events/crypto.hpp"

namespace keyledger::api {

using Clock = std::chrono::steady_clock;

// What one request's log line, metrics and finishing need, gathered as it moves through
// Dispatch (and then owned by the AnswerSink its handler answers through).
struct Dispatcher::Exchange {
  std::string method = "-";  // as sent, UTF-8 repaired
  std::string path = "-";    // decoded, without the query
  std::string route;         // the pattern, "unmatched", "invalid" or "cors-preflight"
  std::string request_id;
  std::string actor;  // the principal's name, "" on public routes
  std::string client_ip;
  std::optional<std::string> origin;  // the Origin header, for CORS
  Clock::time_point start{};
};

// What a handler's Responder delivers to: finishes the answer, then passes it to the transport.
class Dispatcher::AnswerSink final : public ResponseSink {
 public:
  AnswerSink(const Dispatcher& dispatcher, Exchange exchange, std::shared_ptr<ResponseSink> next,
             bool streaming)
      : dispatcher_(dispatcher),
        exchange_(std::move(exchange)),
        next_(std::move(next)),
        streaming_(streaming) {}

  void Finish(Response response) override {
    next_->Finish(dispatcher_.Finish(exchange_, std::move(response)));
  }

  std::shared_ptr<EventStream> StartStream(std::vector<NameValue> headers) override {
    if (!streaming_) return nullptr;  // the Responder answers 500 through Finish
    dispatcher_.FinishStreamHeaders(exchange_, headers);
    std::shared_ptr<EventStream> stream = next_->StartStream(std::move(headers));
    if (stream != nullptr) dispatcher_.Record(exchange_, 200, "");
    return stream;
  }

 private:
  const Dispatcher& dispatcher_;
  const Exchange exchange_;
  const std::shared_ptr<ResponseSink> next_;
  const bool streaming_;
};

namespace {

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

// Logs an exception from `route`'s handler and answers 500 unless the handler already answered.
void HandlerThrew(Logger& logger, const Responder& responder, const RouteSpec& route,
                  std::string_view what) {
  const std::string text =
      "handler " + route.method + " " + route.pattern + " threw: " + std::string(what);
  if (responder.answered()) {
    logger.Log(LogLevel::kError, "handler threw after answering", {{"error", text}});
    return;
  }
  responder.Respond(SystemErrorResponse(text));
}

}  // namespace

std::string AcceptRequestId(std::optional<std::string_view> header) {
  if (header && IsValidRequestId(*header)) return std::string(*header);
  return crypto::RandomUuid();
}

Dispatcher::Dispatcher(const Router& router, Authenticator* auth, Logger& logger,
                       MetricsRegistry* metrics, std::shared_ptr<const CorsPolicy> cors)
    : router_(router), auth_(auth), logger_(logger), cors_(std::move(cors)) {
  if (metrics != nullptr) {
    requests_ = &metrics->AddCounter("keyledger_http_requests_total",
                                     "HTTP requests answered, by method, route and status.",
                                     {"method", "route", "status"});
    latency_ = &metrics->AddHistogram(
        "keyledger_http_request_duration_seconds",
        "Time from the end of the request header to the answer, by method, route and status.",
        DefaultLatencyBuckets(), {"method", "route", "status"});
  }
}

Dispatcher::~Dispatcher() = default;

bool Dispatcher::Dispatch(Request request, std::shared_ptr<ResponseSink> sink) const {
  auto req = std::make_shared<Request>(std::move(request));
  const std::string_view target = req->target;
  const size_t q = target.find('?');
  const std::string_view raw_path = target.substr(0, q);
  const std::string_view raw_query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  req->path = PercentDecode(raw_path, false);
  req->query = ParseQuery(raw_query);
  req->request_id = AcceptRequestId(req->Header("x-request-id"));

  Exchange x;
  x.method = SanitizeUtf8(req->method);
  x.path = req->path;
  x.request_id = req->request_id;
  x.client_ip = req->client_ip;
  x.start = req->received_at;
  if (auto origin = req->Header("origin")) x.origin = std::string(*origin);

  // Answers without a handler: `route` labels the log line and the metrics.
  const auto answer = [&](std::string route, Response response) {
    x.route = std::move(route);
    sink->Finish(Finish(x, std::move(response)));
    return false;
  };

  if (cors_ != nullptr) {
    if (std::optional<Response> preflight = cors_->Preflight(*req)) {
      x.origin.reset();  // the preflight answer carries its own CORS headers
      return answer("cors-preflight", std::move(*preflight));
    }
  }
  if (raw_path.empty() || raw_path.front() != '/') {
    return answer("invalid", HttpErrorResponse(400, "Invalid request target"));
  }

  RouteMatch match = router_.Match(req->method, raw_path);
  switch (match.kind) {
    case RouteMatch::Kind::kNotFound:
      return answer("unmatched", DetailResponse(404, "Not Found"));
    case RouteMatch::Kind::kMethodNotAllowed: {
      Response r = DetailResponse(405, "Method Not Allowed");
      r.headers.emplace_back("Allow", std::move(match.allow));
      return answer("unmatched", std::move(r));
    }
    case RouteMatch::Kind::kRedirect: {
      Response r = Response::Text(307, "", "");
      std::string location = std::move(match.redirect_path);  // raw, as the client encoded it
      if (!raw_query.empty()) {
        location += '?';
        location += raw_query;
      }
      r.headers.emplace_back("Location", std::move(location));
      return answer("unmatched", std::move(r));
    }
    case RouteMatch::Kind::kFound:
      break;
  }

  const RouteSpec& route = *match.route;
  req->route_pattern = route.pattern;
  req->path_params = std::move(match.params);
  if (route.access != Access::kPublic) {
    if (auth_ == nullptr) {
      return answer(route.pattern,
                    SystemErrorResponse("route requires auth but no Authenticator configured"));
    }
    Authenticator::Outcome outcome =
        auth_->Authenticate(req->Header("authorization"), req->client_ip, route.access);
    if (!outcome.ok()) {
      Response r = std::move(outcome.error);
      r.log_note = "auth: " + std::string(outcome.failure_reason);
      return answer(route.pattern, std::move(r));
    }
    x.actor = outcome.principal->name;
    req->principal = std::move(outcome.principal);
  }

  x.route = route.pattern;
  Responder responder(
      std::make_shared<AnswerSink>(*this, std::move(x), std::move(sink), route.streaming));
  try {
    route.handler(req, responder);
  } catch (const std::exception& e) {
    HandlerThrew(logger_, responder, route, e.what());
  } catch (...) {
    HandlerThrew(logger_, responder, route, "non-standard exception");
  }
  return route.streaming;
}

Response Dispatcher::Reject(const Request& partial, Response response) const {
  Exchange x;
  x.route = "invalid";
  x.client_ip = partial.client_ip;
  x.start = partial.received_at;
  if (!partial.method.empty()) {
    x.method = SanitizeUtf8(partial.method);
    x.path = PercentDecode(PathOf(partial.target), false);
    x.request_id = AcceptRequestId(partial.Header("x-request-id"));
    if (auto origin = partial.Header("origin")) x.origin = std::string(*origin);
  } else {
    x.request_id = crypto::RandomUuid();
  }
  return Finish(x, std::move(response));
}

Response Dispatcher::Finish(const Exchange& x, Response response) const {
  if (response.status < 100 || response.status > 999) {
    response =
        SystemErrorResponse("handler answered with status " + std::to_string(response.status));
  }
  std::vector<NameValue> headers;
  headers.reserve(response.headers.size() + 5);
  headers.emplace_back("X-Request-Id", x.request_id);
  for (auto& header : response.headers) headers.push_back(std::move(header));
  if (cors_ != nullptr && x.origin) cors_->AddResponseHeaders(*x.origin, headers);
  std::erase_if(headers, [&](const NameValue& h) {
    if (IsSafeHeader(h.first, h.second)) return false;
    logger_.Log(LogLevel::kError, "handler produced an unsafe header; dropped",
                {{"route", x.route}});
    return true;
  });
  response.headers = std::move(headers);
  Record(x, response.status, response.log_note);
  return response;
}

void Dispatcher::FinishStreamHeaders(const Exchange& x, std::vector<NameValue>& headers) const {
  headers.insert(headers.begin(), NameValue("X-Request-Id", x.request_id));
  if (cors_ != nullptr && x.origin) cors_->AddResponseHeaders(*x.origin, headers);
  std::erase_if(headers, [](const NameValue& h) { return !IsSafeHeader(h.first, h.second); });
}

void Dispatcher::Record(const Exchange& x, int status, std::string_view note) const {
  // Every label comes from a closed set (MethodLabel, route patterns plus "unmatched",
  // "invalid" and "cors-preflight", three-digit statuses), so clients cannot grow the series.
  const std::string status_text = std::to_string(status);
  const std::string_view method = MethodLabel(x.method);
  if (requests_ != nullptr) requests_->WithLabels({method, x.route, status_text}).Inc();
  const double seconds = std::chrono::duration<double>(Clock::now() - x.start).count();
  if (latency_ != nullptr) {
    latency_->WithLabels({method, x.route, status_text}).Observe(seconds);
  }
  const std::string logged_method = LoggedMethod(x.method);
  RequestLogEntry entry;
  entry.method = logged_method;
  entry.path = x.path;
  entry.status = status;
  entry.duration_ms = seconds * 1000.0;
  entry.request_id = x.request_id;
  entry.actor = x.actor;
  entry.client_ip = x.client_ip;
  entry.route = x.route;
  entry.note = note;
  logger_.LogRequest(entry);
}

}  // namespace keyledger::api
