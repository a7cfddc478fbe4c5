// http_load: a closed-loop HTTP/1.1 load driver for keyledgerd and its baselines (not a test).
// Every connection is one thread with a blocking keep-alive socket to 127.0.0.1 that sends its
// next request as soon as the previous answer arrived; latencies are per request.
//
//   http_load write --port P[,P2...] --token T --connections C --seconds S [--warmup W]
//       creates a provider and C keys (one per connection: distinct keys, no conflicts), then
//       each connection updates its own key (PUT .../keys/{id}, a durable write) in a loop.
//       With several ports (nodes of one etcd deployment) connection i goes to port i mod n;
//       the keys are created through the first, and every other node is waited for (its
//       X-Keyledger-Min-Seq) before the load starts.
//   http_load post --port P --path PATH --body-file F --connections C --seconds S [--warmup W]
//       POST PATH in a loop, connection i sending line i mod n of F as its body (e.g. etcd's
//       JSON gateway, /v3/kv/put, each connection its own key: the baseline of "write" on etcd).
//   http_load lag --port A,B --token T --seconds S [--method min-seq|poll]
//       replication lag between two nodes of one etcd deployment, one sample at a time: PUT a
//       key on A (200 with X-Keyledger-Seq S), then from the moment that answer arrived until
//       B serves the write. min-seq: one GET on B with X-Keyledger-Min-Seq: S (B parks it until
//       it has applied S); poll: GET the key's provider key list on B again and again until it
//       shows the new value. Prints the lag's percentiles and B's plain round trip (the floor).
//   http_load read --port P [--token T] --path PATH --connections C --seconds S [--warmup W]
//       GET PATH in a loop (keyledgerd's views, or tools/bench/static_server's body).
//   http_load setup --port P --token T --keys N [--providers M]
//       registers N keys over M providers (one endpoint each), for the read benchmarks.
//   http_load soak --port P --token T --pid PID --seconds S [--connections C] [--sse N]
//                  [--interval I]
//       a mixed workload (updates, creates, deletes, key list, grouped view, reveals, health
//       reports) plus N SSE subscribers on /api/admin/audit/stream; every I seconds a line with
//       the interval's throughput, p99, the server's RSS and open file descriptors, and "mem":
//       its memory as /metrics breaks it down (KiB; api/memory_metrics.hpp), and the head
//       sequence ("head") for the log's bytes per event.
//
// Output: one JSON object per run on stdout ("soak" also prints its interval lines as JSON).
// Exit status 1 when any answer was unexpected (a 5xx, a transport error before the end).
// Only ever connects to 127.0.0.1; every run ends after its --seconds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tools/bench/bench_util.hpp"

namespace kb = keyledger::bench;

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "http_load: %s\n", message.c_str());
  std::exit(2);
}

struct Args {
  std::string mode;
  int port = 0;            // the first of `ports`
  std::vector<int> ports;  // --port P[,P2...]
  std::string body_file;
  std::string method = "min-seq";
  std::string token;
  std::string path;
  int connections = 1;
  double seconds = 5;
  double warmup = 1;
  int keys = 100;
  int providers = 10;
  int pid = 0;
  int sse = 2;
  double interval = 5;
};

