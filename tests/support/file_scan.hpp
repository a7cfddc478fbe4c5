#pragma once
// Searches every file under a directory for byte strings: the raw bytes of each file, plus, for
// RocksDB files, their logical contents (WAL records reassembled across the 32 KiB block headers
// that could split a needle; SST key/values decompressed through rocksdb::SstFileReader). Used to
// prove that plaintext secrets and master keys never reach the data directory.

#include <map>
#include <string>
#include <vector>

namespace keyledger::testing {

struct ScanStats {
  size_t files = 0;      // every regular file visited
  size_t sst_files = 0;  // of which decoded as SST
  size_t wal_files = 0;  // of which reassembled as WAL
};

// For each needle, the files (relative to `dir`) whose contents hold it, in any of the forms
// above. A file that cannot be decoded as the RocksDB file its name suggests fails the test.
std::map<std::string, std::vector<std::string>> FindInFiles(const std::string& dir,
                                                            const std::vector<std::string>& needles,
                                                            ScanStats* stats = nullptr);

}  // namespace keyledger::testing
