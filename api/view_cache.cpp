#include "api/view_cache.hpp"

namespace keyledger::api {
namespace {

size_t ViewBytes(const std::string& view) { return view.size(); }

size_t ViewBytes(const Response& r) {
  size_t n = r.content_type.size() + r.body.size() + r.log_note.size();
  for (const auto& [name, value] : r.headers) n += name.size() + value.size();
  return n;
}

}  // namespace

template <class View>
size_t BasicViewCache<View>::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return views_.size();
}

template <class View>
size_t BasicViewCache<View>::bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

template <class View>
std::shared_ptr<const View> BasicViewCache<View>::Get(const projections::State& s,
                                                      const std::string& key,
                                                      const std::function<View()>& compute) {
  {
    std::lock_guard lock(mu_);
    if (state_ == &s && sequence_ == s.sequence && telemetry_version_ == s.telemetry_version) {
      if (auto it = views_.find(key); it != views_.end()) return it->second;
    }
  }
  auto view = std::make_shared<const View>(compute());
  const size_t charge = key.size() + ViewBytes(*view) + kEntryOverheadBytes;
  std::lock_guard lock(mu_);
  if (state_ != &s || sequence_ != s.sequence || telemetry_version_ != s.telemetry_version ||
      views_.size() >= kMaxEntries || bytes_ + charge > max_bytes_) {
    views_.clear();
    bytes_ = 0;
    state_ = &s;
    sequence_ = s.sequence;
    telemetry_version_ = s.telemetry_version;
  }
  if (charge > max_bytes_) return view;  // larger than the whole cache: served, not kept
  if (views_.emplace(key, view).second) bytes_ += charge;
  return view;
}

template class BasicViewCache<std::string>;
template class BasicViewCache<Response>;

}  // namespace keyledger::api
