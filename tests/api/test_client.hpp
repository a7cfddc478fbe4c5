#pragma once
// A blocking HTTP/1.1 test client over POSIX sockets (optionally TLS through OpenSSL) that only
// ever talks to 127.0.0.1. Every read is bounded by a timeout, so a broken server fails a test
// instead of hanging it. Responses are parsed with Beast's parser (Content-Length, chunked,
// close-delimited) in test_client.cpp, the only Beast translation unit of the tests.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyledger::api::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct TestResponse {
  int status = 0;
  Headers headers;  // names as sent
  std::string body;
  bool keep_alive = true;
  // First header with this name (case-insensitive), or "".
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

inline constexpr std::chrono::milliseconds kDefaultIoTimeout{10'000};

class Connection {
 public:
  // Connects to 127.0.0.1:port; with `tls_ca_file` set, performs a TLS handshake verifying the
  // server certificate against that CA file and the IP 127.0.0.1. nullptr on failure.
  static std::unique_ptr<Connection> Open(uint16_t port, const std::string& tls_ca_file = "");
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool Send(std::string_view bytes);
  // One response; nullopt on EOF, reset, parse error or timeout. `head_request` = response to
  // HEAD (no body follows).
  std::optional<TestResponse> ReadResponse(std::chrono::milliseconds timeout = kDefaultIoTimeout,
                                           bool head_request = false);
  // Raw bytes until `needle` has been seen (returns everything read, including what was
  // buffered), or until timeout/EOF (then the bytes so far).
  std::string ReadUntil(std::string_view needle, std::chrono::milliseconds timeout);
  // True when the peer closes (EOF or reset) within `timeout`; discards data meanwhile.
  bool WaitClosed(std::chrono::milliseconds timeout);
  // Half-closes the sending side (the server sees EOF).
  void ShutdownWrite();
  void Close();

 private:
  Connection() = default;
  // >0 bytes read, 0 on EOF, -1 on error, -2 on timeout.
  long ReadSome(char* buf, size_t n, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  void* ssl_ = nullptr;  // SSL*
  void* ctx_ = nullptr;  // SSL_CTX*
  std::string pending_;  // bytes read past the last response
};

std::string BuildRequest(std::string_view method, std::string_view target,
                         const Headers& headers = {}, std::string_view body = {},
                         bool keep_alive = true);

// Opens a connection, sends one request, reads one response (status 0 on failure).
TestResponse Fetch(uint16_t port, std::string_view method, std::string_view target,
                   const Headers& headers = {}, std::string_view body = {});

// Writes a fresh self-signed certificate (SAN IP 127.0.0.1) and its key as PEM: EC P-256, or
// RSA 2048 (which also makes RSA key exchange possible, for tests that must see it refused).
enum class CertKey { kEcP256, kRsa2048 };
bool GenerateSelfSignedCert(const std::string& cert_file, const std::string& key_file,
                            CertKey key_type = CertKey::kEcP256);
// A self-signed client certificate whose subject has no CommonName (O=keyledger-test), for
// 127.0.0.1: what etcd's JSON gateway accepts while authentication is on.
bool GenerateClientCertWithoutCommonName(const std::string& cert_file, const std::string& key_file);

// A client that offers only what it is told: TLS versions (0 = OpenSSL's default bound) and
// the TLS 1.2 cipher list / TLS 1.3 suites (empty = OpenSSL's defaults).
struct TlsOffer {
  int min_version = 0;  // e.g. TLS1_2_VERSION (0x0303)
  int max_version = 0;
  std::string ciphers{};       // SSL_CTX_set_cipher_list syntax, at security level 0
  std::string ciphersuites{};  // SSL_CTX_set_ciphersuites syntax
};
// Handshakes with 127.0.0.1:port (no certificate verification). The negotiated
// "<version> <cipher>" (e.g. "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256"), or "" when the handshake
// fails.
std::string TlsHandshake(uint16_t port, const TlsOffer& offer);

}  // namespace keyledger::api::testing
