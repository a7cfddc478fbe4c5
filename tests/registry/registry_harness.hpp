#pragma once
// A registry over a real event log and keyring, for tests.

#include <memory>
#include <string>

#include "events/memory_event_log.hpp"
#include "events/rocks_event_log.hpp"
#include "events/secrets.hpp"
#include "src/registry.hpp"
#include "src/registry_commands.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::registry::testing {

class Harness {
 public:
  enum class Store { kMemory, kRocks };
  explicit Harness(Store store = Store::kMemory, RegistryOptions base = {});
  ~Harness();

  // Closes the registry, keyring and log (RocksDB only) and opens them again on the same data.
  void Reopen();
  void Close();

  Registry& registry() { return *registry_; }
  events::EventLog& log() { return *log_; }
  events::Keyring& keyring() { return *keyring_; }
  const std::string& data_dir() const { return data_dir_; }
  std::vector<std::string>& log_lines() { return log_lines_; }

  // Runs a command as "admin" from 127.0.0.1 and returns its result.
  Result<CommandResult> Run(std::unique_ptr<Command> command, RequestContext ctx = Admin());
  static RequestContext Admin();

  // Convenience: a provider (returns its id) and a key (returns its id).
  std::string CreateProvider(const std::string& name);
  std::string CreateKey(const std::string& provider_id, const std::string& secret,
                        std::vector<std::string> formats = {"CLAUDE"},
                        const std::string& name = "main");

  std::function<bool()> fail_write;  // memory store fault seam

 private:
  void Open();

  Store store_;
  RegistryOptions base_;
  keyledger::testing::TempDir dir_;
  std::string data_dir_;
  std::string master_;
  std::vector<std::string> log_lines_;
  std::unique_ptr<events::EventLog> log_;
  std::unique_ptr<events::Keyring> keyring_;
  std::unique_ptr<Registry> registry_;
};

}  // namespace keyledger::registry::testing
