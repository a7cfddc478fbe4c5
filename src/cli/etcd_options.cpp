#include "src/cli/etcd_options.hpp"

#include <cctype>

namespace keyledger::cli {

Command& AddEtcdOptions(Command& cmd, std::string_view endpoints_when) {
  const EtcdOptions d;
  return cmd
      .Add({.name = "etcd-endpoints",
            .value_name = "URL,URL",
            .help = "the etcd members, comma-separated http://HOST:PORT or https://HOST:PORT (" +
                    std::string(endpoints_when) + ")",
            .env = "KEYLEDGER_ETCD_ENDPOINTS"})
      .Add({.name = "etcd-prefix",
            .value_name = "PREFIX",
            .help = "etcd key prefix of this log (starts with '/', no trailing '/')",
            .default_value = d.etcd_prefix,
            .env = "KEYLEDGER_ETCD_PREFIX"})
      .Add({.name = "etcd-cacert",
            .value_name = "FILE",
            .help = "PEM CA bundle for the etcd members' certificates (default: the system's)",
            .env = "KEYLEDGER_ETCD_CACERT"})
      .Add({.name = "etcd-cert",
            .value_name = "FILE",
            .help = "PEM client certificate for etcd (with --etcd-key)",
            .env = "KEYLEDGER_ETCD_CERT"})
      .Add({.name = "etcd-key",
            .value_name = "FILE",
            .help = "PEM private key of --etcd-cert",
            .env = "KEYLEDGER_ETCD_KEY"})
      .Add({.name = "etcd-user",
            .value_name = "NAME",
            .help = "etcd user (etcd authentication; with --etcd-password-file)",
            .env = "KEYLEDGER_ETCD_USER"})
      .Add({.name = "etcd-password-file",
            .value_name = "FILE",
            .help = "file holding the etcd user's password (trailing newlines ignored)",
            .env = "KEYLEDGER_ETCD_PASSWORD_FILE"})
      .Add({.name = "etcd-max-txn-ops",
            .value_name = "N",
            .help = "operations per etcd transaction: the members' --max-txn-ops (raise both "
                    "together so that a group commit of more than 42 writes is one transaction)",
            .default_value = d.etcd_max_txn_ops_text,
            .env = "KEYLEDGER_ETCD_MAX_TXN_OPS"});
}

const std::vector<std::string>& EtcdOptionNames() {
  static const std::vector<std::string> names = {
      "etcd-endpoints", "etcd-prefix", "etcd-cacert",        "etcd-cert",
      "etcd-key",       "etcd-user",   "etcd-password-file", "etcd-max-txn-ops",
  };
  return names;
}

void ReadEtcdOptions(const Args& args, EtcdOptions& out) {
  auto text = [&](std::string_view name) { return args.Get(name).value_or(""); };
  out.etcd_endpoints_text = text("etcd-endpoints");
  out.etcd_prefix = args.Get("etcd-prefix").value_or(std::string(kDefaultEtcdPrefix));
  out.etcd_cacert = text("etcd-cacert");
  out.etcd_cert = text("etcd-cert");
  out.etcd_key = text("etcd-key");
  out.etcd_user = text("etcd-user");
  out.etcd_password_file = text("etcd-password-file");
  out.etcd_max_txn_ops_text =
      args.Get("etcd-max-txn-ops").value_or(std::string(kDefaultEtcdMaxTxnOps));
}

Status SplitEtcdEndpoints(EtcdOptions& o) {
  auto bad = [](std::string msg) { return MakeError(ErrorCode::kInvalidArgument, msg); };
  o.etcd_endpoints.clear();
  std::string_view rest = o.etcd_endpoints_text;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view entry = rest.substr(0, comma);
    while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.front()))) {
      entry.remove_prefix(1);
    }
    while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.back()))) {
      entry.remove_suffix(1);
    }
    if (!entry.empty()) {
      if (!entry.starts_with("http://") && !entry.starts_with("https://")) {
        return bad("--etcd-endpoints: '" + std::string(entry) +
                   "' is not http://HOST:PORT or https://HOST:PORT");
      }
      if (o.etcd_endpoints.size() >= kMaxEtcdEndpoints) {
        return bad("--etcd-endpoints: at most " + std::to_string(kMaxEtcdEndpoints) + " endpoints");
      }
      o.etcd_endpoints.emplace_back(entry);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return Status::Ok();
}

Status CheckEtcdDetails(const EtcdOptions& o) {
  auto bad = [](std::string msg) { return MakeError(ErrorCode::kInvalidArgument, msg); };
  const std::string& p = o.etcd_prefix;
  if (p.size() < 2 || p.front() != '/' || p.back() == '/') {
    return bad("--etcd-prefix must start with '/' and not end with one, got '" + p + "'");
  }
  if (o.etcd_cert.empty() != o.etcd_key.empty()) {
    return bad("--etcd-cert and --etcd-key go together");
  }
  if (o.etcd_user.empty() != o.etcd_password_file.empty()) {
    return bad("--etcd-user and --etcd-password-file go together");
  }
  if (!ParseEtcdMaxTxnOps(o.etcd_max_txn_ops_text)) {
    return bad("--etcd-max-txn-ops must be an integer from " + std::to_string(kMinEtcdMaxTxnOps) +
               " to " + std::to_string(kMaxEtcdMaxTxnOps) + " (the members' --max-txn-ops), got '" +
               o.etcd_max_txn_ops_text + "'");
  }
  return Status::Ok();
}

std::optional<size_t> ParseEtcdMaxTxnOps(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  size_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  if (n < kMinEtcdMaxTxnOps || n > kMaxEtcdMaxTxnOps) return std::nullopt;
  return n;
}

bool AnyEtcdOption(const EtcdOptions& o) {
  return !o.etcd_endpoints.empty() || !o.etcd_cacert.empty() || !o.etcd_cert.empty() ||
         !o.etcd_key.empty() || !o.etcd_user.empty() || !o.etcd_password_file.empty();
}

}  // namespace keyledger::cli