Args ParseArgs(int argc, char** argv) {
  if (argc < 2) {
    Die("usage: http_load write|read|post|lag|setup|soak --port P ... (see the file comment)");
  }
  Args a;
  a.mode = argv[1];
  for (int i = 2; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) Die("missing value for " + k);
    const std::string v = argv[i + 1];
    if (k == "--port") {
      std::istringstream list(v);
      std::string one;
      while (std::getline(list, one, ',')) a.ports.push_back(std::atoi(one.c_str()));
    } else if (k == "--body-file")
      a.body_file = v;
    else if (k == "--method")
      a.method = v;
    else if (k == "--token")
      a.token = v;
    else if (k == "--path")
      a.path = v;
    else if (k == "--connections")
      a.connections = std::atoi(v.c_str());
    else if (k == "--seconds")
      a.seconds = std::atof(v.c_str());
    else if (k == "--warmup")
      a.warmup = std::atof(v.c_str());
    else if (k == "--keys")
      a.keys = std::atoi(v.c_str());
    else if (k == "--providers")
      a.providers = std::atoi(v.c_str());
    else if (k == "--pid")
      a.pid = std::atoi(v.c_str());
    else if (k == "--sse")
      a.sse = std::atoi(v.c_str());
    else if (k == "--interval")
      a.interval = std::atof(v.c_str());
    else
      Die("unknown flag " + k);
  }
  if (a.ports.empty()) Die("--port is required");
  for (int p : a.ports) {
    if (p <= 0 || p > 65535) Die("--port: each port must be 1..65535");
  }
  a.port = a.ports.front();
  if (a.connections < 1 || a.connections > 1024) Die("--connections must be 1..1024");
  if (a.seconds <= 0 || a.seconds > 86400) Die("--seconds must be in (0, 86400]");
  return a;
}

// ---- A minimal blocking HTTP/1.1 client ------------------------------------------------------

struct Response {
  int status = 0;  // 0: transport error
  std::string body;
  uint64_t seq = 0;  // X-Keyledger-Seq (0 when absent)
};

class Conn {
 public:
  Conn(int port, std::string token) : port_(port), token_(std::move(token)) {}
  ~Conn() { Close(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  Response Call(const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& extra_headers = "") {
    if (fd_ < 0 && !Connect()) return {};
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!token_.empty()) req += "Authorization: Bearer " + token_ + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    req += extra_headers + "\r\n" + body;
    if (!SendAll(req)) {
      Close();
      return {};
    }
    Response r = ReadResponse();
    if (r.status == 0) Close();
    return r;
  }

  // Sends a GET and returns once the response head arrived (for SSE); then ReadSome().
  bool OpenStream(const std::string& target) {
    if (fd_ < 0 && !Connect()) return false;
    std::string req =
        "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
    if (!token_.empty()) req += "Authorization: Bearer " + token_ + "\r\n";
    req += "\r\n";
    if (!SendAll(req)) return false;
    while (buf_.find("\r\n\r\n") == std::string::npos) {
      if (Fill(5000) <= 0) return false;
    }
    return buf_.compare(0, 12, "HTTP/1.1 200") == 0;
  }
  // Bytes received within `ms` (0 on timeout, -1 when the stream ended).
  long ReadSome(int ms) {
    buf_.clear();
    return Fill(ms);
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }

 private:
  bool Connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      Close();
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
  }

  bool SendAll(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Appends what arrives within `ms` to buf_: >0 bytes, 0 timeout, -1 EOF or error.
  long Fill(int ms) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, ms);
    if (ready == 0) return 0;
    if (ready < 0) return -1;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return -1;
    buf_.append(chunk, static_cast<size_t>(n));
    return n;
  }

  Response ReadResponse() {
    constexpr int kTimeoutMs = 30'000;
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (Fill(kTimeoutMs) <= 0) return {};
    }
    Response r;
    if (buf_.compare(0, 9, "HTTP/1.1 ") != 0) return {};
    r.status = std::atoi(buf_.c_str() + 9);
    std::string head = buf_.substr(0, head_end);
    std::transform(head.begin(), head.end(), head.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t body_start = head_end + 4;
    const size_t cl = head.find("\r\ncontent-length:");
    if (cl != std::string::npos) {
      const size_t len = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
      while (buf_.size() < body_start + len) {
        if (Fill(kTimeoutMs) <= 0) return {};
      }
      r.body = buf_.substr(body_start, len);
      buf_.erase(0, body_start + len);
    } else if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
      size_t pos = body_start;
      for (;;) {
        size_t eol;
        while ((eol = buf_.find("\r\n", pos)) == std::string::npos) {
          if (Fill(kTimeoutMs) <= 0) return {};
        }
        const size_t n = std::strtoull(buf_.c_str() + pos, nullptr, 16);
        while (buf_.size() < eol + 2 + n + 2) {
          if (Fill(kTimeoutMs) <= 0) return {};
        }
        r.body.append(buf_, eol + 2, n);
        pos = eol + 2 + n + 2;
        if (n == 0) break;
      }
      buf_.erase(0, pos);
    } else {
      buf_.erase(0, body_start);  // no body (204, 304)
    }
    if (const size_t at = head.find("\r\nx-keyledger-seq:"); at != std::string::npos) {
      r.seq = std::strtoull(head.c_str() + at + 18, nullptr, 10);
    }
    if (head.find("\r\nconnection: close") != std::string::npos) Close();
    return r;
  }

  int port_;
  std::string token_;
  int fd_ = -1;
  std::string buf_;
};

