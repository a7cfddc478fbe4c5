#include "tests/api/test_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <boost/beast/http.hpp>

namespace keyledger::api::testing {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool WaitFd(int fd, short events, Clock::time_point deadline) {
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

std::string TestResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return "";
}

bool TestResponse::HasHeader(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return true;
  }
  return false;
}

std::unique_ptr<Connection> Connection::Open(uint16_t port, const std::string& tls_ca_file) {
  std::unique_ptr<Connection> c(new Connection());
  c->fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd_ < 0) return nullptr;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(c->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return nullptr;
  int one = 1;
  ::setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // Bounded blocking for SSL_write/SSL_connect and plain send.
  timeval tv{10, 0};
  ::setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  ::setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (!tls_ca_file.empty()) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    c->ctx_ = ctx;
    if (ctx == nullptr || SSL_CTX_load_verify_locations(ctx, tls_ca_file.c_str(), nullptr) != 1) {
      return nullptr;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL* ssl = SSL_new(ctx);
    c->ssl_ = ssl;
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
    SSL_set_fd(ssl, c->fd_);
    if (SSL_connect(ssl) != 1) return nullptr;
  }
  return c;
}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (ssl_ != nullptr) {
    SSL_free(static_cast<SSL*>(ssl_));
    ssl_ = nullptr;
  }
  if (ctx_ != nullptr) {
    SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
    ctx_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void Connection::ShutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool Connection::Send(std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    if (ssl_ != nullptr) {
      const int n = SSL_write(static_cast<SSL*>(ssl_), bytes.data() + done,
                              static_cast<int>(bytes.size() - done));
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    } else {
      const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      done += static_cast<size_t>(n);
    }
  }
  return true;
}

long Connection::ReadSome(char* buf, size_t n, Clock::time_point deadline) {
  if (ssl_ != nullptr && SSL_pending(static_cast<SSL*>(ssl_)) > 0) {
    return SSL_read(static_cast<SSL*>(ssl_), buf, static_cast<int>(n));
  }
  if (!WaitFd(fd_, POLLIN, deadline)) return -2;
  if (ssl_ != nullptr) {
    const int r = SSL_read(static_cast<SSL*>(ssl_), buf, static_cast<int>(n));
    if (r > 0) return r;
    const int err = SSL_get_error(static_cast<SSL*>(ssl_), r);
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0;
    return -1;
  }
  while (true) {
    const ssize_t r = ::recv(fd_, buf, n, 0);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    return -1;
  }
}

std::optional<TestResponse> Connection::ReadResponse(std::chrono::milliseconds timeout,
                                                     bool head_request) {
  const auto deadline = Clock::now() + timeout;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  parser.skip(head_request);
  boost::beast::error_code ec;
  char buf[16384];
  bool eof = false;
  while (!parser.is_done()) {
    if (!pending_.empty()) {
      const size_t used = parser.put(boost::asio::buffer(pending_.data(), pending_.size()), ec);
      if (ec == http::error::need_more) {
        ec = {};
      } else if (ec) {
        return std::nullopt;
      }
      pending_.erase(0, used);
      if (parser.is_done()) break;
      // 1xx responses are returned like any other; callers skip them when they expect them.
      if (used > 0 && !pending_.empty()) continue;
    }
    if (eof) {
      // Beast's put_eof assumes some bytes arrived; EOF before any byte is no response at all.
      if (!parser.got_some() && pending_.empty()) return std::nullopt;
      parser.put_eof(ec);
      if (ec) return std::nullopt;
      break;
    }
    const long n = ReadSome(buf, sizeof(buf), deadline);
    if (n == 0) {
      eof = true;
      continue;
    }
    if (n < 0) return std::nullopt;
    pending_.append(buf, static_cast<size_t>(n));
  }
  const auto& msg = parser.get();
  TestResponse r;
  r.status = static_cast<int>(msg.result_int());
  for (const auto& f : msg) {
    r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  r.body = msg.body();
  r.keep_alive = msg.keep_alive();
  return r;
}

std::string Connection::ReadUntil(std::string_view needle, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char buf[16384];
  while (pending_.find(needle) == std::string::npos) {
    const long n = ReadSome(buf, sizeof(buf), deadline);
    if (n <= 0) break;
    pending_.append(buf, static_cast<size_t>(n));
  }
  std::string out = std::move(pending_);
  pending_.clear();
  return out;
}

bool Connection::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char buf[16384];
  while (true) {
    const long n = ReadSome(buf, sizeof(buf), deadline);
    if (n == 0 || n == -1) return true;
    if (n == -2) return false;
  }
}

