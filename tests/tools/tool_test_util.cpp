#include "tests/tools/tool_test_util.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>  // before Boost.Asio headers (STYLE.md)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>

#include <rocksdb/db.h>

#include "events/crypto.hpp"

extern char** environ;

namespace keyledger::tools::testing {

ToolRun RunTool(const std::string& binary, const std::vector<std::string>& args,
                const keyledger::testing::TempDir& scratch, const std::vector<std::string>& env,
                const std::string& stdin_file) {
  const std::string out_path = scratch.Sub("tool-stdout.txt");
  const std::string err_path = scratch.Sub("tool-stderr.txt");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(
      &actions, 0, stdin_file.empty() ? "/dev/null" : stdin_file.c_str(), O_RDONLY, 0);

  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
  for (const std::string& override_entry : env) {
    const std::string name = override_entry.substr(0, override_entry.find('=') + 1);
    std::erase_if(environment, [&](const std::string& e) { return e.starts_with(name); });
    if (override_entry.size() > name.size()) environment.push_back(override_entry);
  }
  std::vector<char*> envp;
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  ToolRun r;
  pid_t pid = 0;
  const int spawned =
      posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    ADD_FAILURE() << "cannot run " << binary << ": " << std::strerror(spawned);
    return r;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// ---- Node ----

Node::Node(std::string dir, std::string master, registry::RegistryOptions base)
    : dir_(std::move(dir)), master_(std::move(master)), base_(std::move(base)) {
  Open();
}

Node::~Node() { Close(); }

void Node::Open() {
  LogSink sink = [this](LogLevel, std::string_view m) { log_lines_.emplace_back(m); };
  events::RocksEventLog::Options o;
  o.log = sink;
  auto log = events::RocksEventLog::Open(dir_, o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  log_ = std::move(log).value();
  auto key = events::MasterKey::FromBytes(master_);
  ASSERT_TRUE(key.ok());
  auto keyring = events::Keyring::Open(*log_, std::move(key).value(), sink);
  ASSERT_TRUE(keyring.ok()) << keyring.status().ToString();
  keyring_ = std::move(keyring).value();
  registry::RegistryOptions o2 = base_;
  o2.log = log_.get();
  o2.keyring = keyring_.get();
  o2.log_sink = sink;
  auto reg = registry::Registry::Open(o2);
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  registry_ = std::move(reg).value();
}

void Node::Close() {
  if (registry_) {
    EXPECT_TRUE(registry_->Close().ok());
  }
  registry_.reset();
  keyring_.reset();
  if (log_) {
    EXPECT_TRUE(log_->Close().ok());
  }
  log_.reset();
}

registry::RequestContext Node::Admin() {
  registry::RequestContext c;
  c.actor = "ops";
  c.client_ip = "127.0.0.1";
  c.request_id = "req-test";
  return c;
}

Result<registry::CommandResult> Node::Run(std::unique_ptr<registry::Command> command,
                                          registry::RequestContext ctx) {
  return registry_->Execute(std::move(command), std::move(ctx));
}

std::string Node::CreateProvider(const std::string& name) {
  registry::ProviderCreateIntent in;
  in.provider.name = name;
  auto r = Run(registry::MakeCreateProvider(std::move(in)));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  const std::string* id = registry_->Current()->provider_names.Find(name);
  return id ? *id : "";
}

std::string Node::CreateKey(const std::string& provider_id, const std::string& secret,
                            std::vector<std::string> formats, const std::string& name) {
  registry::KeyCreateIntent in;
  in.provider_id = provider_id;
  in.key.api_formats = std::move(formats);
  in.key.name = name;
  in.secret = secret;
  auto r = Run(registry::MakeCreateKey(std::move(in)));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->body.substr(7, 36) : "";
}

// ---- TinyHttpServer ----

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct TinyHttpServer::Impl {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  Handler handler;
  std::thread thread;
  std::atomic<int>* requests = nullptr;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;  // stopped
      beast::error_code io;
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, io);
      if (!io) {
        requests->fetch_add(1);
        auto [status, body] =
            handler(std::string(req.target()), std::string(req[http::field::authorization]));
        http::response<http::string_body> res{static_cast<http::status>(status), 11};
        res.set(http::field::content_type, "application/json");
        res.body() = body;
        res.prepare_payload();
        res.keep_alive(false);
        http::write(socket, res, io);
      }
      socket.shutdown(tcp::socket::shutdown_both, io);
      Accept();
    });
  }
};

TinyHttpServer::TinyHttpServer(Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  impl_->requests = &requests_;
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->Accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

TinyHttpServer::~TinyHttpServer() {
  impl_->ioc.stop();
  impl_->thread.join();
}

std::string TinyHttpServer::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->acceptor.local_endpoint().port());
}

// ---- Normalizer ----
// (Hand-written rather than std::regex, which g++ 12 cannot compile warning-free under ASan.)

