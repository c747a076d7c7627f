#include "evaluation/evaluator.h"

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "eval_test_util.h"
#include "evaluation/report.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "training/interaction_matrix.h"
#include "training/trainer.h"

namespace rerank {
namespace {

using ::testing::HasSubstr;
using testing_util::GeneratedLog;
using testing_util::kDay;
using testing_util::kLogStart;

EvalOptions SmallOptions() {
  EvalOptions o;
  o.split.split_time = kLogStart + 45 * kDay;
  o.num_candidates = 20;
  o.max_test_cases = 150;
  o.bootstrap = 200;
  o.user_knn_k = 10;
  o.max_events = 20;
  o.threads = 2;
  o.seed = 3;
  o.train.als.factors = 4;
  o.train.als.iterations = 8;
  o.train.als.compute_loss = false;
  o.train.neighbors.num_neighbors = 10;
  o.train.neighbors.min_support = 1;
  return o;
}

std::string JsonWithoutTimings(EvalReport report) {
  report.train_seconds = report.eval_seconds = report.bootstrap_seconds = 0;
  report.options.threads = 0;
  return EvalReportToJson(report);
}

TEST(EvaluatorTest, EndToEndIsReproducibleForASeedAndThreadCount) {
  const InteractionLog log = GeneratedLog();
  for (RetrieverKind retriever :
       {RetrieverKind::kPopularity, RetrieverKind::kCooccurrence}) {
    EvalOptions o = SmallOptions();
    o.retriever = retriever;
    auto a = RunEvaluation(log, o);
    auto b = RunEvaluation(log, o);
    o.threads = 1;
    auto c = RunEvaluation(log, o);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok() && c.ok());
    ASSERT_EQ(a->cases.size(), b->cases.size());
    for (size_t i = 0; i < a->cases.size(); ++i) {
      EXPECT_EQ(a->cases[i].interaction, b->cases[i].interaction);
      EXPECT_EQ(a->cases[i].ranks, b->cases[i].ranks);
      EXPECT_EQ(a->cases[i].ranks, c->cases[i].ranks);
    }
    EXPECT_EQ(JsonWithoutTimings(*a), JsonWithoutTimings(*b));
    EXPECT_EQ(JsonWithoutTimings(*a), JsonWithoutTimings(*c));

    // Another seed samples other cases and resamples differently.
    o.seed = 4;
    auto d = RunEvaluation(log, o);
    ASSERT_TRUE(d.ok());
    EXPECT_NE(JsonWithoutTimings(*a), JsonWithoutTimings(*d));
  }
}

TEST(EvaluatorTest, CasesSegmentsAndStrategies) {
  const InteractionLog log = GeneratedLog();
  const EvalOptions o = SmallOptions();
  auto r = RunEvaluation(log, o, nullptr, "generated");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->log_source, "generated");
  EXPECT_EQ(r->sampled_cases, 150);
  EXPECT_GT(r->eligible_cases, 150);
  EXPECT_EQ(r->train_interactions + r->test_interactions, r->log_interactions);
  ASSERT_EQ(r->strategies.size(), 10u);
  EXPECT_EQ(r->strategies[0].name, "baseline");
  EXPECT_EQ(r->strategies[1].name, "user_cf");
  EXPECT_EQ(r->strategies[2].name, "factors");
  EXPECT_EQ(r->strategies[3].name, "full");
  EXPECT_EQ(r->strategies[4].name, "full_no_demotion");
  EXPECT_EQ(r->strategies[5].name, "formula_base0");
  EXPECT_EQ(r->strategies[6].name, "formula_boosts_only");
  EXPECT_EQ(r->strategies[7].name, "full+mmr0.7");
  EXPECT_EQ(r->strategies[8].name, "full+mmr0.4");
  EXPECT_EQ(r->strategies[9].name, "full+cap2");

