#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

// Small POSIX file helpers shared by the model loader and writer. Every error
// message starts with the path or file name it concerns.

namespace rerank {

// Status for a failed system call on `what` (a path or file name): ENOENT and
// ENOTDIR map to NOT_FOUND, ELOOP (a symlink opened with O_NOFOLLOW) to
// FAILED_PRECONDITION, anything else via absl::ErrnoToStatusCode.
absl::Status ErrnoStatus(int error_number, absl::string_view what);

// `status` with "<prefix>: " prepended to its message, same code. OK stays OK.
absl::Status PrefixStatus(const absl::Status& status, absl::string_view prefix);

// Opens `name` relative to the directory `dir_fd` read-only, refusing
// symlinks (O_NOFOLLOW) and anything that is not a regular file. Returns the
// fd (caller closes) and fills `*size`.
absl::StatusOr<int> OpenRegularFileAt(int dir_fd, const std::string& name,
                                      int64_t* size);

// Reads all of `name` (relative to `dir_fd`, same rules as OpenRegularFileAt).
// FAILED_PRECONDITION if it is larger than `max_bytes`.
absl::StatusOr<std::string> ReadFileAt(int dir_fd, const std::string& name,
                                       int64_t max_bytes);

// Writes the concatenation of `pieces` to `path` via a temporary file in the
// same directory, fsync and rename, so readers see either the old or the
// new file, never a partial one.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::Span<const absl::string_view> pieces);

// Whether `path` is `root` or below it, comparing whole components. Both
// must be canonical (realpath() results, no trailing '/'), so that the
// prefix test is exact.
bool IsUnder(absl::string_view path, absl::string_view root);

// mkdir -p.
absl::Status CreateDirectories(const std::string& path);

}  // namespace rerank
