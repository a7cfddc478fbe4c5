#include "tools/common/http_client.hpp"

#include <utility>  // before Boost.Asio headers (STYLE.md: Boost 1.74 with g++ 12)

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace keyledger::tools {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
constexpr size_t kMaxBodyBytes = 64 << 20;
}

Result<HttpUrl> ParseHttpUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.starts_with("https://")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "https:// is not supported by this tool; use the server's plain http "
                     "listener on 127.0.0.1");
  }
  if (!url.starts_with(kScheme)) {
    return MakeError(ErrorCode::kInvalidArgument, "the URL must start with http://");
  }
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  if (slash != std::string_view::npos) {
    out.target = std::string(rest.substr(slash));
    if (out.target.front() == '?') out.target.insert(out.target.begin(), '/');
  }
  if (authority.find('@') != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "credentials in the URL are not supported; use --token");
  }
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "unbalanced [ in the URL's host");
    }
    out.host = std::string(authority.substr(1, close - 1));
    authority = authority.substr(close + 1);
    if (authority.starts_with(":")) out.port = std::string(authority.substr(1));
  } else {
    const size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty() || out.port.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the URL has no host or an empty port");
  }
  return out;
}

Result<HttpResponse> HttpGet(const std::string& url, const std::string& bearer_token,
                             std::chrono::milliseconds timeout) {
  KL_ASSIGN_OR_RETURN(HttpUrl u, ParseHttpUrl(url));
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  http::request<http::empty_body> req{http::verb::get, u.target, 11};
  req.set(http::field::host, u.host);
  req.set(http::field::user_agent, "keyledger-tools");
  req.set(http::field::accept, "application/json");
  if (!bearer_token.empty()) req.set(http::field::authorization, "Bearer " + bearer_token);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBodyBytes);

  // Async operations, because beast::tcp_stream's timeouts apply only to them; ioc.run() drives
  // the whole exchange on this thread.
  beast::error_code failure;
  std::string failed_step;
  auto fail = [&](beast::error_code ec, const char* step) {
    failure = ec;
    failed_step = step;
  };
  resolver.async_resolve(u.host, u.port, [&](beast::error_code ec, tcp::resolver::results_type r) {
    if (ec) return fail(ec, "resolve");
    stream.expires_after(timeout);
    stream.async_connect(r, [&](beast::error_code ec2, const tcp::endpoint&) {
      if (ec2) return fail(ec2, "connect");
      stream.expires_after(timeout);
      http::async_write(stream, req, [&](beast::error_code ec3, size_t) {
        if (ec3) return fail(ec3, "send the request");
        http::async_read(stream, buffer, parser, [&](beast::error_code ec4, size_t) {
          if (ec4) return fail(ec4, "read the response");
        });
      });
    });
  });
  ioc.run();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);  // the peer may have closed
  if (failure) {
    return MakeError(ErrorCode::kUnavailable, "cannot " + failed_step + " (" + u.host + ":" +
                                                  u.port + "): " + failure.message());
  }
  HttpResponse out;
  out.status = static_cast<int>(parser.get().result_int());
  out.body = std::move(parser.get().body());
  return out;
}

}  // namespace keyledger::tools
