#pragma once
// A RocksDB FileSystem that fails writes on demand, to test what a failed synced write leaves
// behind, and that can hold syncs of the write-ahead log, to look at the log while a write is
// written but not yet durable. Thread-safe: the test flips the switches from its own thread.

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace keyledger::testing {

class FaultInjectionFs : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultInjectionFs(const std::shared_ptr<rocksdb::FileSystem>& base)
      : rocksdb::FileSystemWrapper(base) {}
  static const char* kClassName() { return "KeyledgerFaultInjectionFs"; }
  const char* Name() const override { return kClassName(); }

  void SetFailWrites(bool fail) { fail_writes_.store(fail); }
  bool fail_writes() const { return fail_writes_.load(); }

  // While held, every Sync/Fsync of a WAL file (*.log) waits until released.
  void HoldWalSyncs(bool hold);
  // Waits until at least one WAL sync is being held; false after 10 s.
  bool WaitForHeldWalSync();
  // Called by the files before a sync.
  void GateWalSync(const std::string& fname);

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& opts,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;

 private:
  std::atomic<bool> fail_writes_{false};
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool hold_wal_syncs_ = false;
  int held_ = 0;
};

// An Env over a FaultInjectionFs on the default file system; both live as long as this object.
struct FaultInjectionEnv {
  FaultInjectionEnv();
  std::shared_ptr<FaultInjectionFs> fs;
  std::unique_ptr<rocksdb::Env> env;
};

}  // namespace keyledger::testing
