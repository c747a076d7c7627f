#pragma once

#include <map>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/string_ref.h"

namespace rerank {

// The metadata key and scheme ModelAdmin expects: "authorization: Bearer
// <token>" (RFC 6750 style; gRPC lower-cases metadata keys).
inline constexpr char kAuthorizationMetadataKey[] = "authorization";
inline constexpr char kBearerPrefix[] = "Bearer ";

// Whether a == b, in time that depends only on the sizes, never on where
// the contents first differ: a wrong token guessed byte by byte must not
// answer faster the fewer bytes it gets right.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// OK if `metadata` (a call's client metadata) has exactly one
// "authorization" entry reading "Bearer <token>" with `token` (compared
// with ConstantTimeEquals). Otherwise UNAUTHENTICATED saying what is wrong
// (missing, not Bearer, wrong token) but never echoing what was sent.
// `token` must be non-empty.
absl::Status CheckBearerToken(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    absl::string_view token);

}  // namespace rerank
