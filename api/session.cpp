// One HTTP/1.1 connection (session.hpp): a template over the stream type, plain TCP or TLS.
//
// Session style: callbacks on a per-connection strand, shared_from_this for lifetime, DoX/OnX
// pairs with early returns, one Fail() deciding which errors deserve a log line. Timeouts are
// session-owned timers rather than beast::tcp_stream's expiry, because a read may legitimately
// wait for longer than read_timeout while pipelined responses are still being computed.
#include "api/session.hpp"

#include <array>
#include <deque>
#include <iterator>
#include <type_traits>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "api/errors.hpp"
#include "api/http_framing.hpp"
#include "api/logger.hpp"
#include "api/metrics.hpp"
#include "api/sse.hpp"
#include "api/text.hpp"

namespace keyledger::api {

void ServerState::Register(SessionControl* s, std::weak_ptr<SessionControl> w) {
  std::lock_guard<std::mutex> lock(mu);
  sessions.emplace(s, std::move(w));
  if (connections != nullptr) connections->Add(1);
}

void ServerState::Unregister(SessionControl* s) {
  {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(s);
    if (connections != nullptr) connections->Add(-1);
  }
  cv.notify_all();
}

std::vector<std::shared_ptr<SessionControl>> ServerState::Live() {
  std::vector<std::shared_ptr<SessionControl>> out;
  std::lock_guard<std::mutex> lock(mu);
  for (auto& [ptr, weak] : sessions) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

size_t ServerState::Count() {
  std::lock_guard<std::mutex> lock(mu);
  return sessions.size();
}

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string_view SV(beast::string_view s) { return {s.data(), s.size()}; }

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
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

// The start line and the fields of a message (what Beast has parsed so far, for a message that
// failed): method and target as sent, field names lower-cased, in order.
template <class Message>
Request RequestHead(const Message& msg) {
  Request req;
  req.method = std::string(SV(msg.method_string()));
  req.target = std::string(SV(msg.target()));
  req.headers.reserve(16);
  for (const auto& field : msg) {
    req.headers.emplace_back(AsciiLower(SV(field.name_string())), std::string(SV(field.value())));
  }
  return req;
}

// The session side of a Responder: posts the answer to the connection's strand.
class SlotOwner {
 public:
  virtual ~SlotOwner() = default;
  virtual void PostFinish(uint64_t seq, Response response) = 0;
  virtual std::shared_ptr<EventStream> PostStartStream(uint64_t seq,
                                                       std::vector<NameValue> headers) = 0;
};

class SlotSink final : public ResponseSink {
 public:
  SlotSink(std::shared_ptr<SlotOwner> owner, uint64_t seq) : owner_(std::move(owner)), seq_(seq) {}
  void Finish(Response response) override { owner_->PostFinish(seq_, std::move(response)); }
  std::shared_ptr<EventStream> StartStream(std::vector<NameValue> headers) override {
    return owner_->PostStartStream(seq_, std::move(headers));
  }

 private:
  // Strong: the connection must stay alive until its answer arrives (nothing else may hold it
  // while reading is paused).
  std::shared_ptr<SlotOwner> owner_;
  uint64_t seq_;
};

template <class Stream>
class Session final : public SessionControl,
                      public SlotOwner,
                      public StreamOwner,
                      public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  Session(std::shared_ptr<ServerState> shared, tcp::socket&& socket,
          std::string client_ip) requires(!kTls)
      : shared_(std::move(shared)),
        stream_(std::move(socket)),
        client_ip_(std::move(client_ip)),
        read_timer_(stream_.get_executor()),
        write_timer_(stream_.get_executor()),
        heartbeat_timer_(stream_.get_executor()),
        drop_timer_(stream_.get_executor()) {}

  Session(std::shared_ptr<ServerState> shared, tcp::socket&& socket,
          std::string client_ip) requires(kTls)
      : shared_(std::move(shared)),
        stream_(std::move(socket), *shared_->tls),
        client_ip_(std::move(client_ip)),
        read_timer_(stream_.get_executor()),
        write_timer_(stream_.get_executor()),
        heartbeat_timer_(stream_.get_executor()),
        drop_timer_(stream_.get_executor()) {}

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
    shared_->Register(this, std::weak_ptr<SessionControl>(this->shared_from_this()));
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
        shared_->config.sse_queue_limit, shared_->config.sse_buffer_bytes, shared_->sse_buffered);
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
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->OnStreamAbort(); });
  }

 private:
  // One request read and not yet written, in request order.
  struct Slot {
    uint64_t seq = 0;
    bool ready = false;
    bool close = false;  // close the connection after this response
    bool head = false;
    unsigned version = 11;
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
    Request partial;
    if (parser_) {
      // Beast fills the message as it parses, so whatever came before the error is usable
      // (the start line, and the fields up to the failing one).
      const auto& msg = parser_->get();
      if (!msg.method_string().empty()) {
        partial = RequestHead(msg);
        slot.version = msg.version() == 10 ? 10 : 11;
      }
    }
    partial.client_ip = client_ip_;
    partial.tls = kTls;
    partial.received_at = header_time_;
    Deliver(slot.seq, shared_->dispatcher->Reject(partial, HttpErrorResponse(status, message)));
  }

  Slot& NewSlot() {
    Slot& slot = slots_.emplace_back();
    slot.seq = next_seq_++;
    return slot;
  }

  // ---- dispatch ----

  void OnRequest(http::request<http::string_body>&& msg) {
    Request req = RequestHead(msg);
    req.body = std::move(msg.body());
    req.client_ip = client_ip_;
    req.tls = kTls;
    req.received_at = header_time_;

    Slot& slot = NewSlot();
    slot.head = msg.method() == http::verb::head;
    slot.version = msg.version() == 10 ? 10 : 11;
    slot.close = !msg.keep_alive();
    if (slot.close) close_after_ = true;
    auto sink = std::make_shared<SlotSink>(
        std::static_pointer_cast<SlotOwner>(this->shared_from_this()), slot.seq);
    // Answers arrive through the sink, posted to this strand, so none can interleave here.
    if (shared_->dispatcher->Dispatch(std::move(req), std::move(sink))) {
      close_after_ = true;  // the stream owns the rest of the connection
    }
  }

  // ---- answering ----

  Slot* FindSlot(uint64_t seq) {
    for (Slot& s : slots_) {
      if (s.seq == seq) return &s;
    }
    return nullptr;
  }

  // In the strand: the finished answer for `seq` (Dispatcher::Finish has checked its status and
  // headers and recorded it).
  void Deliver(uint64_t seq, Response response) {
    Slot* slot = FindSlot(seq);
    if (slot == nullptr || slot->ready) return;  // the connection is gone
    auto& res = slot->res;
    res.version(slot->version);
    res.result(static_cast<unsigned>(response.status));
    res.set(http::field::server, shared_->config.server_header);
    if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) {
      if (IsSafeHeader(name, value)) res.set(name, value);
    }
    const size_t body_size = response.body.size();
    if (!slot->head) res.body() = std::move(response.body);
    res.content_length(body_size);
    slot->ready = true;
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

  // ---- SSE: the connection side of an event stream (its format is api/sse.hpp) ----

  void DoStreamStart() {
    Slot& slot = slots_.front();
    sse_ = slot.stream;
    slot.stream = nullptr;
    sse_chunked_ = SseChunked(slot.version);
    if (shared_->streams != nullptr) {
      shared_->streams->Add(1);
      sse_counted_ = true;
    }
    stream_out_ = SseResponseHead(slot.version, shared_->config.server_header, slot.stream_headers);
    slots_.pop_front();
    // Pipelined requests after the stream cannot be answered: the stream ends the connection.
    for (Slot& rest : slots_) {
      if (rest.stream != nullptr) rest.stream->MarkEnded();
    }
    slots_.clear();
    DoStreamWrite();
    // Started after Stop() began: send the header, then end at once.
    if (shared_->stopping.load()) sse_->Close();
    // A read that fails tells us the client went away; anything it sends is discarded.
    DoWatchRead();
    ArmHeartbeat();
  }

  // The stream overflowed (api/sse.hpp): it holds its last event, "stream-closed". Write it and
  // end the stream once the write in flight (if any) is done, but give a consumer that takes
  // nothing at most sse_drop_grace before the connection is closed.
  void OnStreamAbort() {
    if (closed_ || sse_ == nullptr) return;
    shared_->logger->Log(LogLevel::kInfo, "audit stream dropped: the subscriber is too slow",
                         {{"client_ip", client_ip_}});
    heartbeat_timer_.cancel();
    drop_timer_.expires_after(shared_->config.sse_drop_grace);
    drop_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      self->Fail(beast::error::timeout, "SSE consumer too slow; dropped");
      self->DoClose();
    });
    DoStreamFlush();
  }

  void DoStreamFlush() {
    if (closed_ || sse_ == nullptr || writing_ || sse_finishing_) return;
    std::string pending;
    bool close_requested = false;
    sse_->TakePending(&pending, &close_requested, &stream_taken_);
    if (!pending.empty()) {
      stream_out_ = SseFrame(std::move(pending), sse_chunked_);
      DoStreamWrite();
      return;
    }
    if (close_requested) {
      sse_finishing_ = true;
      if (!sse_chunked_) {
        DoClose();
        return;
      }
      stream_out_ = kSseLastChunk;
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
    if (sse_ != nullptr) sse_->WriteDone(std::exchange(stream_taken_, 0));
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
      if (ec || self->closed_ || self->sse_ == nullptr || !self->sse_->IsOpen()) return;
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
    drop_timer_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).socket().close(ignored);
    if (sse_ != nullptr) sse_->MarkEnded();
    for (Slot& s : slots_) {
      if (s.stream != nullptr) s.stream->MarkEnded();
    }
  }

  std::shared_ptr<ServerState> shared_;
  Stream stream_;
  std::string client_ip_;
  net::steady_timer read_timer_;
  net::steady_timer write_timer_;
  net::steady_timer heartbeat_timer_;
  net::steady_timer drop_timer_;  // a dropped SSE consumer's grace (OnStreamAbort)
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
  size_t stream_taken_ = 0;  // event bytes of the write in flight (SseStream::WriteDone)
  std::array<char, 4096> scratch_{};
};

}  // namespace

void StartSession(std::shared_ptr<ServerState> state, tcp::socket socket, std::string client_ip) {
  if (state->tls) {
    std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
        std::move(state), std::move(socket), std::move(client_ip))
        ->Run();
  } else {
    std::make_shared<Session<beast::tcp_stream>>(std::move(state), std::move(socket),
                                                 std::move(client_ip))
        ->Run();
  }
}

}  // namespace keyledger::api
