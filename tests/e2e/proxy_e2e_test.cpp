// The reverse-proxy recipe of deploy/nginx end to end: the real keyledgerd, a stand-in for
// Aether (a socket accept loop that answers every request 200 naming itself and the target it
// saw) and Debian's nginx (run here in a temporary prefix on 127.0.0.1, plain HTTP) with the
// fragment `keyledgerd routes --nginx` generates, in a server block shaped like
// deploy/nginx/keyledger.conf's. Checks that every keyledgerd route, with every
// method it has, reaches keyledgerd; that Aether's paths (login, refresh, the current user,
// provider models, stats, announcements, the UI) reach the stand-in and never keyledgerd; that
// the raw URI goes through unchanged; that the audit stream (SSE) streams through nginx; that
// the checked-in deploy/nginx/keyledgerd-routes.conf is what the command prints now; and that
// deploy/nginx/keyledger.conf passes `nginx -t`.
//
// nginx comes from tools/setup.sh's package list; without it these tests fail (never skip), so
// CI cannot pass without having run them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

constexpr std::string_view kFragmentPath = "deploy/nginx/keyledgerd-routes.conf";
constexpr std::string_view kRegenerate =
    "tools/gen-nginx.sh  (or: build/<dir>/src/keyledgerd routes --nginx > "
    "deploy/nginx/keyledgerd-routes.conf)";

std::string NginxBinary() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

// A port that was free a moment ago (nginx binds it by number; a lost race is retried).
uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool CanConnect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// Aether's side: answers every request "200 aether saw <METHOD> <target>" with
// "X-Upstream: aether", one connection at a time, and remembers what it saw.
class AetherStandIn {
 public:
  AetherStandIn() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~AetherStandIn() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  AetherStandIn(const AetherStandIn&) = delete;
  AetherStandIn& operator=(const AetherStandIn&) = delete;

