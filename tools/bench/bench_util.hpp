#pragma once
// Small helpers shared by the benchmark programs: timing, percentiles, table output.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace keyledger::bench {

using Clock = std::chrono::steady_clock;

inline int64_t MicrosSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
}

struct Summary {
  double ops_per_sec = 0;
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  uint64_t ops = 0;
};

// Latencies in microseconds; `seconds` is the measured wall time.
inline Summary Summarize(std::vector<int64_t> latencies, double seconds) {
  Summary s;
  s.ops = latencies.size();
  s.ops_per_sec = seconds > 0 ? static_cast<double>(latencies.size()) / seconds : 0;
  if (latencies.empty()) return s;
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(latencies.size() - 1));
    return static_cast<double>(latencies[i]);
  };
  s.p50_us = at(0.50);
  s.p99_us = at(0.99);
  s.p999_us = at(0.999);
  return s;
}

}  // namespace keyledger::bench
