#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// SHA-256 helpers (OpenSSL EVP) used for model checksums. Digests are
// rendered as 64 lowercase hex characters, the form
// hashlib.sha256().hexdigest() produces and manifest.json stores.

namespace rerank {

inline constexpr size_t kSha256HexLength = 64;

// Incremental SHA-256. Owns its OpenSSL context; not thread-safe (one
// instance per thread). Movable, not copyable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(absl::string_view data) { Update(data.data(), data.size()); }
  // Finishes the digest and returns it as lowercase hex. The object must not
  // be updated afterwards.
  std::string HexDigest();

 private:
  void* ctx_;  // EVP_MD_CTX*; void* keeps OpenSSL headers out of users.
};

// Hex sha256 of `data`.
std::string Sha256Hex(absl::string_view data);

// Hex sha256 of the file at `path`, read in chunks (not mapped). Errors:
// NOT_FOUND if the file is missing, otherwise the errno-derived code; the
// message names `path`.
absl::StatusOr<std::string> Sha256File(const std::string& path);

// True if `s` is exactly 64 hex digits (either case).
bool IsSha256Hex(absl::string_view s);

}  // namespace rerank
