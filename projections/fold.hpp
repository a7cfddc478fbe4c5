#pragma once
// The fold: Apply(state, event) with no I/O. Every projection (live, snapshot + tail, full
// replay, point in time) is built by this one function, so they agree by construction.
//
// Payload schemas (version 1) are listed in events/FORMAT.md "Payloads". A newer schema version
// than this build knows, or a payload it cannot decode, is kCorruption/kUnsupported: replay stops
// rather than guess.
//
// Not thread-safe (holds a reusable JSON parser); use one Folder per thread.

#include <memory>

#include "events/record.hpp"
#include "events/status.hpp"
#include "projections/state.hpp"

namespace keyledger::projections {

class Folder {
 public:
  Folder();
  ~Folder();
  Folder(const Folder&) = delete;
  Folder& operator=(const Folder&) = delete;

  // Folds `record` into `state` (which must be a mutable fork). On error `state` may be
  // partially updated and must be discarded.
  Status Apply(State& state, const events::EventRecord& record);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyledger::projections