  int cold = 0;
  for (const CaseRecord& c : r->cases) {
    const Interaction& x = log.interactions[c.interaction];
    EXPECT_EQ(x.event_type, EventType::kPurchase);
    EXPECT_GE(x.timestamp, *o.split.split_time);
    ASSERT_EQ(c.ranks.size(), 10u);
    for (int rank : c.ranks) {
      EXPECT_GE(rank, 1);
      EXPECT_LE(rank, o.num_candidates + 1);
    }
    EXPECT_LE(c.events, o.max_events);
    if (!c.known_user) {
      ++cold;
      // Documented: without a user vector the factor score is 0 for every
      // candidate, so the factors strategy keeps the baseline order.
      EXPECT_EQ(c.ranks[2], c.ranks[0]);
    }
  }
  EXPECT_GT(cold, 0);

  ASSERT_EQ(r->segments.size(), 7u);
  EXPECT_EQ(r->segments[0].name, "all");
  EXPECT_EQ(r->segments[0].cases, 150);
  EXPECT_EQ(r->segments[1].cases + r->segments[2].cases, 150);
  EXPECT_EQ(r->segments[3].cases + r->segments[4].cases, 150);
  EXPECT_EQ(r->segments[5].cases + r->segments[6].cases, 150);
  EXPECT_EQ(r->segments[2].cases, cold);
  for (const SegmentReport& seg : r->segments) {
    if (seg.cases == 0) continue;
    ASSERT_EQ(seg.metrics.size(), 10u);
    for (const StrategyMetrics& m : seg.metrics) {
      for (const Interval* v : {&m.hit, &m.ndcg, &m.mrr}) {
        EXPECT_GE(v->point, 0);
        EXPECT_LE(v->point, 1);
        EXPECT_LE(v->lo, v->point + 1e-12);
        EXPECT_GE(v->hi, v->point - 1e-12);
      }
    }
    // The baseline's paired difference to itself is exactly 0.
    EXPECT_EQ(seg.metrics[0].d_hit.lo, 0);
    EXPECT_EQ(seg.metrics[0].d_hit.hi, 0);
  }
  // Two clean clusters: the factor model must beat popularity order for the
  // users it knows.
  const SegmentReport& known = r->segments[1];
  EXPECT_GT(known.metrics[2].ndcg.point, known.metrics[0].ndcg.point);
  EXPECT_GT(known.metrics[2].d_ndcg.lo, 0);
}

// Categories across the clusters: "g<(15 c + i) % 10>" for product i of
// cluster c, so each of the 10 categories has 3 of the 30 products.
ItemCategoryMap TenCategories() {
  ItemCategoryMap m;
  for (int c = 0; c < 2; ++c) {
    for (int i = 0; i < 15; ++i) {
      m[absl::StrCat("c", c, "_", i)] = absl::StrCat("g", (15 * c + i) % 10);
    }
  }
  return m;
}

TEST(EvaluatorTest, BeyondAccuracyMetricsPerStrategy) {
  const InteractionLog log = GeneratedLog();
  EvalOptions o = SmallOptions();
  o.item_categories = TenCategories();
  auto no_mmr = ParseScoringVariants("full+mmr1=mmr:1");
  ASSERT_TRUE(no_mmr.ok()) << no_mmr.status();
  o.variants.push_back((*no_mmr)[0]);
  auto r = RunEvaluation(log, o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->strategies.size(), 11u);
  EXPECT_TRUE(r->model_has_categories);
  EXPECT_EQ(r->model_categorized_items, r->model_items);
  const int full = kFullStrategy, cap2 = 9, mmr1 = 10;
  ASSERT_EQ(r->strategies[cap2].name, "full+cap2");
  for (const CaseRecord& c : r->cases) {
    ASSERT_EQ(c.ild.size(), 11u);
    ASSERT_EQ(c.coverage.size(), 11u);
    for (size_t s = 0; s < 11; ++s) {
      // 21 candidates, at most the true item unknown to the model: ILD is
      // always defined.
      EXPECT_GE(c.ild[s], 0.0);
      EXPECT_LE(c.ild[s], 2.0);
      // No category has more than 3 products.
      EXPECT_GE(c.coverage[s], 0.4);
      EXPECT_LE(c.coverage[s], 1.0);
    }
    // At most 2 per category in the first 10 (21 candidates over categories
    // of <= 3 products leave enough), so >= 5 categories; and the cap keeps
    // the first item of every category full showed, so it never covers
    // less than full.
    EXPECT_GE(c.coverage[cap2], 0.5);
    EXPECT_GE(c.coverage[cap2], c.coverage[full]);
    // lambda = 1 is documented as "off": exactly the full order.
    EXPECT_EQ(c.ranks[mmr1], c.ranks[full]);
    EXPECT_EQ(c.ild[mmr1], c.ild[full]);
  }
  const SegmentReport& all = r->segments[0];
  EXPECT_EQ(all.metrics[full].ild_cases, all.cases);
  // Paired differences of full to itself are exactly 0.
  EXPECT_EQ(all.metrics[full].f_ndcg.lo, 0);
  EXPECT_EQ(all.metrics[full].f_ild.hi, 0);
  EXPECT_GE(all.metrics[cap2].f_coverage.lo, 0);
  // MMR at 0.4 trades relevance for spread: more diverse than full.
  EXPECT_GT(all.metrics[6].ild.point, all.metrics[full].ild.point);
  for (int s = 0; s < 9; ++s) {
    EXPECT_GT(all.metrics[s].catalog_coverage, 0);
    EXPECT_LE(all.metrics[s].catalog_coverage, 1);
    // A segment's items are a subset of all cases' items.
    for (const SegmentReport& seg : r->segments) {
      if (seg.cases == 0) continue;
      EXPECT_LE(seg.metrics[s].catalog_coverage,
                all.metrics[s].catalog_coverage);
    }
  }
}