// The value of "id" in a JSON object (the first one).
std::string IdOf(const std::string& json) {
  const size_t at = json.find("\"id\":\"");
  if (at == std::string::npos) return "";
  const size_t end = json.find('"', at + 6);
  return json.substr(at + 6, end - at - 6);
}

std::string Secret(std::mt19937_64& rng) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s = "sk-ant-api03-bench-";
  for (int i = 0; i < 40; ++i) s += kChars[rng() % 62];
  return s;
}

std::string NewProvider(Conn& c, const std::string& name) {
  Response p = c.Call("POST", "/api/admin/providers/", R"({"name":")" + name + R"("})");
  if (p.status != 200) Die("create provider: " + std::to_string(p.status) + " " + p.body);
  const std::string id = IdOf(p.body);
  for (const char* format : {"CLAUDE", "OPENAI"}) {
    Response e = c.Call("POST", "/api/admin/endpoints/providers/" + id + "/endpoints",
                        R"({"provider_id":")" + id + R"(","api_format":")" + format +
                            R"(","base_url":"https://api.example.com"})");
    if (e.status != 200) Die("create endpoint: " + std::to_string(e.status) + " " + e.body);
  }
  return id;
}

std::string NewKey(Conn& c, const std::string& provider, const std::string& name,
                   std::mt19937_64& rng) {
  Response k = c.Call("POST", "/api/admin/endpoints/providers/" + provider + "/keys",
                      R"({"api_formats":["CLAUDE","OPENAI"],"api_key":")" + Secret(rng) +
                          R"(","name":")" + name + R"("})");
  if (k.status != 200) Die("create key: " + std::to_string(k.status) + " " + k.body);
  return IdOf(k.body);
}

// The sequence the node on `port` has applied (X-Keyledger-Seq of a cheap read).
uint64_t AppliedSeq(int port, const std::string& token) {
  Conn c(port, token);
  const Response r = c.Call("GET", "/api/admin/providers/?limit=1");
  if (r.status != 200 || r.seq == 0) Die("no X-Keyledger-Seq from port " + std::to_string(port));
  return r.seq;
}

// Waits until the node on `port` has applied `seq` (parked by X-Keyledger-Min-Seq, which answers
// 503 after the node's --min-seq-wait-ms: then this dies).
void WaitForSeq(int port, const std::string& token, uint64_t seq) {
  Conn c(port, token);
  const Response r = c.Call("GET", "/api/admin/providers/?limit=1", "",
                            "X-Keyledger-Min-Seq: " + std::to_string(seq) + "\r\n");
  if (r.status != 200) {
    Die("port " + std::to_string(port) + " did not reach sequence " + std::to_string(seq) + ": " +
        std::to_string(r.status) + " " + r.body);
  }
}

std::string RunTag() {
  return std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000000);
}

// ---- Closed-loop measurement -----------------------------------------------------------------

struct Totals {
  std::vector<int64_t> latencies;
  uint64_t errors = 0;
  std::map<int, uint64_t> statuses;
};

