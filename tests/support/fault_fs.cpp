#include "tests/support/fault_fs.hpp"

namespace keyledger::testing {
namespace {

class FailingFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FailingFile(std::unique_ptr<rocksdb::FSWritableFile>&& file, FaultInjectionFs* fs,
              std::string fname)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), fname_(std::move(fname)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (fs_->fail_writes()) return rocksdb::IOStatus::IOError("injected append failure");
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (fs_->fail_writes()) return rocksdb::IOStatus::IOError("injected append failure");
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    fs_->GateWalSync(fname_);
    if (fs_->fail_writes()) return rocksdb::IOStatus::IOError("injected sync failure");
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    fs_->GateWalSync(fname_);
    if (fs_->fail_writes()) return rocksdb::IOStatus::IOError("injected fsync failure");
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  FaultInjectionFs* fs_;
  const std::string fname_;
};

}  // namespace

rocksdb::IOStatus FaultInjectionFs::NewWritableFile(
    const std::string& fname, const rocksdb::FileOptions& opts,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->NewWritableFile(fname, opts, &file, dbg);
  if (s.ok()) result->reset(new FailingFile(std::move(file), this, fname));
  return s;
}

rocksdb::IOStatus FaultInjectionFs::ReopenWritableFile(
    const std::string& fname, const rocksdb::FileOptions& opts,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReopenWritableFile(fname, opts, &file, dbg);
  if (s.ok()) result->reset(new FailingFile(std::move(file), this, fname));
  return s;
}

rocksdb::IOStatus FaultInjectionFs::ReuseWritableFile(
    const std::string& fname, const std::string& old_fname, const rocksdb::FileOptions& opts,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReuseWritableFile(fname, old_fname, opts, &file, dbg);
  if (s.ok()) result->reset(new FailingFile(std::move(file), this, fname));
  return s;
}

void FaultInjectionFs::HoldWalSyncs(bool hold) {
  std::lock_guard lock(gate_mu_);
  hold_wal_syncs_ = hold;
  gate_cv_.notify_all();
}

bool FaultInjectionFs::WaitForHeldWalSync() {
  std::unique_lock lock(gate_mu_);
  return gate_cv_.wait_for(lock, std::chrono::seconds(10), [this] { return held_ > 0; });
}

void FaultInjectionFs::GateWalSync(const std::string& fname) {
  const std::string suffix = ".log";
  if (fname.size() < suffix.size() ||
      fname.compare(fname.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return;
  }
  std::unique_lock lock(gate_mu_);
  ++held_;
  gate_cv_.notify_all();
  gate_cv_.wait(lock, [this] { return !hold_wal_syncs_; });
  --held_;
}

FaultInjectionEnv::FaultInjectionEnv()
    : fs(std::make_shared<FaultInjectionFs>(rocksdb::FileSystem::Default())),
      env(rocksdb::NewCompositeEnv(fs)) {}

}  // namespace keyledger::testing
