#include "server/credentials.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "grpcpp/security/server_credentials.h"
#include "spdlog/spdlog.h"

namespace rerank {
namespace {

// PEM files and tokens are small; anything bigger is the wrong file.
constexpr std::streamsize kMaxFileBytes = 1 << 20;

absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          absl::string_view key) {
  const std::string what = absl::StrCat(key, " \"", path, "\"");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat(what, " does not exist"));
    }
    return absl::ErrnoToStatus(err, absl::StrCat(what, " cannot be opened"));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(what, ": read failed"));
  std::string data = contents.str();
  if (static_cast<std::streamsize>(data.size()) > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is larger than ", kMaxFileBytes, " bytes"));
  }
  return data;
}

// The newest OpenSSL error as text (and the queue cleared, so a later check
// does not report a stale one).
std::string OpenSslError() {
  const unsigned long code = ERR_peek_last_error();
  char text[256] = "no detail";
  if (code != 0) ERR_error_string_n(code, text, sizeof(text));
  ERR_clear_error();
  return text;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct InfoStackDeleter {
  void operator()(STACK_OF(X509_INFO) * s) const {
    sk_X509_INFO_pop_free(s, X509_INFO_free);
  }
};

std::unique_ptr<BIO, BioDeleter> MemBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// An encrypted key would make OpenSSL prompt on the terminal; refuse
// instead (gRPC could not use it either).
int NoPassword(char*, int, int, void*) { return 0; }

absl::Status CheckPem(const v1::TlsConfig& tls, absl::string_view key,
                      const std::string& cert_pem, const std::string& key_pem,
                      const std::string& ca_pem) {
  std::unique_ptr<X509, X509Deleter> cert(
      PEM_read_bio_X509(MemBio(cert_pem).get(), nullptr, NoPassword, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ".cert_file \"", tls.cert_file(),
                     "\" holds no PEM certificate (", OpenSslError(), ")"));
  }
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(PEM_read_bio_PrivateKey(
      MemBio(key_pem).get(), nullptr, NoPassword, nullptr));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ".key_file \"", tls.key_file(),
        "\" holds no unencrypted PEM private key (", OpenSslError(), ")"));
  }
  if (X509_check_private_key(cert.get(), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(key, ".key_file \"", tls.key_file(), "\" does not match ",
                     key, ".cert_file \"", tls.cert_file(), "\""));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0) {
    spdlog::warn("{}.cert_file \"{}\" has expired: clients will refuse it",
                 std::string(key), tls.cert_file());
  } else if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) > 0) {
    spdlog::warn("{}.cert_file \"{}\" is not valid yet: clients will refuse it",
                 std::string(key), tls.cert_file());
  }
  if (!tls.client_ca_file().empty()) {
    std::unique_ptr<STACK_OF(X509_INFO), InfoStackDeleter> infos(
        PEM_X509_INFO_read_bio(MemBio(ca_pem).get(), nullptr, NoPassword,
                               nullptr));
    int certs = 0;
    if (infos != nullptr) {
      for (int i = 0; i < sk_X509_INFO_num(infos.get()); ++i) {
        if (sk_X509_INFO_value(infos.get(), i)->x509 != nullptr) ++certs;
      }
    }
    ERR_clear_error();
    if (certs == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ".client_ca_file \"", tls.client_ca_file(),
                       "\" holds no PEM certificate"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const v1::TlsConfig& tls, absl::string_view key) {
  if (tls.cert_file().empty()) return grpc::InsecureServerCredentials();
  ASSIGN_OR_RETURN(
      std::string cert_pem,
      ReadSmallFile(tls.cert_file(), absl::StrCat(key, ".cert_file")));
  ASSIGN_OR_RETURN(
      std::string key_pem,
      ReadSmallFile(tls.key_file(), absl::StrCat(key, ".key_file")));
  std::string ca_pem;
  if (!tls.client_ca_file().empty()) {
    ASSIGN_OR_RETURN(ca_pem,
                     ReadSmallFile(tls.client_ca_file(),
                                   absl::StrCat(key, ".client_ca_file")));
  }
  RETURN_IF_ERROR(CheckPem(tls, key, cert_pem, key_pem, ca_pem));

  const bool mutual = !ca_pem.empty();
  grpc::SslServerCredentialsOptions options(
      mutual ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
             : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = std::move(ca_pem);
  options.pem_key_cert_pairs.push_back(
      {std::move(key_pem), std::move(cert_pem)});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::string> ReadAdminToken(const std::string& path) {
  ASSIGN_OR_RETURN(std::string raw, ReadSmallFile(path, "admin_token_file"));
  const std::string token(absl::StripAsciiWhitespace(raw));
  if (token.size() < kMinAdminTokenBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin_token_file \"", path, "\" holds ", token.size(),
                     " bytes; a token needs at least ", kMinAdminTokenBytes,
                     " (e.g. `openssl rand -hex 32`)"));
  }
  if (!absl::c_all_of(token, [](char c) { return c > 0x20 && c < 0x7f; })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "admin_token_file \"", path,
        "\" must hold printable ASCII without spaces (it is sent as an "
        "HTTP/2 header value)"));
  }
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
    spdlog::warn(
        "admin_token_file \"{}\" is readable by every user; "
        "chmod 600 it",
        path);
  }
  return token;
}

}  // namespace rerank