  uint16_t port() const { return port_; }
  std::vector<std::string> Seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      Serve(conn);
      ::close(conn);
    }
  }

  void Serve(int conn) {
    timeval tv{5, 0};
    ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string in;
    char buf[4096];
    size_t head_end = std::string::npos;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos && in.size() < 65536) {
      const ssize_t n = ::recv(conn, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    if (head_end == std::string::npos) return;
    // Consume a Content-Length body (nginx buffers request bodies and sends their length).
    std::string lower = in.substr(0, head_end);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t length = 0;
    if (const size_t at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
      length = std::stoul(lower.substr(at + 17));
    }
    while (in.size() < head_end + 4 + length) {
      const ssize_t n = ::recv(conn, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    const std::string request_line = in.substr(0, in.find("\r\n"));
    const std::string what = request_line.substr(0, request_line.rfind(' '));  // METHOD target
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(what);
    }
    const std::string body = "aether saw " + what;
    const std::string out =
        "HTTP/1.1 200 OK\r\nServer: aether-stand-in\r\nX-Upstream: aether\r\n"
        "Content-Type: text/plain\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    size_t sent = 0;
    while (sent < out.size()) {
      const ssize_t n = ::send(conn, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> seen_;
};

// nginx in the foreground over a private prefix: `-p DIR -c DIR/nginx.conf -e DIR/error.log
// -g 'daemon off; pid DIR/nginx.pid;'`, listening on 127.0.0.1:port() only.
class Nginx {
 public:
  explicit Nginx(std::string dir) : dir_(std::move(dir)) {}
  ~Nginx() { Stop(); }
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  // Writes the configuration around `fragment_path` and starts nginx; false (with error())
  // when it does not accept connections within 10 s.
  bool Start(const std::string& fragment_path, uint16_t keyledgerd_port, uint16_t aether_port) {
    const std::string binary = NginxBinary();
    if (binary.empty()) {
      error_ = "nginx is not installed (tools/setup.sh installs Debian's nginx)";
      return false;
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = FreePort();
      WriteFile(dir_ + "/nginx.conf", Config(fragment_path, keyledgerd_port, aether_port));
      // Everything the child needs is built before fork (other threads are running).
      const std::string out_path = dir_ + "/nginx.out";
      const std::string prefix = dir_ + "/";
      const std::string conf = dir_ + "/nginx.conf";
      const std::string error_log = dir_ + "/error.log";
      const std::string globals = "daemon off; pid " + dir_ + "/nginx.pid;";
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        ::dup2(out, 1);
        ::dup2(out, 2);
        ::execl(binary.c_str(), binary.c_str(), "-p", prefix.c_str(), "-c", conf.c_str(), "-e",
                error_log.c_str(), "-g", globals.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
      }
      pid_ = pid;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          break;  // exited: most likely the port was taken meanwhile; try another
        }
        if (CanConnect(port_)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      Stop();
    }
    error_ = "nginx did not start; nginx.out: " + ReadWholeFile(dir_ + "/nginx.out") +
             " error.log: " + ReadWholeFile(dir_ + "/error.log");
    return false;
  }

  // SIGQUIT (graceful), SIGKILL after 10 s.
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGQUIT);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }

  uint16_t port() const { return port_; }
  const std::string& error() const { return error_; }
  std::string ErrorLog() const { return ReadWholeFile(dir_ + "/error.log"); }

 private:
  // The shape of deploy/nginx/keyledger.conf, on plain HTTP.
  std::string Config(const std::string& fragment_path, uint16_t keyledgerd_port,
                     uint16_t aether_port) const {
    std::ostringstream c;
    // As root, nginx would run its workers as nobody, who cannot enter this 0700 directory.
    if (::geteuid() == 0) c << "user root root;\n";
    c << "worker_processes 1;\n"
      << "error_log " << dir_ << "/error.log info;\n"
      << "events { worker_connections 256; }\n"
      << "http {\n"
      << "  access_log " << dir_ << "/access.log;\n"
      << "  client_body_temp_path " << dir_ << "/client_body;\n"
      << "  proxy_temp_path " << dir_ << "/proxy;\n"
      << "  fastcgi_temp_path " << dir_ << "/fastcgi;\n"
      << "  uwsgi_temp_path " << dir_ << "/uwsgi;\n"
      << "  scgi_temp_path " << dir_ << "/scgi;\n"
      << "  upstream keyledgerd { server 127.0.0.1:" << keyledgerd_port << "; keepalive 16; }\n"
      << "  upstream aether { server 127.0.0.1:" << aether_port << "; }\n"
      << "  server {\n"
      << "    listen 127.0.0.1:" << port_ << ";\n"
      << "    include " << fragment_path << ";\n"
      << "    location / {\n"
      << "      proxy_pass http://aether;\n"
      << "      proxy_set_header Host $host;\n"
      << "    }\n"
      << "  }\n"
      << "}\n";
    return c.str();
  }

  std::string dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string error_;
};

struct RouteLine {
  std::string method, pattern, access;
};

// `keyledgerd routes`, parsed.
std::vector<RouteLine> RouteTable(const std::string& scratch_dir) {
  const ProcessResult r = RunProcess({KeyledgerdPath(), "routes"}, scratch_dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<RouteLine> out;
  std::istringstream in(r.out);
  RouteLine line;
  while (in >> line.method >> line.pattern >> line.access) out.push_back(line);
  return out;
}

// "/a/{id}/b" with every parameter replaced by `id`.
std::string Concrete(const std::string& pattern, const std::string& id) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      out += id;
      i = pattern.find('}', i);
    } else {
      out += pattern[i];
    }
  }
  return out;
}

// Whether a route pattern matches a concrete path as the router does: literal segments equal,
// a parameter any non-empty segment.
bool PatternMatches(std::string_view pattern, std::string_view path) {
  auto split = [](std::string_view text) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (size_t slash; (slash = text.find('/', start)) != std::string_view::npos;
         start = slash + 1) {
      parts.push_back(text.substr(start, slash - start));
    }
    parts.push_back(text.substr(start));
    return parts;
  };
  const auto a = split(pattern);
  const auto b = split(path);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool param = a[i].size() > 2 && a[i].front() == '{' && a[i].back() == '}';
    if (param ? b[i].empty() : a[i] != b[i]) return false;
  }
  return true;
}

std::string ToggleSlash(const std::string& path) {
  if (path.size() > 1 && path.back() == '/') return path.substr(0, path.size() - 1);
  return path + "/";
}

class ProxyTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    StartServer();
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_NE(aether_.port(), 0);
    const std::string fragment = scratch_dir_ + "/keyledgerd-routes.conf";
    // The fragment as checked in (CheckedInFragmentIsCurrent compares the two).
    const ProcessResult r = RunProcess({KeyledgerdPath(), "routes", "--nginx"}, scratch_dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    WriteFile(fragment, r.out);
    nginx_dir_ = scratch_dir_ + "/nginx";
    std::filesystem::create_directories(nginx_dir_);
    nginx_ = std::make_unique<Nginx>(nginx_dir_);
    ASSERT_TRUE(nginx_->Start(fragment, port(), aether_.port())) << nginx_->error();
  }
  void TearDown() override {
    if (nginx_) nginx_->Stop();
    E2eTest::TearDown();
  }

  uint16_t proxy_port() const { return nginx_->port(); }

  // keyledgerd answered: its Server header (passed through by the fragment), not the stand-in.
  static void ExpectKeyledgerd(const TestResponse& r, const std::string& what) {
    EXPECT_NE(r.status, 0) << what;
    EXPECT_EQ(r.Header("Server"), "keyledger") << what << " " << r.status << " " << r.body;
    EXPECT_FALSE(r.HasHeader("X-Upstream")) << what;
    EXPECT_EQ(r.body.find("aether saw"), std::string::npos) << what;
  }

  AetherStandIn aether_;
  std::string nginx_dir_;
  std::unique_ptr<Nginx> nginx_;
};

TEST_F(ProxyTest, EveryKeyledgerdRouteReachesKeyledgerd) {
  const std::vector<RouteLine> routes = RouteTable(scratch_dir_);
  ASSERT_GT(routes.size(), 20u);
  // With the admin token: behind the proxy every client shares the proxy's address, and
  // anonymous requests would soon hit the per-address limit on failed authentications (429).
  Client admin(proxy_port(), admin_token_);
  Client anonymous(proxy_port());
  const std::set<int> keyledgerd_answers = {200, 400, 404, 422};
  int redirects = 0;
  for (const RouteLine& route : routes) {
    const std::string path = Concrete(route.pattern, "e2e-id");
    const std::string what = route.method + " " + path;
    // The audit stream would stay open with a token: anonymous gets keyledgerd's 401 at once.
    const bool stream = route.pattern == "/api/admin/audit/stream";
    const TestResponse r =
        stream ? anonymous.Call(route.method, path) : admin.Call(route.method, path);
    ExpectKeyledgerd(r, what);
    if (stream) {
      EXPECT_EQ(r.status, 401) << what << " " << r.body;
    } else {
      // An unknown id is keyledgerd's 404, an empty body its 422.
      EXPECT_TRUE(keyledgerd_answers.count(r.status)) << what << " " << r.status << " " << r.body;
    }
    // The same path with its trailing slash toggled: keyledgerd's own 307 back, unless that
    // path is a route of its own (both /api/admin/providers and /api/admin/providers/ are).
    const std::string toggled = ToggleSlash(path);
    const bool own_route = std::any_of(routes.begin(), routes.end(), [&](const RouteLine& other) {
      return PatternMatches(other.pattern, toggled);
    });
    if (own_route || stream) continue;
    const TestResponse redirect = admin.Call(route.method, toggled);
    ExpectKeyledgerd(redirect, what + " (slash toggled)");
    EXPECT_EQ(redirect.status, 307) << what << " (slash toggled)";
    ++redirects;
  }
  EXPECT_GT(redirects, 20);
  // Anonymous on a protected route: keyledgerd's own 401 body.
  const TestResponse denied = anonymous.Get("/api/admin/endpoints/keys/grouped-by-format");
  ExpectKeyledgerd(denied, "anonymous");
  EXPECT_EQ(denied.status, 401);
  EXPECT_NE(denied.body.find(R"({"error":{"type":"http_error")"), std::string::npos) << denied.body;
  // HEAD (answered by every GET route) and a CORS preflight's OPTIONS reach keyledgerd too.
  const TestResponse head = admin.Call("HEAD", "/api/admin/endpoints/keys/grouped-by-format");
  ExpectKeyledgerd(head, "HEAD");
  EXPECT_EQ(head.status, 200);
  const TestResponse preflight =
      anonymous.Call("OPTIONS", "/api/admin/providers/", {},
                     {{"Origin", "https://ui.example"}, {"Access-Control-Request-Method", "POST"}});
  ExpectKeyledgerd(preflight, "OPTIONS");
  // A method no route has on a keyledgerd path: keyledgerd's 405.
  const TestResponse r = admin.Call("PATCH", "/healthz");
  ExpectKeyledgerd(r, "PATCH /healthz");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.body, R"({"detail":"Method Not Allowed"})");
  EXPECT_TRUE(aether_.Seen().empty()) << aether_.Seen().front();
}

