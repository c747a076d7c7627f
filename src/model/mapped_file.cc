#include "model/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "model/file_util.h"

namespace rerank {

namespace {

// Anonymous memory holding all `size` bytes of `fd`, read-only; or an error
// when the file ends early (it shrank since fstat).
absl::StatusOr<void*> CopyFile(int fd, int64_t size, const std::string& name) {
  const size_t bytes = static_cast<size_t>(size);
  void* addr = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr == MAP_FAILED) return ErrnoStatus(errno, name);
  char* out = static_cast<char*>(addr);
  size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pread(fd, out + done, bytes - done,
                              static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const absl::Status status =
          n < 0 ? ErrnoStatus(errno, name)
                : absl::FailedPreconditionError(absl::StrCat(
                      name, ": file shrank while it was read (", done,
                      " of ", size, " bytes): modified while loading?"));
      ::munmap(addr, bytes);
      return status;
    }
    done += static_cast<size_t>(n);
  }
  // Read-only like a file mapping: a stray write faults instead of
  // corrupting the model.
  ::mprotect(addr, bytes, PROT_READ);
  return addr;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::OpenAt(
    int dir_fd, const std::string& name, int64_t copy_max_bytes) {
  int64_t size = 0;
  absl::StatusOr<int> fd = OpenRegularFileAt(dir_fd, name, &size);
  if (!fd.ok()) return fd.status();
  if (size == 0) {
    ::close(*fd);
    return std::shared_ptr<const MappedFile>(new MappedFile(nullptr, 0, true));
  }
  if (size <= copy_max_bytes) {
    absl::StatusOr<void*> copy = CopyFile(*fd, size, name);
    ::close(*fd);
    if (!copy.ok()) return copy.status();
    return std::shared_ptr<const MappedFile>(
        new MappedFile(static_cast<const char*>(*copy), size, true));
  }
  void* addr = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ,
                      MAP_PRIVATE, *fd, 0);
  int err = errno;
  // The mapping keeps its own reference to the file; the fd is not needed.
  ::close(*fd);
  if (addr == MAP_FAILED) return ErrnoStatus(err, name);
  // Advisory only: start reading ahead now so the first requests after a
  // swap do not fault pages in one by one. Failure is harmless.
  ::madvise(addr, static_cast<size_t>(size), MADV_WILLNEED);
  return std::shared_ptr<const MappedFile>(
      new MappedFile(static_cast<const char*>(addr), size, false));
}

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::Open(
    const std::string& path) {
  return OpenAt(AT_FDCWD, path);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) {
    ::munmap(const_cast<char*>(data_), static_cast<size_t>(size_));
  }
}

}  // namespace rerank
