// TLS, mutual TLS and the ModelAdmin bearer token, against an in-process
// RerankServer with certificates made by the openssl CLI at test time (see
// MakeTestCerts): TLS accepted, plaintext refused, client certificates
// required / verified, the token required on ModelAdmin, and start-up
// refusing bad credential files with a message naming the key.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rerank/v1/rerank.grpc.pb.h"
#include "server/credentials.h"
#include "server/server.h"
#include "service/admin_auth.h"
#include "tests/server/server_test_util.h"
#include "tests/service/test_models.h"

namespace rerank {
namespace {

using ::rerank::testing::MakeTestCerts;
using ::rerank::testing::ReadWholeFile;
using ::rerank::testing::TempDir;
using ::rerank::testing::TestCerts;
using ::rerank::testing::WriteFile;
using ::rerank::testing::WriteTinyModel;
using ::testing::HasSubstr;

constexpr char kToken[] = "s3cr3t-t0ken-0123456789abcdef";

// One PKI for the whole suite: generating keys is the slow part.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    absl::StatusOr<TestCerts> certs = MakeTestCerts(dir_->path());
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = new TestCerts(*std::move(certs));
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(certs_, nullptr) << "certificate generation failed";
    WriteTinyModel(root_.path(), "a", "model-a");
    config_.set_listen_address("127.0.0.1:0");
    config_.set_admin_listen_address("127.0.0.1:0");
    config_.set_metrics_listen_address("off");
    config_.set_model_root(root_.path());
    config_.set_initial_model("a");
    config_.set_warmup_requests(0);
    config_.mutable_logging()->set_level("warn");
  }

  void UseServerTls(v1::TlsConfig* tls, bool mutual) {
    tls->set_cert_file(certs_->server_cert);
    tls->set_key_file(certs_->server_key);
    if (mutual) tls->set_client_ca_file(certs_->ca);
  }

  void Start() {
    auto server = RerankServer::Create(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
  }

  // Client credentials trusting the test CA, optionally with a client
  // certificate.
  static std::shared_ptr<grpc::ChannelCredentials> ClientTls(
      const std::string& cert = "", const std::string& key = "") {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadWholeFile(certs_->ca);
    if (!cert.empty()) {
      options.pem_cert_chain = ReadWholeFile(cert);
      options.pem_private_key = ReadWholeFile(key);
    }
    return grpc::SslCredentials(options);
  }

  // A Rerank call on a fresh channel (no connection reuse between cases).
  static grpc::Status Rerank(int port,
                             std::shared_ptr<grpc::ChannelCredentials> creds) {
    // 127.0.0.1 is in the server certificate's subjectAltName.
    auto stub = v1::Reranker::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), std::move(creds)));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::RerankRequest request;
    request.set_user_id("u1");
    request.add_candidates()->set_item_id("a");
    v1::RerankResponse response;
    return stub->Rerank(&context, request, &response);
  }

  static grpc::Status GetModelInfo(
      int port, std::shared_ptr<grpc::ChannelCredentials> creds,
      const std::string& authorization) {
    auto stub = v1::ModelAdmin::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), std::move(creds)));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (!authorization.empty()) {
      context.AddMetadata("authorization", authorization);
    }
    v1::ModelInfo info;
    return stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  }

  static TempDir* dir_;
  static TestCerts* certs_;
  TempDir root_;
  v1::ServerConfig config_;
  std::unique_ptr<RerankServer> server_;
};

TempDir* TlsTest::dir_ = nullptr;
TestCerts* TlsTest::certs_ = nullptr;

TEST_F(TlsTest, TlsAcceptsClientTrustingTheCa) {
  UseServerTls(config_.mutable_tls(), /*mutual=*/false);
  Start();
  const grpc::Status status = Rerank(server_->port(), ClientTls());
  EXPECT_TRUE(status.ok()) << status.error_code() << " "
                           << status.error_message();
}

