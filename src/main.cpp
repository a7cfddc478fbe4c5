// keyledgerd: opens the event log in the data directory and holds it until SIGINT/SIGTERM.
// (The HTTP API is assembled here once api/ exists.)
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "events/rocks_event_log.hpp"

int main(int argc, char** argv) {
  std::string data_dir = "./data";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: keyledgerd [--data-dir DIR]\n");
      return 0;
    }
    if (arg == "--data-dir" && i + 1 < argc) {
      data_dir = argv[++i];
    } else {
      std::fprintf(stderr, "keyledgerd: unknown argument %s (see --help)\n", arg.c_str());
      return 2;
    }
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  keyledger::events::RocksEventLog::Options options;
  options.log = [](keyledger::LogLevel, std::string_view m) {
    std::fprintf(stderr, "{\"level\":\"error\",\"msg\":\"%.*s\"}\n", static_cast<int>(m.size()),
                 m.data());
  };
  auto log = keyledger::events::RocksEventLog::Open(data_dir, options);
  if (!log.ok()) {
    std::fprintf(stderr, "keyledgerd: %s\n", log.status().ToString().c_str());
    return 1;
  }
  auto head = (*log)->GetHead();
  std::fprintf(stderr, "{\"level\":\"info\",\"msg\":\"event log open\",\"head\":%llu}\n",
               static_cast<unsigned long long>(head.sequence));
  int sig = 0;
  sigwait(&signals, &sig);
  keyledger::Status closed = (*log)->Close();
  if (!closed.ok()) {
    std::fprintf(stderr, "keyledgerd: %s\n", closed.ToString().c_str());
    return 1;
  }
  return 0;
}
