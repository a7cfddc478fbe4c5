#pragma once
// The --etcd-* options, declared and checked once for every program that opens an etcd log:
// keyledgerd (with --store etcd) and the tools (keyledger-audit, keyledger-rebuild,
// keyledger-keys, in place of --data-dir). Each option also reads its KEYLEDGER_ETCD_* variable.
//
// Part of the command-line layer (keyledger_cli): plain strings only, no etcd type; the programs
// hand the checked values to events/store.hpp (CopyEtcdOptions). Thread-compatible.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/status.hpp"
#include "events/store.hpp"
#include "src/cli/command_line.hpp"

namespace keyledger::cli {

inline constexpr size_t kMaxEtcdEndpoints = 16;
inline constexpr std::string_view kDefaultEtcdPrefix = "/keyledger/default";
// --etcd-max-txn-ops: etcd's own default (128), and the range accepted.
inline constexpr std::string_view kDefaultEtcdMaxTxnOps = "128";
inline constexpr size_t kMinEtcdMaxTxnOps = 16;
inline constexpr size_t kMaxEtcdMaxTxnOps = 100'000;

// The values of the --etcd-* options (events/store.hpp StoreConfig's etcd fields, events/ETCD.md).
struct EtcdOptions {
  // --etcd-endpoints URL,URL,...: http(s)://HOST:PORT of the etcd members.
  std::string etcd_endpoints_text;
  std::vector<std::string> etcd_endpoints;                    // parsed from etcd_endpoints_text
  std::string etcd_prefix = std::string(kDefaultEtcdPrefix);  // --etcd-prefix
  std::string etcd_cacert;  // --etcd-cacert: CA of the members' certs (default: the system's)
  std::string etcd_cert;    // --etcd-cert and --etcd-key: client certificate
  std::string etcd_key;
  std::string etcd_user;           // --etcd-user: etcd authentication (default: none)
  std::string etcd_password_file;  // --etcd-password-file: that user's password
  // --etcd-max-txn-ops N: checked by CheckEtcdDetails (ParseEtcdMaxTxnOps).
  std::string etcd_max_txn_ops_text = std::string(kDefaultEtcdMaxTxnOps);
};

// Adds the eight --etcd-* options (with their KEYLEDGER_ETCD_* variables and help) to `cmd`.
// `endpoints_when` ends the help of --etcd-endpoints: when it applies ("required with --store
// etcd", "in place of --data-dir").
Command& AddEtcdOptions(Command& cmd, std::string_view endpoints_when);

// The names of those options, without dashes ("etcd-endpoints", ...), endpoints first.
const std::vector<std::string>& EtcdOptionNames();

// Reads the options' values from `args` (flag, else variable, else default) into `out`.
void ReadEtcdOptions(const Args& args, EtcdOptions& out);

// Splits etcd_endpoints_text into etcd_endpoints: entries stripped, empty ones dropped, each
// http:// or https://, at most kMaxEtcdEndpoints. kInvalidArgument naming the option otherwise.
Status SplitEtcdEndpoints(EtcdOptions& options);

// The prefix starts with '/' and does not end with one; --etcd-cert goes with --etcd-key and
// --etcd-user with --etcd-password-file. kInvalidArgument naming the option otherwise.
Status CheckEtcdDetails(const EtcdOptions& options);

// --etcd-max-txn-ops as a number in [kMinEtcdMaxTxnOps, kMaxEtcdMaxTxnOps]; nullopt otherwise.
std::optional<size_t> ParseEtcdMaxTxnOps(std::string_view text);

// Whether any --etcd-* option other than --etcd-prefix has a value (endpoints after splitting).
bool AnyEtcdOption(const EtcdOptions& options);

// Copies the checked values into the store's configuration (its etcd fields only). Inline, so
// that the command-line layer needs no link to the etcd library (keyledger_events_etcd).
inline void CopyEtcdOptions(const EtcdOptions& o, events::StoreConfig& config) {
  config.etcd_endpoints = o.etcd_endpoints;
  config.etcd_prefix = o.etcd_prefix;
  config.etcd_ca_file = o.etcd_cacert;
  config.etcd_cert_file = o.etcd_cert;
  config.etcd_key_file = o.etcd_key;
  config.etcd_user = o.etcd_user;
  config.etcd_password_file = o.etcd_password_file;
  config.etcd_max_txn_ops = ParseEtcdMaxTxnOps(o.etcd_max_txn_ops_text).value_or(128);
}

}  // namespace keyledger::cli