TEST_F(TlsTest, TlsRefusesPlaintextClient) {
  UseServerTls(config_.mutable_tls(), /*mutual=*/false);
  Start();
  EXPECT_EQ(
      Rerank(server_->port(), grpc::InsecureChannelCredentials()).error_code(),
      grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MtlsAcceptsClientCertificateSignedByTheCa) {
  UseServerTls(config_.mutable_tls(), /*mutual=*/true);
  Start();
  const grpc::Status status = Rerank(
      server_->port(), ClientTls(certs_->client_cert, certs_->client_key));
  EXPECT_TRUE(status.ok()) << status.error_code() << " "
                           << status.error_message();
}

TEST_F(TlsTest, MtlsRefusesClientWithoutCertificate) {
  UseServerTls(config_.mutable_tls(), /*mutual=*/true);
  Start();
  EXPECT_EQ(Rerank(server_->port(), ClientTls()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MtlsRefusesClientCertificateFromAnotherCa) {
  UseServerTls(config_.mutable_tls(), /*mutual=*/true);
  Start();
  EXPECT_EQ(Rerank(server_->port(), ClientTls(certs_->untrusted_client_cert,
                                              certs_->untrusted_client_key))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, AdminTokenRequiredAcceptedAndCheckedExactly) {
  WriteFile(root_.Sub("token"), absl::StrCat("  ", kToken, "\n"));
  config_.set_admin_token_file(root_.Sub("token"));
  Start();
  const int admin = server_->admin_port();
  auto plain = grpc::InsecureChannelCredentials();

  const grpc::Status missing = GetModelInfo(admin, plain, "");
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(missing.error_message(), HasSubstr("Bearer"));
  for (const std::string& wrong :
       {absl::StrCat("Bearer ", kToken, "x"), std::string("Bearer "),
        absl::StrCat("Bearer ", std::string(kToken).substr(1)),
        absl::StrCat("Basic ", kToken), std::string(kToken)}) {
    const grpc::Status refused = GetModelInfo(admin, plain, wrong);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED) << wrong;
    // The refusal never echoes what was sent.
    EXPECT_THAT(refused.error_message(), ::testing::Not(HasSubstr(kToken)));
  }
  EXPECT_TRUE(GetModelInfo(admin, plain, absl::StrCat("Bearer ", kToken)).ok());
  // The scheme is case-insensitive; the token is not.
  EXPECT_TRUE(GetModelInfo(admin, plain, absl::StrCat("bearer ", kToken)).ok());

  // Reranker is not behind the token.
  EXPECT_TRUE(Rerank(server_->port(), plain).ok());
}

TEST_F(TlsTest, AdminTokenAlsoGuardsAdminOnTheServingPort) {
  WriteFile(root_.Sub("token"), kToken);
  config_.set_admin_token_file(root_.Sub("token"));
  config_.clear_admin_listen_address();
  config_.set_admin_on_serving_port(true);
  Start();
  auto plain = grpc::InsecureChannelCredentials();
  EXPECT_EQ(GetModelInfo(server_->port(), plain, "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(
      GetModelInfo(server_->port(), plain, absl::StrCat("Bearer ", kToken))
          .ok());
}

TEST_F(TlsTest, AdminMtlsAndTokenTogether) {
  UseServerTls(config_.mutable_admin_tls(), /*mutual=*/true);
  WriteFile(root_.Sub("token"), kToken);
  config_.set_admin_token_file(root_.Sub("token"));
  Start();
  const int admin = server_->admin_port();
  const std::string bearer = absl::StrCat("Bearer ", kToken);
  EXPECT_TRUE(GetModelInfo(admin,
                           ClientTls(certs_->client_cert, certs_->client_key),
                           bearer)
                  .ok());
  // Certificate without token, token without certificate.
  EXPECT_EQ(GetModelInfo(admin,
                         ClientTls(certs_->client_cert, certs_->client_key), "")
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetModelInfo(admin, ClientTls(), bearer).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // The serving port stays plaintext: tls and admin_tls are independent.
  EXPECT_TRUE(Rerank(server_->port(), grpc::InsecureChannelCredentials()).ok());
}

TEST_F(TlsTest, BadCredentialFilesFailStartNamingTheKey) {
  struct Case {
    std::function<void(v1::ServerConfig*)> edit;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](v1::ServerConfig* c) {
         c->mutable_tls()->set_cert_file(certs_->server_cert);
         c->mutable_tls()->set_key_file(certs_->client_key);
       },
       absl::StatusCode::kInvalidArgument, "tls.key_file"},
      {[this](v1::ServerConfig* c) {
         c->mutable_tls()->set_cert_file(root_.Sub("nope.pem"));
         c->mutable_tls()->set_key_file(certs_->server_key);
       },
       absl::StatusCode::kNotFound, "tls.cert_file"},
      {[](v1::ServerConfig* c) {
         // A key where the certificate should be.
         c->mutable_admin_tls()->set_cert_file(certs_->server_key);
         c->mutable_admin_tls()->set_key_file(certs_->server_key);
       },
       absl::StatusCode::kInvalidArgument, "admin_tls.cert_file"},
      {[](v1::ServerConfig* c) {
         c->mutable_tls()->set_cert_file(certs_->server_cert);
         c->mutable_tls()->set_key_file(certs_->server_key);
         c->mutable_tls()->set_client_ca_file(certs_->server_key);
       },
       absl::StatusCode::kInvalidArgument, "tls.client_ca_file"},
      {[this](v1::ServerConfig* c) {
         WriteFile(root_.Sub("short"), "tooshort\n");
         c->set_admin_token_file(root_.Sub("short"));
       },
       absl::StatusCode::kInvalidArgument, "admin_token_file"},
      {[this](v1::ServerConfig* c) {
         WriteFile(root_.Sub("spaces"), "has spaces inside the token\n");
         c->set_admin_token_file(root_.Sub("spaces"));
       },
       absl::StatusCode::kInvalidArgument, "admin_token_file"},
      {[this](v1::ServerConfig* c) {
         c->set_admin_token_file(root_.Sub("absent"));
       },
       absl::StatusCode::kNotFound, "admin_token_file"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].message);
    v1::ServerConfig config = config_;
    cases[i].edit(&config);
    auto server = RerankServer::Create(config);
    ASSERT_FALSE(server.ok());
    EXPECT_EQ(server.status().code(), cases[i].code) << server.status();
    EXPECT_THAT(server.status().message(), HasSubstr(cases[i].message));
  }
}

TEST(AdminAuthTest, ConstantTimeEqualsIsEquality) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), "a"));
}

TEST(AdminAuthTest, CheckBearerTokenCases) {
  using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;
  const std::string good = absl::StrCat("Bearer ", kToken);
  EXPECT_TRUE(CheckBearerToken(Metadata{{"authorization", good}}, kToken).ok());
  EXPECT_EQ(CheckBearerToken(Metadata{}, kToken).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      CheckBearerToken(
          Metadata{{"authorization", good}, {"authorization", good}}, kToken)
          .code(),
      absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      CheckBearerToken(Metadata{{"authorization", "Bearer"}}, kToken).code(),
      absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CheckBearerToken(Metadata{{"x-token", good}}, kToken).code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace rerank
