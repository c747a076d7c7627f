#include "server/config.h"

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/service/test_models.h"

namespace rerank {
namespace {

using ::rerank::testing::TempDir;
using ::rerank::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ServerConfigTest, DefaultsMatchTheDocs) {
  const v1::ServerConfig config = DefaultServerConfig();
  EXPECT_EQ(config.listen_address(), "127.0.0.1:50051");
  EXPECT_EQ(config.admin_listen_address(), "127.0.0.1:50052");
  EXPECT_FALSE(config.admin_on_serving_port());
  EXPECT_EQ(config.metrics_listen_address(), "127.0.0.1:9464");
  EXPECT_TRUE(MetricsEnabled(config));
  EXPECT_FALSE(TlsEnabled(config.tls()));
  EXPECT_FALSE(TlsEnabled(config.admin_tls()));
  EXPECT_EQ(config.admin_token_file(), "");
  EXPECT_EQ(config.warmup_requests(), 100u);
  EXPECT_EQ(config.limits().max_concurrent_streams(), 256u);
  EXPECT_EQ(config.limits().max_inflight_requests(), 1024u);
  EXPECT_EQ(config.model_root(), "");
  EXPECT_EQ(config.initial_model(), "");
  EXPECT_EQ(config.limits().max_candidates(), 10000u);
  EXPECT_EQ(config.limits().max_events(), 1000u);
  EXPECT_EQ(config.limits().max_id_bytes(), 256u);
  EXPECT_EQ(config.limits().max_message_bytes(), 16u * 1024 * 1024);
  EXPECT_EQ(config.logging().level(), "info");
  EXPECT_EQ(config.logging().format(), "text");
  EXPECT_DOUBLE_EQ(config.shutdown_grace_seconds(), 10.0);
  EXPECT_DOUBLE_EQ(config.shutdown_drain_seconds(), 1.0);
  EXPECT_TRUE(ValidateServerConfig(config, "defaults").ok());
}

TEST(ServerConfigTest, EmptyObjectAndEmptyFileGiveDefaults) {
  for (const char* json : {"{}", "", "  \n"}) {
    auto config = ParseServerConfig(json, "config.json");
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->SerializeAsString(),
              DefaultServerConfig().SerializeAsString());
  }
}

