#include "api/seq_gate.hpp"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace keyledger::api {

using Clock = std::chrono::steady_clock;

SeqGate::SeqGate(Applied applied, size_t max_waiters)
    : applied_(std::move(applied)), max_waiters_(max_waiters) {
  thread_ = std::thread([this] { Loop(); });
}

SeqGate::~SeqGate() { Stop(); }

bool SeqGate::Wait(uint64_t seq, std::chrono::milliseconds timeout,
                   std::function<void(Outcome)> then) {
  if (applied_() >= seq) {
    then(Outcome::kReached);
    return true;
  }
  std::lock_guard lock(mu_);
  if (stopping_ || waiters_.size() >= max_waiters_) return false;
  waiters_.push_back(Waiter{seq, Clock::now() + timeout, std::move(then)});
  notified_ = true;  // the loop may be asleep until a later deadline
  cv_.notify_one();
  return true;
}

void SeqGate::Notify() {
  std::lock_guard lock(mu_);
  notified_ = true;
  cv_.notify_one();
}

size_t SeqGate::waiting() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

void SeqGate::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void SeqGate::Loop() {
  pthread_setname_np(pthread_self(), "kl-seq-gate");
  std::unique_lock lock(mu_);
  while (true) {
    std::vector<std::pair<std::function<void(Outcome)>, Outcome>> due;
    const bool stopping = stopping_;
    if (!waiters_.empty()) {
      const uint64_t applied = applied_();
      const auto now = Clock::now();
      std::erase_if(waiters_, [&](Waiter& w) {
        Outcome o = Outcome::kStopped;
        if (w.seq <= applied) {
          o = Outcome::kReached;
        } else if (w.deadline <= now) {
          o = Outcome::kTimedOut;
        } else if (!stopping) {
          return false;
        }
        due.emplace_back(std::move(w.then), o);
        return true;
      });
    }
    if (!due.empty()) {
      lock.unlock();
      for (auto& [then, outcome] : due) then(outcome);
      due.clear();
      lock.lock();
      continue;
    }
    if (stopping) return;
    auto wake = Clock::now() + kSeqGatePoll;
    for (const Waiter& w : waiters_) wake = std::min(wake, w.deadline);
    if (waiters_.empty()) wake = Clock::now() + std::chrono::seconds(1);
    cv_.wait_until(lock, wake, [this] { return notified_ || stopping_; });
    notified_ = false;
  }
}

}  // namespace keyledger::api
