#include "src/server_config.hpp"

#include <boost/program_options.hpp>

#include <cctype>
#include <charconv>
#include <sstream>

namespace keyledger {
namespace po = boost::program_options;

Status SplitListen(std::string_view listen, std::string& host, uint16_t& port) {
  auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--listen must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), got '" +
                         std::string(listen) + "'");
  };
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  std::string_view h = listen.substr(0, colon);
  std::string_view p = listen.substr(colon + 1);
  if (h.front() == '[') {
    if (h.back() != ']') return bad();
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return bad();
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc() || ptr != p.data() + p.size() || value > 65535 || h.empty()) return bad();
  host = h == "localhost" ? "127.0.0.1" : std::string(h);
  port = static_cast<uint16_t>(value);
  return Status::Ok();
}

Result<std::vector<std::string>> ParseCorsOrigins(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const size_t comma = text.find(',');
    std::string_view entry = text.substr(0, comma);
    while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.front()))) {
      entry.remove_prefix(1);
    }
    while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.back()))) {
      entry.remove_suffix(1);
    }
    if (!entry.empty()) {
      auto bad = [&] {
        return MakeError(ErrorCode::kInvalidArgument,
                         "--cors-origins: '" + std::string(entry) +
                             "' is not an origin such as https://admin.example.com or "
                             "http://localhost:5173 (scheme and host in lower case, an optional "
                             "port, no path or trailing '/'), nor '*'");
      };
      if (entry != "*") {
        std::string_view rest = entry;
        if (rest.starts_with("https://")) {
          rest.remove_prefix(8);
        } else if (rest.starts_with("http://")) {
          rest.remove_prefix(7);
        } else {
          return bad();
        }
        if (rest.empty()) return bad();
        for (char ch : rest) {
          const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                          ch == '-' || ch == ':' || ch == '[' || ch == ']';
          if (!ok) return bad();
        }
      }
      if (out.size() >= kMaxCorsOrigins) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "--cors-origins: at most " + std::to_string(kMaxCorsOrigins) + " origins");
      }
      out.emplace_back(entry);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

Result<ParsedServerArgs> ParseServerArgs(int argc, const char* const* argv, const GetEnv& getenv) {
  ParsedServerArgs out;
  ServerConfig& c = out.config;
  po::options_description desc(
      "keyledgerd: the keyledger server\n\n"
      "usage: keyledgerd [OPTIONS]\n"
      "       keyledgerd token create|revoke|list ...   (see keyledgerd token --help)\n"
      "       keyledgerd routes [--nginx]                (see keyledgerd routes --help)\n\n"
      "Every option can also be set through the environment: --data-dir as KEYLEDGER_DATA_DIR,\n"
      "and so on. The master key may be given base64 in KEYLEDGER_MASTER_KEY.\n\nOptions");
  desc.add_options()("help,h", "print this help")(
      "listen", po::value(&c.listen)->default_value(c.listen), "address and port to serve")(
      "data-dir", po::value(&c.data_dir)->default_value(c.data_dir),
      "data directory (RocksDB event log, development master key, tokens file)")(
      "threads", po::value(&c.threads)->default_value(c.threads), "HTTP I/O threads")(
      "master-key-file", po::value(&c.master_key_file),
      "32-byte master key, raw or base64 (default: KEYLEDGER_MASTER_KEY, else "
      "<data-dir>/master.key, created on first start for development)")(
      "tokens-file", po::value(&c.tokens_file),
      "management tokens (default <data-dir>/tokens.json)")(
      "jwt-secret-file", po::value(&c.jwt_secret_file),
      "HS256 secret: also accept Aether-compatible JWTs")("tls-cert", po::value(&c.tls_cert),
                                                          "PEM certificate chain: serve HTTPS")(
      "tls-key", po::value(&c.tls_key), "PEM private key for --tls-cert")(
      "snapshot-every", po::value(&c.snapshot_every)->default_value(c.snapshot_every),
      "events between projection snapshots (0: only at shutdown)")(
      "require-reveal-reason",
      po::value(&c.require_reveal_reason)->default_value(false)->implicit_value(true),
      "refuse reveal without an X-Audit-Reason header")(
      "echo-plaintext-on-create",
      po::value(&c.echo_plaintext_on_create)->default_value(false)->implicit_value(true),
      "answer api_key_plain on create, as Aether does (off: null)")(
      "secret-field-names", po::value(&c.secret_field_names),
      "comma-separated header and config member names (whole name, any case) whose values are "
      "also sealed and masked, on top of the built-in rule (names containing authorization, "
      "api_key, api-key, apikey, token, secret, password, passwd, cookie, credential)")(
      "log-level", po::value(&c.log_level)->default_value(c.log_level),
      "debug, info, warning or error")(
      "metrics-listen", po::value(&c.metrics_listen),
      "also serve GET /metrics without a token on this HOST:PORT, plain HTTP (default: none; "
      "/metrics on --listen needs an auditor token)")(
      "cors-origins", po::value(&c.cors_origins_text),
      "comma-separated origins whose browser pages may call the API (CORS), e.g. "
      "https://admin.example.com,http://localhost:5173; '*' for any origin, without "
      "credentials (default: none, no CORS headers)");

  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    // KEYLEDGER_<FLAG> for each flag (dashes as underscores); read through `getenv` so tests
    // can pass their own environment. The command line, stored first, wins.
    po::parsed_options env_opts(&desc);
    for (const auto& opt : desc.options()) {
      const std::string& name = opt->long_name();
      if (name == "help") continue;
      std::string var = "KEYLEDGER_";
      for (char ch : name) var += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
      if (const char* v = getenv(var.c_str())) {
        po::option o;
        o.string_key = name;
        o.value.push_back(v);
        env_opts.options.push_back(o);
      }
    }
    po::store(env_opts, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(e.what()) + " (see --help)");
  }
  if (vm.count("help")) {
    std::ostringstream help;
    help << desc;
    out.help = true;
    out.help_text = help.str();
    return out;
  }
  KL_RETURN_IF_ERROR(SplitListen(c.listen, c.host, c.port));
  if (!c.metrics_listen.empty()) {
    Status s = SplitListen(c.metrics_listen, c.metrics_host, c.metrics_port);
    if (!s.ok()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--metrics-listen must be HOST:PORT, got '" + c.metrics_listen + "'");
    }
  }
  if (c.threads < 1 || c.threads > 256) {
    return MakeError(ErrorCode::kInvalidArgument, "--threads must be between 1 and 256");
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key go together");
  }
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warning" &&
      c.log_level != "error") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--log-level must be debug, info, warning or error");
  }
  KL_ASSIGN_OR_RETURN(c.cors_origins, ParseCorsOrigins(c.cors_origins_text));
  if (c.tokens_file.empty()) c.tokens_file = c.data_dir + "/tokens.json";
  return out;
}

}  // namespace keyledger
