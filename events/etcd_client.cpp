// Threads: none of its own. A call runs on the caller's thread: it borrows a Connection (each
// with its own io_context, so blocking on it never touches another call's I/O), drives one
// request/response on it with the stream's expiry as the timeout, and gives it back.
#include "events/etcd_client.hpp"

#include <openssl/ssl.h>
#include <simdjson.h>

#include <utility>
// <utility> before Asio, as STYLE.md says for Boost 1.74 with g++ 12.
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "events/crypto.hpp"

namespace keyledger::events::etcd {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxErrorTextBytes = 512;  // of an etcd error message kept in our errors

struct Endpoint {
  bool tls = false;
  std::string host;
  std::string port;
  std::string text;  // as configured, for messages
};

Result<Endpoint> ParseEndpoint(std::string_view url) {
  Endpoint e;
  e.text = std::string(url);
  auto bad = [&] {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "etcd endpoint '" + std::string(url) + "' is not http://HOST:PORT or https://HOST:PORT");
  };
  if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else if (url.starts_with("https://")) {
    e.tls = true;
    url.remove_prefix(8);
  } else {
    return bad();
  }
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);
  const size_t colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == url.size()) return bad();
  std::string_view host = url.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']') return bad();
    host = host.substr(1, host.size() - 2);
  }
  e.host = std::string(host);
  e.port = std::string(url.substr(colon + 1));
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(e.port.data(), e.port.data() + e.port.size(), port);
  if (ec != std::errc() || ptr != e.port.data() + e.port.size() || port == 0 || port > 65535 ||
      e.host.empty() || e.host.find('/') != std::string::npos) {
    return bad();
  }
  return e;
}

std::string Truncate(std::string_view s) {
  return std::string(s.substr(0, std::min(s.size(), kMaxErrorTextBytes)));
}

// ---- JSON requests: keys and values are base64, 64-bit numbers are strings (gateway rules).

void AppendBytes(std::string& out, std::string_view name, std::string_view bytes) {
  out += '"';
  out += name;
  out += "\":\"";
  out += crypto::Base64Encode(bytes);
  out += '"';
}

void AppendNumber(std::string& out, std::string_view name, int64_t v) {
  out += '"';
  out += name;
  out += "\":\"";
  out += std::to_string(v);
  out += '"';
}

