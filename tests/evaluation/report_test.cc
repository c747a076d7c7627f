#include "evaluation/report.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "eval_test_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "ranking/features.h"
#include "ranking/ranker.h"

namespace rerank {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

EvalOptions SmallOptions() {
  EvalOptions o;
  o.split.split_time = testing_util::kLogStart + 45 * testing_util::kDay;
  o.num_candidates = 15;
  o.max_test_cases = 80;
  o.bootstrap = 100;
  o.train.als.factors = 4;
  o.train.als.iterations = 4;
  o.train.neighbors.min_support = 1;
  return o;
}

const EvalReport& Report() {
  static const EvalReport* report = [] {
    auto r = RunEvaluation(testing_util::GeneratedLog(), SmallOptions(),
                           nullptr, "gen<&>.csv");
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

// ---- Feature importance -----------------------------------------------------

// The formula-only Report() with importances for two rankers, as
// RunEvaluation fills them for a model with learned rankers.
EvalReport ReportWithImportance() {
  EvalReport r = Report();
  r.feature_importance = {
      {"linear",
       {{"user_dot_z", 0.6}, {"popularity_z", 0.3}, {"item_known", 0.1}}},
      {"gbdt", {{"session_cosine", 0.75}, {"neighbor_rank_z", 0.25}}}};
  return r;
}

TEST(ReportTest, FormulaOnlyModelHasNoFeatureImportanceSection) {
  const EvalReport& r = Report();
  EXPECT_TRUE(r.feature_importance.empty());
  EXPECT_THAT(EvalReportToJson(r), Not(HasSubstr("feature_importance")));
  EXPECT_THAT(EvalReportToHtml(r), Not(HasSubstr("Feature importance")));
  EXPECT_THAT(FormatTextReport(r), Not(HasSubstr("feature importance")));
}

TEST(ReportTest, JsonListsFeatureImportancePerRanker) {
  const std::string json = EvalReportToJson(ReportWithImportance());
  google::protobuf::Struct parsed;
  const auto st = google::protobuf::util::JsonStringToMessage(json, &parsed);
  ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << json;
  ASSERT_TRUE(parsed.fields().contains("feature_importance")) << json;
  const auto& fi = parsed.fields().at("feature_importance").struct_value();
  ASSERT_TRUE(fi.fields().contains("linear"));
  ASSERT_TRUE(fi.fields().contains("gbdt"));
  const auto& linear = fi.fields().at("linear").list_value();
  ASSERT_EQ(linear.values_size(), 3);
  const auto& first = linear.values(0).struct_value().fields();
  EXPECT_EQ(first.at("feature").string_value(), "user_dot_z");
  EXPECT_DOUBLE_EQ(first.at("importance").number_value(), 0.6);
  const auto& gbdt = fi.fields().at("gbdt").list_value();
  ASSERT_EQ(gbdt.values_size(), 2);
  EXPECT_EQ(gbdt.values(1).struct_value().fields().at("feature").string_value(),
            "neighbor_rank_z");
  EXPECT_DOUBLE_EQ(
      gbdt.values(1).struct_value().fields().at("importance").number_value(),
      0.25);
}

TEST(ReportTest, HtmlHasAFeatureImportanceChartPerRankerAndStaysSelfContained) {
  const std::string html = EvalReportToHtml(ReportWithImportance());
  EXPECT_THAT(html, HasSubstr("<h2>Feature importance</h2>"));
  EXPECT_THAT(html, HasSubstr("Feature importance: linear</text>"));
  EXPECT_THAT(html, HasSubstr("Feature importance: gbdt</text>"));
  EXPECT_THAT(html, HasSubstr("<title>user_dot_z: 0.6000</title>"));
  EXPECT_THAT(html, HasSubstr("<title>session_cosine: 0.7500</title>"));
  // The definitions under the charts.
  EXPECT_THAT(html, HasSubstr("standardised features"));
  EXPECT_THAT(html, HasSubstr("total_cover"));
  EXPECT_THAT(html, Not(HasSubstr("http")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
}

TEST(ReportTest, TextHasAFeatureImportanceLinePerRankerWithTheTopEight) {
  EvalReport r = ReportWithImportance();
  std::string text = FormatTextReport(r);
  EXPECT_THAT(text, HasSubstr("feature importance (linear): user_dot_z 0.600, "
                              "popularity_z 0.300, item_known 0.100\n"));
  EXPECT_THAT(text, HasSubstr("feature importance (gbdt): session_cosine "
                              "0.750, neighbor_rank_z 0.250\n"));
  r.feature_importance.resize(1);
  r.feature_importance[0].features.clear();
  for (int j = 0; j < 10; ++j) {
    r.feature_importance[0].features.push_back(
        {absl::StrCat("f", j), (10.0 - j) / 55.0});
  }
  text = FormatTextReport(r);
  EXPECT_THAT(text, HasSubstr("f7 0.055 (top 8 of 10)\n"));
  EXPECT_THAT(text, Not(HasSubstr("f8 ")));
}

// End to end: a model whose training adds a linear ranker gets its
// importances in the report, and the reports show them.
TEST(ReportTest, EvaluationOfAModelWithALinearRankerReportsItsImportance) {
  EvalOptions o = SmallOptions();
  o.bootstrap = 20;
  o.train.finish_model = [](const InteractionLog&, const ItemCategoryMap*,
                            ModelData* model) -> absl::StatusOr<std::string> {
    RankerSpec spec;
    spec.kind = RankerKind::kLinear;
    spec.feature_set = kFeatureSetName;
    spec.feature_names = {"user_dot_z", "popularity_z"};
    spec.linear.weights = {0.5, -1.5};
    spec.linear.means = {0.0, 0.0};
    spec.linear.scales = {1.0, 1.0};
    spec.description = "hand-made";
    model->rankers.push_back(spec);
    return std::string("linear ranker added\n");
  };
  auto r = RunEvaluation(testing_util::GeneratedLog(), o, nullptr, "gen.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->feature_importance.size(), 1u);
  const RankerImportance& ri = r->feature_importance[0];
  EXPECT_EQ(ri.ranker, "linear");
  ASSERT_EQ(ri.features.size(), 2u);
  EXPECT_EQ(ri.features[0].feature, "popularity_z");
  EXPECT_DOUBLE_EQ(ri.features[0].importance, 0.75);
  EXPECT_EQ(ri.features[1].feature, "user_dot_z");
  EXPECT_DOUBLE_EQ(ri.features[1].importance, 0.25);
  EXPECT_THAT(FormatTextReport(*r),
              HasSubstr("feature importance (linear): popularity_z 0.750, "
                        "user_dot_z 0.250\n"));
  EXPECT_THAT(EvalReportToJson(*r), HasSubstr("\"feature_importance\""));
  EXPECT_THAT(EvalReportToHtml(*r), HasSubstr("<h2>Feature importance</h2>"));
}

}  // namespace
}  // namespace rerank
