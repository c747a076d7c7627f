#pragma once

#include <climits>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rerank {

// A whole file's bytes in read-only memory, one of two ways:
// - a private copy (files up to `copy_max_bytes`): an anonymous mapping
//   filled by read() and then made read-only. Nothing done to the file
//   afterwards (truncated, rewritten in place, deleted) can reach it;
// - a file mapping (PROT_READ, MAP_PRIVATE, MADV_WILLNEED) for larger files:
//   no copy, pages shared with every process that maps the file, but the
//   kernel keeps it consistent with the file, so a file truncated under it
//   makes the next access fail with SIGBUS. Such files must not be modified
//   in place while served (write a new directory instead).
// Owns the memory and unmaps it on destruction; hand out
// std::shared_ptr<const MappedFile> (e.g. in ModelSnapshot::Parts::storage)
// to keep pointers into it valid. Immutable after Open, so safe to share
// across threads.
class MappedFile {
 public:
  // copy_max_bytes that copies every file (the default); 0 maps every
  // non-empty file.
  static constexpr int64_t kCopyAll = INT64_MAX;

  // Opens `name` relative to the directory `dir_fd` (AT_FDCWD for a plain
  // path). Refuses symlinks and non-regular files. An empty file yields an
  // empty mapping (data() == nullptr, size() == 0) since mmap cannot map
  // zero bytes. A file that shrinks while it is copied is
  // FAILED_PRECONDITION.
  static absl::StatusOr<std::shared_ptr<const MappedFile>> OpenAt(
      int dir_fd, const std::string& name, int64_t copy_max_bytes = kCopyAll);
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(
      const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  int64_t size() const { return size_; }
  absl::string_view bytes() const {
    return absl::string_view(data_, static_cast<size_t>(size_));
  }
  // True for a private copy, false for a mapping of the file.
  bool is_copy() const { return copy_; }

 private:
  MappedFile(const char* data, int64_t size, bool copy)
      : data_(data), size_(size), copy_(copy) {}

  const char* const data_;
  const int64_t size_;
  const bool copy_;
};

}  // namespace rerank