// JSON string escaping for the two texts we send that are not base64 (user name, password).
void AppendText(std::string& out, std::string_view name, std::string_view text) {
  out += '"';
  out += name;
  out += "\":\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

void AppendRangeBody(std::string& out, const RangeRequest& r) {
  out += '{';
  AppendBytes(out, "key", r.key);
  if (!r.range_end.empty()) {
    out += ',';
    AppendBytes(out, "range_end", r.range_end);
  }
  if (r.limit > 0) {
    out += ',';
    AppendNumber(out, "limit", r.limit);
  }
  if (r.revision > 0) {
    out += ',';
    AppendNumber(out, "revision", r.revision);
  }
  if (r.keys_only) out += ",\"keys_only\":true";
  out += '}';
}

void AppendPut(std::string& out, const Op& op) {
  out += "{\"request_put\":{";
  AppendBytes(out, "key", op.key);
  out += ',';
  AppendBytes(out, "value", op.value);
  if (op.lease != 0) {
    out += ',';
    AppendNumber(out, "lease", op.lease);
  }
  out += "}}";
}

void AppendOp(std::string& out, const Op& op) {
  switch (op.kind) {
    case Op::Kind::kPut:
      AppendPut(out, op);
      return;
    case Op::Kind::kDelete:
    case Op::Kind::kRange: {
      out += op.kind == Op::Kind::kDelete ? "{\"request_delete_range\":{" : "{\"request_range\":{";
      AppendBytes(out, "key", op.key);
      if (!op.range_end.empty()) {
        out += ',';
        AppendBytes(out, "range_end", op.range_end);
      }
      out += "}}";
      return;
    }
    case Op::Kind::kPutIfPresent: {
      // A nested transaction's compares see the state before the outer transaction.
      out += "{\"request_txn\":{\"compare\":[{\"target\":\"CREATE\",\"result\":\"GREATER\",";
      AppendBytes(out, "key", op.key);
      out += ",\"create_revision\":\"0\"}],\"success\":[";
      Op put = op;
      put.kind = Op::Kind::kPut;
      AppendPut(out, put);
      out += "]}}";
      return;
    }
  }
}

void AppendOps(std::string& out, std::string_view name, const std::vector<Op>& ops) {
  out += '"';
  out += name;
  out += "\":[";
  for (size_t i = 0; i < ops.size(); ++i) {
    if (i > 0) out += ',';
    AppendOp(out, ops[i]);
  }
  out += ']';
}

std::string TxnBody(const TxnRequest& t) {
  std::string out = "{\"compare\":[";
  for (size_t i = 0; i < t.compare.size(); ++i) {
    const Compare& c = t.compare[i];
    if (i > 0) out += ',';
    out += '{';
    AppendBytes(out, "key", c.key);
    static constexpr const char* kResults[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
    out += ",\"result\":\"";
    out += kResults[static_cast<size_t>(c.result)];
    out += "\",";
    switch (c.target) {
      case Compare::Target::kVersion:
        out += "\"target\":\"VERSION\",";
        AppendNumber(out, "version", c.number);
        break;
      case Compare::Target::kCreate:
        out += "\"target\":\"CREATE\",";
        AppendNumber(out, "create_revision", c.number);
        break;
      case Compare::Target::kMod:
        out += "\"target\":\"MOD\",";
        AppendNumber(out, "mod_revision", c.number);
        break;
      case Compare::Target::kValue:
        out += "\"target\":\"VALUE\",";
        AppendBytes(out, "value", c.value);
        break;
    }
    out += '}';
  }
  out += "],";
  AppendOps(out, "success", t.success);
  out += ',';
  AppendOps(out, "failure", t.failure);
  out += '}';
  return out;
}

// ---- JSON responses.

Error Malformed(std::string_view what) {
  return MakeError(ErrorCode::kIoError,
                   "etcd sent a malformed response (" + std::string(what) + ")");
}

// A 64-bit field: the gateway writes them as strings; absent means 0.
Result<int64_t> Int64Field(simdjson::dom::object obj, std::string_view name) {
  simdjson::dom::element e;
  if (obj[name].get(e)) return int64_t{0};
  if (e.is_int64()) return e.get_int64().value();
  std::string_view s;
  if (e.get_string().get(s)) return Malformed(name);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return Malformed(name);
  return v;
}

Result<std::string> BytesField(simdjson::dom::object obj, std::string_view name) {
  std::string_view s;
  simdjson::dom::element e;
  if (obj[name].get(e)) return std::string();
  if (e.get_string().get(s)) return Malformed(name);
  auto decoded = crypto::Base64Decode(s);
  if (!decoded.ok()) return Malformed(name);
  return std::move(decoded).value();
}

bool BoolField(simdjson::dom::object obj, std::string_view name) {
  bool b = false;
  if (obj[name].get(b)) return false;
  return b;
}

int64_t HeaderRevision(simdjson::dom::object obj) {
  simdjson::dom::object header;
  if (obj["header"].get(header)) return 0;
  auto r = Int64Field(header, "revision");
  return r.ok() ? *r : 0;
}

Result<RangeResponse> ParseRange(simdjson::dom::object obj) {
  RangeResponse out;
  out.revision = HeaderRevision(obj);
  out.more = BoolField(obj, "more");
  KL_ASSIGN_OR_RETURN(out.count, Int64Field(obj, "count"));
  simdjson::dom::array kvs;
  if (!obj["kvs"].get(kvs)) {
    for (simdjson::dom::element e : kvs) {
      simdjson::dom::object kv;
      if (e.get(kv)) return Malformed("kvs");
      KeyValue v;
      KL_ASSIGN_OR_RETURN(v.key, BytesField(kv, "key"));
      KL_ASSIGN_OR_RETURN(v.value, BytesField(kv, "value"));
      KL_ASSIGN_OR_RETURN(v.create_revision, Int64Field(kv, "create_revision"));
      KL_ASSIGN_OR_RETURN(v.mod_revision, Int64Field(kv, "mod_revision"));
      KL_ASSIGN_OR_RETURN(v.version, Int64Field(kv, "version"));
      KL_ASSIGN_OR_RETURN(v.lease, Int64Field(kv, "lease"));
      out.kvs.push_back(std::move(v));
    }
  }
  return out;
}

Result<simdjson::dom::object> ParseObject(simdjson::dom::parser& parser, const std::string& body) {
  simdjson::dom::object obj;
  if (parser.parse(body).get(obj)) return Malformed("not a JSON object");
  return obj;
}

// gRPC status codes etcd's gateway reports in {"error","message","code"}.
constexpr int64_t kGrpcInvalidArgument = 3;
constexpr int64_t kGrpcDeadlineExceeded = 4;
constexpr int64_t kGrpcPermissionDenied = 7;
constexpr int64_t kGrpcResourceExhausted = 8;
constexpr int64_t kGrpcOutOfRange = 11;
constexpr int64_t kGrpcUnavailable = 14;
constexpr int64_t kGrpcUnauthenticated = 16;

struct EtcdError {
  int64_t code = -1;  // -1: not an etcd error body
  std::string message;
};

EtcdError ParseError(simdjson::dom::parser& parser, const std::string& body) {
  EtcdError e;
  simdjson::dom::object obj;
  if (parser.parse(body).get(obj)) return e;
  std::string_view text;
  if (obj["message"].get(text) && obj["error"].get(text)) return e;
  e.message = Truncate(text);
  auto code = Int64Field(obj, "code");
  e.code = code.ok() ? *code : -1;
  return e;
}

bool IsTransient(const EtcdError& e) {
  if (e.code == kGrpcUnavailable || e.code == kGrpcDeadlineExceeded) return true;
  // "too many requests" (etcd is behind on applying); "database space exceeded" is not transient.
  return e.code == kGrpcResourceExhausted && e.message.find("too many") != std::string::npos;
}

bool IsAuthExpired(const EtcdError& e) {
  return e.code == kGrpcUnauthenticated ||
         e.message.find("invalid auth token") != std::string::npos;
}

}  // namespace

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xFF) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key: etcd reads "\0" as "to the end"
}

