// The one translation unit of keyledger_api that includes Beast: listener, sessions (a template
// over the stream type, plain TCP or TLS), SSE streams and the responder plumbing.
//
// Session style: callbacks on a per-connection strand, shared_from_this for lifetime, DoX/OnX
// pairs with early returns, one Fail() deciding which errors deserve a log line. Timeouts are
// session-owned timers rather than beast::tcp_stream's expiry, because a read may legitimately
// wait for longer than read_timeout while pipelined responses are still being computed.
#include "api/http_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iterator>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

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
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

std::string_view SV(beast::string_view s) { return {s.data(), s.size()}; }

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

// Header names and values we emit must not smuggle CR/LF (response splitting).
bool IsSafeHeaderText(std::string_view s) {
  return s.find_first_of("\r\n", 0) == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}

// Beast's view of a request header, for CheckFraming (http_framing.hpp).
template <class Header>
std::optional<FramingProblem> CheckHeaderFraming(const Header& msg) {
  const auto hosts = msg.equal_range(http::field::host);
  std::vector<std::string_view> codings;
  const auto te = msg.equal_range(http::field::transfer_encoding);
  for (auto it = te.first; it != te.second; ++it) codings.push_back(SV(it->value()));
  return CheckFraming(msg.version(), static_cast<size_t>(std::distance(hosts.first, hosts.second)),
                      codings);
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// ---- shared server state ------------------------------------------------------------------------

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Both post to the session's strand.
  virtual void BeginShutdown() = 0;
  virtual void ForceClose() = 0;
};

struct Shared {
  ServerConfig config;
  const Router* router = nullptr;
  Authenticator* auth = nullptr;
  Logger* logger = nullptr;
  CounterFamily* requests = nullptr;
  HistogramFamily* latency = nullptr;
  Gauge* connections = nullptr;
  Gauge* streams = nullptr;
  std::optional<ssl::context> tls;
  std::atomic<bool> stopping{false};

  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;

  void Register(SessionBase* s, std::weak_ptr<SessionBase> w) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.emplace(s, std::move(w));
    if (connections != nullptr) connections->Add(1);
  }
  void Unregister(SessionBase* s) {
    {
      std::lock_guard<std::mutex> lock(mu);
      sessions.erase(s);
      if (connections != nullptr) connections->Add(-1);
    }
    cv.notify_all();
  }
  std::vector<std::shared_ptr<SessionBase>> Live() {
    std::vector<std::shared_ptr<SessionBase>> out;
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [ptr, weak] : sessions) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
  }
  size_t Count() {
    std::lock_guard<std::mutex> lock(mu);
    return sessions.size();
  }
};

// What the session needs to log and meter a request after its handler answers.
struct RequestInfo {
  std::string method = "-";
  std::string path = "-";
  std::string route;  // matched pattern, or "unmatched" / "invalid"
  std::string request_id;
  std::string actor;
  std::optional<std::string> origin;  // the Origin header, for CORS
  Clock::time_point start = Clock::now();
};

// ---- SSE stream ---------------------------------------------------------------------------------

// The session side of an EventStream; implemented by Session<Stream>.
class StreamOwner {
 public:
  virtual ~StreamOwner() = default;
  virtual void PostStreamFlush() = 0;  // thread-safe
  virtual void PostStreamAbort() = 0;  // thread-safe
};

class SseStream final : public EventStream {
 public:
  SseStream(std::weak_ptr<StreamOwner> owner, size_t limit)
      : owner_(std::move(owner)), limit_(limit) {}

  bool Send(std::string_view event, std::string_view data, std::string_view id) override {
    if (!IsSafeHeaderText(event) || !IsSafeHeaderText(id)) return false;
    return Enqueue(FormatSseEvent(event, data, id));
  }

  bool SendComment(std::string_view text) override {
    std::string line = ":";
    if (!text.empty()) {
      line += ' ';
      for (const char c : text) line += (c == '\r' || c == '\n') ? ' ' : c;
    }
    line += "\n\n";
    return Enqueue(std::move(line));
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!open_) return;
      open_ = false;
      close_requested_ = true;
    }
    if (auto o = owner_.lock()) o->PostStreamFlush();
  }

  bool IsOpen() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return open_ && !ended_;
  }

  void OnClose(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ended_) {
        callbacks_.push_back(std::move(fn));
        return;
      }
    }
    fn();
  }

  // Session side (strand): everything queued so far, and whether Close() was called.
  void TakePending(std::string* out, bool* close_requested) {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::string& s : queue_) *out += s;
    queue_.clear();
    flush_posted_ = false;
    *close_requested = close_requested_;
  }

  // Session side: the stream is over (any reason). Runs the OnClose callbacks once.
  void MarkEnded() {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ended_) return;
      ended_ = true;
      open_ = false;
      queue_.clear();
      callbacks.swap(callbacks_);
    }
    for (auto& fn : callbacks) fn();
  }

 private:
  bool Enqueue(std::string text) {
    bool post = false;
    bool overflow = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!open_ || ended_) return false;
      if (queue_.size() >= limit_) {
        // A consumer this far behind would make us buffer without bound: drop it.
        open_ = false;
        overflow = true;
      } else {
        queue_.push_back(std::move(text));
        post = !flush_posted_;
        flush_posted_ = true;
      }
    }
    auto o = owner_.lock();
    if (o == nullptr) return false;
    if (overflow) {
      o->PostStreamAbort();
      return false;
    }
    if (post) o->PostStreamFlush();
    return true;
  }

  std::weak_ptr<StreamOwner> owner_;
  const size_t limit_;
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  std::vector<std::function<void()>> callbacks_;
  bool open_ = true;
  bool ended_ = false;
  bool close_requested_ = false;
  bool flush_posted_ = false;
};

