#include "tests/support/test_support.hpp"

#include <unistd.h>

#include <cstdlib>
#include <system_error>

namespace keyledger::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "keyledger-test-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty() && std::getenv("KEYLEDGER_KEEP_TEST_DIRS") == nullptr) {
    std::filesystem::remove_all(path_, ec);
  }
}

std::string BinaryDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return exe.parent_path().string();
}

}  // namespace keyledger::testing