struct Client::Impl {
  // One keep-alive connection with its own io_context.
  struct Connection {
    explicit Connection(size_t ep) : endpoint(ep) {}
    size_t endpoint;
    net::io_context ioc;
    std::unique_ptr<beast::tcp_stream> tcp;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;
    bool used = false;  // served a request before (so a failure may just be a stale keep-alive)

    beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *tcp; }
    bool connected() const { return tcp != nullptr || tls != nullptr; }
    void Close() {
      beast::error_code ignored;
      if (connected()) lowest().socket().close(ignored);
      tcp.reset();
      tls.reset();
      buffer.clear();
      used = false;
    }
    // Runs the queued operation to completion (the stream's expiry bounds it).
    void Run() {
      ioc.restart();
      ioc.run();
    }
  };

  // The outcome of one request on one connection.
  struct Attempt {
    bool answered = false;  // a full HTTP response arrived
    bool too_large = false;
    unsigned status = 0;
    std::string body;
    std::string why;  // when !answered
  };

  std::vector<Endpoint> endpoints;
  std::optional<ssl::context> tls_context;
  std::atomic<size_t> current{0};
  std::mutex mu;
  std::deque<std::unique_ptr<Connection>> idle;  // guarded by mu
  std::string token;                             // guarded by mu (etcd auth)

  void Log(const ClientOptions& o, LogLevel level, const std::string& what) const {
    if (o.log) o.log(level, what);
  }

  std::unique_ptr<Connection> Take(size_t ep) {
    std::lock_guard lock(mu);
    for (auto it = idle.begin(); it != idle.end(); ++it) {
      if ((*it)->endpoint == ep) {
        auto c = std::move(*it);
        idle.erase(it);
        return c;
      }
    }
    return std::make_unique<Connection>(ep);
  }

  void Give(std::unique_ptr<Connection> c, size_t max_idle) {
    if (!c->connected()) return;
    std::lock_guard lock(mu);
    idle.push_back(std::move(c));
    while (idle.size() > max_idle) idle.pop_front();  // closes the oldest
  }

  std::string Connect(Connection& c, Clock::duration timeout) {
    const Endpoint& ep = endpoints[c.endpoint];
    beast::error_code ec;
    tcp::resolver resolver(c.ioc);
    // IP literals resolve without a lookup; a host name uses the system resolver.
    auto results = resolver.resolve(ep.host, ep.port, tcp::resolver::numeric_service, ec);
    if (ec) return "cannot resolve " + ep.host + ": " + ec.message();
    if (ep.tls) {
      c.tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(c.ioc, *tls_context);
    } else {
      c.tcp = std::make_unique<beast::tcp_stream>(c.ioc);
    }
    beast::tcp_stream& stream = c.lowest();
    stream.expires_after(timeout);
    stream.async_connect(results, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
    c.Run();
    if (!ec) stream.socket().set_option(tcp::no_delay(true), ec);
    if (ec) {
      c.Close();
      return "cannot connect: " + ec.message();
    }
    if (ep.tls) {
      if (!SSL_set_tlsext_host_name(c.tls->native_handle(), ep.host.c_str())) {
        c.Close();
        return "cannot set the TLS server name";
      }
      c.tls->set_verify_callback(ssl::host_name_verification(ep.host));
      c.tls->async_handshake(ssl::stream_base::client, [&ec](beast::error_code e) { ec = e; });
      c.Run();
      if (ec) {
        c.Close();
        return "TLS handshake failed: " + ec.message();
      }
    }
    return "";
  }

  Attempt RoundTrip(Connection& c, std::string_view path, const std::string& body,
                    const std::string& auth, Clock::duration timeout, size_t max_body,
                    Clock::duration connect_timeout) {
    Attempt a;
    if (!c.connected()) {
      a.why = Connect(c, std::min(timeout, connect_timeout));
      if (!a.why.empty()) return a;
    }
    const Endpoint& ep = endpoints[c.endpoint];
    http::request<http::string_body> req{http::verb::post,
                                         beast::string_view(path.data(), path.size()), 11};
    req.set(http::field::host, ep.host + ":" + ep.port);
    req.set(http::field::content_type, "application/json");
    if (!auth.empty()) req.set(http::field::authorization, auth);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();

    beast::error_code ec;
    c.lowest().expires_after(timeout);
    auto on_write = [&ec](beast::error_code e, size_t) { ec = e; };
    if (c.tls) {
      http::async_write(*c.tls, req, on_write);
    } else {
      http::async_write(*c.tcp, req, on_write);
    }
    c.Run();
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_body);
    if (!ec) {
      auto on_read = [&ec](beast::error_code e, size_t) { ec = e; };
      if (c.tls) {
        http::async_read(*c.tls, c.buffer, parser, on_read);
      } else {
        http::async_read(*c.tcp, c.buffer, parser, on_read);
      }
      c.Run();
    }
    if (ec) {
      a.too_large = ec == http::error::body_limit;
      a.why = ec == beast::error::timeout ? "no answer within the timeout" : ec.message();
      c.Close();
      return a;
    }
    c.lowest().expires_never();
    c.used = true;
    a.answered = true;
    a.status = parser.get().result_int();
    const bool keep = parser.get().keep_alive();
    a.body = std::move(parser.get().body());
    if (!keep) c.Close();
    return a;
  }
};

