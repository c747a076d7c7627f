#include "model/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rerank {

absl::Status ErrnoStatus(int error_number, absl::string_view what) {
  const char* text = std::strerror(error_number);
  switch (error_number) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(absl::StrCat(what, ": ", text));
    case ELOOP:
      return absl::FailedPreconditionError(absl::StrCat(
          what, ": is a symbolic link; model files must be regular files"));
    default:
      return absl::Status(absl::ErrnoToStatusCode(error_number),
                          absl::StrCat(what, ": ", text));
  }
}

absl::Status PrefixStatus(const absl::Status& status,
                          absl::string_view prefix) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(prefix, ": ", status.message()));
}

absl::StatusOr<int> OpenRegularFileAt(int dir_fd, const std::string& name,
                                      int64_t* size) {
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return ErrnoStatus(errno, name);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus(err, name);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat(name, ": not a regular file"));
  }
  *size = st.st_size;
  return fd;
}

absl::StatusOr<std::string> ReadFileAt(int dir_fd, const std::string& name,
                                       int64_t max_bytes) {
  int64_t size = 0;
  absl::StatusOr<int> fd = OpenRegularFileAt(dir_fd, name, &size);
  if (!fd.ok()) return fd.status();
  if (size > max_bytes) {
    ::close(*fd);
    return absl::FailedPreconditionError(
        absl::StrCat(name, ": file is ", size,
                     " bytes, more than the limit of ", max_bytes));
  }
  std::string out;
  out.resize(static_cast<size_t>(size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(*fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(*fd);
      return ErrnoStatus(err, name);
    }
    if (n == 0) break;  // Shrunk while we read: report what we got.
    done += static_cast<size_t>(n);
  }
  ::close(*fd);
  out.resize(done);
  return out;
}

namespace {

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::Span<const absl::string_view> pieces) {
  // The temporary name includes the pid so two writers racing on the same
  // directory do not clobber each other's half-written files.
  std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, tmp);
  absl::Status status;
  for (absl::string_view piece : pieces) {
    status = WriteAll(fd, piece, tmp);
    if (!status.ok()) break;
  }
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoStatus(errno, tmp);
  if (::close(fd) != 0 && status.ok()) status = ErrnoStatus(errno, tmp);
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus(errno, path);
  }
  if (!status.ok()) ::unlink(tmp.c_str());
  return status;
}

absl::Status CreateDirectories(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty directory path");
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    prefix = path.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, prefix);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, path);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": exists and is not a directory"));
  }
  return absl::OkStatus();
}

bool IsUnder(absl::string_view path, absl::string_view root) {
  if (root == "/") return true;
  return path == root ||
         (absl::StartsWith(path, root) && path.size() > root.size() &&
          path[root.size()] == '/');
}

}  // namespace rerank
