#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rerank {

// A whole file mapped read-only (PROT_READ, MAP_PRIVATE) with MADV_WILLNEED.
// Owns the mapping and unmaps it on destruction; hand out
// std::shared_ptr<const MappedFile> (e.g. in ModelSnapshot::Parts::storage)
// to keep pointers into it valid. Immutable after Open, so safe to share
// across threads.
//
// The kernel keeps the mapping consistent with the file: the model files
// must not be modified in place while served (write a new directory instead).
class MappedFile {
 public:
  // Maps `name` relative to the directory `dir_fd` (AT_FDCWD for a plain
  // path). Refuses symlinks and non-regular files. An empty file yields an
  // empty mapping (data() == nullptr, size() == 0) since mmap cannot map
  // zero bytes.
  static absl::StatusOr<std::shared_ptr<const MappedFile>> OpenAt(
      int dir_fd, const std::string& name);
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

 private:
  MappedFile(const char* data, int64_t size) : data_(data), size_(size) {}

  const char* const data_;
  const int64_t size_;
};

}  // namespace rerank