// ---- session ------------------------------------------------------------------------------------

// The session side of a Responder; implemented by Session<Stream>.
class SlotOwner {
 public:
  virtual ~SlotOwner() = default;
  virtual void PostFinish(uint64_t seq, Response response) = 0;
  virtual std::shared_ptr<EventStream> PostStartStream(uint64_t seq,
                                                       std::vector<NameValue> headers) = 0;
};

class SlotSink final : public ResponseSink {
 public:
  SlotSink(std::shared_ptr<SlotOwner> owner, uint64_t seq, bool streaming)
      : owner_(std::move(owner)), seq_(seq), streaming_(streaming) {}
  void Finish(Response response) override { owner_->PostFinish(seq_, std::move(response)); }
  std::shared_ptr<EventStream> StartStream(std::vector<NameValue> headers) override {
    if (!streaming_) return nullptr;
    return owner_->PostStartStream(seq_, std::move(headers));
  }

 private:
  // Strong: the connection must stay alive until its answer arrives (nothing else may hold it
  // while reading is paused).
  std::shared_ptr<SlotOwner> owner_;
  uint64_t seq_;
  bool streaming_;
};

template <class Stream>
class Session final : public SessionBase,
                      public SlotOwner,
                      public StreamOwner,
                      public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  Session(std::shared_ptr<Shared> shared, tcp::socket&& socket,
          std::string client_ip) requires(!kTls)
      : shared_(std::move(shared)),
        stream_(std::move(socket)),
        client_ip_(std::move(client_ip)),
        read_timer_(stream_.get_executor()),
        write_timer_(stream_.get_executor()),
        heartbeat_timer_(stream_.get_executor()) {}

  Session(std::shared_ptr<Shared> shared, tcp::socket&& socket,
          std::string client_ip) requires(kTls)
      : shared_(std::move(shared)),
        stream_(std::move(socket), *shared_->tls),
        client_ip_(std::move(client_ip)),
        read_timer_(stream_.get_executor()),
        write_timer_(stream_.get_executor()),
        heartbeat_timer_(stream_.get_executor()) {}

  ~Session() override {
    // Streams and slots that never reached the client still owe their callbacks.
    if (sse_ != nullptr) sse_->MarkEnded();
    for (Slot& s : slots_) {
      if (s.stream != nullptr) s.stream->MarkEnded();
    }
    if (sse_counted_ && shared_->streams != nullptr) shared_->streams->Add(-1);
    shared_->Unregister(this);
  }

  void Run() {
    shared_->Register(this, std::weak_ptr<SessionBase>(this->shared_from_this()));
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->DoHandshake();
      } else {
        self->DoReadHeader();
      }
    });
  }

  void BeginShutdown() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->OnShutdown(); });
  }

  void ForceClose() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->Fail({}, "closed by shutdown deadline");
      self->DoClose();
    });
  }

  void PostFinish(uint64_t seq, Response response) override {
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), seq, r = std::move(response)]() mutable {
                self->Deliver(seq, std::move(r));
              });
  }

  std::shared_ptr<EventStream> PostStartStream(uint64_t seq,
                                               std::vector<NameValue> headers) override {
    auto stream = std::make_shared<SseStream>(
        std::weak_ptr<StreamOwner>(std::static_pointer_cast<StreamOwner>(this->shared_from_this())),
        shared_->config.sse_queue_limit);
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), seq, stream, h = std::move(headers)]() mutable {
                self->OnStartStream(seq, std::move(stream), std::move(h));
              });
    return stream;
  }

  void PostStreamFlush() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->DoStreamFlush(); });
  }

  void PostStreamAbort() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->Fail({}, "SSE consumer too slow; dropped");
      self->DoClose();
    });
  }

 private:
  struct Slot {
    uint64_t seq = 0;
    bool ready = false;
    bool close = false;  // close the connection after this response
    bool head = false;
    unsigned version = 11;
    RequestInfo info;
    http::response<http::string_body> res;
    std::shared_ptr<SseStream> stream;  // set when the answer is an event stream
    std::vector<NameValue> stream_headers;
  };

  // ---- errors ----

  // Logs what deserves it. Ignored (normal ends of a connection): operation_aborted (we closed
  // or cancelled), end_of_stream / eof (the peer closed), connection_reset and broken_pipe (the
  // peer vanished), ssl stream_truncated (the peer closed without close_notify). Timeouts and
  // everything else are logged at debug level with the client address: they are about one
  // client, not about the server.
  void Fail(beast::error_code ec, std::string_view what) {
    if (ec == net::error::operation_aborted || ec == http::error::end_of_stream ||
        ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::broken_pipe || ec == ssl::error::stream_truncated) {
      return;
    }
    if (!shared_->logger->Enabled(LogLevel::kDebug)) return;
    shared_->logger->Log(
        LogLevel::kDebug, "connection ended",
        {{"what", what}, {"error", ec ? ec.message() : std::string()}, {"client_ip", client_ip_}});
  }

  // ---- TLS handshake ----

  void DoHandshake() {
    if constexpr (kTls) {
      ArmRead(shared_->config.read_timeout, /*while_idle=*/false);
      stream_.async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
    }
  }

  void OnHandshake(beast::error_code ec) {
    read_timer_.cancel();
    if (ec) {
      Fail(ec, "tls handshake");
      DoClose();
      return;
    }
    DoReadHeader();
  }

  // ---- timers ----

  // Arms the read deadline. A header read with responses still pending is not a stalled client
  // (it is waiting for us), so `while_idle` deadlines re-arm instead of closing in that case.
  void ArmRead(std::chrono::milliseconds timeout, bool while_idle) {
    const uint64_t gen = ++read_gen_;
    read_timer_.expires_after(timeout);
    read_timer_.async_wait(
        [self = this->shared_from_this(), gen, timeout, while_idle](beast::error_code ec) {
          if (ec || gen != self->read_gen_ || self->closed_) return;
          if (while_idle && !self->slots_.empty()) {
            self->ArmRead(timeout, while_idle);
            return;
          }
          self->Fail(beast::error::timeout, "read timeout");
          self->DoClose();
        });
  }

  void ArmWrite() {
    const uint64_t gen = ++write_gen_;
    write_timer_.expires_after(shared_->config.write_timeout);
    write_timer_.async_wait([self = this->shared_from_this(), gen](beast::error_code ec) {
      if (ec || gen != self->write_gen_ || self->closed_) return;
      self->Fail(beast::error::timeout, "write timeout");
      self->DoClose();
    });
  }

  void DisarmRead() {
    ++read_gen_;
    read_timer_.cancel();
  }
  void DisarmWrite() {
    ++write_gen_;
    write_timer_.cancel();
  }

  // ---- reading requests ----

  void DoReadHeader() {
    if (closed_ || close_after_ || reading_) return;
    if (shared_->stopping.load()) {
      // Accepted (or kept alive) while Stop() ran: take no new requests.
      close_after_ = true;
      MaybeFinish();
      return;
    }
    if (slots_.size() >= shared_->config.pipeline_limit) {
      return;  // resumed by OnWrite once a response is out
    }
    reading_ = true;
    parser_.emplace();
    parser_->header_limit(shared_->config.header_limit);
    parser_->body_limit(shared_->config.body_limit);
    const bool idle = requests_seen_ > 0 && buffer_.size() == 0;
    ArmRead(idle ? shared_->config.idle_timeout : shared_->config.read_timeout, true);
    ParseHeader();
  }

  // Beast's async_read_header, by hand, so the raw header bytes can be checked for obsolete line
  // folding before the parser unfolds them. Beast's parser consumes nothing until the whole
  // header is in the buffer (and fails with header_limit past it), so the buffer always starts
  // with the header being read.
  void ParseHeader() {
    const auto data = buffer_.data();
    const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
    if (HasObsoleteLineFolding(bytes)) {
      reading_ = false;
      DisarmRead();
      RejectMessage(400, "Invalid HTTP request: obsolete line folding");
      return;
    }
    beast::error_code ec;
    if (!bytes.empty()) {
      buffer_.consume(parser_->put(data, ec));
      if (!ec && !parser_->is_header_done()) ec = http::error::need_more;
    } else {
      ec = http::error::need_more;
    }
    if (ec == http::error::need_more) {
      constexpr size_t kReadChunk = 16 * 1024;
      stream_.async_read_some(
          buffer_.prepare(kReadChunk),
          beast::bind_front_handler(&Session::OnHeaderBytes, this->shared_from_this()));
      return;
    }
    OnReadHeader(ec);
  }

  void OnHeaderBytes(beast::error_code ec, std::size_t n) {
    if (closed_) return;
    buffer_.commit(n);
    if (ec) {
      if (ec == net::error::eof && buffer_.size() > 0) ec = http::error::partial_message;
      if (ec == net::error::eof) ec = http::error::end_of_stream;
      reading_ = false;
      DisarmRead();
      OnReadError(ec, "read header");
      return;
    }
    ParseHeader();
  }

  void OnReadHeader(beast::error_code ec) {
    if (closed_) return;
    if (ec) {
      reading_ = false;
      DisarmRead();
      OnReadError(ec, "read header");
      return;
    }
    header_time_ = Clock::now();
    ++requests_seen_;
    const auto& msg = parser_->get();
    if (const auto problem = CheckHeaderFraming(msg)) {
      reading_ = false;
      DisarmRead();
      RejectMessage(problem->status, problem->message);
      return;
    }
    const auto length = parser_->content_length();
    if (length && *length > shared_->config.body_limit) {
      reading_ = false;
      DisarmRead();
      RejectMessage(413, "Request body too large");
      return;
    }
    const bool wants_continue =
        AsciiLower(SV(msg[http::field::expect])) == "100-continue" && msg.version() >= 11;
    if (wants_continue && !parser_->is_done() && !writing_ && slots_.empty()) {
      DoContinue();
      return;
    }
    DoReadBody();
  }

  // Answers "Expect: 100-continue" so clients that wait for it send their body at once. Only
  // when nothing else is being written, so it cannot interleave with a pipelined response.
  void DoContinue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    writing_ = true;
    ArmWrite();
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     beast::bind_front_handler(&Session::OnContinue, this->shared_from_this()));
  }

  void OnContinue(beast::error_code ec, std::size_t) {
    writing_ = false;
    DisarmWrite();
    if (closed_) return;
    if (ec) {
      Fail(ec, "write 100-continue");
      DoClose();
      return;
    }
    DoReadBody();
    DoWrite();  // a response may have become ready meanwhile
  }

  void DoReadBody() {
    if (parser_->is_done()) {
      OnReadBody({}, 0);
      return;
    }
    ArmRead(shared_->config.read_timeout, false);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnReadBody, this->shared_from_this()));
  }

  void OnReadBody(beast::error_code ec, std::size_t) {
    if (closed_) return;
    reading_ = false;
    DisarmRead();
    if (ec) {
      OnReadError(ec, "read body");
      return;
    }
    OnRequest(parser_->release());
    DoReadHeader();
  }

  void OnReadError(beast::error_code ec, std::string_view what) {
    if (ec == http::error::end_of_stream || ec == net::error::eof) {
      // The client closed (or half-closed) its side: answer what is in flight, then close.
      close_after_ = true;
      MaybeFinish();
      return;
    }
    if (ec == http::error::header_limit) {
      RejectMessage(431, "Request header fields too large");
      return;
    }
    if (ec == http::error::body_limit) {
      RejectMessage(413, "Request body too large");
      return;
    }
    if (IsHttpParseError(ec) && ec != http::error::partial_message) {
      RejectMessage(400, "Invalid HTTP request");
      return;
    }
    Fail(ec, what);
    DoClose();
  }

  // Answers a message that could not be read (limits, malformed) and closes the connection after
  // the answer, since the rest of the byte stream cannot be trusted to be framed.
  void RejectMessage(int status, std::string_view message) {
    close_after_ = true;
    Slot& slot = NewSlot();
    slot.close = true;
    slot.info.route = "invalid";
    slot.info.request_id.clear();
    if (parser_) {
      // Beast fills the message as it parses, so whatever came before the error is usable
      // (the start line, and the fields up to the failing one).
      const auto& msg = parser_->get();
      if (!msg.method_string().empty()) {
        slot.info.method = SanitizeUtf8(SV(msg.method_string()));
        slot.info.path = PercentDecode(PathOf(SV(msg.target())), false);
        slot.version = msg.version() == 10 ? 10 : 11;
        slot.info.request_id = RequestIdFor(msg);
        if (auto it = msg.find(http::field::origin); it != msg.end()) {
          slot.info.origin = std::string(SV(it->value()));
        }
      }
    }
    if (slot.info.request_id.empty()) slot.info.request_id = crypto::RandomUuid();
    Deliver(slot.seq, HttpErrorResponse(status, message));
  }

  static std::string_view PathOf(std::string_view target) {
    const size_t q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
  }

  // X-Request-Id when it is 1-128 token characters, else a fresh UUID.
  template <class Message>
  static std::string RequestIdFor(const Message& msg) {
    auto it = msg.find("x-request-id");
    if (it != msg.end() && IsValidRequestId(SV(it->value()))) return std::string(SV(it->value()));
    return crypto::RandomUuid();
  }

  Slot& NewSlot() {
    Slot& slot = slots_.emplace_back();
    slot.seq = next_seq_++;
    slot.info.start = header_time_;
    return slot;
  }

  // ---- dispatch ----

  void OnRequest(http::request<http::string_body>&& msg) {
    auto req = std::make_shared<Request>();
    req->method = std::string(SV(msg.method_string()));
    req->target = std::string(SV(msg.target()));
    const std::string_view target = req->target;
    const size_t q = target.find('?');
    const std::string_view raw_path = q == std::string_view::npos ? target : target.substr(0, q);
    const std::string_view raw_query =
        q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    req->path = PercentDecode(raw_path, false);
    req->query = ParseQuery(raw_query);
    req->headers.reserve(16);
    for (const auto& field : msg) {
      req->headers.emplace_back(AsciiLower(SV(field.name_string())),
                                std::string(SV(field.value())));
    }
    req->body = std::move(msg.body());
    req->client_ip = client_ip_;
    req->tls = kTls;
    req->received_at = header_time_;
    req->request_id = RequestIdFor(msg);

    Slot& slot = NewSlot();
    slot.head = msg.method() == http::verb::head;
    slot.version = msg.version() == 10 ? 10 : 11;
    slot.close = !msg.keep_alive();
    slot.info.method = SanitizeUtf8(req->method);
    slot.info.path = req->path;
    slot.info.request_id = req->request_id;
    if (auto origin = req->Header("origin")) slot.info.origin = std::string(*origin);
    const uint64_t seq = slot.seq;
    if (slot.close) close_after_ = true;
    if (AnswerCorsPreflight(*req, slot)) return;

    if (raw_path.empty() || raw_path.front() != '/') {
      slot.info.route = "invalid";
      Deliver(seq, HttpErrorResponse(400, "Invalid request target"));
      return;
    }

    const RouteMatch match = shared_->router->Match(req->method, raw_path);
    switch (match.kind) {
      case RouteMatch::Kind::kNotFound:
        slot.info.route = "unmatched";
        Deliver(seq, DetailResponse(404, "Not Found"));
        return;
      case RouteMatch::Kind::kMethodNotAllowed: {
        slot.info.route = "unmatched";
        Response r = DetailResponse(405, "Method Not Allowed");
        r.headers.emplace_back("Allow", match.allow);
        Deliver(seq, std::move(r));
        return;
      }
      case RouteMatch::Kind::kRedirect: {
        slot.info.route = "unmatched";
        Response r = Response::Text(307, "", "");
        std::string location = match.redirect_path;  // raw, as the client encoded it
        if (!raw_query.empty()) {
          location += '?';
          location += raw_query;
        }
        r.headers.emplace_back("Location", std::move(location));
        Deliver(seq, std::move(r));
        return;
      }
      case RouteMatch::Kind::kFound:
        break;
    }

    const RouteSpec& route = *match.route;
    slot.info.route = route.pattern;
    req->route_pattern = route.pattern;
    req->path_params = match.params;

    if (route.access != Access::kPublic) {
      if (shared_->auth == nullptr) {
        Deliver(seq, SystemErrorResponse("route requires auth but no Authenticator configured"));
        return;
      }
      Authenticator::Outcome outcome =
          shared_->auth->Authenticate(req->Header("authorization"), client_ip_, route.access);
      if (!outcome.ok()) {
        Response r = std::move(outcome.error);
        r.log_note = "auth: " + std::string(outcome.failure_reason);
        Deliver(seq, std::move(r));
        return;
      }
      slot.info.actor = outcome.principal->name;
      req->principal = std::move(outcome.principal);
    }

    if (route.streaming) close_after_ = true;  // the stream owns the rest of the connection

    Responder responder(std::make_shared<SlotSink>(
        std::static_pointer_cast<SlotOwner>(this->shared_from_this()), seq, route.streaming));
    try {
      route.handler(req, responder);
    } catch (const std::exception& e) {
      OnHandlerException(responder, route, e.what());
    } catch (...) {
      OnHandlerException(responder, route, "non-standard exception");
    }
  }

  void OnHandlerException(const Responder& responder, const RouteSpec& route,
                          std::string_view what) {
    const std::string text =
        "handler " + route.method + " " + route.pattern + " threw: " + std::string(what);
    if (responder.answered()) {
      shared_->logger->Log(LogLevel::kError, "handler threw after answering", {{"error", text}});
      return;
    }
    responder.Respond(SystemErrorResponse(text));
  }

  // ---- answering ----

  Slot* FindSlot(uint64_t seq) {
    for (Slot& s : slots_) {
      if (s.seq == seq) return &s;
    }
    return nullptr;
  }

  void Record(const RequestInfo& info, int status, std::string_view note) {
    // Every label comes from a closed set (MethodLabel, route patterns plus "unmatched" and
    // "invalid", three-digit statuses), so clients cannot grow the series without bound.
    const std::string status_text = std::to_string(status);
    const std::string_view method = MethodLabel(info.method);
    if (shared_->requests != nullptr) {
      shared_->requests->WithLabels({method, info.route, status_text}).Inc();
    }
    const double seconds = SecondsSince(info.start);
    if (shared_->latency != nullptr) {
      shared_->latency->WithLabels({method, info.route, status_text}).Observe(seconds);
    }
    const std::string logged_method = LoggedMethod(info.method);
    RequestLogEntry entry;
    entry.method = logged_method;
    entry.path = info.path;
    entry.status = status;
    entry.duration_ms = seconds * 1000.0;
    entry.request_id = info.request_id;
    entry.actor = info.actor;
    entry.client_ip = client_ip_;
    entry.route = info.route;
    entry.note = note;
    shared_->logger->LogRequest(entry);
  }

  // ---- CORS (api/cors.hpp); nothing happens unless ServerConfig::cors is set ----

  // A preflight is answered before routing and authentication; true when `req` was one.
  bool AnswerCorsPreflight(const Request& req, Slot& slot) {
    if (shared_->config.cors == nullptr) return false;
    std::optional<Response> answer = shared_->config.cors->Preflight(req);
    if (!answer) return false;
    slot.info.route = "cors-preflight";
    slot.info.origin.reset();  // the preflight answer carries its own CORS headers
    Deliver(slot.seq, std::move(*answer));
    return true;
  }

  // Every other answer to a request with an Origin, errors and 500s included.
  void AddCorsHeaders(const RequestInfo& info, std::vector<NameValue>& headers) const {
    if (shared_->config.cors == nullptr || !info.origin) return;
    shared_->config.cors->AddResponseHeaders(*info.origin, headers);
  }

  // In the strand: the handler's answer for `seq` (or an error the session produced).
  void Deliver(uint64_t seq, Response response) {
    Slot* slot = FindSlot(seq);
    if (slot == nullptr || slot->ready) return;  // the connection is gone
    if (response.status < 100 || response.status > 999) {
      response =
          SystemErrorResponse("handler answered with status " + std::to_string(response.status));
    }
    AddCorsHeaders(slot->info, response.headers);
    auto& res = slot->res;
    res.version(slot->version);
    res.result(static_cast<unsigned>(response.status));
    res.set(http::field::server, shared_->config.server_header);
    if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
    res.set("X-Request-Id", slot->info.request_id);
    for (const auto& [name, value] : response.headers) {
      if (name.empty() || !IsSafeHeaderText(name) || !IsSafeHeaderText(value)) {
        shared_->logger->Log(LogLevel::kError, "handler produced an unsafe header; dropped",
                             {{"route", slot->info.route}});
        continue;
      }
      res.set(name, value);
    }
    const size_t body_size = response.body.size();
    if (!slot->head) res.body() = std::move(response.body);
    res.content_length(body_size);
    slot->ready = true;
    Record(slot->info, response.status, response.log_note);
    DoWrite();
  }

  void OnStartStream(uint64_t seq, std::shared_ptr<SseStream> stream,
                     std::vector<NameValue> headers) {
    Slot* slot = FindSlot(seq);
    if (slot == nullptr || slot->ready || closed_) {
      stream->MarkEnded();
      return;
    }
    slot->stream = std::move(stream);
    slot->stream_headers = std::move(headers);
    slot->ready = true;
    DoWrite();
  }

  void DoWrite() {
    if (closed_ || writing_ || lingering_ || slots_.empty() || !slots_.front().ready) return;
    Slot& slot = slots_.front();
    if (slot.stream != nullptr) {
      DoStreamStart();
      return;
    }
    // The last response before we stop reading closes the connection.
    const bool close = slot.close || (close_after_ && slots_.size() == 1);
    slot.close = close;
    slot.res.keep_alive(!close);
    writing_ = true;
    ArmWrite();
    http::async_write(stream_, slot.res,
                      beast::bind_front_handler(&Session::OnWrite, this->shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    DisarmWrite();
    if (closed_) return;
    if (ec) {
      Fail(ec, "write");
      DoClose();
      return;
    }
    const bool close = slots_.front().close;
    slots_.pop_front();
    if (close) {
      DoEndAfterResponse();
      return;
    }
    DoWrite();
    DoReadHeader();  // resumes a read paused by the pipeline limit
    MaybeFinish();
  }

  // Nothing left to do on a connection that reads no more: close it.
  void MaybeFinish() {
    if (closed_ || lingering_ || !close_after_ || writing_ || !slots_.empty()) return;
    if (reading_ || requests_seen_ == 0) {
      DoClose();  // idle (or mid-request during shutdown): nothing owed
      return;
    }
    DoEndAfterResponse();
  }

  // After the last response: a lingering close, so unread input (a rejected body, pipelined
  // requests) does not turn into a reset that destroys the response in flight.
  void DoEndAfterResponse() {
    if (lingering_) return;  // one drain at a time
    if (reading_) {
      DoClose();
      return;
    }
    lingering_ = true;
    if constexpr (!kTls) {
      beast::error_code ignored;
      beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    ArmRead(shared_->config.linger_timeout, false);
    DoLingerRead();
  }

  void DoLingerRead() {
    stream_.async_read_some(
        net::buffer(scratch_),
        beast::bind_front_handler(&Session::OnLingerRead, this->shared_from_this()));
  }

  void OnLingerRead(beast::error_code ec, std::size_t n) {
    if (closed_) return;
    linger_bytes_ += n;
    if (ec || linger_bytes_ > shared_->config.linger_max_bytes) {
      DoClose();
      return;
    }
    DoLingerRead();
  }

  // ---- SSE ----

  void DoStreamStart() {
    Slot& slot = slots_.front();
    sse_ = slot.stream;
    slot.stream = nullptr;
    sse_chunked_ = slot.version >= 11;
    if (shared_->streams != nullptr) {
      shared_->streams->Add(1);
      sse_counted_ = true;
    }
    std::string head = slot.version >= 11 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
    head += "Server: " + shared_->config.server_header + "\r\n";
    head += "Content-Type: text/event-stream; charset=utf-8\r\n";
    head += "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
    head += "X-Request-Id: " + slot.info.request_id + "\r\n";
    AddCorsHeaders(slot.info, slot.stream_headers);
    for (const auto& [name, value] : slot.stream_headers) {
      if (name.empty() || !IsSafeHeaderText(name) || !IsSafeHeaderText(value)) continue;
      head += name + ": " + value + "\r\n";
    }
    if (sse_chunked_) head += "Transfer-Encoding: chunked\r\n";
    head += "Connection: close\r\n\r\n";
    Record(slot.info, 200, "");
    slots_.pop_front();
    // Pipelined requests after the stream cannot be answered: the stream ends the connection.
    for (Slot& rest : slots_) {
      if (rest.stream != nullptr) rest.stream->MarkEnded();
    }
    slots_.clear();
    stream_out_ = std::move(head);
    DoStreamWrite();
    // Started after Stop() began: send the header, then end at once.
    if (shared_->stopping.load()) sse_->Close();
    // A read that fails tells us the client went away; anything it sends is discarded.
    DoWatchRead();
    ArmHeartbeat();
  }

  void DoStreamFlush() {
    if (closed_ || sse_ == nullptr || writing_ || sse_finishing_) return;
    std::string pending;
    bool close_requested = false;
    sse_->TakePending(&pending, &close_requested);
    if (!pending.empty()) {
      stream_out_.clear();
      if (sse_chunked_) {
        char size[20];
        std::snprintf(size, sizeof(size), "%zx\r\n", pending.size());
        stream_out_ += size;
        stream_out_ += pending;
        stream_out_ += "\r\n";
      } else {
        stream_out_ = std::move(pending);
      }
      DoStreamWrite();
      return;
    }
    if (close_requested) {
      sse_finishing_ = true;
      if (!sse_chunked_) {
        DoClose();
        return;
      }
      stream_out_ = "0\r\n\r\n";
      DoStreamWrite();
    }
  }

  void DoStreamWrite() {
    writing_ = true;
    ArmWrite();
    net::async_write(stream_, net::buffer(stream_out_),
                     beast::bind_front_handler(&Session::OnStreamWrite, this->shared_from_this()));
  }

  void OnStreamWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    DisarmWrite();
    if (closed_) return;
    if (ec) {
      Fail(ec, "sse write");
      DoClose();
      return;
    }
    if (sse_finishing_) {
      DoClose();
      return;
    }
    DoStreamFlush();
  }

  void DoWatchRead() {
    stream_.async_read_some(
        net::buffer(scratch_),
        beast::bind_front_handler(&Session::OnWatchRead, this->shared_from_this()));
  }

  void OnWatchRead(beast::error_code ec, std::size_t) {
    if (closed_) return;
    if (ec) {
      Fail(ec, "sse client gone");
      DoClose();
      return;
    }
    DoWatchRead();
  }

  void ArmHeartbeat() {
    heartbeat_timer_.expires_after(shared_->config.sse_heartbeat);
    heartbeat_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_ || self->sse_ == nullptr) return;
      self->sse_->SendComment("keep-alive");
      self->ArmHeartbeat();
    });
  }

  // ---- shutdown and close ----

  void OnShutdown() {
    if (closed_) return;
    close_after_ = true;
    if (sse_ != nullptr) {
      sse_->Close();
      return;
    }
    MaybeFinish();
  }

  void DoClose() {
    if (closed_) return;
    closed_ = true;
    ++read_gen_;
    ++write_gen_;
    read_timer_.cancel();
    write_timer_.cancel();
    heartbeat_timer_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).socket().close(ignored);
    if (sse_ != nullptr) sse_->MarkEnded();
    for (Slot& s : slots_) {
      if (s.stream != nullptr) s.stream->MarkEnded();
    }
  }

  std::shared_ptr<Shared> shared_;
  Stream stream_;
  std::string client_ip_;
  net::steady_timer read_timer_;
  net::steady_timer write_timer_;
  net::steady_timer heartbeat_timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<Slot> slots_;
  uint64_t next_seq_ = 0;
  uint64_t read_gen_ = 0;
  uint64_t write_gen_ = 0;
  uint64_t requests_seen_ = 0;
  uint64_t linger_bytes_ = 0;
  Clock::time_point header_time_ = Clock::now();
  bool reading_ = false;
  bool writing_ = false;
  bool close_after_ = false;  // read no further requests
  bool lingering_ = false;
  bool closed_ = false;
  std::shared_ptr<SseStream> sse_;
  bool sse_chunked_ = true;
  bool sse_finishing_ = false;
  bool sse_counted_ = false;
  std::string stream_out_;
  std::array<char, 4096> scratch_{};
};