std::string BuildRequest(std::string_view method, std::string_view target, const Headers& headers,
                         std::string_view body, bool keep_alive) {
  std::string out;
  out += method;
  out += ' ';
  out += target;
  out += " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool has_length = false;
  for (const auto& [k, v] : headers) {
    out += k + ": " + v + "\r\n";
    if (IEquals(k, "content-length") || IEquals(k, "transfer-encoding")) has_length = true;
  }
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT")) {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  out += body;
  return out;
}

TestResponse Fetch(uint16_t port, std::string_view method, std::string_view target,
                   const Headers& headers, std::string_view body) {
  auto c = Connection::Open(port);
  if (c == nullptr || !c->Send(BuildRequest(method, target, headers, body))) return {};
  auto r = c->ReadResponse(kDefaultIoTimeout, method == "HEAD");
  return r ? *r : TestResponse{};
}

std::string TlsHandshake(uint16_t port, const TlsOffer& offer) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string negotiated;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  bool ok = ctx != nullptr && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  if (ok) {
    // Level 0, so that what the client offers is what the test says, not what the system's
    // OpenSSL configuration allows.
    SSL_CTX_set_security_level(ctx, 0);
    if (offer.min_version != 0) SSL_CTX_set_min_proto_version(ctx, offer.min_version);
    if (offer.max_version != 0) SSL_CTX_set_max_proto_version(ctx, offer.max_version);
    if (!offer.ciphers.empty()) {
      ok = SSL_CTX_set_cipher_list(ctx, (offer.ciphers + ":@SECLEVEL=0").c_str()) == 1;
    }
    if (ok && !offer.ciphersuites.empty()) {
      ok = SSL_CTX_set_ciphersuites(ctx, offer.ciphersuites.c_str()) == 1;
    }
  }
  if (ok) {
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      negotiated = std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
      SSL_shutdown(ssl);
    }
  }
  ERR_clear_error();
  if (ssl != nullptr) SSL_free(ssl);
  if (ctx != nullptr) SSL_CTX_free(ctx);
  ::close(fd);
  return negotiated;
}

namespace {

bool GenerateCert(const std::string& cert_file, const std::string& key_file, CertKey key_type,
                  const char* name_field, const char* name_value);

}  // namespace

bool GenerateSelfSignedCert(const std::string& cert_file, const std::string& key_file,
                            CertKey key_type) {
  return GenerateCert(cert_file, key_file, key_type, "CN", "127.0.0.1");
}

bool GenerateClientCertWithoutCommonName(const std::string& cert_file,
                                         const std::string& key_file) {
  return GenerateCert(cert_file, key_file, CertKey::kEcP256, "O", "keyledger-test");
}

namespace {

bool GenerateCert(const std::string& cert_file, const std::string& key_file, CertKey key_type,
                  const char* name_field, const char* name_value) {
  EVP_PKEY* key = key_type == CertKey::kRsa2048 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (key == nullptr) return false;
  X509* cert = X509_new();
  bool ok = cert != nullptr;
  if (ok) {
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, name_field, MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(name_value), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* san =
        X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, const_cast<char*>("IP:127.0.0.1"));
    ok = san != nullptr && X509_add_ext(cert, san, -1) == 1;
    X509_EXTENSION_free(san);
    ok = ok && X509_sign(cert, key, EVP_sha256()) > 0;
  }
  if (ok) {
    FILE* f = std::fopen(cert_file.c_str(), "w");
    ok = f != nullptr && PEM_write_X509(f, cert) == 1;
    if (f != nullptr) std::fclose(f);
  }
  if (ok) {
    FILE* f = std::fopen(key_file.c_str(), "w");
    ok = f != nullptr && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    if (f != nullptr) std::fclose(f);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace

}  // namespace keyledger::api::testing
