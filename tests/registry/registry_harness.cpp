#include "tests/registry/registry_harness.hpp"

#include "events/crypto.hpp"

namespace keyledger::registry::testing {

Harness::Harness(Store store, RegistryOptions base)
    : store_(store),
      base_(std::move(base)),
      data_dir_(dir_.Sub("data")),
      master_(crypto::RandomBytes(32)) {
  Open();
}

Harness::~Harness() { Close(); }

void Harness::Open() {
  LogSink sink = [this](LogLevel, std::string_view m) { log_lines_.emplace_back(m); };
  if (store_ == Store::kMemory) {
    if (!log_) {
      events::MemoryEventLog::Options o;
      o.fail_write = [this] { return fail_write && fail_write(); };
      log_ = std::make_unique<events::MemoryEventLog>(o);
    }
  } else {
    events::RocksEventLog::Options o;
    o.log = sink;
    auto log = events::RocksEventLog::Open(data_dir_, o);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }
  auto key = events::MasterKey::FromBytes(master_);
  EXPECT_TRUE(key.ok());
  auto keyring = events::Keyring::Open(*log_, std::move(key).value(), sink);
  EXPECT_TRUE(keyring.ok()) << keyring.status().ToString();
  keyring_ = std::move(keyring).value();
  RegistryOptions o = base_;
  o.log = log_.get();
  o.keyring = keyring_.get();
  o.log_sink = sink;
  auto registry = Registry::Open(o);
  EXPECT_TRUE(registry.ok()) << registry.status().ToString();
  registry_ = std::move(registry).value();
}

void Harness::Close() {
  if (registry_) {
    EXPECT_TRUE(registry_->Close().ok());
  }
  registry_.reset();
  keyring_.reset();
  if (store_ == Store::kRocks && log_) {
    EXPECT_TRUE(log_->Close().ok());
    log_.reset();
  }
}

void Harness::Reopen() {
  Close();
  Open();
}

RequestContext Harness::Admin() {
  RequestContext c;
  c.actor = "ops";
  c.client_ip = "127.0.0.1";
  c.request_id = "req-test";
  return c;
}

Result<CommandResult> Harness::Run(std::unique_ptr<Command> command, RequestContext ctx) {
  return registry_->Execute(std::move(command), std::move(ctx));
}

std::string Harness::CreateProvider(const std::string& name) {
  ProviderCreateIntent in;
  in.provider.name = name;
  auto r = Run(MakeCreateProvider(std::move(in)));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return "";
  const auto& s = *registry_->Current();
  const std::string* id = s.provider_names.Find(name);
  return id ? *id : "";
}

std::string Harness::CreateKey(const std::string& provider_id, const std::string& secret,
                               std::vector<std::string> formats, const std::string& name) {
  KeyCreateIntent in;
  in.provider_id = provider_id;
  in.key.api_formats = std::move(formats);
  in.key.name = name;
  in.secret = secret;
  auto r = Run(MakeCreateKey(std::move(in)));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return "";
  // The response body starts with {"id":"<uuid>"
  return r->body.substr(7, 36);
}

}  // namespace keyledger::registry::testing
