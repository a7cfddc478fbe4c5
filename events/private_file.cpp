#include "events/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "events/crypto.hpp"

namespace keyledger::events {
namespace {

constexpr size_t kBufferBytes = 64 * 1024;

std::string ErrnoText(int err) { return std::strerror(err); }

Error IoError(const std::string& what, int err) {
  return MakeError(ErrorCode::kIoError, what + ": " + ErrnoText(err));
}

// Writes all of `data` to `fd`, retrying short writes and EINTR. 0 or the errno of the failure.
int WriteAll(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

// Renames `from` to `to` only if `to` does not exist. renameat2(RENAME_NOREPLACE) where the file
// system has it; else link + unlink, which is just as exclusive (link fails on an existing name).
int RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
  if (::link(from.c_str(), to.c_str()) != 0) return errno;
  ::unlink(from.c_str());  // the target now has the contents; a leftover name is harmless
  return 0;
}

}  // namespace

Status FsyncParentDirectory(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open the directory " + dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("cannot fsync the directory " + dir, err);
  return Status::Ok();
}

Result<AtomicFileWriter> AtomicFileWriter::Create(std::string path, AtomicWriteOptions options) {
  if (path.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty file name");
  struct stat st {};
  if (options.create_only && ::lstat(path.c_str(), &st) == 0) {
    return MakeError(ErrorCode::kAlreadyExists, path + " already exists");
  }
  std::string temp = std::move(options.temp_path);
  if (temp.empty()) temp = path + ".tmp." + crypto::HexEncode(crypto::RandomBytes(6));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        options.mode & 07777);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return MakeError(ErrorCode::kIoError, "cannot create " + temp +
                                                ": it exists already (left by an interrupted "
                                                "write? remove it and try again)");
    }
    return IoError("cannot create " + temp, err);
  }
  AtomicFileWriter writer(std::move(path), std::move(temp), fd, options.create_only);
  // open() applied the umask; a private file gets its mode exactly, whatever the umask.
  if (!options.apply_umask && ::fchmod(fd, options.mode & 07777) != 0) {
    return writer.FailWith("cannot chmod " + writer.temp_path_, errno);
  }
  return writer;
}

AtomicFileWriter::AtomicFileWriter(std::string path, std::string temp_path, int fd,
                                   bool create_only)
    : path_(std::move(path)),
      temp_path_(std::move(temp_path)),
      fd_(fd),
      create_only_(create_only) {}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::exchange(other.fd_, -1)),
      create_only_(other.create_only_),
      buffer_(std::move(other.buffer_)) {}

AtomicFileWriter& AtomicFileWriter::operator=(AtomicFileWriter&& other) noexcept {
  if (this != &other) {
    Abort();
    path_ = std::move(other.path_);
    temp_path_ = std::move(other.temp_path_);
    fd_ = std::exchange(other.fd_, -1);
    create_only_ = other.create_only_;
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

AtomicFileWriter::~AtomicFileWriter() { Abort(); }

void AtomicFileWriter::Abort() {
  crypto::SecureWipe(buffer_);
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
}

Status AtomicFileWriter::FailWith(std::string what, int err) {
  Abort();
  return IoError(what, err);
}

Status AtomicFileWriter::Flush() {
  if (buffer_.empty()) return Status::Ok();
  if (const int err = WriteAll(fd_, buffer_); err != 0) {
    return FailWith("cannot write " + temp_path_, err);
  }
  crypto::SecureWipe(buffer_);
  buffer_.clear();
  return Status::Ok();
}

Status AtomicFileWriter::Append(std::string_view data) {
  if (fd_ < 0) return MakeError(ErrorCode::kInternal, "append to a closed writer of " + path_);
  if (buffer_.size() + data.size() <= kBufferBytes) {
    // Reserved once, so no reallocation leaves an unwiped copy of earlier contents behind.
    if (buffer_.capacity() < kBufferBytes) buffer_.reserve(kBufferBytes);
    buffer_.append(data);
    return Status::Ok();
  }
  KL_RETURN_IF_ERROR(Flush());
  if (data.size() >= kBufferBytes) {
    if (const int err = WriteAll(fd_, data); err != 0) {
      return FailWith("cannot write " + temp_path_, err);
    }
    return Status::Ok();
  }
  buffer_.append(data);
  return Status::Ok();
}

Status AtomicFileWriter::Commit() {
  if (fd_ < 0) return MakeError(ErrorCode::kInternal, "commit of a closed writer of " + path_);
  KL_RETURN_IF_ERROR(Flush());
  if (::fsync(fd_) != 0) return FailWith("cannot fsync " + temp_path_, errno);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp_path_.c_str());
    return IoError("cannot close " + temp_path_, err);
  }
  const int err = create_only_ ? RenameNoReplace(temp_path_, path_)
                  : ::rename(temp_path_.c_str(), path_.c_str()) == 0 ? 0
                                                                     : errno;
  if (err != 0) {
    ::unlink(temp_path_.c_str());
    if (create_only_ && err == EEXIST) {
      return MakeError(ErrorCode::kAlreadyExists, path_ + " already exists");
    }
    return IoError("cannot rename " + temp_path_ + " to " + path_, err);
  }
  // The new name is durable only once the directory entry is.
  return FsyncParentDirectory(path_);
}

Status WriteFileAtomically(const std::string& path, std::string_view contents,
                           const AtomicWriteOptions& options) {
  KL_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::Create(path, options));
  // Written straight from `contents`: key material is never copied into the writer's buffer.
  if (const int err = WriteAll(writer.fd_, contents); err != 0) {
    return writer.FailWith("cannot write " + writer.temp_path_, err);
  }
  return writer.Commit();
}

}  // namespace keyledger::events