TEST(ServerConfigTest, OverridesAreKept) {
  TempDir root;
  const std::string json = absl::StrCat(R"({
    "listen_address": "0.0.0.0:6000",
    "adminListenAddress": "127.0.0.1:6001",
    "model_root": ")",
                                        root.path(), R"(",
    "initial_model": "v1",
    "scoring": {"half_life_seconds": 60, "keepOutOfStock": true},
    "limits": {"max_candidates": 50, "max_events": 5, "max_id_bytes": 64,
               "max_message_bytes": 2048},
    "logging": {"level": "debug", "format": "json"},
    "shutdown_grace_seconds": 2.5,
    "shutdown_drain_seconds": 0
  })");
  auto config = ParseServerConfig(json, "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen_address(), "0.0.0.0:6000");
  EXPECT_EQ(config->admin_listen_address(), "127.0.0.1:6001");
  EXPECT_EQ(config->model_root(), root.path());
  EXPECT_EQ(config->initial_model(), "v1");
  EXPECT_EQ(config->limits().max_candidates(), 50u);
  EXPECT_EQ(config->limits().max_events(), 5u);
  EXPECT_EQ(config->limits().max_id_bytes(), 64u);
  EXPECT_EQ(config->limits().max_message_bytes(), 2048u);
  EXPECT_EQ(config->logging().level(), "debug");
  EXPECT_EQ(config->logging().format(), "json");
  EXPECT_DOUBLE_EQ(config->shutdown_grace_seconds(), 2.5);
  // An explicit 0 (no drain) is kept, not replaced by the default.
  EXPECT_DOUBLE_EQ(config->shutdown_drain_seconds(), 0.0);

  auto options = ScorerOptionsFromConfig(*config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_DOUBLE_EQ(options->weights.half_life_seconds, 60.0);
  EXPECT_TRUE(options->weights.keep_out_of_stock);
  EXPECT_DOUBLE_EQ(options->weights.base_weight, ScoringWeights{}.base_weight);
  EXPECT_EQ(options->limits.max_candidates, 50u);
  EXPECT_EQ(options->limits.max_events, 5u);
  EXPECT_EQ(options->limits.max_id_bytes, 64u);
  EXPECT_FALSE(options->null_scorer);
}

TEST(ServerConfigTest, NullScorerIsSelectedByName) {
  auto config = ParseServerConfig(R"({"scorer": "null"})", "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  auto options = ScorerOptionsFromConfig(*config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->null_scorer);
}

TEST(ServerConfigTest, PartialLimitsKeepOtherDefaults) {
  auto config =
      ParseServerConfig(R"({"limits": {"max_events": 7}})", "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->limits().max_events(), 7u);
  EXPECT_EQ(config->limits().max_candidates(), 10000u);
  EXPECT_EQ(config->limits().max_message_bytes(), 16u * 1024 * 1024);
}

struct Refusal {
  std::string json;
  std::string key;  // must appear in the message
};

class ServerConfigRefusalTest : public ::testing::TestWithParam<Refusal> {};

TEST_P(ServerConfigRefusalTest, NamesTheKey) {
  auto config = ParseServerConfig(GetParam().json, "config.json");
  ASSERT_FALSE(config.ok()) << GetParam().json;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith("config.json: "));
  EXPECT_THAT(config.status().message(), HasSubstr(GetParam().key));
}

INSTANTIATE_TEST_SUITE_P(
    EveryKey, ServerConfigRefusalTest,
    ::testing::Values(
        Refusal{R"({"limits": {"max_candidates": 0}})",
                "limits.max_candidates must be > 0"},
        Refusal{R"({"limits": {"max_events": 0}})",
                "limits.max_events must be > 0"},
        Refusal{R"({"limits": {"max_id_bytes": 0}})",
                "limits.max_id_bytes must be > 0"},
        Refusal{R"({"limits": {"max_message_bytes": 0}})",
                "limits.max_message_bytes must be > 0"},
        Refusal{R"({"limits": {"max_message_bytes": 4294967295}})",
                "limits.max_message_bytes must be <="},
        Refusal{R"({"scoring": {"half_life_seconds": 0}})",
                "scoring.half_life_seconds"},
        Refusal{R"({"scoring": {"session_blend": 2}})",
                "scoring.session_blend"},
        Refusal{R"({"logging": {"level": "verbose"}})", "logging.level"},
        Refusal{R"({"logging": {"format": "xml"}})", "logging.format"},
        Refusal{R"({"scorer": "fast"})", "scorer"},
        Refusal{R"({"listen_address": "localhost"})", "listen_address"},
        Refusal{R"({"listen_address": "127.0.0.1:99999"})", "listen_address"},
        Refusal{R"({"listen_address": ":50051"})", "listen_address"},
        Refusal{R"({"admin_listen_address": "nope"})", "admin_listen_address"},
        Refusal{R"({"admin_listen_address": "127.0.0.1:50051"})",
                "admin_listen_address must differ"},
        Refusal{R"({"admin_on_serving_port": true,
                    "admin_listen_address": "127.0.0.1:7001"})",
                "admin_listen_address must be unset"},
        Refusal{R"({"admin_on_serving_port": true,
                    "admin_tls": {"cert_file": "c", "key_file": "k"}})",
                "admin_tls must be unset"},
        Refusal{R"({"metrics_listen_address": "9464"})",
                "metrics_listen_address"},
        Refusal{R"({"metrics_listen_address": "127.0.0.1:50051"})",
                "metrics_listen_address must differ from listen_address"},
        Refusal{R"({"metrics_listen_address": "127.0.0.1:50052"})",
                "metrics_listen_address must differ from admin_listen_address"},
        Refusal{R"({"tls": {"cert_file": "c.pem"}})",
                "tls.cert_file and tls.key_file must be set together"},
        Refusal{R"({"tls": {"key_file": "k.pem"}})",
                "tls.cert_file and tls.key_file must be set together"},
        Refusal{R"({"tls": {"client_ca_file": "ca.pem"}})",
                "tls.client_ca_file needs tls.cert_file"},
        Refusal{R"({"admin_tls": {"client_ca_file": "ca.pem"}})",
                "admin_tls.client_ca_file needs admin_tls.cert_file"},
        Refusal{R"({"limits": {"max_concurrent_streams": 0}})",
                "limits.max_concurrent_streams must be > 0"},
        Refusal{R"({"limits": {"max_concurrent_streams": 4294967295}})",
                "limits.max_concurrent_streams must be <="},
        Refusal{R"({"limits": {"max_inflight_requests": 0}})",
                "limits.max_inflight_requests must be > 0"},
        Refusal{R"({"warmup_requests": 100001})", "warmup_requests"},
        Refusal{R"({"tls": {"cert": "c.pem"}})", "cert"},
        Refusal{R"({"model_root": "/nonexistent/rerank/models"})",
                "model_root"},
        Refusal{R"({"initial_model": "v1"})", "initial_model"},
        Refusal{R"({"shutdown_grace_seconds": -1})", "shutdown_grace_seconds"},
        Refusal{R"({"shutdown_grace_seconds": 1e9})", "shutdown_grace_seconds"},
        Refusal{R"({"shutdown_drain_seconds": -0.5})", "shutdown_drain_seconds"},
        Refusal{R"({"shutdown_drain_seconds": 601})", "shutdown_drain_seconds"},
        // Unknown fields are refused, at the top level and nested.
        Refusal{R"({"listen": "127.0.0.1:1"})", "listen"},
        Refusal{R"({"limits": {"max_cands": 1}})", "max_cands"},
        // Malformed JSON and wrong types.
        Refusal{R"({"listen_address": )", "invalid config"},
        Refusal{R"([1, 2])", "invalid config"},
        Refusal{R"({"limits": {"max_candidates": "many"}})", "max_candidates"},
        Refusal{R"({"limits": {"max_candidates": -1}})", "max_candidates"},
        // Merchandising profiles: every rule is checked at start-up.
        Refusal{R"({"limits": {"max_rules": 0}})",
                "limits.max_rules must be > 0"},
        Refusal{R"({"profiles": {"cart": {"rules": {"caps": [
                    {"field": "CAP_FIELD_CATEGORY", "max_items": -1,
                     "within_top": 3}]}}}})",
                "profiles.cart.rules.caps[0].max_items=-1 is negative"},
        Refusal{R"({"profiles": {"home": {"scoring": {"base_weight": 1000}}}})",
                "profiles.home.scoring.base_weight=1000"},
        Refusal{R"({"profiles": {"home": {"rules": {"pins": [
                    {"item_id": "a", "slot": 0},
                    {"item_id": "b", "slot": 0}]}}}})",
                "profiles.home.rules.pins[1]: slot 0 is already pinned"},
        Refusal{R"({"profiles": {"home": {}}, "default_profile": "pdp"})",
                "default_profile: 'pdp' is not a key of profiles"},
        Refusal{R"({"profiles": {"home": {"rules": {"capz": []}}}})", "capz"}));