Client::Client(ClientOptions options) : options_(std::move(options)), impl_(new Impl) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (options.endpoints.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no etcd endpoint given");
  }
  std::unique_ptr<Client> c(new Client(std::move(options)));
  bool any_tls = false;
  for (const std::string& url : c->options_.endpoints) {
    KL_ASSIGN_OR_RETURN(Endpoint e, ParseEndpoint(url));
    any_tls = any_tls || e.tls;
    c->impl_->endpoints.push_back(std::move(e));
  }
  const ClientOptions& o = c->options_;
  if (!any_tls && (!o.ca_file.empty() || !o.cert_file.empty() || !o.key_file.empty())) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "etcd TLS files are given but no endpoint is https://");
  }
  if (o.cert_file.empty() != o.key_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "an etcd client certificate needs both its certificate and key files");
  }
  if (any_tls) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    ctx.set_verify_mode(ssl::verify_peer, ec);
    if (o.ca_file.empty()) {
      ctx.set_default_verify_paths(ec);
    } else {
      ctx.load_verify_file(o.ca_file, ec);
    }
    if (ec) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "cannot load the etcd CA certificates: " + ec.message());
    }
    if (!o.cert_file.empty()) {
      ctx.use_certificate_chain_file(o.cert_file, ec);
      if (!ec) ctx.use_private_key_file(o.key_file, ssl::context::pem, ec);
      if (ec) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "cannot load the etcd client certificate or key: " + ec.message());
      }
    }
    c->impl_->tls_context.emplace(std::move(ctx));
  }
  return c;
}

size_t Client::current_endpoint() const { return impl_->current.load(); }