using PlainSession = Session<beast::tcp_stream>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>>;

std::string ClientIp(const tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  net::ip::address addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    addr = net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6());
  }
  return addr.to_string();
}

// ---- listener -----------------------------------------------------------------------------------

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, std::shared_ptr<Shared> shared)
      : ioc_(ioc),
        shared_(std::move(shared)),
        acceptor_(net::make_strand(ioc)),
        retry_timer_(acceptor_.get_executor()) {}

  Status Open(const tcp::endpoint& endpoint) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return MakeError(ErrorCode::kUnavailable,
                       "cannot listen on " + endpoint.address().to_string() + ":" +
                           std::to_string(endpoint.port()) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint(ec).port();
    return Status::Ok();
  }

  uint16_t port() const { return port_; }

  void Run() {
    net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->DoAccept(); });
  }

  void Close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_timer_.cancel();
    });
  }

 private:
  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // EMFILE and friends are usually transient: wait a little instead of spinning.
      shared_->logger->Log(LogLevel::kWarning, "accept failed", {{"error", ec.message()}});
      retry_timer_.expires_after(kAcceptRetryDelay);
      retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec && self->acceptor_.is_open()) self->DoAccept();
      });
      return;
    }
    if (shared_->stopping.load()) {
      beast::error_code ignored;
      socket.close(ignored);
      return;
    } else if (shared_->Count() >= shared_->config.max_connections) {
      shared_->logger->Log(LogLevel::kWarning, "connection limit reached; connection refused",
                           {{"limit", static_cast<uint64_t>(shared_->config.max_connections)}});
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::string ip = ClientIp(socket);
      if (shared_->tls) {
        std::make_shared<TlsSession>(shared_, std::move(socket), std::move(ip))->Run();
      } else {
        std::make_shared<PlainSession>(shared_, std::move(socket), std::move(ip))->Run();
      }
    }
    DoAccept();
  }

  net::io_context& ioc_;
  std::shared_ptr<Shared> shared_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  uint16_t port_ = 0;
};

}  // namespace

