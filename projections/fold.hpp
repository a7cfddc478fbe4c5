#pragma once
// The fold: Apply(state, event) with no I/O. Every projection (live, snapshot + tail, full
// replay, point in time) is built by this one function, so they agree by construction.
//
// Payloads are read through projections::EventDecoder (event_payloads.hpp): every schema
// version this build knows is decoded and upcast to the newest shape of its type
// (projections/upcasters.hpp, events/FORMAT.md "Evolving a payload"). A newer schema version
// than this build knows is kUnsupported naming the event, its type and both versions; a payload
// it cannot decode is kCorruption: replay stops rather than guess.
//
// Not thread-safe (holds a reusable JSON parser); use one Folder per thread.

#include <memory>

#include "events/record.hpp"
#include "events/status.hpp"
#include "projections/event_payloads.hpp"
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
  // The same with `record`'s payload already decoded (EventDecoder::Decode of `record`).
  Status Apply(State& state, const events::EventRecord& record, Event event);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyledger::projections
