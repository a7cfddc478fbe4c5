#include "tests/registry/random_workload.hpp"

#include "projections/domain.hpp"
#include "src/registry_commands.hpp"

namespace keyledger::registry::testing {

std::vector<std::unique_ptr<Command>> RandomWorkload::CreateProviders(int n) {
  std::vector<std::unique_ptr<Command>> out;
  for (int i = 0; i < n; ++i) {
    ProviderCreateIntent in;
    in.provider.name = "w-" + std::to_string(i);
    out.push_back(MakeCreateProvider(std::move(in)));
  }
  return out;
}

std::unique_ptr<Command> RandomWorkload::Next(const projections::State& state) {
  ++counter_;
  const auto providers = state.providers.SortedKeys();
  const auto keys = state.keys.SortedKeys();
  const int op = static_cast<int>(rng_() % 100);
  auto format = [&] { return std::string(domain::kApiFormats[rng_() % 6]); };
  if (op < 35 || keys.size() < 3) {
    KeyCreateIntent in;
    in.provider_id = providers[rng_() % providers.size()];
    in.key.api_formats = {format()};
    in.key.name = "key-" + std::to_string(counter_);
    in.key.internal_priority = static_cast<int64_t>(rng_() % 10);
    in.secret = "sk-random-" + std::to_string(counter_) + "-" + std::to_string(rng_());
    return MakeCreateKey(std::move(in));
  }
  const std::string& key = keys[rng_() % keys.size()];
  if (op < 60) {
    KeyUpdateIntent up;
    up.key_id = key;
    up.fields = {"internal_priority", "note"};
    up.values.internal_priority = static_cast<int64_t>(rng_() % 10);
    up.values.note = "n" + std::to_string(counter_);
    if (rng_() % 5 == 0) up.new_secret = "sk-rotated-" + std::to_string(counter_) + "-secret";
    return MakeUpdateKey(std::move(up));
  }
  if (op < 70) return MakeDeleteKey(key);
  if (op < 90) {
    const projections::KeyState& k = *state.keys.Find(key);
    HealthReportItem item;
    item.key_id = key;
    item.api_format = k.api_formats.front();
    item.successes = static_cast<int64_t>(rng_() % 5);
    item.failures = static_cast<int64_t>(rng_() % 5);
    item.total_response_time_ms = static_cast<int64_t>(rng_() % 1000);
    item.at_us = 1'768'280'000'000'000 + static_cast<int64_t>(counter_) * 1'000'000;
    return MakeReportHealth({item});
  }
  return MakeRevealKey(key);
}

}  // namespace keyledger::registry::testing