namespace {

// The request a Client sends, and how failures are handled.
struct CallSpec {
  std::string_view path;
  const std::string* body = nullptr;
  std::optional<size_t> only_endpoint;  // no failover: this member only
  bool authenticate = true;             // send the auth token (false for the login itself)
};

// One call with failover; `reauthenticate` fetches a new etcd auth token.
Result<std::string> DoCall(Client::Impl& impl, const ClientOptions& o, const CallSpec& spec,
                           const std::function<Status()>& reauthenticate) {
  const auto deadline = Clock::now() + o.request_timeout;
  const size_t n = impl.endpoints.size();
  std::string last_why = "no attempt was made";
  size_t failures = 0;
  bool reauthenticated = false;
  simdjson::dom::parser parser;
  while (true) {
    const auto now = Clock::now();
    if (now >= deadline) break;
    if (spec.authenticate && !o.user.empty()) {
      bool need_token;
      {
        std::lock_guard lock(impl.mu);
        need_token = impl.token.empty();
      }
      if (need_token) {
        Status s = reauthenticate();
        if (!s.ok()) return s.error();
        continue;  // re-check the deadline
      }
    }
    const size_t ep = spec.only_endpoint ? *spec.only_endpoint : impl.current.load();
    std::string auth;
    if (spec.authenticate && !o.user.empty()) {
      std::lock_guard lock(impl.mu);
      auth = impl.token;
    }
    auto conn = impl.Take(ep);
    const bool reused = conn->used;
    Client::Impl::Attempt a = impl.RoundTrip(*conn, spec.path, *spec.body, auth, deadline - now,
                                             o.max_response_bytes, o.connect_timeout);
    if (a.answered) impl.Give(std::move(conn), o.max_idle_connections);
    const std::string where = impl.endpoints[ep].text;
    if (a.too_large) {
      return MakeError(ErrorCode::kPayloadTooLarge,
                       "etcd's response from " + where + " is larger than " +
                           std::to_string(o.max_response_bytes) + " bytes");
    }
    if (a.answered && a.status == 200) return std::move(a.body);
    if (a.answered) {
      const EtcdError e = ParseError(parser, a.body);
      if (e.code < 0 && a.status == 400 && a.body.find("CommonName") != std::string::npos) {
        // etcd 3.4.10+ (CVE-2020-15136): with authentication on, its gateway refuses a client
        // certificate that names a CommonName, which it would otherwise take as the user.
        return MakeError(ErrorCode::kInvalidArgument,
                         "etcd (" + where +
                             ") refuses the client certificate: its subject has a CommonName, "
                             "which etcd's JSON gateway does not accept while authentication "
                             "is on; use a certificate without a CN (IP or DNS names in "
                             "subjectAltName only), or authenticate with the user alone");
      }
      if (e.code < 0) {
        return MakeError(ErrorCode::kUnsupported,
                         where + std::string(spec.path) + " answered HTTP " +
                             std::to_string(a.status) +
                             ", not etcd's v3 JSON gateway (etcd 3.4 or later is needed)");
      }
      if (spec.authenticate && !o.user.empty() && IsAuthExpired(e) && !reauthenticated) {
        reauthenticated = true;
        {
          std::lock_guard lock(impl.mu);
          impl.token.clear();
        }
        continue;
      }
      if (!IsTransient(e)) {
        ErrorCode code = ErrorCode::kIoError;
        if (e.code == kGrpcInvalidArgument &&
            e.message.find("too many operations") != std::string::npos) {
          // A misconfiguration, not the request's fault: every group of that size fails alike.
          return MakeError(ErrorCode::kIoError,
                           "etcd (" + where + ") refused a transaction: " + e.message +
                               " (keyledger's --etcd-max-txn-ops is above the members' "
                               "--max-txn-ops: set them equal)");
        }
        if (e.code == kGrpcInvalidArgument) {
          code = e.message.find("too large") != std::string::npos ? ErrorCode::kPayloadTooLarge
                                                                  : ErrorCode::kInternal;
        } else if (e.code == kGrpcOutOfRange) {
          code = ErrorCode::kNotFound;  // a compacted revision
        } else if (e.code == kGrpcResourceExhausted) {
          code = ErrorCode::kUnavailable;  // etcd's space quota is exhausted
        } else if (e.code == kGrpcPermissionDenied || e.code == kGrpcUnauthenticated) {
          code = ErrorCode::kIoError;
        }
        return MakeError(code, "etcd (" + where + ") refused the request: " + e.message);
      }
      last_why = where + ": " + e.message;
    } else {
      last_why = where + ": " + a.why;
      // A keep-alive connection the server closed while it was idle fails at once: retry on a
      // fresh connection to the same member before calling the member unreachable.
      if (reused) continue;
    }
    ++failures;
    if (!spec.only_endpoint && n > 1) {
      size_t expected = ep;
      if (impl.current.compare_exchange_strong(expected, (ep + 1) % n)) {
        impl.Log(o, LogLevel::kWarning, "etcd: failing over from " + last_why);
      }
    }
    if (failures % n == 0) {
      // Every member failed once: pause briefly (a leader election takes 1-3 s).
      const auto pause =
          std::min<Clock::duration>(std::chrono::milliseconds(100), deadline - Clock::now());
      if (pause > Clock::duration::zero()) std::this_thread::sleep_for(pause);
    }
  }
  return MakeError(ErrorCode::kIoError, "etcd did not answer within " +
                                            std::to_string(o.request_timeout.count()) +
                                            " ms (last: " + last_why + ")");
}

Result<std::string> Call(Client::Impl& impl, const ClientOptions& o, std::string_view path,
                         const std::string& body, std::optional<size_t> only = std::nullopt) {
  auto reauthenticate = [&]() -> Status {
    std::string login = "{";
    AppendText(login, "name", o.user);
    login += ',';
    AppendText(login, "password", o.password);
    login += '}';
    CallSpec spec{"/v3/auth/authenticate", &login, only, false};
    KL_ASSIGN_OR_RETURN(std::string answer, DoCall(impl, o, spec, nullptr));
    simdjson::dom::parser parser;
    KL_ASSIGN_OR_RETURN(simdjson::dom::object obj, ParseObject(parser, answer));
    std::string_view token;
    if (obj["token"].get(token) || token.empty()) return Malformed("token");
    std::lock_guard lock(impl.mu);
    impl.token = std::string(token);
    return Status::Ok();
  };
  CallSpec spec{path, &body, only, true};
  return DoCall(impl, o, spec, reauthenticate);
}

}  // namespace

