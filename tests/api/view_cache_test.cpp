// ViewCache (api/admin_api_internal.hpp): serialized views cached per state and key.
#include <gtest/gtest.h>

#include "api/admin_api_internal.hpp"

namespace keyledger::api {
namespace {

TEST(ViewCacheTest, ComputesEachViewOncePerStateAndKey) {
  ViewCache cache;
  projections::State s;
  s.sequence = 7;
  int computed = 0;
  auto view = [&](std::string body) {
    return [&computed, body] {
      ++computed;
      return body;
    };
  };
  auto a = cache.Get(s, "grouped", view("A"));
  auto again = cache.Get(s, "grouped", view("not used"));
  EXPECT_EQ(a.get(), again.get());
  EXPECT_EQ(*again, "A");
  auto b = cache.Get(s, "keys/p?0,100", view("B"));
  EXPECT_EQ(*b, "B");
  EXPECT_EQ(*cache.Get(s, "keys/p?0,100", view("not used")), "B");
  EXPECT_EQ(computed, 2);
}

TEST(ViewCacheTest, ANewSequenceOrAnotherStateRecomputes) {
  ViewCache cache;
  projections::State s;
  s.sequence = 7;
  EXPECT_EQ(*cache.Get(s, "grouped", [] { return std::string("old"); }), "old");
  s.sequence = 8;  // the next commit
  EXPECT_EQ(*cache.Get(s, "grouped", [] { return std::string("new"); }), "new");
  projections::State other;
  other.sequence = 8;
  EXPECT_EQ(*cache.Get(other, "grouped", [] { return std::string("other"); }), "other");
}

TEST(ViewCacheTest, StaysBoundedAndKeepsAnswering) {
  ViewCache cache;
  projections::State s;
  s.sequence = 1;
  int computed = 0;
  for (size_t i = 0; i < ViewCache::kMaxEntries * 3; ++i) {
    const std::string key = "keys/p?" + std::to_string(i) + ",100";
    EXPECT_EQ(*cache.Get(s, key,
                         [&] {
                           ++computed;
                           return key;
                         }),
              key);
  }
  EXPECT_EQ(computed, static_cast<int>(ViewCache::kMaxEntries * 3));
  // The newest view is still cached after the overflow.
  const std::string last = "keys/p?" + std::to_string(ViewCache::kMaxEntries * 3 - 1) + ",100";
  EXPECT_EQ(*cache.Get(s, last, [] { return std::string("recomputed"); }), last);
}

TEST(ViewCacheTest, HundredThousandClientChosenKeysStayWithinTheBound) {
  ViewCache cache;
  projections::State s;
  s.sequence = 1;
  for (int i = 0; i < 100'000; ++i) {
    const std::string key = "keys/provider-" + std::to_string(i) + "?0,100";
    (void)cache.Get(s, key, [] { return std::string(64, 'v'); });
    ASSERT_LE(cache.size(), ViewCache::kMaxEntries);
  }
  EXPECT_GT(cache.size(), 0u);
}

TEST(ViewCacheTest, StaysWithinItsByteBound) {
  constexpr size_t kBound = 64 * 1024;
  ViewCache cache(kBound);
  projections::State s;
  s.sequence = 1;
  for (int i = 0; i < 10'000; ++i) {
    const std::string key = "keys/provider-" + std::to_string(i) + "?0,100";
    EXPECT_EQ(cache.Get(s, key, [] { return std::string(1000, 'v'); })->size(), 1000u);
    ASSERT_LE(cache.bytes(), kBound) << i;
  }
  EXPECT_GT(cache.size(), 0u);
  EXPECT_LT(cache.size(), kBound / 1000);
  EXPECT_EQ(cache.max_bytes(), kBound);
}

TEST(ViewCacheTest, AViewLargerThanTheBoundIsServedButNotKept) {
  ViewCache cache(4096);
  projections::State s;
  s.sequence = 1;
  int computed = 0;
  auto big = [&] {
    ++computed;
    return std::string(8192, 'b');
  };
  EXPECT_EQ(cache.Get(s, "grouped", big)->size(), 8192u);
  EXPECT_EQ(cache.Get(s, "grouped", big)->size(), 8192u);
  EXPECT_EQ(computed, 2);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
  // A small view is still cached next to it.
  EXPECT_EQ(*cache.Get(s, "small", [] { return std::string("s"); }), "s");
  EXPECT_EQ(*cache.Get(s, "small", [] { return std::string("recomputed"); }), "s");
}

TEST(ViewCacheTest, ZeroBytesCachesNothing) {
  ViewCache cache(0);
  projections::State s;
  s.sequence = 1;
  int computed = 0;
  for (int i = 0; i < 3; ++i) {
    (void)cache.Get(s, "grouped", [&] {
      ++computed;
      return std::string("g");
    });
  }
  EXPECT_EQ(computed, 3);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ViewCacheTest, ChargesWholeAnswersAndEmptiesOnANewState) {
  AnswerCache cache;
  EXPECT_EQ(cache.max_bytes(), kDefaultViewCacheBytes);
  projections::State s;
  s.sequence = 1;
  (void)cache.Get(s, "k", [] {
    Response r = Response::Json(200, std::string(1000, 'x'));
    r.headers.push_back({"ETag", "\"7\""});
    return r;
  });
  EXPECT_GE(cache.bytes(), 1000u + 1 + 4 + 3);
  s.sequence = 2;
  (void)cache.Get(s, "k", [] { return Response::Json(200, "{}"); });
  EXPECT_LT(cache.bytes(), 1000u);
}

}  // namespace
}  // namespace keyledger::api