TEST(EvaluatorTest, CategoryCoverageIsUndefinedWithoutCategories) {
  const InteractionLog log = GeneratedLog();
  EvalOptions o = SmallOptions();
  o.bootstrap = 50;
  auto r = RunEvaluation(log, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->model_has_categories);
  for (const StrategyMetrics& m : r->segments[0].metrics) {
    EXPECT_TRUE(std::isnan(m.coverage.point));
    EXPECT_FALSE(std::isnan(m.ild.point));
  }
  EXPECT_THAT(EvalReportToJson(*r),
              HasSubstr("\"category_coverage\": {\"point\": null"));
}

TEST(EvaluatorTest, UserLevelBootstrapIsReproducibleAndContainsThePoint) {
  const InteractionLog log = GeneratedLog();
  EvalOptions o = SmallOptions();
  o.bootstrap_unit = BootstrapUnit::kUser;
  auto a = RunEvaluation(log, o);
  auto b = RunEvaluation(log, o);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(JsonWithoutTimings(*a), JsonWithoutTimings(*b));
  EXPECT_THAT(EvalReportToJson(*a), HasSubstr("\"bootstrap_unit\": \"user\""));
  for (const StrategyMetrics& m : a->segments[0].metrics) {
    EXPECT_LE(m.hit.lo, m.hit.point + 1e-12);
    EXPECT_GE(m.hit.hi, m.hit.point - 1e-12);
  }
}

TEST(EvaluatorTest, UserFilterAndCap) {
  const InteractionLog log = GeneratedLog();
  EvalOptions o = SmallOptions();
  o.users = UserFilter::kCold;
  o.max_test_cases = 0;
  auto r = RunEvaluation(log, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sampled_cases, r->eligible_cases);
  for (const CaseRecord& c : r->cases) EXPECT_FALSE(c.known_user);
  o.users = UserFilter::kKnown;
  r = RunEvaluation(log, o);
  ASSERT_TRUE(r.ok());
  for (const CaseRecord& c : r->cases) EXPECT_TRUE(c.known_user);
}

TEST(EvaluatorTest, EvaluatesAGivenModel) {
  const InteractionLog log = GeneratedLog();
  EvalOptions o = SmallOptions();
  // A model trained on the whole log (optimistic, but this only checks the
  // plumbing).
  const InteractionMatrix m = *BuildInteractionMatrix(log.interactions);
  TrainOptions t = o.train;
  t.model_version = "given-1";
  auto data = TrainModelData(m, t, nullptr, nullptr);
  ASSERT_TRUE(data.ok());
  std::shared_ptr<const ModelSnapshot> model =
      std::move(*ModelSnapshot::FromData(std::move(*data)));
  auto r = RunEvaluation(log, o, model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->model_version, "given-1");
  EXPECT_EQ(r->model_users, m.num_users());
}

