#include "tests/support/etcd_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "events/etcd_client.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::testing {
namespace {

// Finds `n` distinct free TCP ports on 127.0.0.1 (held open together so none repeats).
std::vector<uint16_t> FreePorts(size_t n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (fd >= 0) ::close(fd);
      break;
    }
    fds.push_back(fd);
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}

std::string Url(uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

// The string value of the first `"name":"..."` in `json` ("" if absent). Enough for the
// gateway's status answer, whose 64-bit ids are decimal strings without escapes.
std::string StringMember(const std::string& json, const std::string& name) {
  const std::string needle = "\"" + name + "\":\"";
  const size_t at = json.find(needle);
  if (at == std::string::npos) return "";
  const size_t begin = at + needle.size();
  const size_t end = json.find('"', begin);
  return end == std::string::npos ? "" : json.substr(begin, end - begin);
}

// One member's view of the cluster: its own id and the leader's, from POST
// /v3/maintenance/status on a connection of its own (Connection: close), every send and receive
// bounded by `timeout` (a SIGSTOPped member still completes the TCP handshake from its listen
// backlog, but never answers). Empty ids when the member does not answer in time.
struct MemberStatus {
  std::string member_id;
  std::string leader;
};
MemberStatus StatusOf(uint16_t port, std::chrono::milliseconds timeout) {
  MemberStatus out;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return out;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        "POST /v3/maintenance/status HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
        "\r\nContent-Type: application/json\r\nContent-Length: "
        "2\r\nConnection: close\r\n\r\n{}";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      char buf[4096];
      while (std::chrono::steady_clock::now() < deadline && response.size() < (1 << 20)) {
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;  // EOF (Connection: close), error or SO_RCVTIMEO
        response.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  if (response.rfind("HTTP/1.1 200", 0) != 0) return out;
  out.member_id = StringMember(response, "member_id");
  out.leader = StringMember(response, "leader");
  return out;
}

}  // namespace

bool EtcdAvailable() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/usr/sbin"}) {
    if (::access((std::string(dir) + "/etcd").c_str(), X_OK) == 0) return true;
  }
  return false;
}

EtcdCluster::EtcdCluster(int members) : dir_(std::make_unique<TempDir>()) {
  std::random_device rd;
  token_ = "kltest-" + std::to_string(rd());
  const std::vector<uint16_t> ports = FreePorts(static_cast<size_t>(members) * 2);
  for (int i = 0; i < members && static_cast<size_t>(2 * i + 1) < ports.size(); ++i) {
    Member m;
    m.name = "m" + std::to_string(i);
    m.client_port = ports[static_cast<size_t>(2 * i)];
    m.peer_port = ports[static_cast<size_t>(2 * i + 1)];
    m.data_dir = dir_->Sub(m.name);
    members_.push_back(m);
  }
}

EtcdCluster::EtcdCluster(int members, ClientTls tls) : EtcdCluster(members) {
  tls_ = std::move(tls);
}

std::string EtcdCluster::ClientUrl(uint16_t port) const {
  return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port);
}

events::etcd::ClientOptions EtcdCluster::ClientOptions(const std::string& client_cert,
                                                       const std::string& client_key) const {
  events::etcd::ClientOptions o;
  o.endpoints = endpoints();
  if (tls_) {
    o.ca_file = tls_->cert_file;
    o.cert_file = client_cert;
    o.key_file = client_key;
  }
  return o;
}

EtcdCluster::~EtcdCluster() { Stop(); }

EtcdCluster* EtcdCluster::Shared() {
  static EtcdCluster* cluster = [] {
    auto* c = new EtcdCluster(3);
    Status s = c->Start();
    if (!s.ok()) {
      ADD_FAILURE() << "cannot start the etcd test cluster: " << s.ToString();
      delete c;
      return static_cast<EtcdCluster*>(nullptr);
    }
    // Stopped (SIGKILL by PID) when the test process exits normally; PR_SET_PDEATHSIG covers
    // the other ways out.
    std::atexit([] { delete Shared(); });
    return c;
  }();
  if (cluster == nullptr) ADD_FAILURE() << "the etcd test cluster is not running";
  return cluster;
}

std::string EtcdCluster::InitialCluster() const {
  std::string out;
  for (const Member& m : members_) {
    if (!out.empty()) out += ',';
    out += m.name + "=" + Url(m.peer_port);
  }
  return out;
}

