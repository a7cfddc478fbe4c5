#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "projections/persistent_map.hpp"
#include "projections/sorted_id_set.hpp"

namespace keyledger::projections {
namespace {

TEST(PersistentMapTest, ForksNeverSeeEachOthersChanges) {
  PersistentMap<int> a;
  for (int i = 0; i < 1000; ++i) a.Set("k" + std::to_string(i), std::make_shared<const int>(i));
  PersistentMap<int> b = a.Fork();
  b.Set("k1", std::make_shared<const int>(-1));
  b.Erase("k2");
  b.Set("new", std::make_shared<const int>(7));
  EXPECT_EQ(*a.Find("k1"), 1);
  EXPECT_NE(a.Find("k2"), nullptr);
  EXPECT_EQ(a.Find("new"), nullptr);
  EXPECT_EQ(a.size(), 1000u);
  EXPECT_EQ(*b.Find("k1"), -1);
  EXPECT_EQ(b.Find("k2"), nullptr);
  EXPECT_EQ(*b.Find("new"), 7);
  EXPECT_EQ(b.size(), 1000u);
  PersistentMap<int> c = b.Fork();
  c.Set("k1", std::make_shared<const int>(-2));
  EXPECT_EQ(*b.Find("k1"), -1);
}

TEST(PersistentMapTest, MatchesStdMapUnderRandomOperations) {
  std::mt19937 rng(42);
  PersistentMap<int> m;
  std::map<std::string, int> model;
  std::vector<std::pair<PersistentMap<int>, std::map<std::string, int>>> history;
  for (int step = 0; step < 20000; ++step) {
    std::string key = "key-" + std::to_string(rng() % 3000);
    if (rng() % 4 == 0) {
      EXPECT_EQ(m.Erase(key), model.erase(key) == 1);
    } else {
      int v = static_cast<int>(rng());
      m.Set(key, std::make_shared<const int>(v));
      model[key] = v;
    }
    if (step % 2000 == 0) {
      history.emplace_back(m.Fork(), model);
      m = history.back().first.Fork();
    }
  }
  ASSERT_EQ(m.size(), model.size());
  for (const auto& [k, v] : model) ASSERT_EQ(*m.Find(k), v);
  std::vector<std::string> keys;
  for (const auto& [k, v] : model) keys.push_back(k);
  EXPECT_EQ(m.SortedKeys(), keys);
  // Every saved version still shows exactly what it had.
  for (const auto& [snapshot, expected] : history) {
    ASSERT_EQ(snapshot.size(), expected.size());
    for (const auto& [k, v] : expected) ASSERT_EQ(*snapshot.Find(k), v);
  }
}

TEST(SortedIdSetTest, MatchesStdSetAndCopiesAreIndependent) {
  std::mt19937 rng(7);
  SortedIdSet s;
  std::set<std::string> model;
  for (int i = 0; i < 5000; ++i) {
    std::string id = std::to_string(rng() % 2000);
    if (rng() % 3 == 0) {
      s.Erase(id);
      model.erase(id);
    } else {
      s.Insert(id);
      model.insert(id);
    }
  }
  EXPECT_EQ(s.size(), model.size());
  EXPECT_EQ(s.ToVector(), std::vector<std::string>(model.begin(), model.end()));
  for (const auto& id : model) EXPECT_TRUE(s.Contains(id));
  EXPECT_FALSE(s.Contains("not-there"));
  SortedIdSet copy = s;
  copy.Insert("zzz");
  copy.Erase(*model.begin());
  EXPECT_EQ(s.ToVector(), std::vector<std::string>(model.begin(), model.end()));
  EXPECT_FALSE(copy == s);
}

}  // namespace
}  // namespace keyledger::projections
