#pragma once
// A sorted set of ids with cheap copies: the ids live in immutable chunks of at most kMaxChunk
// entries shared between copies; an insert or erase copies one chunk and the chunk-pointer
// vector (n / 64 pointers). Used for the per-provider key and endpoint indexes, so adding a key
// to a provider with thousands of keys does not copy thousands of strings.
//
// Thread safety: like a value type; copies may be read concurrently.

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace keyledger::projections {

class SortedIdSet {
 public:
  static constexpr size_t kMaxChunk = 128;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  bool Contains(const std::string& id) const {
    size_t c = ChunkFor(id);
    if (c == chunks_.size()) return false;
    return std::binary_search(chunks_[c]->begin(), chunks_[c]->end(), id);
  }

  void Insert(const std::string& id) {
    if (chunks_.empty()) {
      chunks_.push_back(std::make_shared<const Chunk>(Chunk{id}));
      size_ = 1;
      return;
    }
    size_t c = std::min(ChunkFor(id), chunks_.size() - 1);
    const Chunk& old = *chunks_[c];
    auto it = std::lower_bound(old.begin(), old.end(), id);
    if (it != old.end() && *it == id) return;
    Chunk copy;
    copy.reserve(old.size() + 1);
    copy.insert(copy.end(), old.begin(), it);
    copy.push_back(id);
    copy.insert(copy.end(), it, old.end());
    ++size_;
    if (copy.size() <= kMaxChunk) {
      chunks_[c] = std::make_shared<const Chunk>(std::move(copy));
      return;
    }
    auto mid = copy.begin() + static_cast<std::ptrdiff_t>(copy.size() / 2);
    chunks_[c] = std::make_shared<const Chunk>(copy.begin(), mid);
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1,
                   std::make_shared<const Chunk>(mid, copy.end()));
  }

  void Erase(const std::string& id) {
    size_t c = ChunkFor(id);
    if (c == chunks_.size()) return;
    const Chunk& old = *chunks_[c];
    auto it = std::lower_bound(old.begin(), old.end(), id);
    if (it == old.end() || *it != id) return;
    --size_;
    if (old.size() == 1) {
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
      return;
    }
    Chunk copy;
    copy.reserve(old.size() - 1);
    copy.insert(copy.end(), old.begin(), it);
    copy.insert(copy.end(), it + 1, old.end());
    chunks_[c] = std::make_shared<const Chunk>(std::move(copy));
  }

  void ForEach(const std::function<void(const std::string&)>& fn) const {
    for (const auto& chunk : chunks_) {
      for (const auto& id : *chunk) fn(id);
    }
  }

  std::vector<std::string> ToVector() const {
    std::vector<std::string> out;
    out.reserve(size_);
    ForEach([&](const std::string& id) { out.push_back(id); });
    return out;
  }

  friend bool operator==(const SortedIdSet& a, const SortedIdSet& b) {
    return a.size_ == b.size_ && a.ToVector() == b.ToVector();
  }

 private:
  using Chunk = std::vector<std::string>;

  // Index of the first chunk whose last id is >= id (chunks_.size() when none).
  size_t ChunkFor(const std::string& id) const {
    auto it =
        std::lower_bound(chunks_.begin(), chunks_.end(), id,
                         [](const auto& chunk, const std::string& v) { return chunk->back() < v; });
    return static_cast<size_t>(it - chunks_.begin());
  }

  std::vector<std::shared_ptr<const Chunk>> chunks_;
  size_t size_ = 0;
};

}  // namespace keyledger::projections