TEST(ServerConfigTest, ProfilesBecomeScorerOptions) {
  auto config = ParseServerConfig(
      R"({"scoring": {"view_weight": 0.2},
          "profiles": {"pdp": {"scoring": {"neighbor_weight": 2},
                               "rules": {"exclude_items": ["x"]}}},
          "default_profile": "pdp"})",
      "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  auto options = ScorerOptionsFromConfig(*config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->default_profile, "pdp");
  ASSERT_TRUE(options->profiles.contains("pdp"));
  const Profile& pdp = *options->profiles.at("pdp");
  // The profile's weights are the config's with the profile's applied.
  EXPECT_DOUBLE_EQ(pdp.weights.neighbor_weight, 2.0);
  EXPECT_DOUBLE_EQ(pdp.weights.view_weight, 0.2);
  EXPECT_TRUE(pdp.rules->ExcludesItem("x"));
  EXPECT_EQ(options->limits.max_rules, 1000u);
  EXPECT_EQ(options->limits.max_attributes_per_candidate, 32u);
}

TEST(ServerConfigTest, ParseServerConfigJsonDoesNotValidate) {
  auto config = ParseServerConfigJson(
      R"({"limits": {"max_candidates": 0}, "model_root": "/nonexistent"})",
      "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->limits().max_candidates(), 0u);
  EXPECT_EQ(config->limits().max_events(), 1000u);  // defaults applied
  EXPECT_FALSE(ValidateServerConfig(*config, "config.json").ok());
  // Syntax and unknown fields are still refused.
  EXPECT_FALSE(ParseServerConfigJson(R"({"bogus": 1})", "c.json").ok());
}

TEST(ServerConfigTest, ShippedDeployConfigParses) {
  auto config = ReadServerConfigFile(std::string(RERANK_SOURCE_DIR) +
                                     "/deploy/config/rerankd.json");
  ASSERT_TRUE(config.ok()) << config.status();
  // model_root is relative to where rerankd runs; everything else must pass.
  config->clear_model_root();
  config->clear_initial_model();
  EXPECT_TRUE(ValidateServerConfig(*config, "rerankd.json").ok());
}

TEST(ServerConfigTest, ModelRootMustBeDirectory) {
  TempDir dir;
  WriteFile(dir.Sub("file"), "x");
  auto config = ParseServerConfig(
      absl::StrCat(R"({"model_root": ")", dir.Sub("file"), R"("})"), "c.json");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("not a directory"));
}

