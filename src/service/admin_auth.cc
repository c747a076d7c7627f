#include "service/admin_auth.h"

#include <cstddef>
#include <iterator>

#include "absl/strings/match.h"

namespace rerank {

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // volatile: keep the compiler from turning the loop into an early-exit
  // compare. Reading past a's end is avoided by comparing against 0, which
  // still leaves `diff` non-zero because the sizes differ.
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff = diff | (x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

absl::Status CheckBearerToken(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    absl::string_view token) {
  const auto [begin, end] = metadata.equal_range(kAuthorizationMetadataKey);
  if (begin == end) {
    return absl::UnauthenticatedError(
        "ModelAdmin needs metadata \"authorization: Bearer <token>\" (the "
        "server has admin_token_file set)");
  }
  if (std::next(begin) != end) {
    return absl::UnauthenticatedError(
        "more than one \"authorization\" metadata entry");
  }
  const absl::string_view value(begin->second.data(), begin->second.size());
  // The scheme is case-insensitive (RFC 7235); the token is not.
  constexpr size_t kPrefixSize = sizeof(kBearerPrefix) - 1;
  if (value.size() < kPrefixSize ||
      !absl::EqualsIgnoreCase(value.substr(0, kPrefixSize), kBearerPrefix)) {
    return absl::UnauthenticatedError(
        "\"authorization\" metadata must read \"Bearer <token>\"");
  }
  if (!ConstantTimeEquals(value.substr(kPrefixSize), token)) {
    return absl::UnauthenticatedError("invalid bearer token");
  }
  return absl::OkStatus();
}

}  // namespace rerank