// ---- HttpServer ---------------------------------------------------------------------------------

// TLS 1.3 (its suites are all AEAD with forward secrecy), and TLS 1.2 with ECDHE key exchange and
// AEAD ciphers only (kTls12Ciphers): no RSA key exchange, no CBC, no SHA-1 MACs. The server's
// order wins; renegotiation and compression are off.
beast::error_code RestrictTls(ssl::context& ctx) {
  SSL_CTX* native = ctx.native_handle();
  auto error = [] {
    return beast::error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category());
  };
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) return error();
  if (SSL_CTX_set_cipher_list(native, std::string(kTls12Ciphers).c_str()) != 1) return error();
  if (SSL_CTX_set_ciphersuites(native, std::string(kTls13Ciphersuites).c_str()) != 1) {
    return error();
  }
  SSL_CTX_set_options(
      native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  return {};
}

struct HttpServer::Impl {
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::unique_ptr<net::io_context> ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool started = false;
  bool stopped = false;
};

HttpServer::HttpServer(ServerConfig config, const Router& router, Authenticator* auth,
                       Logger& logger, MetricsRegistry* metrics)
    : impl_(std::make_unique<Impl>()) {
  Shared& s = *impl_->shared;
  s.config = std::move(config);
  if (s.config.threads < 1) s.config.threads = 1;
  if (s.config.pipeline_limit < 1) s.config.pipeline_limit = 1;
  if (s.config.sse_queue_limit < 1) s.config.sse_queue_limit = 1;
  s.router = &router;
  s.auth = auth;
  s.logger = &logger;
  if (metrics != nullptr) {
    s.requests = &metrics->AddCounter("keyledger_http_requests_total",
                                      "HTTP requests answered, by method, route and status.",
                                      {"method", "route", "status"});
    s.latency = &metrics->AddHistogram(
        "keyledger_http_request_duration_seconds",
        "Time from the end of the request header to the answer, by method, route and status.",
        DefaultLatencyBuckets(), {"method", "route", "status"});
    s.connections =
        &metrics->AddGauge("keyledger_http_connections_active", "Open HTTP connections.").Get();
    s.streams =
        &metrics->AddGauge("keyledger_sse_streams_active", "Open Server-Sent Events streams.")
             .Get();
  }
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  if (impl_->started) return MakeError(ErrorCode::kInvalidArgument, "server already started");
  Shared& s = *impl_->shared;
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(s.config.address, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid listen address \"" + SanitizeUtf8(s.config.address) + "\"");
  }
  if (s.config.tls) {
    s.tls.emplace(ssl::context::tls_server);
    s.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
    if (!ec) ec = RestrictTls(*s.tls);
    if (ec) {
      return MakeError(ErrorCode::kInvalidArgument, "TLS setup: " + ec.message());
    }
    s.tls->use_certificate_chain_file(s.config.tls->cert_file, ec);
    if (ec) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "TLS certificate " + s.config.tls->cert_file + ": " + ec.message());
    }
    s.tls->use_private_key_file(s.config.tls->key_file, ssl::context::pem, ec);
    if (ec) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "TLS key " + s.config.tls->key_file + ": " + ec.message());
    }
  }
  impl_->ioc = std::make_unique<net::io_context>(s.config.threads);
  impl_->listener = std::make_shared<Listener>(*impl_->ioc, impl_->shared);
  KL_RETURN_IF_ERROR(impl_->listener->Open(tcp::endpoint(address, s.config.port)));
  impl_->port = impl_->listener->port();
  impl_->work.emplace(impl_->ioc->get_executor());
  impl_->listener->Run();
  impl_->started = true;
  for (int i = 0; i < s.config.threads; ++i) {
    impl_->threads.emplace_back([ioc = impl_->ioc.get(), logger = s.logger] {
      // Handlers never throw into Asio (sessions catch), so an exception here is a bug in the
      // server itself; log it and keep the thread serving.
      while (true) {
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {
          logger->Log(LogLevel::kError, "exception escaped an I/O handler", {{"error", e.what()}});
        }
      }
    });
  }
  s.logger->Log(LogLevel::kInfo, "listening",
                {{"url", base_url()}, {"threads", static_cast<int64_t>(s.config.threads)}});
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->port; }

