#include "api/view_cache.hpp"

namespace keyledger::api {

template <class View>
size_t BasicViewCache<View>::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return views_.size();
}

template <class View>
std::shared_ptr<const View> BasicViewCache<View>::Get(const projections::State& s,
                                                      const std::string& key,
                                                      const std::function<View()>& compute) {
  {
    std::lock_guard lock(mu_);
    if (state_ == &s && sequence_ == s.sequence) {
      if (auto it = views_.find(key); it != views_.end()) return it->second;
    }
  }
  auto view = std::make_shared<const View>(compute());
  std::lock_guard lock(mu_);
  if (state_ != &s || sequence_ != s.sequence || views_.size() >= kMaxEntries) {
    views_.clear();
    state_ = &s;
    sequence_ = s.sequence;
  }
  views_.emplace(key, view);
  return view;
}

template class BasicViewCache<std::string>;
template class BasicViewCache<Response>;

}  // namespace keyledger::api
