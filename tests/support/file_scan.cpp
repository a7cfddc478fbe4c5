#include "tests/support/file_scan.hpp"

#include <gtest/gtest.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace keyledger::testing {
namespace {

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// RocksDB's WAL format (db/log_format.h): 32 KiB blocks of fragments, each with a 7-byte header
// (checksum u32, length u16 LE, type u8) or an 11-byte one for the recyclable types 5-8. Returns
// the fragments' payloads back to back, so that a needle split by a block boundary is whole.
std::string ReassembleWal(const std::string& data) {
  constexpr size_t kBlockSize = 32768;
  std::string out;
  for (size_t block = 0; block < data.size(); block += kBlockSize) {
    const size_t end = std::min(block + kBlockSize, data.size());
    size_t pos = block;
    while (pos + 7 <= end) {
      const auto len = static_cast<size_t>(static_cast<uint8_t>(data[pos + 4]) |
                                           static_cast<uint8_t>(data[pos + 5]) << 8);
      const auto type = static_cast<uint8_t>(data[pos + 6]);
      if (type == 0 && len == 0) break;  // zero padding up to the end of the block
      const size_t header = (type >= 5 && type <= 8) ? 11 : 7;
      if (pos + header + len > end) break;
      out.append(data, pos + header, len);
      pos += header + len;
    }
  }
  return out;
}

bool IsWalName(const std::string& name) {
  if (name.size() <= 4 || name.substr(name.size() - 4) != ".log") return false;
  return std::all_of(name.begin(), name.end() - 4, [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::map<std::string, std::vector<std::string>> FindInFiles(const std::string& dir,
                                                            const std::vector<std::string>& needles,
                                                            ScanStats* stats) {
  namespace fs = std::filesystem;
  std::map<std::string, std::vector<std::string>> hits;
  ScanStats local;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), dir).string();
    const std::string name = entry.path().filename().string();
    ++local.files;
    std::vector<std::string> views;  // every form of this file's contents
    views.push_back(ReadAll(entry.path()));
    if (IsWalName(name)) {
      ++local.wal_files;
      views.push_back(ReassembleWal(views.front()));
    } else if (name.size() > 4 && name.substr(name.size() - 4) == ".sst") {
      ++local.sst_files;
      rocksdb::Options options;
      rocksdb::SstFileReader reader(options);
      rocksdb::Status s = reader.Open(entry.path().string());
      EXPECT_TRUE(s.ok()) << rel << ": " << s.ToString();
      if (s.ok()) {
        std::unique_ptr<rocksdb::Iterator> it(reader.NewIterator(rocksdb::ReadOptions()));
        std::string decoded;
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          decoded.append(it->key().data(), it->key().size());
          decoded += '\n';
          decoded.append(it->value().data(), it->value().size());
          decoded += '\n';
        }
        EXPECT_TRUE(it->status().ok()) << rel << ": " << it->status().ToString();
        views.push_back(std::move(decoded));
      }
    }
    for (const std::string& needle : needles) {
      const bool found = std::any_of(views.begin(), views.end(), [&](const std::string& v) {
        return v.find(needle) != std::string::npos;
      });
      if (found) hits[needle].push_back(rel);
    }
  }
  if (stats != nullptr) *stats = local;
  return hits;
}

}  // namespace keyledger::testing