std::string HttpServer::base_url() const {
  const Shared& s = *impl_->shared;
  std::string host = s.config.address;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(s.config.tls ? "https://" : "http://") + host + ":" +
         std::to_string(impl_->port);
}

size_t HttpServer::active_connections() const { return impl_->shared->Count(); }

void HttpServer::Stop() {
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  Shared& s = *impl_->shared;
  s.stopping.store(true);
  impl_->listener->Close();
  for (auto& session : s.Live()) session->BeginShutdown();
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.cv.wait_for(lock, s.config.shutdown_grace, [&] { return s.sessions.empty(); });
  }
  if (s.Count() > 0) {
    s.logger->Log(LogLevel::kWarning, "shutdown grace period over; closing connections",
                  {{"connections", static_cast<uint64_t>(s.Count())}});
    for (auto& session : s.Live()) session->ForceClose();
    // Closed sessions still referenced by unanswered Responders stay registered; give the
    // others a moment to unwind.
    std::unique_lock<std::mutex> lock(s.mu);
    s.cv.wait_for(lock, std::chrono::seconds(1), [&] { return s.sessions.empty(); });
  }
  impl_->work.reset();
  impl_->ioc->stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
  s.logger->Log(LogLevel::kInfo, "server stopped");
}

}  // namespace keyledger::api