// Runs `op(connection_index, conn)` on every connection for warmup + seconds; measures only
// after the warmup. `op` returns the HTTP status (0 = transport error).
template <typename Op>
Totals ClosedLoop(const Args& a, Op op) {
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<Totals> per(static_cast<size_t>(a.connections));
  std::vector<std::thread> threads;
  for (int i = 0; i < a.connections; ++i) {
    threads.emplace_back([&, i] {
      Conn c(a.ports[static_cast<size_t>(i) % a.ports.size()], a.token);
      Totals& t = per[static_cast<size_t>(i)];
      t.latencies.reserve(1 << 16);
      while (!stop.load(std::memory_order_relaxed)) {
        const auto start = Clock::now();
        const int status = op(i, c);
        const int64_t us = kb::MicrosSince(start);
        if (!measuring.load(std::memory_order_relaxed)) continue;
        ++t.statuses[status];
        if (status >= 200 && status < 300) {
          t.latencies.push_back(us);
        } else {
          ++t.errors;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(a.warmup));
  measuring.store(true);
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  measuring.store(false);
  stop.store(true);
  for (auto& t : threads) t.join();
  Totals all;
  for (Totals& t : per) {
    all.latencies.insert(all.latencies.end(), t.latencies.begin(), t.latencies.end());
    all.errors += t.errors;
    for (auto [s, n] : t.statuses) all.statuses[s] += n;
  }
  return all;
}

void PrintSummary(const Args& a, const Totals& t, const std::string& extra) {
  const kb::Summary s = kb::Summarize(t.latencies, a.seconds);
  std::string statuses;
  for (auto [code, n] : t.statuses) {
    statuses += (statuses.empty() ? "" : ",") + std::string("\"") + std::to_string(code) +
                "\":" + std::to_string(n);
  }
  std::printf(
      "{\"mode\":\"%s\",\"connections\":%d,\"seconds\":%.1f,\"ops\":%llu,\"ops_per_sec\":%.1f,"
      "\"p50_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,\"errors\":%llu,\"statuses\":{%s}%s}\n",
      a.mode.c_str(), a.connections, a.seconds, static_cast<unsigned long long>(s.ops),
      s.ops_per_sec, s.p50_us, s.p99_us, s.p999_us, static_cast<unsigned long long>(t.errors),
      statuses.c_str(), extra.c_str());
  std::fflush(stdout);
}

int Write(const Args& a) {
  std::mt19937_64 rng(42);
  std::vector<std::string> keys;
  {
    Conn c(a.port, a.token);
    const std::string provider = NewProvider(c, "bench-write-" + RunTag());
    for (int i = 0; i < a.connections; ++i) {
      keys.push_back(NewKey(c, provider, "w" + std::to_string(i), rng));
    }
  }
  if (a.ports.size() > 1) {
    const uint64_t seq = AppliedSeq(a.port, a.token);
    for (size_t p = 1; p < a.ports.size(); ++p) WaitForSeq(a.ports[p], a.token, seq);
  }
  std::vector<int64_t> counter(static_cast<size_t>(a.connections), 0);
  Totals t = ClosedLoop(a, [&](int i, Conn& c) {
    const int64_t n = ++counter[static_cast<size_t>(i)] % 1000;
    return c
        .Call("PUT", "/api/admin/endpoints/keys/" + keys[static_cast<size_t>(i)],
              R"({"internal_priority":)" + std::to_string(n) + "}")
        .status;
  });
  PrintSummary(a, t, "");
  return t.errors == 0 ? 0 : 1;
}

int Read(const Args& a) {
  if (a.path.empty()) Die("read needs --path");
  size_t body_bytes = 0;
  {
    Conn c(a.port, a.token);
    Response r = c.Call("GET", a.path);
    if (r.status != 200) Die("GET " + a.path + ": " + std::to_string(r.status));
    body_bytes = r.body.size();
  }
  Totals t = ClosedLoop(a, [&](int, Conn& c) { return c.Call("GET", a.path).status; });
  PrintSummary(a, t, ",\"path\":\"" + a.path + "\",\"body_bytes\":" + std::to_string(body_bytes));
  return t.errors == 0 ? 0 : 1;
}

int Post(const Args& a) {
  if (a.path.empty() || a.body_file.empty()) Die("post needs --path and --body-file");
  std::vector<std::string> bodies;
  {
    std::ifstream in(a.body_file);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) bodies.push_back(line);
    }
  }
  if (bodies.empty()) Die("no bodies in " + a.body_file);
  {
    Conn c(a.port, a.token);
    const Response r = c.Call("POST", a.path, bodies.front());
    if (r.status != 200) Die("POST " + a.path + ": " + std::to_string(r.status) + " " + r.body);
  }
  Totals t = ClosedLoop(a, [&](int i, Conn& c) {
    return c.Call("POST", a.path, bodies[static_cast<size_t>(i) % bodies.size()]).status;
  });
  PrintSummary(a, t,
               ",\"path\":\"" + a.path + "\",\"bodies\":" + std::to_string(bodies.size()) +
                   ",\"body_bytes\":" + std::to_string(bodies.front().size()));
  return t.errors == 0 ? 0 : 1;
}

// One lag sample at a time (see the file comment). Samples that failed (a non-200 on A or B, or
// B answering with a sequence below the write's) are counted as errors, not as latencies.
int Lag(const Args& a) {
  if (a.ports.size() != 2) Die("lag needs --port A,B");
  if (a.method != "min-seq" && a.method != "poll") Die("--method must be min-seq or poll");
  std::mt19937_64 rng(99);
  Conn on_a(a.ports[0], a.token);
  Conn on_b(a.ports[1], a.token);
  const std::string provider = NewProvider(on_a, "bench-lag-" + RunTag());
  const std::string key = NewKey(on_a, provider, "lag", rng);
  WaitForSeq(a.ports[1], a.token, AppliedSeq(a.ports[0], a.token));
  const std::string list = "/api/admin/endpoints/providers/" + provider + "/keys";
  const std::string one = "/api/admin/providers/" + provider;

  std::vector<int64_t> lag, write, floor;
  uint64_t errors = 0, polls = 0;
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(a.seconds));
  for (int64_t n = 1; Clock::now() < end; ++n) {
    // B's plain round trip for the same request, the part of every sample that is not lag.
    const auto plain = Clock::now();
    if (on_b.Call("GET", a.method == "poll" ? list : one).status != 200) {
      ++errors;
      continue;
    }
    floor.push_back(kb::MicrosSince(plain));
    const int priority = static_cast<int>(n % 100000);
    const auto put = Clock::now();
    const Response w = on_a.Call("PUT", "/api/admin/endpoints/keys/" + key,
                                 R"({"internal_priority":)" + std::to_string(priority) + "}");
    if (w.status != 200 || w.seq == 0) {
      ++errors;
      continue;
    }
    const auto acked = Clock::now();
    write.push_back(kb::MicrosSince(put));
    bool seen = false;
    if (a.method == "min-seq") {
      const Response r =
          on_b.Call("GET", one, "", "X-Keyledger-Min-Seq: " + std::to_string(w.seq) + "\r\n");
      seen = r.status == 200 && r.seq >= w.seq;
    } else {
      const std::string marker = "\"internal_priority\":" + std::to_string(priority) + ",";
      const auto give_up = acked + std::chrono::seconds(10);
      while (!seen && Clock::now() < give_up) {
        const Response r = on_b.Call("GET", list);
        ++polls;
        if (r.status != 200) break;
        seen = r.body.find(marker) != std::string::npos;
      }
    }
    if (!seen) {
      ++errors;
      continue;
    }
    lag.push_back(kb::MicrosSince(acked));
  }
  const kb::Summary l = kb::Summarize(lag, a.seconds);
  const kb::Summary w = kb::Summarize(write, a.seconds);
  const kb::Summary f = kb::Summarize(floor, a.seconds);
  const int64_t max = lag.empty() ? 0 : *std::max_element(lag.begin(), lag.end());
  std::printf(
      "{\"mode\":\"lag\",\"method\":\"%s\",\"samples\":%llu,\"p50_us\":%.0f,\"p99_us\":%.0f,"
      "\"p999_us\":%.0f,\"max_us\":%lld,\"write_p50_us\":%.0f,\"write_p99_us\":%.0f,"
      "\"b_plain_p50_us\":%.0f,\"b_plain_p99_us\":%.0f,\"polls\":%llu,\"errors\":%llu}\n",
      a.method.c_str(), static_cast<unsigned long long>(l.ops), l.p50_us, l.p99_us, l.p999_us,
      static_cast<long long>(max), w.p50_us, w.p99_us, f.p50_us, f.p99_us,
      static_cast<unsigned long long>(polls), static_cast<unsigned long long>(errors));
  std::fflush(stdout);
  return errors == 0 && !lag.empty() ? 0 : 1;
}

int Setup(const Args& a) {
  std::mt19937_64 rng(7);
  Conn c(a.port, a.token);
  const std::string tag = RunTag();
  std::vector<std::string> providers;
  for (int p = 0; p < std::max(1, a.providers); ++p) {
    providers.push_back(NewProvider(c, "bench-" + tag + "-" + std::to_string(p)));
  }
  for (int i = 0; i < a.keys; ++i) {
    NewKey(c, providers[static_cast<size_t>(i) % providers.size()], "k" + std::to_string(i), rng);
  }
  std::printf("{\"mode\":\"setup\",\"providers\":[");
  for (size_t p = 0; p < providers.size(); ++p) {
    std::printf("%s\"%s\"", p ? "," : "", providers[p].c_str());
  }
  std::printf("],\"keys\":%d}\n", a.keys);
  return 0;
}

// ---- Soak ------------------------------------------------------------------------------------

// VmRSS of `pid` in KiB and its open file descriptors (-1 when unreadable).
std::pair<long, long> ProcessUsage(int pid) {
  long rss = -1, fds = -1;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atol(line.c_str() + 6);
  }
  if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    fds = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++fds;
    }
    ::closedir(d);
  }
  return {rss, fds};
}