Result<RangeResponse> Client::Range(const RangeRequest& request) {
  std::string body;
  AppendRangeBody(body, request);
  KL_ASSIGN_OR_RETURN(std::string answer, Call(*impl_, options_, "/v3/kv/range", body));
  simdjson::dom::parser parser;
  KL_ASSIGN_OR_RETURN(simdjson::dom::object obj, ParseObject(parser, answer));
  return ParseRange(obj);
}

Result<TxnResponse> Client::Txn(const TxnRequest& request) {
  KL_ASSIGN_OR_RETURN(std::string answer, Call(*impl_, options_, "/v3/kv/txn", TxnBody(request)));
  simdjson::dom::parser parser;
  KL_ASSIGN_OR_RETURN(simdjson::dom::object obj, ParseObject(parser, answer));
  TxnResponse out;
  out.revision = HeaderRevision(obj);
  out.succeeded = BoolField(obj, "succeeded");
  simdjson::dom::array responses;
  if (!obj["responses"].get(responses)) {
    for (simdjson::dom::element e : responses) {
      simdjson::dom::object r;
      if (e.get(r)) return Malformed("responses");
      simdjson::dom::object range;
      if (!r["response_range"].get(range)) {
        KL_ASSIGN_OR_RETURN(RangeResponse rr, ParseRange(range));
        out.ranges.push_back(std::move(rr));
      }
    }
  }
  return out;
}

Result<int64_t> Client::LeaseGrant(int64_t ttl_seconds) {
  std::string body = "{";
  AppendNumber(body, "TTL", ttl_seconds);
  body += '}';
  KL_ASSIGN_OR_RETURN(std::string answer, Call(*impl_, options_, "/v3/lease/grant", body));
  simdjson::dom::parser parser;
  KL_ASSIGN_OR_RETURN(simdjson::dom::object obj, ParseObject(parser, answer));
  KL_ASSIGN_OR_RETURN(int64_t id, Int64Field(obj, "ID"));
  if (id == 0) return Malformed("lease ID");
  return id;
}

Status Client::LeaseRevoke(int64_t id) {
  std::string body = "{";
  AppendNumber(body, "ID", id);
  body += '}';
  auto r = Call(*impl_, options_, "/v3/lease/revoke", body);
  if (!r.ok() && r.error().message.find("lease not found") == std::string::npos) {
    return r.error();
  }
  return Status::Ok();
}

