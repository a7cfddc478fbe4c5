// keyledgerd against an etcd member that serves TLS, requires a client certificate
// (--client-cert-auth) and has authentication enabled: the --etcd-cacert, --etcd-cert,
// --etcd-key, --etcd-user and --etcd-password-file options (ETCD.md "Transport") used for real,
// by the log, its follower and a second node; and what keyledgerd says when one of them is
// wrong or missing. The password never reaches a log line.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "events/etcd_client.hpp"
#include "tests/api/test_client.hpp"
#include "tests/e2e/e2e_support.hpp"
#include "tests/support/etcd_cluster.hpp"

namespace keyledger::e2e {
namespace {

using keyledger::testing::EtcdCluster;

constexpr std::string_view kPassword = "etcd-root-pw-4d1f9b";

class EtcdTlsE2eTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    ASSERT_TRUE(api::testing::GenerateSelfSignedCert(etcd_cert_, etcd_key_));
    // etcd's gateway refuses a client certificate with a CommonName once authentication is
    // on (ETCD.md "Transport"); the second one, with a CN, shows the reason keyledgerd gives.
    ASSERT_TRUE(api::testing::GenerateClientCertWithoutCommonName(client_cert_, client_key_));
    ASSERT_TRUE(api::testing::GenerateSelfSignedCert(cn_cert_, cn_key_));
    // The client CAs: ours, and the member's own certificate, which etcd's JSON gateway
    // presents when it calls the member's gRPC server on the same port.
    {
      std::ofstream bundle(client_ca_);
      bundle << std::ifstream(client_cert_).rdbuf();
      bundle << std::ifstream(cn_cert_).rdbuf();
      bundle << std::ifstream(etcd_cert_).rdbuf();
    }
    // One member is enough: what is tested is the transport and the credentials.
    cluster_ = std::make_unique<EtcdCluster>(
        1, EtcdCluster::ClientTls{etcd_cert_, etcd_key_, client_ca_, client_cert_, client_key_});
    ASSERT_OK(cluster_->Start());
    // Authentication on: a root user with the root role (etcd requires both).
    auto admin = events::etcd::Client::Create(cluster_->ClientOptions(client_cert_, client_key_));
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
             {"/v3/auth/role/add", R"({"name":"root"})"},
             {"/v3/auth/user/add",
              R"({"name":"root","password":")" + std::string(kPassword) + R"("})"},
             {"/v3/auth/user/grant", R"({"user":"root","role":"root"})"},
             {"/v3/auth/enable", "{}"}}) {
      auto r = (*admin)->Post(path, body);
      ASSERT_TRUE(r.ok()) << path << ": " << r.status().ToString();
    }
    WritePassword(password_file_, std::string(kPassword));
  }
  void TearDown() override {
    if (cluster_) cluster_->Stop();
    E2eTest::TearDown();
  }
  static void WritePassword(const std::string& path, const std::string& password) {
    std::ofstream(path) << password << "\n";
    ::chmod(path.c_str(), 0600);
  }
  std::vector<std::string> Args(const std::string& password_file) const {
    return {"--store",       "etcd",       "--etcd-endpoints",     cluster_->endpoint(0),
            "--etcd-prefix", "/tls",       "--etcd-cacert",        etcd_cert_,
            "--etcd-cert",   client_cert_, "--etcd-key",           client_key_,
            "--etcd-user",   "root",       "--etcd-password-file", password_file};
  }
  // keyledgerd started with `args` in place of Args(): exits 1, saying `why`.
  void RefusedWith(std::vector<std::string> args, const std::string& why) {
    const std::string dir = dir_.Sub("refused-" + std::to_string(++refusals_));
    std::filesystem::create_directories(dir);  // keyledgerd creates a development master key
    std::vector<std::string> argv = {KeyledgerdPath(), "--data-dir", dir, "--listen",
                                     "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = RunProcess(argv, scratch_dir_, std::chrono::seconds(60));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << "expected '" << why << "' in: " << r.err;
    EXPECT_EQ(r.err.find(kPassword), std::string::npos) << "the password reached the log";
  }
  std::string etcd_cert_ = dir_.Sub("etcd.pem");
  std::string etcd_key_ = dir_.Sub("etcd.key");
  std::string client_cert_ = dir_.Sub("client.pem");
  std::string client_key_ = dir_.Sub("client.key");
  std::string cn_cert_ = dir_.Sub("cn-client.pem");
  std::string cn_key_ = dir_.Sub("cn-client.key");
  std::string client_ca_ = dir_.Sub("client-ca.pem");
  std::string password_file_ = dir_.Sub("etcd-password");
  std::unique_ptr<EtcdCluster> cluster_;
  int refusals_ = 0;
};

