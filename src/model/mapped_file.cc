#include "model/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "model/file_util.h"

namespace rerank {

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::OpenAt(
    int dir_fd, const std::string& name) {
  int64_t size = 0;
  absl::StatusOr<int> fd = OpenRegularFileAt(dir_fd, name, &size);
  if (!fd.ok()) return fd.status();
  if (size == 0) {
    ::close(*fd);
    return std::shared_ptr<const MappedFile>(new MappedFile(nullptr, 0));
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
      new MappedFile(static_cast<const char*>(addr), size));
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
