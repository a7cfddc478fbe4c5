#pragma once
// Views of the registry's state, cached for one state (its identity, sequence and telemetry
// version) under a key
// that names the view and its parameters ("grouped", "keys/<provider>?<skip>,<limit>"); every
// view is recomputed after the next commit. Two bounds, so keys chosen by clients cannot grow it
// without bound: at most kMaxEntries views, and at most max_bytes bytes of views and keys
// (--view-cache-mb, default kDefaultViewCacheBytes; part of the memory budget, README "Memory
// budget"). Adding a view past either bound first drops every view (as after a commit); a view
// larger than max_bytes on its own is served but not cached. max_bytes 0 caches nothing.
//
// Thread-safe. A view is computed outside the lock: two threads may compute the same view at
// once, and the later one is kept.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/handler.hpp"
#include "projections/state.hpp"

namespace keyledger::api {

inline constexpr size_t kDefaultViewCacheBytes = size_t{16} << 20;

template <class View>
class BasicViewCache {
 public:
  static constexpr size_t kMaxEntries = 256;
  // Charged per entry on top of the key and the view's bytes (map node, shared_ptr control
  // block, string headers).
  static constexpr size_t kEntryOverheadBytes = 128;

  explicit BasicViewCache(size_t max_bytes = kDefaultViewCacheBytes) : max_bytes_(max_bytes) {}

  // The view cached for `s` under `key`, or compute()'s, now cached.
  std::shared_ptr<const View> Get(const projections::State& s, const std::string& key,
                                  const std::function<View()>& compute);
  size_t size();
  // Bytes charged for the views cached now (keys, views, kEntryOverheadBytes each).
  size_t bytes();
  size_t max_bytes() const { return max_bytes_; }

 private:
  const size_t max_bytes_;
  std::mutex mu_;
  const projections::State* state_ = nullptr;  // identity of the cached state
  uint64_t sequence_ = 0;
  uint64_t telemetry_version_ = 0;  // with sequence_: a new state's health telemetry (or not)
  size_t bytes_ = 0;
  std::unordered_map<std::string, std::shared_ptr<const View>> views_;
};

// Serialized JSON views.
using ViewCache = BasicViewCache<std::string>;
// Whole answers of read routes (ServeView, admin_api_internal.hpp): a view that is missing from
// the state (a 404) is as cacheable as one that is there.
using AnswerCache = BasicViewCache<Response>;

extern template class BasicViewCache<std::string>;
extern template class BasicViewCache<Response>;

}  // namespace keyledger::api
