#include "tests/support/fault_fs.hpp"

namespace keyledger::testing {
namespace {

class FailingFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FailingFile(std::unique_ptr<rocksdb::FSWritableFile>&& file, const FaultInjectionFs* fs)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}

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
    if (fs_->fail_writes()) return rocksdb::IOStatus::IOError("injected sync failure");
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (fs_->fail_writes()) return rocksdb::IOStatus::IOError("injected fsync failure");
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  const FaultInjectionFs* fs_;
};

}  // namespace

rocksdb::IOStatus FaultInjectionFs::NewWritableFile(
    const std::string& fname, const rocksdb::FileOptions& opts,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->NewWritableFile(fname, opts, &file, dbg);
  if (s.ok()) result->reset(new FailingFile(std::move(file), this));
  return s;
}

rocksdb::IOStatus FaultInjectionFs::ReopenWritableFile(
    const std::string& fname, const rocksdb::FileOptions& opts,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReopenWritableFile(fname, opts, &file, dbg);
  if (s.ok()) result->reset(new FailingFile(std::move(file), this));
  return s;
}

rocksdb::IOStatus FaultInjectionFs::ReuseWritableFile(
    const std::string& fname, const std::string& old_fname, const rocksdb::FileOptions& opts,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReuseWritableFile(fname, old_fname, opts, &file, dbg);
  if (s.ok()) result->reset(new FailingFile(std::move(file), this));
  return s;
}

FaultInjectionEnv::FaultInjectionEnv()
    : fs(std::make_shared<FaultInjectionFs>(rocksdb::FileSystem::Default())),
      env(rocksdb::NewCompositeEnv(fs)) {}

}  // namespace keyledger::testing
