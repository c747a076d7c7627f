// deploy/prometheus: promtool accepts the scrape config and the alert
// rules, the rules' unit tests (rules_test.yml) pass, and every rerank_*
// metric the rules use is one rerankd actually exports.

#include <regex>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics.h"
#include "tests/server/server_test_util.h"

namespace rerank {
namespace {

using ::rerank::testing::OnPath;
using ::rerank::testing::ReadWholeFile;
using ::rerank::testing::RunShell;

const std::string& PrometheusDir() {
  static const std::string kDir =
      std::string(RERANK_SOURCE_DIR) + "/deploy/prometheus";
  return kDir;
}

TEST(PrometheusConfigTest, PromtoolAcceptsConfigRulesAndRuleTests) {
  if (!OnPath("promtool")) {
    // scripts/install-deps.sh installs it (Debian package "prometheus"), so
    // CI always runs this; a bare developer machine may not have it.
    GTEST_SKIP() << "promtool not on PATH (apt-get install prometheus)";
  }
  for (const char* command : {"promtool check config prometheus.yml",
                              "promtool check rules rules.yml",
                              "promtool test rules rules_test.yml"}) {
    SCOPED_TRACE(command);
    std::string output;
    EXPECT_EQ(RunShell(absl::StrCat("cd '", PrometheusDir(), "' && ", command),
                       &output),
              0)
        << output;
    EXPECT_THAT(output, ::testing::HasSubstr("SUCCESS"));
  }
}

TEST(PrometheusConfigTest, RulesUseOnlyExportedMetrics) {
  const std::string rules = ReadWholeFile(PrometheusDir() + "/rules.yml");
  const std::string exported = RerankMetrics::Create()->Render();
  // Metric names in expressions (recording rules contain ':' and are not
  // exported by rerankd; histogram suffixes belong to their family).
  const std::regex name(R"(\brerank_[a-z_]+)");
  std::set<std::string> used;
  for (auto it = std::sregex_iterator(rules.begin(), rules.end(), name);
       it != std::sregex_iterator(); ++it) {
    used.insert(it->str());
  }
  ASSERT_FALSE(used.empty());
  for (const std::string& metric : used) {
    std::string family = metric;
    for (const char* suffix : {"_bucket", "_count", "_sum"}) {
      if (absl::EndsWith(family, suffix)) {
        family.resize(family.size() - std::string(suffix).size());
      }
    }
    EXPECT_THAT(exported,
                ::testing::HasSubstr(absl::StrCat("# TYPE ", family, " ")))
        << metric << " is used in rules.yml but rerankd does not export it";
  }
}

}  // namespace
}  // namespace rerank
