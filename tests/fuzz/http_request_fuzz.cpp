// libFuzzer target: what the HTTP server does with the bytes of a request before any handler
// runs. Beast parses the header (and the body, with the server's limits); then the server's own
// checks run on it: obsolete line folding in the raw bytes, the framing rules (Host,
// Transfer-Encoding), the method's metric label and log form, and routing on the raw path.
// Seeds (tests/fuzz/corpus/http_request) include the smuggling cases and a flood of method names.
// Every input must give an answer or an error: never crash, leak, hang or trip a sanitizer.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>

#include "api/http_framing.hpp"
#include "api/router.hpp"

namespace {

namespace http = boost::beast::http;
using keyledger::api::Router;

const Router& Routes() {
  static const Router* router = [] {
    auto* r = new Router();
    const auto noop = [](const keyledger::api::RequestPtr&, keyledger::api::Responder) {};
    for (const char* pattern :
         {"/api/admin/endpoints/keys/{key_id}", "/api/admin/endpoints/keys/{key_id}/reveal",
          "/api/admin/endpoints/keys/grouped-by-format", "/api/admin/providers/", "/healthz"}) {
      (void)r->Add({.method = "GET", .pattern = pattern, .handler = noop});
    }
    return r;
  }();
  return *router;
}

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
  target = target.substr(0, target.find('?'));
  if (!target.empty() && target.front() == '/') {
    const auto match = Routes().Match(method, target);
    Touch(match.params.size() + match.redirect_path.size());
  }
  return 0;
}