// The memory series of keyledgerd's /metrics (api/memory_metrics.hpp) as one JSON object of
// KiB figures, "component.label" -> value, e.g. {"memory.block_cache":8192,"memtable.events":
// 30720,"alloc.resident":120000}; and keyledger_head_sequence into *head.
std::string MemoryJson(Conn& c, long* head) {
  const Response r = c.Call("GET", "/metrics");
  if (r.status != 200) return "{}";
  static const std::pair<const char*, const char*> kSeries[] = {
      {"keyledger_memory_bytes{component=\"", "memory."},
      {"keyledger_memory_limit_bytes{component=\"", "limit."},
      {"keyledger_rocksdb_memtable_bytes{cf=\"", "memtable."},
      {"keyledger_rocksdb_table_readers_bytes{cf=\"", "table_readers."},
      {"keyledger_allocator_bytes{state=\"", "alloc."},
      {"keyledger_process_resident_anon_bytes", "rss_anon"},
      {"keyledger_rocksdb_block_cache_pinned_bytes", "block_cache_pinned"},
  };
  std::string out = "{";
  std::istringstream lines(r.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("keyledger_head_sequence ", 0) == 0) {
      *head = std::atol(line.c_str() + std::strlen("keyledger_head_sequence "));
      continue;
    }
    for (const auto& [prefix, name] : kSeries) {
      const size_t n = std::strlen(prefix);
      if (line.compare(0, n, prefix) != 0) continue;
      std::string key = name;
      size_t value_at = line.find(' ', n);
      if (value_at == std::string::npos) break;
      if (prefix[n - 1] == '"') {
        const size_t close = line.find('"', n);
        if (close == std::string::npos) break;
        key += line.substr(n, close - n);
      } else if (value_at != n) {
        break;  // another series with the same prefix
      }
      const double bytes = std::atof(line.c_str() + value_at + 1);
      if (out.size() > 1) out += ',';
      out += "\"" + key + "\":" + std::to_string(static_cast<long long>(bytes / 1024));
      break;
    }
  }
  return out + "}";
}

