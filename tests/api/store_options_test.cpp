// keyledgerd's --store and --etcd-* options (src/server_config.hpp): defaults, flags and their
// KEYLEDGER_* variables, --help, and the combinations refused before anything starts.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "src/server_config.hpp"

namespace keyledger {
namespace {

Result<ParsedServerArgs> Parse(std::vector<const char*> args,
                               std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "keyledgerd");
  return ParseServerArgs(static_cast<int>(args.size()), args.data(),
                         [env](const char* name) -> const char* {
                           auto it = env.find(name);
                           return it == env.end() ? nullptr : it->second.c_str();
                         });
}

TEST(StoreOptionsTest, DefaultsToRocksDb) {
  auto r = Parse({});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.store, "rocksdb");
  EXPECT_EQ(r->config.etcd_prefix, "/keyledger/default");
  EXPECT_TRUE(r->config.etcd_endpoints.empty());
}

TEST(StoreOptionsTest, FlagsAndEnvironment) {
  auto r = Parse({"--store", "etcd", "--etcd-endpoints", " http://10.0.0.1:2379, https://h:2379,",
                  "--etcd-prefix", "/kl/prod", "--etcd-cacert", "ca.pem", "--etcd-cert", "c.pem",
                  "--etcd-key", "k.pem", "--etcd-user", "kl", "--etcd-password-file", "pw"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.etcd_endpoints,
            (std::vector<std::string>{"http://10.0.0.1:2379", "https://h:2379"}));
  EXPECT_EQ(r->config.etcd_prefix, "/kl/prod");
  EXPECT_EQ(r->config.etcd_cacert, "ca.pem");
  EXPECT_EQ(r->config.etcd_user, "kl");
  EXPECT_EQ(r->config.etcd_max_txn_ops_text, "128");  // etcd's own default
  auto raised =
      Parse({"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-max-txn-ops", "1024"});
  ASSERT_TRUE(raised.ok()) << raised.status().ToString();
  events::StoreConfig store;
  cli::CopyEtcdOptions(raised->config, store);
  EXPECT_EQ(store.etcd_max_txn_ops, 1024u);

  auto env = Parse({}, {{"KEYLEDGER_STORE", "etcd"},
                        {"KEYLEDGER_ETCD_ENDPOINTS", "http://127.0.0.1:2379"},
                        {"KEYLEDGER_ETCD_PREFIX", "/x"},
                        {"KEYLEDGER_ETCD_CERT", "c"},
                        {"KEYLEDGER_ETCD_KEY", "k"},
                        {"KEYLEDGER_ETCD_CACERT", "ca"},
                        {"KEYLEDGER_ETCD_USER", "u"},
                        {"KEYLEDGER_ETCD_PASSWORD_FILE", "p"},
                        {"KEYLEDGER_ETCD_MAX_TXN_OPS", "512"}});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->config.store, "etcd");
  EXPECT_EQ(env->config.etcd_endpoints, std::vector<std::string>{"http://127.0.0.1:2379"});
  EXPECT_EQ(env->config.etcd_prefix, "/x");
  EXPECT_EQ(env->config.etcd_password_file, "p");
  EXPECT_EQ(env->config.etcd_max_txn_ops_text, "512");

  auto help = Parse({"--help"});
  ASSERT_TRUE(help.ok());
  for (const char* name :
       {"--store", "--etcd-endpoints", "--etcd-prefix", "--etcd-cacert", "--etcd-cert",
        "--etcd-key", "--etcd-user", "--etcd-password-file", "--etcd-max-txn-ops",
        "KEYLEDGER_ETCD_ENDPOINTS", "KEYLEDGER_ETCD_MAX_TXN_OPS"}) {
    EXPECT_NE(help->help_text.find(name), std::string::npos) << name;
  }
}

TEST(StoreOptionsTest, BadCombinationsAreRefused) {
  const std::vector<std::vector<const char*>> bad = {
      {"--store", "postgres"},
      {"--store", "etcd"},                            // no endpoints
      {"--etcd-endpoints", "http://127.0.0.1:2379"},  // without --store etcd
      {"--store", "etcd", "--etcd-endpoints", "127.0.0.1:2379"},
      {"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-prefix", "nope"},
      {"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-prefix", "/trailing/"},
      {"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-cert", "c.pem"},
      {"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-user", "u"},
      {"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-max-txn-ops", "15"},
      {"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-max-txn-ops", "100001"},
      {"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-max-txn-ops", "12x"},
      {"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-max-txn-ops", ""},
      {"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-max-txn-ops", "-128"},
  };
  for (const auto& args : bad) {
    auto r = Parse(args);
    EXPECT_FALSE(r.ok()) << args.size() << " " << args.back();
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
  std::string many;
  for (size_t i = 0; i <= kMaxEtcdEndpoints; ++i) many += "http://h:" + std::to_string(i + 1) + ",";
  EXPECT_FALSE(Parse({"--store", "etcd", "--etcd-endpoints", many.c_str()}).ok());
}

// --min-seq-wait-ms bounds how long X-Keyledger-Min-Seq waits (events/ETCD.md "Several nodes").
TEST(StoreOptionsTest, MinSeqWaitHasADefaultAVariableAndARange) {
  auto d = Parse({});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->config.min_seq_wait_ms, 5000u);
  auto flag = Parse({"--min-seq-wait-ms", "250"});
  ASSERT_TRUE(flag.ok()) << flag.status().ToString();
  EXPECT_EQ(flag->config.min_seq_wait_ms, 250u);
  auto env = Parse({}, {{"KEYLEDGER_MIN_SEQ_WAIT_MS", "0"}});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->config.min_seq_wait_ms, 0u);
  for (const char* bad : {"-1", "60001", "soon"}) {
    EXPECT_FALSE(Parse({"--min-seq-wait-ms", bad}).ok()) << bad;
  }
  auto help = Parse({"--help"});
  ASSERT_TRUE(help.ok());
  for (const char* text :
       {"--min-seq-wait-ms", "KEYLEDGER_MIN_SEQ_WAIT_MS", "X-Keyledger-Min-Seq"}) {
    EXPECT_NE(help->help_text.find(text), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace keyledger
