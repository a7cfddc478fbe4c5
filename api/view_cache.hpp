#pragma once
// Views of the registry's state, cached for one state (its identity and sequence) under a key
// that names the view and its parameters ("grouped", "keys/<provider>?<skip>,<limit>"); every
// view is recomputed after the next commit. At most kMaxEntries views are kept (all dropped when
// full, as after a commit), so keys chosen by clients cannot grow it without bound.
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

template <class View>
class BasicViewCache {
 public:
  static constexpr size_t kMaxEntries = 256;

  // The view cached for `s` under `key`, or compute()'s, now cached.
  std::shared_ptr<const View> Get(const projections::State& s, const std::string& key,
                                  const std::function<View()>& compute);
  size_t size();

 private:
  std::mutex mu_;
  const projections::State* state_ = nullptr;  // identity of the cached state
  uint64_t sequence_ = 0;
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
