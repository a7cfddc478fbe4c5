#pragma once
// Opens the event log a program runs on: RocksDB in a data directory (the default) or etcd.
// The one place above which no backend type is named: keyledgerd chooses with --store and gets an
// EventLog back, so no etcd (or RocksDB) header reaches src/ or api/ through it.
//
// Ownership: the returned log is the caller's; Close() it before exit.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "events/event_log.hpp"
#include "events/log_sink.hpp"
#include "events/rocks_event_log.hpp"

namespace keyledger::events {

struct StoreConfig {
  enum class Kind : uint8_t { kRocksDb, kEtcd };
  Kind kind = Kind::kRocksDb;
  // RocksDB: the log itself. etcd: node-local snapshots only (under <data_dir>/etcd-snapshots).
  std::string data_dir;
  LogSink log;
  std::function<void(const GroupCommitStats&)> on_group_commit;
  // The RocksDB memory budget (README "Memory budget"): the log's with rocksdb, the node-local
  // snapshot store's with etcd.
  size_t block_cache_bytes = kDefaultBlockCacheBytes;
  size_t write_buffer_bytes = kDefaultWriteBufferBytes;

  // etcd (events/ETCD.md). Endpoints "http(s)://HOST:PORT"; the prefix every key lives under;
  // TLS files (empty: none; CA empty: the system trust store); user and password file (empty:
  // no etcd authentication).
  std::vector<std::string> etcd_endpoints;
  std::string etcd_prefix = "/keyledger/default";
  std::string etcd_ca_file;
  std::string etcd_cert_file;
  std::string etcd_key_file;
  std::string etcd_user;
  std::string etcd_password_file;  // read at open (at most 4 KiB; trailing newlines dropped)
  // Operations per etcd transaction: the members' --max-txn-ops (default 128, etcd's).
  size_t etcd_max_txn_ops = 128;
  // etcd: create the log when the prefix holds none (default true, as a first keyledgerd start
  // does). False for readers such as keyledger-audit: an empty prefix is then kNotFound and
  // nothing is written to etcd.
  bool etcd_create_if_missing = true;
};

// kInvalidArgument for a configuration that cannot work (no endpoints, a bad prefix); kNotFound
// for an etcd prefix without a log when etcd_create_if_missing is false; the backends' own errors
// otherwise (etcd unreachable: kIoError within the request timeout).
Result<std::unique_ptr<EventLog>> OpenStore(const StoreConfig& config);

// "rocksdb" or "etcd"; kInvalidArgument otherwise.
Result<StoreConfig::Kind> ParseStoreKind(std::string_view name);

}  // namespace keyledger::events
