// Issue 4's randomized model test: 10,000 random commands across 20 providers, applied to the
// registry and to a deliberately simple reference model; after every step the touched provider's
// key table and the grouped-by-format view must order and show exactly what the model says.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "projections/domain.hpp"
#include "projections/views.hpp"
#include "tests/registry/registry_harness.hpp"

namespace keyledger::registry {
namespace {

using testing::Harness;

struct ModelKey {
  std::string id;
  std::string provider;
  std::vector<std::string> formats;
  int64_t internal_priority = 50;
  std::optional<int64_t> global_priority;
  bool is_active = true;
  std::string name;
  uint64_t created = 0;  // creation order (the registry's clock ticks once per command)
  int64_t requests = 0;
};

struct Model {
  std::map<std::string, bool> providers;  // id -> is_active
  std::map<std::string, ModelKey> keys;

  std::vector<std::string> ProviderKeys(const std::string& pid) const {
    std::vector<const ModelKey*> v;
    for (const auto& [id, k] : keys) {
      if (k.provider == pid) v.push_back(&k);
    }
    std::sort(v.begin(), v.end(), [](auto* a, auto* b) {
      return std::tie(a->internal_priority, a->created, a->id) <
             std::tie(b->internal_priority, b->created, b->id);
    });
    std::vector<std::string> ids;
    for (auto* k : v) ids.push_back(k->id);
    return ids;
  }

  std::vector<std::pair<std::string, std::vector<std::string>>> Grouped() const {
    std::vector<const ModelKey*> v;
    for (const auto& [id, k] : keys) {
      if (k.is_active && providers.at(k.provider) && !k.formats.empty()) v.push_back(&k);
    }
    std::sort(v.begin(), v.end(), [](auto* a, auto* b) {
      auto key = [](auto* k) {
        return std::make_tuple(!k->global_priority, k->global_priority.value_or(INT64_MAX),
                               k->internal_priority, k->created, std::string_view(k->id));
      };
      return key(a) < key(b);
    });
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    for (const ModelKey* k : v) {
      for (const auto& f : k->formats) {
        auto it = std::find_if(groups.begin(), groups.end(), [&](auto& g) { return g.first == f; });
        if (it == groups.end()) {
          groups.push_back({f, {}});
          it = groups.end() - 1;
        }
        it->second.push_back(k->id);
      }
    }
    return groups;
  }
};

std::vector<std::string> IdsOf(std::string_view json_array) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json_array.data(), json_array.size());
  std::vector<std::string> ids;
  for (simdjson::dom::element item : doc.get_array()) {
    ids.emplace_back(std::string_view(item["id"].get_string()));
  }
  return ids;
}

std::vector<std::pair<std::string, std::vector<std::string>>> GroupsOf(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json.data(), json.size());
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (auto field : doc.get_object()) {
    std::vector<std::string> ids;
    for (simdjson::dom::element item : field.value.get_array()) {
      ids.emplace_back(std::string_view(item["id"].get_string()));
      EXPECT_EQ(std::string_view(item["api_format"].get_string()), field.key);
    }
    groups.emplace_back(std::string(field.key), std::move(ids));
  }
  return groups;
}