TEST(EvaluatorTest, RefusesBadOptions) {
  const InteractionLog log = GeneratedLog();
  EvalOptions o = SmallOptions();
  o.num_candidates = 0;
  EXPECT_FALSE(RunEvaluation(log, o).ok());
  o = SmallOptions();
  o.split.split_time = kLogStart - kDay;  // nothing to train on
  auto r = RunEvaluation(log, o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("0 train"));
  o = SmallOptions();
  o.variants.push_back(o.variants.front());  // duplicate name
  EXPECT_FALSE(RunEvaluation(log, o).ok());
  o = SmallOptions();
  ScoringVariant bad;
  bad.name = "bad_cap";
  bad.rules.add_caps()->set_max_items(2);  // no field
  o.variants.push_back(bad);
  r = RunEvaluation(log, o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("variant bad_cap: rules.caps[0]"));
}

TEST(ScoringVariantsTest, DefaultsShowTheDiversityTradeOff) {
  const std::vector<ScoringVariant> v = DefaultScoringVariants();
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0].name, "full_no_demotion");
  EXPECT_EQ(v[1].name, "formula_base0");
  EXPECT_EQ(v[1].overrides.base_weight(), 0);
  EXPECT_EQ(v[2].name, "formula_boosts_only");
  EXPECT_EQ(v[2].overrides.factor_weight(), 0);
  EXPECT_EQ(v[3].name, "full+mmr0.7");
  EXPECT_EQ(v[3].rules.diversity().lambda(), 0.7);
  EXPECT_EQ(v[3].rules.diversity().top(), 10u);
  EXPECT_EQ(v[4].name, "full+mmr0.4");
  EXPECT_EQ(v[4].rules.diversity().lambda(), 0.4);
  EXPECT_EQ(v[5].name, "full+cap2");
  ASSERT_EQ(v[5].rules.caps_size(), 1);
  EXPECT_EQ(v[5].rules.caps(0).field(), v1::CAP_FIELD_CATEGORY);
  EXPECT_EQ(v[5].rules.caps(0).max_items(), 2);
  EXPECT_EQ(v[5].rules.caps(0).within_top(), 10);
  EXPECT_EQ(v[5].description,
            "Rerank, server weights with rules: at most 2 per category within "
            "the top 10");
  EXPECT_EQ(v[3].description,
            "Rerank, server weights with rules: MMR diversity lambda=0.7 over "
            "the top 10 (pool 50)");
}

TEST(ScoringVariantsTest, ParsesDiversityAndCapParts) {
  auto v = ParseScoringVariants(
      R"(full+mmr0.5=mmr:0.5; nobase+cap3={"base_weight": 0}+cap:3:20;)"
      R"( m=mmr:0.2:5:30 + cap:1)");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 3u);
  EXPECT_EQ((*v)[0].name, "full+mmr0.5");
  EXPECT_EQ((*v)[0].rules.diversity().lambda(), 0.5);
  EXPECT_FALSE((*v)[0].rules.diversity().has_top());
  EXPECT_EQ((*v)[0].overrides.ByteSizeLong(), 0u);
  EXPECT_EQ((*v)[1].name, "nobase+cap3");
  EXPECT_EQ((*v)[1].overrides.base_weight(), 0);
  ASSERT_EQ((*v)[1].rules.caps_size(), 1);
  EXPECT_EQ((*v)[1].rules.caps(0).field(), v1::CAP_FIELD_CATEGORY);
  EXPECT_EQ((*v)[1].rules.caps(0).max_items(), 3);
  EXPECT_EQ((*v)[1].rules.caps(0).within_top(), 20);
  EXPECT_THAT((*v)[1].description, HasSubstr("base_weight"));
  EXPECT_THAT((*v)[1].description,
              HasSubstr("at most 3 per category within the top 20"));
  EXPECT_EQ((*v)[2].rules.diversity().top(), 5u);
  EXPECT_EQ((*v)[2].rules.diversity().pool(), 30u);
  // WITHIN defaults to 10.
  EXPECT_EQ((*v)[2].rules.caps(0).within_top(), 10);
}

