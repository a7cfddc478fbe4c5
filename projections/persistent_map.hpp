#pragma once
// PersistentMap: a string-keyed map of immutable values with structural sharing, so that the
// registry's single writer can fork the whole projection state in O(1) per group commit while
// readers keep using the previous version.
//
// Shape: a fixed two-level radix trie (64 x 64) over a hash of the key, with small sorted leaves.
// Copies share every node. Mutations copy the path they touch, except nodes created by the same
// "edit" (a copy made with Fork() gets a fresh edit id and may then mutate its own new nodes in
// place), so a batch of changes copies each touched path once.
//
// Thread safety: a const PersistentMap may be read from many threads at once; a map being
// mutated is owned by one thread. Nodes reachable from a published (shared) map are never mutated,
// because mutation in place only happens for nodes whose edit id equals the mutating map's, and
// Fork() hands every new copy a fresh id.
//
// Iteration order follows the hash and is not meaningful; use SortedKeys() where order matters.

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyledger::projections {

namespace detail {
inline uint64_t NextEditId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}
// FNV-1a: stable across runs and platforms (std::hash is not guaranteed to be).
inline uint64_t HashKey(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}
}  // namespace detail

template <typename V>
class PersistentMap {
 public:
  using ValuePtr = std::shared_ptr<const V>;

  PersistentMap() : edit_(detail::NextEditId()) {}
  // Plain copies are not allowed: a copy sharing the edit id could mutate nodes the original
  // still shows. Fork() is the only way to copy.
  PersistentMap(const PersistentMap&) = delete;
  PersistentMap& operator=(const PersistentMap&) = delete;
  PersistentMap(PersistentMap&&) noexcept = default;
  PersistentMap& operator=(PersistentMap&&) noexcept = default;

  // A copy sharing all nodes, with a fresh edit id: mutating it never touches nodes visible
  // through *this. Do not mutate *this afterwards (it may share nodes created by its own edit
  // with the fork); in the registry the original is an immutable published state.
  PersistentMap Fork() const {
    PersistentMap copy;
    copy.root_ = root_;
    copy.size_ = size_;
    return copy;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  const V* Find(std::string_view key) const {
    const ValuePtr* p = FindPtr(key);
    return p ? p->get() : nullptr;
  }
  ValuePtr Get(std::string_view key) const {
    const ValuePtr* p = FindPtr(key);
    return p ? *p : nullptr;
  }

  void Set(std::string_view key, ValuePtr value) {
    Leaf& leaf = MutableLeaf(detail::HashKey(key));
    auto it = LowerBound(leaf, key);
    if (it != leaf.items.end() && it->first == key) {
      it->second = std::move(value);
    } else {
      leaf.items.emplace(it, std::string(key), std::move(value));
      ++size_;
    }
  }

  // The value under `key`, mutable, copied first unless this map already holds the only
  // reference to it (so a key touched by many events of one edit is copied once); nullptr when
  // absent. Values must have been created non-const (std::make_shared<V>), as the fold does.
  V* Mutable(std::string_view key) {
    if (!FindPtr(key)) return nullptr;
    Leaf& leaf = MutableLeaf(detail::HashKey(key));
    ValuePtr& slot = LowerBound(leaf, key)->second;
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer does not model fences (g++ refuses them under -fsanitize=thread), so it
    // would take the reuse below for a race with the readers that dropped their references: its
    // build always copies, which is equally correct.
    slot = std::make_shared<V>(*slot);
#else
    if (slot.use_count() == 1) {
      // Whoever dropped the other references did so with a release decrement; pair it so their
      // reads happen before our writes.
      std::atomic_thread_fence(std::memory_order_acquire);
    } else {
      slot = std::make_shared<V>(*slot);
    }
#endif
    return const_cast<V*>(slot.get());
  }

  bool Erase(std::string_view key) {
    if (!FindPtr(key)) return false;
    Leaf& leaf = MutableLeaf(detail::HashKey(key));
    auto it = LowerBound(leaf, key);
    leaf.items.erase(it);
    --size_;
    return true;
  }

  void ForEach(const std::function<void(const std::string&, const V&)>& fn) const {
    if (!root_) return;
    for (const auto& inner : root_->children) {
      if (!inner) continue;
      for (const auto& leaf : inner->children) {
        if (!leaf) continue;
        for (const auto& [k, v] : leaf->items) fn(k, *v);
      }
    }
  }

  std::vector<std::string> SortedKeys() const {
    std::vector<std::string> keys;
    keys.reserve(size_);
    ForEach([&](const std::string& k, const V&) { keys.push_back(k); });
    std::sort(keys.begin(), keys.end());
    return keys;
  }

 private:
  static constexpr int kBits = 6;
  static constexpr size_t kFanout = size_t{1} << kBits;

  struct Leaf {
    uint64_t edit = 0;
    std::vector<std::pair<std::string, ValuePtr>> items;  // sorted by key
  };
  struct Inner {
    uint64_t edit = 0;
    std::array<std::shared_ptr<Leaf>, kFanout> children;
  };
  struct Root {
    uint64_t edit = 0;
    std::array<std::shared_ptr<Inner>, kFanout> children;
  };

  static size_t Slot1(uint64_t h) { return static_cast<size_t>(h >> (64 - kBits)); }
  static size_t Slot2(uint64_t h) {
    return static_cast<size_t>((h >> (64 - 2 * kBits)) & (kFanout - 1));
  }

  static auto LowerBound(Leaf& leaf, std::string_view key) {
    return std::lower_bound(leaf.items.begin(), leaf.items.end(), key,
                            [](const auto& item, std::string_view k) { return item.first < k; });
  }

  const ValuePtr* FindPtr(std::string_view key) const {
    if (!root_) return nullptr;
    uint64_t h = detail::HashKey(key);
    const auto& inner = root_->children[Slot1(h)];
    if (!inner) return nullptr;
    const auto& leaf = inner->children[Slot2(h)];
    if (!leaf) return nullptr;
    auto it = std::lower_bound(leaf->items.begin(), leaf->items.end(), key,
                               [](const auto& item, std::string_view k) { return item.first < k; });
    if (it == leaf->items.end() || it->first != key) return nullptr;
    return &it->second;
  }

  // Returns a node this map may mutate: the node itself if this edit created it, else a copy.
  template <typename Node>
  Node& Own(std::shared_ptr<Node>& slot) {
    if (!slot) {
      slot = std::make_shared<Node>();
      slot->edit = edit_;
    } else if (slot->edit != edit_) {
      slot = std::make_shared<Node>(*slot);
      slot->edit = edit_;
    }
    return *slot;
  }

  Leaf& MutableLeaf(uint64_t h) {
    Root& root = Own(root_);
    Inner& inner = Own(root.children[Slot1(h)]);
    return Own(inner.children[Slot2(h)]);
  }

  std::shared_ptr<Root> root_;
  size_t size_ = 0;
  uint64_t edit_;
};

}  // namespace keyledger::projections
