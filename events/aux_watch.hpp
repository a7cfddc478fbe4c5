#pragma once
// A store whose aux entries other processes change too (the etcd log: several keyledgerd nodes
// on one prefix, events/ETCD.md "Health telemetry on several nodes"), and that can tell this
// process about each change. Kept out of EventLog itself: only a shared store implements it, and
// the registry finds it with a dynamic_cast, so a single-node store pays nothing.
//
// Thread safety: WatchAux may be called from any thread; listeners run on one of the store's own
// threads.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "events/event_log.hpp"

namespace keyledger::events {

// One aux entry as it is now: `value` is empty when the entry was deleted.
struct AuxChange {
  std::string key;
  std::optional<std::string> value;
};

class AuxWatch {
 public:
  // `complete`: `changes` are every entry there is (a key not among them has none), as after
  // the start or an interruption; else they are the changes since the previous delivery.
  using Listener = std::function<void(std::vector<AuxChange> changes, bool complete)>;
  virtual ~AuxWatch() = default;

  // Delivers the entries of `space` to `listener`: first every entry there is (complete; again
  // after every interruption of the watch, since changes, deletes included, may have been
  // missed), then each change made by any process, this one's own included, in the store's
  // order. A later delivery of a key supersedes an earlier one. `listener` must not block. nullptr
  // stops the deliveries: once this returns, the previous listener is not called any more. Errors:
  // kUnsupported for a space the store cannot watch, or when the store runs without its follower.
  virtual Status WatchAux(AuxSpace space, Listener listener) = 0;
};

}  // namespace keyledger::events