Result<LeaseInfo> Client::LeaseTimeToLive(int64_t id) {
  std::string body = "{";
  AppendNumber(body, "ID", id);
  body += ",\"keys\":true}";
  KL_ASSIGN_OR_RETURN(std::string answer, Call(*impl_, options_, "/v3/lease/timetolive", body));
  simdjson::dom::parser parser;
  KL_ASSIGN_OR_RETURN(simdjson::dom::object obj, ParseObject(parser, answer));
  LeaseInfo info;
  KL_ASSIGN_OR_RETURN(info.ttl, Int64Field(obj, "TTL"));
  KL_ASSIGN_OR_RETURN(info.granted_ttl, Int64Field(obj, "grantedTTL"));
  simdjson::dom::array keys;
  if (!obj["keys"].get(keys)) {
    for (simdjson::dom::element e : keys) {
      std::string_view s;
      if (e.get(s)) return Malformed("lease keys");
      auto key = crypto::Base64Decode(s);
      if (!key.ok()) return Malformed("lease keys");
      info.keys.push_back(std::move(key).value());
    }
  }
  return info;
}

namespace {

// One line of a watch stream: {"result":{...}} or {"error":{...}}.
Result<WatchMessage> ParseWatchLine(simdjson::dom::parser& parser, std::string_view line) {
  simdjson::dom::object top;
  if (parser.parse(line.data(), line.size()).get(top)) return Malformed("watch message");
  simdjson::dom::object error;
  if (!top["error"].get(error)) {
    std::string_view text;
    if (error["message"].get(text)) text = "unknown error";
    return MakeError(ErrorCode::kIoError, "etcd ended the watch: " + Truncate(text));
  }
  simdjson::dom::object result;
  if (top["result"].get(result)) return Malformed("watch message without a result");
  WatchMessage m;
  m.revision = HeaderRevision(result);
  m.created = BoolField(result, "created");
  m.canceled = BoolField(result, "canceled");
  KL_ASSIGN_OR_RETURN(m.compact_revision, Int64Field(result, "compact_revision"));
  std::string_view reason;
  if (!result["cancel_reason"].get(reason)) m.cancel_reason = Truncate(reason);
  simdjson::dom::array events;
  if (!result["events"].get(events)) {
    for (simdjson::dom::element e : events) {
      simdjson::dom::object ev;
      if (e.get(ev)) return Malformed("watch events");
      WatchEvent out;
      std::string_view type;
      out.deleted = !ev["type"].get(type) && type == "DELETE";
      simdjson::dom::object kv;
      if (!ev["kv"].get(kv)) {
        KL_ASSIGN_OR_RETURN(out.kv.key, BytesField(kv, "key"));
        KL_ASSIGN_OR_RETURN(out.kv.value, BytesField(kv, "value"));
        KL_ASSIGN_OR_RETURN(out.kv.create_revision, Int64Field(kv, "create_revision"));
        KL_ASSIGN_OR_RETURN(out.kv.mod_revision, Int64Field(kv, "mod_revision"));
        KL_ASSIGN_OR_RETURN(out.kv.version, Int64Field(kv, "version"));
      }
      m.events.push_back(std::move(out));
    }
  }
  return m;
}

}  // namespace

