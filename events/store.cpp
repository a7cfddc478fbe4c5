#include "events/store.hpp"

#include <fstream>

#include "events/etcd_event_log.hpp"

namespace keyledger::events {
namespace {

constexpr size_t kMaxPasswordFileBytes = 4096;

Result<std::string> ReadPasswordFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kInvalidArgument, "cannot read " + path);
  std::string data;
  char buf[512];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (data.size() > kMaxPasswordFileBytes) {
      return MakeError(ErrorCode::kInvalidArgument, path + " is larger than 4 KiB");
    }
  }
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) data.pop_back();
  if (data.empty()) return MakeError(ErrorCode::kInvalidArgument, path + " is empty");
  return data;
}

}  // namespace

Result<StoreConfig::Kind> ParseStoreKind(std::string_view name) {
  if (name == "rocksdb") return StoreConfig::Kind::kRocksDb;
  if (name == "etcd") return StoreConfig::Kind::kEtcd;
  return MakeError(ErrorCode::kInvalidArgument,
                   "--store must be rocksdb or etcd, got '" + std::string(name) + "'");
}

Result<std::unique_ptr<EventLog>> OpenStore(const StoreConfig& config) {
  if (config.kind == StoreConfig::Kind::kRocksDb) {
    RocksEventLog::Options o;
    o.log = config.log;
    o.on_group_commit = config.on_group_commit;
    o.block_cache_bytes = config.block_cache_bytes;
    o.write_buffer_bytes = config.write_buffer_bytes;
    KL_ASSIGN_OR_RETURN(auto log, RocksEventLog::Open(config.data_dir, o));
    return std::unique_ptr<EventLog>(std::move(log));
  }
  if (config.etcd_endpoints.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--store etcd needs --etcd-endpoints");
  }
  EtcdEventLog::Options o;
  o.client.endpoints = config.etcd_endpoints;
  o.client.ca_file = config.etcd_ca_file;
  o.client.cert_file = config.etcd_cert_file;
  o.client.key_file = config.etcd_key_file;
  o.client.user = config.etcd_user;
  if (!config.etcd_password_file.empty()) {
    KL_ASSIGN_OR_RETURN(o.client.password, ReadPasswordFile(config.etcd_password_file));
  }
  o.client.log = config.log;
  o.prefix = config.etcd_prefix;
  o.max_txn_ops = config.etcd_max_txn_ops;
  if (!config.etcd_create_if_missing) {
    // Opening creates the layout in an empty prefix (EtcdEventLog::Init); a reader looks first.
    KL_ASSIGN_OR_RETURN(auto client, etcd::Client::Create(o.client));
    etcd::RangeRequest get;
    get.key = EtcdEventLog::Keys{config.etcd_prefix}.FormatKey();
    get.keys_only = true;
    KL_ASSIGN_OR_RETURN(etcd::RangeResponse found, client->Range(get));
    if (found.kvs.empty()) {
      return MakeError(ErrorCode::kNotFound,
                       "etcd prefix " + config.etcd_prefix + " holds no keyledger log");
    }
  }
  o.local_dir = config.data_dir;
  o.local_block_cache_bytes = config.block_cache_bytes;
  o.local_write_buffer_bytes = config.write_buffer_bytes;
  o.log = config.log;
  o.on_group_commit = config.on_group_commit;
  KL_ASSIGN_OR_RETURN(auto log, EtcdEventLog::Open(std::move(o)));
  return std::unique_ptr<EventLog>(std::move(log));
}

}  // namespace keyledger::events
