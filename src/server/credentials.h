#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/server_credentials.h"
#include "rerank/v1/config.pb.h"

namespace rerank {

// Shortest admin token accepted: a guessable token is worse than none,
// because it looks like protection.
inline constexpr size_t kMinAdminTokenBytes = 16;

// Credentials for one listener. Plaintext when `tls` has no cert_file;
// otherwise grpc::SslServerCredentials with the certificate chain and key,
// and -- when client_ca_file is set -- a client certificate that chains to
// those CAs is required and verified
// (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY).
//
// Reads the PEM files now (certificates are not re-read: rotating them
// needs a restart) and checks them with OpenSSL, so a wrong path, a key
// that does not match the certificate or an empty CA bundle stops start-up
// with a message naming the key (`key` is "tls" or "admin_tls", e.g.
// "tls.key_file \"/etc/rerank/key.pem\" does not match tls.cert_file")
// instead of surfacing as an opaque bind failure. An expired or
// not-yet-valid certificate is only a warning: the clock might be the
// thing that is wrong. Errors: NOT_FOUND (missing file), INVALID_ARGUMENT
// (unparsable or mismatched), or the errno's code.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const v1::TlsConfig& tls, absl::string_view key);

// Reads the ModelAdmin bearer token from `path` (admin_token_file): the
// file's contents without surrounding whitespace (a trailing newline is
// usual). Refused (INVALID_ARGUMENT naming admin_token_file) when shorter
// than kMinAdminTokenBytes or not printable ASCII without spaces (it
// travels as an HTTP/2 header value). Warns when the file is readable by
// other users.
absl::StatusOr<std::string> ReadAdminToken(const std::string& path);

}  // namespace rerank
