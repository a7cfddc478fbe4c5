// The listener and the HttpServer around it: binds, accepts (up to max_connections), sets up
// TLS, runs the io_context threads and shuts down in order. Each accepted connection is a session
// (api/session.hpp); what a request means is the Dispatcher's (api/dispatcher.hpp).
#include "api/http_server.hpp"

#include <thread>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

#include "api/dispatcher.hpp"
#include "api/logger.hpp"
#include "api/metrics.hpp"
#include "api/session.hpp"
#include "api/text.hpp"

namespace keyledger::api {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

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
  Listener(net::io_context& ioc, std::shared_ptr<ServerState> shared)
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
      StartSession(shared_, std::move(socket), std::move(ip));
    }
    DoAccept();
  }

  net::io_context& ioc_;
  std::shared_ptr<ServerState> shared_;
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
  std::shared_ptr<ServerState> shared = std::make_shared<ServerState>();
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
  ServerState& s = *impl_->shared;
  s.config = std::move(config);
  if (s.config.threads < 1) s.config.threads = 1;
  if (s.config.pipeline_limit < 1) s.config.pipeline_limit = 1;
  if (s.config.sse_queue_limit < 1) s.config.sse_queue_limit = 1;
  if (s.config.sse_buffer_bytes < 1) s.config.sse_buffer_bytes = 1;
  s.logger = &logger;
  // The dispatcher registers the request families first, so /metrics lists them before the
  // connection gauges.
  s.dispatcher = std::make_unique<Dispatcher>(router, auth, logger, metrics, s.config.cors);
  if (metrics != nullptr) {
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
  ServerState& s = *impl_->shared;
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
      // Handlers never throw into Asio (the Dispatcher catches), so an exception here is a bug in
      // the server itself; log it and keep the thread serving.
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
  const ServerState& s = *impl_->shared;
  std::string host = s.config.address;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(s.config.tls ? "https://" : "http://") + host + ":" +
         std::to_string(impl_->port);
}

size_t HttpServer::active_connections() const { return impl_->shared->Count(); }

uint64_t HttpServer::sse_buffered_bytes() const {
  const int64_t held = impl_->shared->sse_buffered->load(std::memory_order_relaxed);
  return held > 0 ? static_cast<uint64_t>(held) : 0;
}

void HttpServer::Stop() {
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  ServerState& s = *impl_->shared;
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