TEST(ScoringVariantsTest, RulesPartTakesAnyRulesJson) {
  auto v = ParseScoringVariants(
      R"(b=rules:{"exclude_categories": ["a;b+c"]}+{"base_weight": 1e+0})");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 1u);
  ASSERT_EQ((*v)[0].rules.exclude_categories_size(), 1);
  EXPECT_EQ((*v)[0].rules.exclude_categories(0), "a;b+c");
  EXPECT_EQ((*v)[0].overrides.base_weight(), 1);
}

TEST(ScoringVariantsTest, ErrorsNameTheVariantAndThePart) {
  auto message = [](absl::string_view spec) {
    auto v = ParseScoringVariants(spec);
    return v.ok() ? std::string("ok") : std::string(v.status().message());
  };
  EXPECT_EQ(message("m=mmr:1.5"),
            "variant m: 'mmr:1.5': lambda '1.5' is not a number in [0, 1]");
  EXPECT_EQ(message("m=mmr:0.5:0"),
            "variant m: 'mmr:0.5:0': top '0' is not an integer >= 1");
  EXPECT_EQ(message("c=cap:x"),
            "variant c: 'cap:x': MAX 'x' is not an integer >= 0");
  EXPECT_EQ(message("c=cap:2:0"),
            "variant c: 'cap:2:0': WITHIN '0' is not an integer >= 1");
  EXPECT_THAT(message("c=cap:2+mmx:3"), HasSubstr("unknown part 'mmx:3'"));
  EXPECT_THAT(message("c=cap:2+"), HasSubstr("variant c: a part is missing"));
  EXPECT_THAT(message(R"(c={"base_weight": 0}{"x": 1})"),
              HasSubstr("variant c: expected '+', ';' or the end"));
  EXPECT_THAT(message(R"(c={"base_weight": 0}+{"factor_weight": 0})"),
              HasSubstr("second {ScoringParams JSON} part"));
  EXPECT_THAT(message(R"(c={"base_weight": 0)"),
              HasSubstr("not a complete JSON object"));
  EXPECT_THAT(message(R"(c=rules:{"nope": 1})"),
              HasSubstr("variant c: rules:"));
  // Validated like a request's rules: pool below top.
  EXPECT_THAT(message("m=mmr:0.5:10:5"),
              HasSubstr("variant m: rules.diversity"));
  EXPECT_THAT(message("a*b=cap:2"), HasSubstr("[A-Za-z0-9_.+-]+"));
  EXPECT_THAT(message("nothing"), HasSubstr("variant 'nothing' is not"));
}

TEST(ScoringVariantsTest, ParsesNamedOverrides) {
  auto v = ParseScoringVariants(
      R"(full_no_base={"base_weight": 0}; nb1 = {"neighborWeight": 1})");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0].name, "full_no_base");
  EXPECT_TRUE((*v)[0].overrides.has_base_weight());
  EXPECT_EQ((*v)[0].overrides.base_weight(), 0);
  EXPECT_FALSE((*v)[0].overrides.has_purchase_demotion());
  EXPECT_EQ((*v)[1].name, "nb1");
  EXPECT_EQ((*v)[1].overrides.neighbor_weight(), 1);
  EXPECT_THAT((*v)[0].description, HasSubstr("base_weight"));
  EXPECT_TRUE(ParseScoringVariants("")->empty());
  EXPECT_FALSE(ParseScoringVariants("x").ok());
  EXPECT_FALSE(ParseScoringVariants(R"(a b={"base_weight": 0})").ok());
  EXPECT_FALSE(ParseScoringVariants(R"(a={"nope": 0})").ok());
}

TEST(ScoringConfigTest, ReadsTheScoringObjectOfAServerConfig) {
  auto w = ScoringWeightsFromConfigJson(
      R"({"listen_address": "127.0.0.1:1", "scoring": {"purchase_demotion": 0,
          "halfLifeSeconds": 60}})",
      "test.json");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->purchase_demotion, 0);
  EXPECT_EQ(w->half_life_seconds, 60);
  EXPECT_EQ(w->base_weight, ScoringWeights{}.base_weight);
  EXPECT_FALSE(
      ScoringWeightsFromConfigJson(R"({"scoring": {"x": 1}})", "t").ok());
  EXPECT_FALSE(
      ScoringWeightsFromConfigJson(R"({"scoring": {"session_blend": 2}})", "t")
          .ok());
}

}  // namespace
}  // namespace rerank