Status Client::Watch(const WatchRequest& request,
                     const std::function<bool(const WatchMessage&)>& on_message) {
  Impl& impl = *impl_;
  const ClientOptions& o = options_;
  std::string auth;
  if (!o.user.empty()) {
    // Any call fetches (or renews) the token the watch then presents.
    RangeRequest probe;
    probe.key = request.key;
    probe.keys_only = true;
    probe.limit = 1;
    KL_RETURN_IF_ERROR(Range(probe).status());
    std::lock_guard lock(impl.mu);
    auth = impl.token;
  }
  const size_t ep = impl.current.load();
  const std::string where = impl.endpoints[ep].text;
  auto failed = [&](const std::string& why) {
    return MakeError(ErrorCode::kIoError, "etcd watch on " + where + ": " + why);
  };
  Impl::Connection c(ep);
  if (std::string why = impl.Connect(c, o.connect_timeout); !why.empty()) return failed(why);

  std::string body = "{\"create_request\":{";
  AppendBytes(body, "key", request.key);
  if (!request.range_end.empty()) {
    body += ',';
    AppendBytes(body, "range_end", request.range_end);
  }
  if (request.start_revision > 0) {
    body += ',';
    AppendNumber(body, "start_revision", request.start_revision);
  }
  body += "}}";
  const Endpoint& endpoint = impl.endpoints[ep];
  http::request<http::string_body> req{http::verb::post, "/v3/watch", 11};
  req.set(http::field::host, endpoint.host + ":" + endpoint.port);
  req.set(http::field::content_type, "application/json");
  if (!auth.empty()) req.set(http::field::authorization, auth);
  // grpc-gateway passes Grpc-Metadata-* on as gRPC metadata; etcd reads "hasleader".
  if (request.require_leader) req.set("Grpc-Metadata-hasleader", "true");
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();

  beast::error_code ec;
  bool finished = false;
  auto on_done = [&](beast::error_code e, size_t) {
    ec = e;
    finished = true;
  };
  // Runs the pending operation, calling back with a tick whenever request.tick passes; false
  // when the callback asked to stop (the operation is then cancelled and drained).
  auto run = [&]() -> bool {
    while (!finished) {
      c.ioc.restart();
      c.ioc.run_for(request.tick);
      if (finished) break;
      WatchMessage tick;
      tick.tick = true;
      if (!on_message(tick)) {
        // Abort the pending operation and let it finish before the stream goes away.
        beast::error_code ignored;
        c.lowest().socket().close(ignored);
        c.ioc.restart();
        c.ioc.run();
        c.Close();
        return false;
      }
    }
    finished = false;
    return true;
  };
  c.lowest().expires_after(o.request_timeout);
  if (c.tls) {
    http::async_write(*c.tls, req, on_done);
  } else {
    http::async_write(*c.tcp, req, on_done);
  }
  if (!run()) return Status::Ok();
  if (ec) return failed(ec.message());
  // The stream lives as long as the watch: its liveness is the caller's probe, not a timer.
  c.lowest().expires_never();

  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (c.tls) {
    http::async_read_header(*c.tls, c.buffer, parser, on_done);
  } else {
    http::async_read_header(*c.tcp, c.buffer, parser, on_done);
  }
  if (!run()) return Status::Ok();
  if (ec) return failed(ec.message());
  if (parser.get().result_int() != 200) {
    return failed("HTTP " + std::to_string(parser.get().result_int()));
  }
  simdjson::dom::parser json;
  while (true) {
    // Deliver every complete line; keep the rest for the next read.
    std::string& text = parser.get().body();
    size_t start = 0;
    for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
      std::string_view line(text.data() + start, nl - start);
      start = nl + 1;
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      auto message = ParseWatchLine(json, line);
      if (!message.ok()) {
        c.Close();
        return message.error();
      }
      if (!on_message(*message) || message->canceled) {
        c.Close();
        return Status::Ok();
      }
    }
    text.erase(0, start);
    if (text.size() > o.max_response_bytes) {
      c.Close();
      return failed("a watch message is larger than " + std::to_string(o.max_response_bytes) +
                    " bytes");
    }
    if (parser.is_done()) {
      c.Close();
      return failed("etcd ended the watch stream");
    }
    if (c.tls) {
      http::async_read_some(*c.tls, c.buffer, parser, on_done);
    } else {
      http::async_read_some(*c.tcp, c.buffer, parser, on_done);
    }
    if (!run()) return Status::Ok();
    if (ec) {
      c.Close();
      return failed("the watch stream broke: " + ec.message());
    }
  }
}

Result<std::string> Client::Post(std::string_view path, const std::string& body) {
  return Call(*impl_, options_, path, body);
}

Status Client::Compact(int64_t revision) {
  std::string body = "{";
  AppendNumber(body, "revision", revision);
  body += ",\"physical\":true}";
  auto r = Call(*impl_, options_, "/v3/kv/compaction", body);
  // Compacting to a revision already compacted is what we wanted anyway.
  if (!r.ok() && r.error().code != ErrorCode::kNotFound) return r.error();
  return Status::Ok();
}

Status Client::DefragmentAll() {
  const std::string body = "{}";
  for (size_t i = 0; i < impl_->endpoints.size(); ++i) {
    KL_RETURN_IF_ERROR(Call(*impl_, options_, "/v3/maintenance/defragment", body, i));
  }
  return Status::Ok();
}

}  // namespace keyledger::events::etcd
