#include "evaluation/report.h"

#include <string>

#include "eval_test_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const EvalReport& Report() {
  static const EvalReport* report = [] {
    EvalOptions o;
    o.split.split_time = testing_util::kLogStart + 45 * testing_util::kDay;
    o.num_candidates = 15;
    o.max_test_cases = 80;
    o.bootstrap = 100;
    o.train.als.factors = 4;
    o.train.als.iterations = 4;
    o.train.neighbors.min_support = 1;
    auto r =
        RunEvaluation(testing_util::GeneratedLog(), o, nullptr, "gen<&>.csv");
    EXPECT_TRUE(r.ok()) << r.status();
    return new EvalReport(std::move(*r));
  }();
  return *report;
}

TEST(ReportTest, HtmlIsSelfContained) {
  const std::string html = EvalReportToHtml(Report());
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("<table"));
  EXPECT_THAT(html, HasSubstr("full_no_demotion"));
  EXPECT_THAT(html, HasSubstr("full+cap2"));
  EXPECT_THAT(html, HasSubstr("Accuracy against diversity"));
  EXPECT_THAT(html, HasSubstr("ILD@10"));
  EXPECT_THAT(html, HasSubstr("&Delta;NDCG@10 vs full"));
  // Nothing to fetch: no URLs, no src=, no scripts, stylesheets or fonts.
  EXPECT_THAT(html, Not(HasSubstr("http")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("@import")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  // Text is escaped (the log name and "<u, v_c>" in a description).
  EXPECT_THAT(html, HasSubstr("gen&lt;&amp;&gt;.csv"));
  EXPECT_THAT(html, Not(HasSubstr("<u, v_c>")));
}

TEST(ReportTest, JsonIsValidAndComplete) {
  const std::string json = EvalReportToJson(Report());
  google::protobuf::Struct parsed;
  const auto st = google::protobuf::util::JsonStringToMessage(json, &parsed);
  ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << json;
  const auto& f = parsed.fields();
  ASSERT_TRUE(f.contains("config"));
  ASSERT_TRUE(f.contains("data"));
  ASSERT_TRUE(f.contains("segments"));
  EXPECT_EQ(f.at("data")
                .struct_value()
                .fields()
                .at("sampled_test_cases")
                .number_value(),
            80);
  const auto& all = f.at("segments").list_value().values(0).struct_value();
  EXPECT_EQ(all.fields().at("name").string_value(), "all");
  const auto& full =
      all.fields().at("metrics").struct_value().fields().at("full");
  const auto& hr = full.struct_value().fields().at("hr").struct_value();
  EXPECT_LE(hr.fields().at("lo").number_value(),
            hr.fields().at("point").number_value());
  EXPECT_TRUE(full.struct_value().fields().contains("diff_vs_baseline"));
  const auto& mmr =
      all.fields().at("metrics").struct_value().fields().at("full+mmr0.4");
  for (const char* key : {"ild", "ild_cases", "category_coverage",
                          "catalog_coverage", "diff_vs_full"}) {
    EXPECT_TRUE(mmr.struct_value().fields().contains(key)) << key;
  }
  const auto& ild = mmr.struct_value().fields().at("ild").struct_value();
  EXPECT_GT(ild.fields().at("point").number_value(), 0);
  EXPECT_EQ(f.at("strategies").list_value().values_size(), 10);
  EXPECT_GT(mmr.struct_value().fields().at("catalog_coverage").number_value(),
            0);
  const auto& variants =
      f.at("config").struct_value().fields().at("variants").list_value();
  EXPECT_EQ(variants.values(5)
                .struct_value()
                .fields()
                .at("rules")
                .struct_value()
                .fields()
                .at("caps")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("max_items")
                .number_value(),
            2);
}

TEST(ReportTest, TextTableNamesEveryStrategy) {
  const std::string text = FormatTextReport(Report());
  for (const char* name :
       {"baseline", "user_cf", "factors", "full", "full_no_demotion",
        "full+mmr0.7", "full+mmr0.4", "full+cap2", "HR@10", "NDCG@10", "MRR",
        "minus baseline", "beyond accuracy", "ILD@10", "coverage@10",
        "minus full"}) {
    EXPECT_THAT(text, HasSubstr(name));
  }
}

}  // namespace
}  // namespace rerank