TEST_F(EtcdTlsE2eTest, KeyledgerdWorksOverTlsWithAClientCertificateAndAPassword) {
  StartServer(Args(password_file_));
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string provider = CreateProvider(admin, "tls-provider");
  const std::string secret = NewSecret("tls");
  CreatedKey key = CreateKey(admin, provider, R"(["CLAUDE"])", secret, "tls-key");
  ASSERT_FALSE(key.id.empty());
  // The follower's probe (a linearizable read with the token) finds the cluster healthy.
  EXPECT_EQ(Client(port()).Get("/readyz").status, 200);

  // A second node over the same credentials reads the first one's write.
  std::unique_ptr<Daemon> node_b = AnotherNode("node-b");
  Daemon& b = *node_b;
  ASSERT_TRUE(b.Start(Args(password_file_))) << b.error();
  Client on_b(b.port(), admin_token_);
  TestResponse list = admin.Get(KeysOf(provider));
  ASSERT_EQ(list.status, 200);
  TestResponse on_other =
      on_b.Get(KeysOf(provider), {{"X-Keyledger-Min-Seq", list.Header("X-Keyledger-Seq")}});
  ASSERT_EQ(on_other.status, 200) << on_other.body;
  EXPECT_EQ(on_other.body, list.body);
  TestResponse reveal = on_b.Get(KeyPath(key.id) + "/reveal", {{"X-Audit-Reason", "tls"}});
  EXPECT_EQ(reveal.status, 200) << reveal.body;
  EXPECT_NE(reveal.body.find(secret), std::string::npos);
  EXPECT_EQ(b.Stop(SIGTERM), 0) << b.CurrentStderr();
  EXPECT_EQ(b.AllStderr().find(kPassword), std::string::npos) << "the password reached the log";

  RestartServer();
  ASSERT_FALSE(HasFatalFailure());
  Client again = Admin();
  EXPECT_EQ(again.Get(KeysOf(provider)).body, list.body);
  EXPECT_EQ(daemon_->AllStderr().find(kPassword), std::string::npos);
}

TEST_F(EtcdTlsE2eTest, AWrongOrMissingCredentialIsRefusedWithItsReason) {
  // Wrong password: etcd refuses the login.
  const std::string wrong = dir_.Sub("wrong-password");
  WritePassword(wrong, "not-the-password");
  RefusedWith(Args(wrong), "authentication failed");
  // No client certificate: the member refuses the handshake.
  std::vector<std::string> no_cert = Args(password_file_);
  for (const char* drop : {"--etcd-cert", "--etcd-key"}) {
    auto it = std::find(no_cert.begin(), no_cert.end(), drop);
    ASSERT_NE(it, no_cert.end());
    no_cert.erase(it, it + 2);
  }
  RefusedWith(no_cert, "etcd");
  // A client certificate that names a CommonName: etcd's gateway refuses it, keyledgerd says why.
  std::vector<std::string> with_cn = Args(password_file_);
  *(std::find(with_cn.begin(), with_cn.end(), "--etcd-cert") + 1) = cn_cert_;
  *(std::find(with_cn.begin(), with_cn.end(), "--etcd-key") + 1) = cn_key_;
  RefusedWith(with_cn, "subject has a CommonName");
  // A CA that did not sign the member's certificate: keyledgerd refuses the member.
  std::vector<std::string> wrong_ca = Args(password_file_);
  *(std::find(wrong_ca.begin(), wrong_ca.end(), "--etcd-cacert") + 1) = client_cert_;
  RefusedWith(wrong_ca, "certificate");
}

}  // namespace
}  // namespace keyledger::e2e
