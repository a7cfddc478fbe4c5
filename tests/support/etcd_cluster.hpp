#pragma once
// A real etcd cluster for tests: `members` etcd processes (Debian's etcd-server, 3.4+) on
// 127.0.0.1 with free ports and data directories under a temporary directory, started and
// waited on until every member answers a linearizable read (bounded). Members are stopped by
// PID: Stop() and the destructor SIGKILL and reap every one (after SIGCONT, so a member a test
// stopped with SIGSTOP dies too), and each child also gets SIGKILL from the kernel if the test
// process dies first (PR_SET_PDEATHSIG), so no member outlives a crashed test.
//
// Shared(): one 3-member cluster per test process, started on first use and stopped at exit;
// tests separate their data by etcd prefix. Not thread-safe: one test thread drives it.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "events/etcd_client.hpp"
#include "events/status.hpp"

namespace keyledger::testing {

class TempDir;

class EtcdCluster {
 public:
  // Client TLS (the peers stay on plain HTTP): the members serve https:// with `cert_file` /
  // `key_file`, and with `client_ca_file` set they require a client certificate it signs
  // (--client-cert-auth); WaitHealthy then presents `client_cert_file` / `client_key_file`.
  struct ClientTls {
    std::string cert_file;
    std::string key_file;
    std::string client_ca_file;
    std::string client_cert_file;
    std::string client_key_file;
  };
  explicit EtcdCluster(int members = 3);
  EtcdCluster(int members, ClientTls tls);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // The process-wide cluster; fails the calling test (and returns null) if it cannot start.
  static EtcdCluster* Shared();

  Status Start();
  void Stop();
  // Every member answers a linearizable read (so there is a leader and a quorum).
  Status WaitHealthy(std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

  // What a client needs to reach the members: the endpoints, and with ClientTls the CA file
  // (the members' certificate) and the client certificate and key (`client_cert`, `client_key`).
  events::etcd::ClientOptions ClientOptions(const std::string& client_cert = "",
                                            const std::string& client_key = "") const;
  // Client URLs ("http://127.0.0.1:PORT", https:// with ClientTls), one per member.
  std::vector<std::string> endpoints() const;
  std::string endpoint(int member) const;
  int size() const { return static_cast<int>(members_.size()); }
  pid_t pid(int member) const;

  // SIGKILL and reap one member; Restart() starts it again on its data directory and ports.
  void Kill(int member);
  Status Restart(int member);
  // kill(pid, sig) for SIGSTOP / SIGCONT.
  void Signal(int member, int sig) const;
  // The member that is the raft leader: the first running member whose own status
  // (POST /v3/maintenance/status) names itself as the leader (header.member_id == leader).
  // Asks again until `timeout`, then -1 (no quorum, or an election that did not finish).
  int Leader(std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  // A prefix no other test of this process uses ("/kltest/<n>-<random>").
  static std::string UniquePrefix();

 private:
  struct Member {
    std::string name;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    std::string data_dir;
    pid_t pid = -1;
  };
  Status Spawn(Member& m, bool existing);
  std::string InitialCluster() const;

  std::unique_ptr<TempDir> dir_;
  std::vector<Member> members_;
  std::string token_;
  std::optional<ClientTls> tls_;
  std::string ClientUrl(uint16_t port) const;
};

// Whether the etcd binary is installed (tools/setup.sh installs etcd-server).
bool EtcdAvailable();

}  // namespace keyledger::testing