TEST(ServerConfigTest, NewKeysParseInBothSpellings) {
  auto config = ParseServerConfig(R"({
    "admin_listen_address": "127.0.0.1:7001",
    "metricsListenAddress": "0.0.0.0:9100",
    "tls": {"cert_file": "/s.pem", "key_file": "/s.key",
            "clientCaFile": "/ca.pem"},
    "adminTls": {"cert_file": "/a.pem", "key_file": "/a.key"},
    "admin_token_file": "/run/secrets/token",
    "limits": {"max_concurrent_streams": 8, "maxInflightRequests": 3},
    "warmup_requests": 0,
    "shutdown_grace_seconds": 1
  })",
                                  "c.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metrics_listen_address(), "0.0.0.0:9100");
  EXPECT_TRUE(TlsEnabled(config->tls()));
  EXPECT_EQ(config->tls().client_ca_file(), "/ca.pem");
  EXPECT_EQ(config->admin_tls().key_file(), "/a.key");
  EXPECT_EQ(config->admin_token_file(), "/run/secrets/token");
  EXPECT_EQ(config->limits().max_concurrent_streams(), 8u);
  EXPECT_EQ(config->limits().max_inflight_requests(), 3u);
  // An explicit 0 is kept (no warm-up), not replaced by the default.
  EXPECT_TRUE(config->has_warmup_requests());
  EXPECT_EQ(config->warmup_requests(), 0u);
}

TEST(ServerConfigTest, MetricsOffSpellings) {
  for (const char* json : {R"({"metrics_listen_address": ""})",
                           R"({"metrics_listen_address": "off"})"}) {
    auto config = ParseServerConfig(json, "c.json");
    ASSERT_TRUE(config.ok()) << json << ": " << config.status();
    EXPECT_FALSE(MetricsEnabled(*config)) << json;
  }
}

TEST(ServerConfigTest, AdminOnServingPortLeavesAdminAddressEmpty) {
  auto config =
      ParseServerConfig(R"({"admin_on_serving_port": true})", "c.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->admin_on_serving_port());
  EXPECT_EQ(config->admin_listen_address(), "");
}

TEST(ServerConfigTest, AdminMayShareHostWithPortZero) {
  auto config = ParseServerConfig(
      R"({"listen_address": "127.0.0.1:0", "admin_listen_address": "127.0.0.1:0"})",
      "c.json");
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(ServerConfigTest, Ipv6AddressesParse) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(ParseHostPort("[::1]:50051", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 50051);
  EXPECT_FALSE(ParseHostPort("[::1]", &host, &port).ok());
}

TEST(ServerConfigTest, LoadServerConfigReadsFileAndPrefixesPath) {
  TempDir dir;
  const std::string path = dir.Sub("config.json");
  WriteFile(path, R"({"limits": {"max_candidates": 0}})");
  auto refused = LoadServerConfig(path);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            absl::StrCat(path, ": limits.max_candidates must be > 0"));

  WriteFile(path, R"({"listen_address": "127.0.0.1:7000"})");
  auto loaded = LoadServerConfig(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->listen_address(), "127.0.0.1:7000");

  EXPECT_EQ(LoadServerConfig(dir.Sub("missing.json")).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rerank