int Soak(const Args& a) {
  if (a.pid <= 0) Die("soak needs --pid (the server's, for RSS and file descriptors)");
  std::mt19937_64 setup_rng(11);
  constexpr int kKeysPerConnection = 8;
  std::vector<std::string> providers;
  std::vector<std::vector<std::string>> keys(static_cast<size_t>(a.connections));
  {
    Conn c(a.port, a.token);
    const std::string tag = RunTag();
    for (int p = 0; p < 3; ++p)
      providers.push_back(NewProvider(c, "soak-" + tag + "-" + std::to_string(p)));
    for (int i = 0; i < a.connections; ++i) {
      for (int k = 0; k < kKeysPerConnection; ++k) {
        keys[static_cast<size_t>(i)].push_back(
            NewKey(c, providers[static_cast<size_t>(k) % providers.size()],
                   "c" + std::to_string(i) + "-" + std::to_string(k), setup_rng));
      }
    }
  }

  std::mutex mu;
  std::vector<int64_t> interval_latencies;
  uint64_t interval_errors = 0;
  std::map<int, uint64_t> statuses;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sse_bytes{0};
  std::atomic<int> sse_open{0};

  std::vector<std::thread> threads;
  for (int i = 0; i < a.connections; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937_64 rng(1000 + static_cast<uint64_t>(i));
      Conn c(a.port, a.token);
      auto& mine = keys[static_cast<size_t>(i)];
      int64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t dice = rng() % 100;
        const std::string& key = mine[rng() % mine.size()];
        const std::string& provider = providers[rng() % providers.size()];
        const auto start = Clock::now();
        int status;
        if (dice < 25) {
          ++n;
          status = c.Call("PUT", "/api/admin/endpoints/keys/" + key,
                          R"({"internal_priority":)" + std::to_string(n % 1000) +
                              R"(,"note":"soak )" + std::to_string(n) + "\"}")
                       .status;
        } else if (dice < 45) {
          status = c.Call("GET", "/api/admin/endpoints/providers/" + provider + "/keys").status;
        } else if (dice < 55) {
          status = c.Call("GET", "/api/admin/endpoints/keys/grouped-by-format").status;
        } else if (dice < 65) {
          status = c.Call("GET", "/api/admin/endpoints/keys/" + key + "/reveal", "",
                          "X-Audit-Reason: soak\r\n")
                       .status;
        } else if (dice < 85) {
          std::string reports = R"({"reports":[)";
          for (int r = 0; r < 5; ++r) {
            reports += (r ? "," : "") + std::string(R"({"key_id":")") + mine[rng() % mine.size()] +
                       R"(","api_format":"CLAUDE","successes":)" + std::to_string(rng() % 20) +
                       R"(,"failures":)" + std::to_string(rng() % 3) +
                       R"(,"total_response_time_ms":900,"at":"2026-01-13T05:00:00Z"})";
          }
          status =
              c.Call("POST", "/api/admin/endpoints/keys/health-reports", reports + "]}").status;
        } else if (dice < 92) {
          status = c.Call("GET", "/api/admin/audit/events?limit=20").status;
        } else {
          // Replace one of this connection's keys: delete it and create another.
          const size_t slot = rng() % mine.size();
          status = c.Call("DELETE", "/api/admin/endpoints/keys/" + mine[slot]).status;
          if (status == 200) {
            Response k =
                c.Call("POST", "/api/admin/endpoints/providers/" + provider + "/keys",
                       R"({"api_formats":["CLAUDE"],"api_key":")" + Secret(rng) + R"(","name":"r)" +
                           std::to_string(i) + "-" + std::to_string(++n) + R"("})");
            status = k.status;
            if (status == 200) mine[slot] = IdOf(k.body);
          }
        }
        const int64_t us = kb::MicrosSince(start);
        std::lock_guard lock(mu);
        ++statuses[status];
        if (status >= 200 && status < 300) {
          interval_latencies.push_back(us);
        } else {
          ++interval_errors;
        }
      }
    });
  }
  for (int s = 0; s < a.sse; ++s) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        Conn c(a.port, a.token);
        if (!c.OpenStream("/api/admin/audit/stream")) {
          std::lock_guard lock(mu);
          ++statuses[-1];
          ++interval_errors;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          continue;
        }
        sse_open.fetch_add(1);
        // Reconnect now and then, as real subscribers do.
        const auto until = Clock::now() + std::chrono::seconds(10);
        while (!stop.load() && Clock::now() < until) {
          const long n = c.ReadSome(200);
          if (n < 0) break;
          sse_bytes.fetch_add(static_cast<uint64_t>(n));
        }
        sse_open.fetch_sub(1);
      }
    });
  }

  const auto begin = Clock::now();
  const auto end =
      begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.seconds));
  std::vector<int64_t> all;
  uint64_t total_errors = 0;
  long first_rss = -1, last_rss = -1, first_fds = -1, last_fds = -1, max_fds = -1;
  Conn metrics(a.port, a.token);
  long head = -1;
  std::printf("{\"soak\":\"start\",\"connections\":%d,\"sse\":%d,\"seconds\":%.0f}\n",
              a.connections, a.sse, a.seconds);
  std::fflush(stdout);
  for (auto next = begin; next < end;) {
    next = std::min(end, next + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(a.interval)));
    std::this_thread::sleep_until(next);
    std::vector<int64_t> lat;
    uint64_t errors;
    {
      std::lock_guard lock(mu);
      lat.swap(interval_latencies);
      errors = interval_errors;
      interval_errors = 0;
    }
    total_errors += errors;
    all.insert(all.end(), lat.begin(), lat.end());
    const auto [rss, fds] = ProcessUsage(a.pid);
    if (first_rss < 0) first_rss = rss, first_fds = fds;
    last_rss = rss;
    last_fds = fds;
    max_fds = std::max(max_fds, fds);
    const double t = std::chrono::duration<double>(Clock::now() - begin).count();
    const kb::Summary s = kb::Summarize(lat, a.interval);
    const std::string mem = MemoryJson(metrics, &head);
    std::printf(
        "{\"t\":%.0f,\"ops_per_sec\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"errors\":%llu,"
        "\"rss_kib\":%ld,\"fds\":%ld,\"sse_open\":%d,\"sse_bytes\":%llu,\"head\":%ld,"
        "\"mem\":%s}\n",
        t, s.ops_per_sec, s.p50_us, s.p99_us, static_cast<unsigned long long>(errors), rss, fds,
        sse_open.load(), static_cast<unsigned long long>(sse_bytes.load()), head, mem.c_str());
    std::fflush(stdout);
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  const kb::Summary s = kb::Summarize(all, elapsed);
  std::string codes;
  for (auto [code, n] : statuses) {
    codes += (codes.empty() ? "" : ",") + std::string("\"") + std::to_string(code) +
             "\":" + std::to_string(n);
  }
  std::printf(
      "{\"soak\":\"end\",\"ops\":%llu,\"ops_per_sec\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
      "\"p999_us\":%.0f,\"errors\":%llu,\"rss_kib_first\":%ld,\"rss_kib_last\":%ld,"
      "\"fds_first\":%ld,\"fds_last\":%ld,\"fds_max\":%ld,\"sse_bytes\":%llu,\"statuses\":{%s}}\n",
      static_cast<unsigned long long>(s.ops), s.ops_per_sec, s.p50_us, s.p99_us, s.p999_us,
      static_cast<unsigned long long>(total_errors), first_rss, last_rss, first_fds, last_fds,
      max_fds, static_cast<unsigned long long>(sse_bytes.load()), codes.c_str());
  // Only 2xx are expected: each connection owns its keys, so nothing conflicts.
  return total_errors == 0 && sse_bytes.load() > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = ParseArgs(argc, argv);
  if (a.mode == "write") return Write(a);
  if (a.mode == "read") return Read(a);
  if (a.mode == "post") return Post(a);
  if (a.mode == "lag") return Lag(a);
  if (a.mode == "setup") return Setup(a);
  if (a.mode == "soak") return Soak(a);
  Die("unknown mode " + a.mode);
}
