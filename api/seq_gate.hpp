#pragma once
// Waiting for a sequence without an I/O thread: a request with X-Keyledger-Min-Seq: N is parked
// here until this node has applied N (events/ETCD.md "Several nodes"), then resumed.
//
// Ownership and threads: SeqGate owns one thread that resumes waiters. Wait() may be called from
// any thread and never blocks; `then` runs once per accepted waiter, on the gate's thread (or on
// the caller's thread when the sequence is already applied), and must not block. Notify() is
// called when the applied sequence may have grown (a registry commit listener); the gate also
// re-checks every kSeqGatePoll, so a missed notification only delays. Stop() (also the
// destructor) resumes every waiter with kStopped and joins the thread.
//
// Bounded: at most `max_waiters` wait at once (kDefaultMaxSeqWaiters); one more is refused.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace keyledger::api {

inline constexpr size_t kDefaultMaxSeqWaiters = 4096;
inline constexpr std::chrono::milliseconds kSeqGatePoll{20};

class SeqGate {
 public:
  enum class Outcome { kReached, kTimedOut, kStopped };
  using Applied = std::function<uint64_t()>;

  SeqGate(Applied applied, size_t max_waiters = kDefaultMaxSeqWaiters);
  ~SeqGate();
  SeqGate(const SeqGate&) = delete;
  SeqGate& operator=(const SeqGate&) = delete;

  // Calls `then` once `applied()` >= seq, or with kTimedOut after `timeout`. False when the
  // gate is full or stopped (`then` is then never called).
  bool Wait(uint64_t seq, std::chrono::milliseconds timeout, std::function<void(Outcome)> then);
  void Notify();
  void Stop();
  size_t waiting() const;

 private:
  struct Waiter {
    uint64_t seq;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(Outcome)> then;
  };
  void Loop();

  const Applied applied_;
  const size_t max_waiters_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Waiter> waiters_;  // guarded by mu_
  bool notified_ = false;        // guarded by mu_
  bool stopping_ = false;        // guarded by mu_
  std::thread thread_;
};

}  // namespace keyledger::api
