#pragma once
// Writing a file atomically and durably: the one implementation behind the development master
// key (events/secrets.cpp), the tokens file (api/auth.cpp), keyledger-keys' replaced master key
// and keyledger-audit's --output export.
//
// The contents go to a temporary file in the target's directory, created with
// O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC (so a file or symlink already at the temporary path is
// refused, never followed or truncated), given its mode with fchmod (so the umask cannot loosen or
// tighten a private file), written in full, fsynced, renamed over the target, and the directory
// fsynced so the new name survives a crash. Readers of the target see the old contents or the new
// ones, never a part; after any failure the temporary file is removed and the target is untouched.
//
// A symlink at the target itself is replaced (rename does not follow it), not written through.
// The directory must exist: creating it (and choosing its mode) is the caller's business.
// Thread safety: independent writes may run concurrently, also to one target (each has its own
// temporary file; the last rename wins). One AtomicFileWriter is not thread-safe.

#include <sys/types.h>

#include <string>
#include <string_view>

#include "events/status.hpp"

namespace keyledger::events {

struct AtomicWriteOptions {
  // Permission bits of the new file. Default 0600: only the owner reads or writes it.
  mode_t mode = 0600;
  // false (default): the file gets exactly `mode`, whatever the process umask. true: `mode` less
  // the umask, as open() would create it: for files that are not private (an export).
  bool apply_umask = false;
  // false (default): replace the target if it exists. true: create it only if absent; when the
  // target exists (also if it appears while the file is written) the write fails with
  // kAlreadyExists and the existing file is left as it is (two racing creators: one wins).
  bool create_only = false;
  // The temporary file. Default (empty): "<path>.tmp.<12 random hex digits>", unique per write, so
  // concurrent writers never collide. An explicit name must be in the target's directory (rename
  // is atomic only within one file system) and must not exist: a leftover is reported, not reused.
  std::string temp_path = {};
};

// Create + Append(contents) + Commit, writing `contents` without copying it.
Status WriteFileAtomically(const std::string& path, std::string_view contents,
                           const AtomicWriteOptions& options = {});

// A file being written: Append, then Commit. Destroyed without a successful Commit it removes its
// temporary file, leaving the target untouched. Appends are buffered (64 KiB); the buffer is wiped
// when released, since the contents may be key material. Move-only.
class AtomicFileWriter {
 public:
  // Creates the temporary file. Errors: kAlreadyExists when create_only is set and `path` exists
  // already; kIoError naming the path and errno text otherwise (also for an existing temporary
  // path or a symlink there).
  static Result<AtomicFileWriter> Create(std::string path, AtomicWriteOptions options = {});

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  // kIoError on a failed write (disk full, file size limit); the writer is then aborted.
  Status Append(std::string_view data);
  // Writes what is buffered, fsyncs, renames over the target (or, with create_only, links it
  // there only if absent: kAlreadyExists), fsyncs the directory. On failure the temporary file is
  // removed. At most once.
  Status Commit();
  // Removes the temporary file now (also done by the destructor).
  void Abort();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  friend Status WriteFileAtomically(const std::string& path, std::string_view contents,
                                    const AtomicWriteOptions& options);
  AtomicFileWriter(std::string path, std::string temp_path, int fd, bool create_only);
  Status Flush();
  Status FailWith(std::string what, int err);

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool create_only_ = false;
  std::string buffer_;
};

// The directory holding `path` ("." for a bare file name), fsynced so that a name created or
// renamed in it lasts. kIoError naming the directory.
Status FsyncParentDirectory(const std::string& path);

}  // namespace keyledger::events