Status EtcdCluster::Spawn(Member& m, bool existing) {
  std::vector<std::string> args = {
      "etcd", "--name", m.name, "--data-dir", m.data_dir, "--listen-client-urls",
      ClientUrl(m.client_port), "--advertise-client-urls", ClientUrl(m.client_port),
      "--listen-peer-urls", Url(m.peer_port), "--initial-advertise-peer-urls", Url(m.peer_port),
      "--initial-cluster", InitialCluster(), "--initial-cluster-state",
      existing ? "existing" : "new", "--initial-cluster-token", token_,
      // Faster elections than the defaults (100 ms, 1 s) keep the
      // failover tests short on loopback.
      "--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap", "--log-level",
      "warn"};
  if (tls_) {
    for (std::string a :
         {std::string("--cert-file"), tls_->cert_file, std::string("--key-file"), tls_->key_file}) {
      args.push_back(std::move(a));
    }
    if (!tls_->client_ca_file.empty()) {
      args.insert(args.end(), {"--client-cert-auth", "--trusted-ca-file", tls_->client_ca_file});
    }
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log_path = m.data_dir + ".log";
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return MakeError(ErrorCode::kIoError, "fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    ::execvp("etcd", argv.data());
    ::_exit(127);
  }
  m.pid = pid;
  return Status::Ok();
}

Status EtcdCluster::Start() {
  if (!EtcdAvailable()) {
    return MakeError(ErrorCode::kNotFound, "etcd is not installed (tools/setup.sh installs it)");
  }
  if (members_.empty()) return MakeError(ErrorCode::kIoError, "no free ports for etcd");
  for (Member& m : members_) KL_RETURN_IF_ERROR(Spawn(m, false));
  Status s = WaitHealthy();
  if (!s.ok()) Stop();
  return s;
}

Status EtcdCluster::WaitHealthy(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const Member& m : members_) {
    events::etcd::ClientOptions o =
        tls_ ? ClientOptions(tls_->client_cert_file, tls_->client_key_file) : ClientOptions();
    o.endpoints = {ClientUrl(m.client_port)};
    o.request_timeout = std::chrono::milliseconds(1000);
    o.connect_timeout = std::chrono::milliseconds(200);
    auto client = events::etcd::Client::Create(o);
    if (!client.ok()) return client.status();
    while (true) {
      events::etcd::RangeRequest probe;
      probe.key = "/kltest-health";
      auto r = (*client)->Range(probe);
      if (r.ok()) break;
      if (std::chrono::steady_clock::now() > deadline) {
        return MakeError(ErrorCode::kIoError, "etcd member " + m.name +
                                                  " is not healthy: " + r.status().ToString() +
                                                  " (log: " + m.data_dir + ".log)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return Status::Ok();
}

void EtcdCluster::Stop() {
  for (int i = 0; i < size(); ++i) Kill(i);
}

void EtcdCluster::Kill(int member) {
  Member& m = members_[static_cast<size_t>(member)];
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGCONT);
  ::kill(m.pid, SIGKILL);
  int status = 0;
  ::waitpid(m.pid, &status, 0);
  m.pid = -1;
}

Status EtcdCluster::Restart(int member) {
  Member& m = members_[static_cast<size_t>(member)];
  if (m.pid > 0) Kill(member);
  return Spawn(m, true);
}

void EtcdCluster::Signal(int member, int sig) const {
  const Member& m = members_[static_cast<size_t>(member)];
  if (m.pid > 0) ::kill(m.pid, sig);
}

int EtcdCluster::Leader(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    for (int i = 0; i < size(); ++i) {
      const Member& m = members_[static_cast<size_t>(i)];
      if (m.pid <= 0) continue;
      const MemberStatus s = StatusOf(m.client_port, std::chrono::milliseconds(500));
      if (!s.member_id.empty() && s.member_id == s.leader) return i;
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (const Member& m : members_) out.push_back(ClientUrl(m.client_port));
  return out;
}

std::string EtcdCluster::endpoint(int member) const {
  return ClientUrl(members_[static_cast<size_t>(member)].client_port);
}

pid_t EtcdCluster::pid(int member) const { return members_[static_cast<size_t>(member)].pid; }

std::string EtcdCluster::UniquePrefix() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return "/kltest/" + std::to_string(++counter) + "-" + std::to_string(rd());
}

}  // namespace keyledger::testing