TEST(RegistryModelTest, TenThousandRandomCommandsMatchTheReferenceModel) {
  std::atomic<int64_t> tick{1'768'280'000'000'000};
  RegistryOptions options;
  options.clock = [&] { return tick.fetch_add(1); };
  options.snapshot_every = 0;
  Harness h(Harness::Store::kMemory, options);
  Model model;
  std::mt19937 rng(20261126);
  auto pick = [&](auto& container) {
    auto it = container.begin();
    std::advance(it, static_cast<long>(rng() % container.size()));
    return it;
  };
  std::vector<std::string> provider_ids;
  for (int i = 0; i < 20; ++i) {
    provider_ids.push_back(h.CreateProvider("provider-" + std::to_string(i)));
    model.providers[provider_ids.back()] = true;
  }
  uint64_t created = 0;
  auto random_formats = [&] {
    std::vector<std::string> formats;
    for (auto f : domain::kApiFormats) {
      if (rng() % 3 == 0) formats.emplace_back(f);
    }
    if (formats.empty()) formats.emplace_back(domain::kApiFormats[rng() % 6]);
    return formats;
  };

  constexpr int kSteps = 10'000;
  for (int step = 0; step < kSteps; ++step) {
    const int op = static_cast<int>(rng() % 100);
    std::string touched;
    if (op < 22 || model.keys.size() < 5) {
      KeyCreateIntent in;
      in.provider_id = *pick(provider_ids);
      in.key.api_formats = random_formats();
      in.key.name = "k" + std::to_string(step);
      in.key.internal_priority = static_cast<int64_t>(rng() % 5);
      if (rng() % 2) in.key.global_priority = static_cast<int64_t>(rng() % 4);
      in.key.is_active = rng() % 5 != 0;
      in.secret = "sk-model-" + std::to_string(step) + "-" + std::to_string(rng());
      ASSERT_OK_AND_ASSIGN(auto r, h.Run(MakeCreateKey(in)));
      ModelKey k{r.body.substr(7, 36),
                 in.provider_id,
                 in.key.api_formats,
                 in.key.internal_priority,
                 in.key.global_priority,
                 in.key.is_active,
                 in.key.name,
                 ++created,
                 0};
      touched = k.provider;
      model.keys[k.id] = k;
    } else if (op < 57) {
      auto it = pick(model.keys);
      ModelKey& k = it->second;
      KeyUpdateIntent up;
      up.key_id = k.id;
      if (rng() % 2) {
        up.fields.push_back("internal_priority");
        up.values.internal_priority = k.internal_priority = static_cast<int64_t>(rng() % 5);
      }
      if (rng() % 3 == 0) {
        up.fields.push_back("global_priority");
        if (rng() % 3 == 0) {
          k.global_priority.reset();
        } else {
          k.global_priority = static_cast<int64_t>(rng() % 4);
        }
        up.values.global_priority = k.global_priority;
      }
      if (rng() % 4 == 0) {
        up.fields.push_back("is_active");
        up.values.is_active = k.is_active = !k.is_active;
      }
      if (rng() % 5 == 0) {
        up.fields.push_back("api_formats");
        up.values.api_formats = k.formats = random_formats();
      }
      if (rng() % 5 == 0) {
        up.fields.push_back("name");
        up.values.name = k.name = "renamed-" + std::to_string(step);
      }
      ASSERT_OK(h.Run(MakeUpdateKey(up)));
      touched = k.provider;
    } else if (op < 72) {
      auto it = pick(model.keys);
      touched = it->second.provider;
      ASSERT_OK(h.Run(MakeDeleteKey(it->first)));
      model.keys.erase(it);
    } else if (op < 88) {
      auto it = pick(model.keys);
      ModelKey& k = it->second;
      HealthReportItem item;
      item.key_id = k.id;
      item.api_format = k.formats[rng() % k.formats.size()];
      item.successes = static_cast<int64_t>(rng() % 10);
      item.failures = static_cast<int64_t>(rng() % 10);
      item.total_response_time_ms = static_cast<int64_t>(rng() % 5000);
      item.at_us = 1'768'280'000'000'000 + step * 1'000'000LL;
      ASSERT_OK(h.Run(MakeReportHealth({item})));
      k.requests += item.successes + item.failures;
      touched = k.provider;
    } else if (op < 93) {
      auto it = pick(model.keys);
      ASSERT_OK(h.Run(MakeResetKeyHealth(it->first, std::nullopt)));
      touched = it->second.provider;
    } else {
      auto it = pick(model.providers);
      ProviderUpdateIntent up;
      up.provider_id = it->first;
      up.fields = {"is_active"};
      up.values.is_active = it->second = !it->second;
      ASSERT_OK(h.Run(MakeUpdateProvider(up)));
      touched = it->first;
    }

    auto state = h.registry().Current();
    ASSERT_EQ(IdsOf(projections::KeyListJson(*state, touched, 0, 1000)),
              model.ProviderKeys(touched))
        << "step " << step;
    ASSERT_EQ(GroupsOf(projections::GroupedByFormatJson(*state)), model.Grouped())
        << "step " << step;
    ASSERT_EQ(state->keys.size(), model.keys.size());
  }
  // Field-level check at the end: every key's visible fields.
  auto state = h.registry().Current();
  for (const auto& [id, k] : model.keys) {
    const auto* s = state->keys.Find(id);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->name, k.name);
    EXPECT_EQ(s->api_formats, k.formats);
    EXPECT_EQ(s->is_active, k.is_active);
    EXPECT_EQ(s->global_priority, k.global_priority);
    EXPECT_EQ(s->request_count, k.requests);
  }
  projections::State replayed;
  ASSERT_OK(projections::Replay(h.log(), replayed, h.log().GetHead().sequence));
  EXPECT_EQ(projections::StateDigestHex(replayed), projections::StateDigestHex(*state));
}

}  // namespace
}  // namespace keyledger::registry