namespace {

bool IsWord(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool IsBase64(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/';
}

// Length of a lower-case UUID at text[i], or 0.
size_t UuidAt(const std::string& text, size_t i) {
  static constexpr size_t kGroups[] = {8, 4, 4, 4, 12};
  size_t at = i;
  for (size_t g = 0; g < 5; ++g) {
    for (size_t k = 0; k < kGroups[g]; ++k, ++at) {
      if (at >= text.size() || !IsLowerHex(text[at])) return 0;
    }
    if (g < 4) {
      if (at >= text.size() || text[at] != '-') return 0;
      ++at;
    }
  }
  return at - i;
}

}  // namespace

std::string Normalizer::Replace(const std::string& match, const char* prefix,
                                std::map<std::string, std::string>& seen) {
  auto [entry, inserted] = seen.emplace(match, "");
  if (inserted) {
    entry->second = "<" + std::string(prefix) + "-" + std::to_string(seen.size()) + ">";
  }
  return entry->second;
}

std::string Normalizer::Normalize(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const bool boundary = i == 0 || !IsWord(text[i - 1]);
    if (boundary) {
      if (size_t n = UuidAt(text, i); n > 0) {
        out += Replace(text.substr(i, n), "id", ids_);
        i += n;
        continue;
      }
      size_t hex = 0;
      while (i + hex < text.size() && IsLowerHex(text[i + hex])) ++hex;
      const bool word_ends = i + hex == text.size() || !IsWord(text[i + hex]);
      if (word_ends && (hex == 64 || hex == 32)) {
        out +=
            Replace(text.substr(i, hex), hex == 64 ? "hash" : "dek", hex == 64 ? hashes_ : deks_);
        i += hex;
        continue;
      }
    }
    if (i == 0 || !IsBase64(text[i - 1])) {
      size_t run = 0;
      while (i + run < text.size() && IsBase64(text[i + run])) ++run;
      if (run >= 20) {
        while (i + run < text.size() && text[i + run] == '=') ++run;
        out += Replace(text.substr(i, run), "b64", b64_);
        i += run;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(KEYLEDGER_GOLDEN_DIR) + "/" + name;
  if (const char* update = std::getenv("KEYLEDGER_UPDATE_GOLDEN"); update && *update == '1') {
    WriteFile(path, actual);
    return;
  }
  const std::string expected = ReadFile(path);
  EXPECT_EQ(actual, expected) << "golden file " << path
                              << " differs; rerun with KEYLEDGER_UPDATE_GOLDEN=1 to accept";
}

// ---- RawDb ----

struct RawDb::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<std::string> names;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;

  rocksdb::ColumnFamilyHandle* Cf(const std::string& name) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return handles[i];
    }
    ADD_FAILURE() << "no column family " << name;
    return handles.front();
  }
};

RawDb::RawDb(const std::string& dir) : impl_(std::make_unique<Impl>()) {
  rocksdb::DBOptions options;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, dir, &impl_->names);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : impl_->names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(options, dir, descriptors, &impl_->handles, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  impl_->db.reset(raw);
}

RawDb::~RawDb() {
  if (!impl_->db) return;
  for (auto* h : impl_->handles) {
    EXPECT_TRUE(impl_->db->DestroyColumnFamilyHandle(h).ok());
  }
  EXPECT_TRUE(impl_->db->Close().ok());
}

std::optional<std::string> RawDb::Get(const std::string& cf, const std::string& key) {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->Cf(cf), key, &value);
  if (s.IsNotFound()) return std::nullopt;
  EXPECT_TRUE(s.ok()) << s.ToString();
  return value;
}

void RawDb::Put(const std::string& cf, const std::string& key, const std::string& value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  EXPECT_TRUE(impl_->db->Put(wo, impl_->Cf(cf), key, value).ok());
}

void RawDb::Delete(const std::string& cf, const std::string& key) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  EXPECT_TRUE(impl_->db->Delete(wo, impl_->Cf(cf), key).ok());
}

std::vector<std::pair<std::string, std::string>> RawDb::All(const std::string& cf) {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->Cf(cf)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  EXPECT_TRUE(it->status().ok());
  return out;
}

void RawDb::DropColumnFamily(const std::string& cf) {
  for (size_t i = 0; i < impl_->names.size(); ++i) {
    if (impl_->names[i] != cf) continue;
    EXPECT_TRUE(impl_->db->DropColumnFamily(impl_->handles[i]).ok());
    EXPECT_TRUE(impl_->db->DestroyColumnFamilyHandle(impl_->handles[i]).ok());
    impl_->names.erase(impl_->names.begin() + static_cast<std::ptrdiff_t>(i));
    impl_->handles.erase(impl_->handles.begin() + static_cast<std::ptrdiff_t>(i));
    return;
  }
  ADD_FAILURE() << "no column family " << cf;
}

std::unique_ptr<events::RocksEventLog> OpenForTest(const std::string& dir) {
  events::RocksEventLog::Options o;
  o.mode = events::RocksEventLog::Mode::kReadOnly;
  auto log = events::RocksEventLog::Open(dir, o);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

void ForeignRocksDb(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);
  EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), "hello", "world").ok());
  EXPECT_TRUE(db->Close().ok());
}

std::string EncodeHead(uint64_t sequence, const events::Hash& hash, int64_t time_us) {
  std::string out;
  events::PutBigEndian64(out, sequence);
  out += crypto::AsBytes(hash);
  events::PutBigEndian64(out, static_cast<uint64_t>(time_us));
  return out;
}

}  // namespace keyledger::tools::testing