TEST_F(ProxyTest, AetherPathsReachAetherAndNeverKeyledgerd) {
  struct Case {
    std::string method, target;
  };
  const std::vector<Case> cases = {
      {"POST", "/api/auth/login"},
      {"GET", "/api/auth/login"},
      {"POST", "/api/auth/login/"},
      {"POST", "/api/auth/refresh"},
      {"GET", "/api/users/me"},
      {"GET", "/api/admin/providers/p1/models"},
      {"GET", "/api/admin/providers/p1/models?page=2"},
      {"GET", "/api/admin/stats"},
      {"GET", "/api/admin/stats/"},
      {"GET", "/api/announcements"},
      {"GET", "/api/check-update"},
      {"GET", "/"},
      {"GET", "/assets/index.js"},
      {"GET", "/api/admin/endpoints"},
      {"GET", "/healthzz"},
  };
  Client c(proxy_port(), admin_token_);
  std::vector<std::string> expected;
  for (const Case& k : cases) {
    const std::string what = k.method + " " + k.target;
    const TestResponse r = c.Call(k.method, k.target, k.method == "POST" ? R"({"u":"x"})" : "");
    EXPECT_EQ(r.status, 200) << what;
    EXPECT_EQ(r.Header("X-Upstream"), "aether") << what;
    // The stand-in saw the target exactly as sent.
    EXPECT_EQ(r.body, "aether saw " + what);
    expected.push_back(what);
  }
  EXPECT_EQ(aether_.Seen(), expected);
  // keyledgerd logs every request it answers, path included (this one shows it does); none of
  // the above was.
  EXPECT_EQ(c.Get("/readyz?through=proxy").status, 200);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (daemon_->AllStderr().find("/readyz") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string log = daemon_->AllStderr();
  ASSERT_NE(log.find("\"/readyz\""), std::string::npos) << log;
  EXPECT_EQ(log.find("/api/auth/login"), std::string::npos) << log;
  EXPECT_EQ(log.find("/api/users/me"), std::string::npos);
  EXPECT_EQ(log.find("/models"), std::string::npos);
}

TEST_F(ProxyTest, RequestsGoThroughUnchanged) {
  Client c(proxy_port(), admin_token_);
  // A write and a read of what it wrote, bodies and ETags intact.
  const std::string provider = CreateProvider(c, "behind-nginx");
  ASSERT_FALSE(provider.empty());
  const TestResponse got = c.Get(ProviderPath(provider));
  ExpectKeyledgerd(got, "GET provider");
  EXPECT_EQ(got.status, 200);
  EXPECT_NE(got.body.find("behind-nginx"), std::string::npos) << got.body;
  // The raw URI reaches keyledgerd: an encoded '/' stays inside its segment there, so this is
  // keyledgerd's 404, never a reveal (nginx itself decoded it to match the location).
  const TestResponse encoded = c.Get("/api/admin/endpoints/keys/x%2Freveal");
  ExpectKeyledgerd(encoded, "%2F");
  EXPECT_EQ(encoded.status, 404);
  EXPECT_EQ(encoded.body, R"({"detail":"Not Found"})");
  // keyledgerd's own redirect keeps its Location.
  const TestResponse redirect = c.Get("/api/admin/endpoints/keys/grouped-by-format/?x=1");
  ExpectKeyledgerd(redirect, "redirect");
  EXPECT_EQ(redirect.status, 307);
  EXPECT_NE(redirect.Header("Location").find("/api/admin/endpoints/keys/grouped-by-format?x=1"),
            std::string::npos)
      << redirect.Header("Location");
  // Over the body limit: refused at the proxy with the same 413 keyledgerd would give.
  const TestResponse big = c.Post(std::string(kProvidersPath), std::string(1024 * 1024 + 1, 'x'));
  EXPECT_EQ(big.status, 413);
}

TEST_F(ProxyTest, TheAuditStreamStreamsThroughNginx) {
  SseReader stream;
  ASSERT_TRUE(stream.Open(proxy_port(), admin_token_, "/api/admin/audit/stream")) << stream.head();
  EXPECT_NE(stream.head().find("text/event-stream"), std::string::npos) << stream.head();
  Client c(proxy_port(), admin_token_);
  ASSERT_FALSE(CreateProvider(c, "streamed-through-nginx").empty());
  // The event arrives while the stream stays open (it ends only when the server stops), so
  // nginx is not buffering it.
  EXPECT_TRUE(stream.WaitFor("streamed-through-nginx", std::chrono::seconds(10))) << stream.body();
  ASSERT_FALSE(CreateProvider(c, "second-event").empty());
  EXPECT_TRUE(stream.WaitFor("second-event", std::chrono::seconds(10))) << stream.body();
}

// The checked-in fragment cannot drift from the routes.
TEST(ProxyConfigTest, CheckedInFragmentIsCurrent) {
  keyledger::testing::TempDir dir;
  const ProcessResult r = RunProcess({KeyledgerdPath(), "routes", "--nginx"}, dir.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string path = std::string(KEYLEDGER_SOURCE_DIR) + "/" + std::string(kFragmentPath);
  const std::string checked_in = ReadWholeFile(path);
  EXPECT_EQ(checked_in, r.out) << kFragmentPath
                               << " differs from `keyledgerd routes --nginx`; regenerate it with "
                               << kRegenerate;
  // The server block includes it.
  const std::string conf =
      ReadWholeFile(std::string(KEYLEDGER_SOURCE_DIR) + "/deploy/nginx/keyledger.conf");
  EXPECT_NE(conf.find("include /etc/nginx/keyledgerd-routes.conf;"), std::string::npos);
}

// deploy/nginx/keyledger.conf, with its placeholders filled in (certificate, include path),
// passes `nginx -t` on this machine's nginx.
TEST(ProxyConfigTest, ServerBlockPassesNginxConfigTest) {
  const std::string nginx = NginxBinary();
  ASSERT_FALSE(nginx.empty()) << "nginx is not installed (tools/setup.sh installs it)";
  keyledger::testing::TempDir dir;
  const std::string source = KEYLEDGER_SOURCE_DIR;
  ASSERT_TRUE(api::testing::GenerateSelfSignedCert(dir.Sub("cert.pem"), dir.Sub("key.pem")));
  std::string conf = ReadWholeFile(source + "/deploy/nginx/keyledger.conf");
  auto replace = [&](std::string_view from, const std::string& to) {  // every occurrence
    size_t at = conf.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    for (; at != std::string::npos; at = conf.find(from, at + to.size())) {
      conf.replace(at, from.size(), to);
    }
  };

  replace("/etc/nginx/keyledgerd-routes.conf", source + "/" + std::string(kFragmentPath));
  replace("/etc/ssl/certs/keys.example.com.pem", dir.Sub("cert.pem"));
  replace("/etc/ssl/private/keys.example.com.key", dir.Sub("key.pem"));
  ASSERT_FALSE(HasFatalFailure());
  WriteFile(dir.Sub("site.conf"), conf);
  WriteFile(dir.Sub("nginx.conf"),
            "events {}\nhttp {\n  include " + dir.Sub("site.conf") + ";\n}\n");
  const ProcessResult r =
      RunProcess({nginx, "-t", "-p", dir.str() + "/", "-c", dir.Sub("nginx.conf"), "-e",
                  dir.Sub("error.log"), "-g", "pid " + dir.Sub("nginx.pid") + ";"},
                 dir.str());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("syntax is ok"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace keyledger::e2e
