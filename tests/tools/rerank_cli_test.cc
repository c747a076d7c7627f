#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "rerank/v1/rerank.grpc.pb.h"
#include "tools/rerank_cli_lib.h"

namespace rerank {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int64_t kNow = 1'700'000'000'000;

// gmock's string matchers need std::string, and Debian's absl::string_view
// is its own type rather than std::string_view.
std::string MessageOf(const absl::Status& status) {
  return std::string(status.message());
}
template <typename T>
std::string MessageOf(const absl::StatusOr<T>& status_or) {
  return MessageOf(status_or.status());
}

// ---------------------------------------------------------------------------
// Events.
// ---------------------------------------------------------------------------

TEST(ParseEventsTest, RelativeTimesAreSubtractedFromNow) {
  absl::StatusOr<std::vector<v1::Event>> events = ParseEvents(
      "VIEW:85123A@-60s,ADD_TO_CART:71053@-5m,CLICK:a@-2h,PURCHASE:b@-1d",
      kNow);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[0].type(), v1::EVENT_TYPE_VIEW);
  EXPECT_EQ((*events)[0].item_id(), "85123A");
  EXPECT_EQ((*events)[0].timestamp_ms(), kNow - 60'000);
  EXPECT_EQ((*events)[1].type(), v1::EVENT_TYPE_ADD_TO_CART);
  EXPECT_EQ((*events)[1].item_id(), "71053");
  EXPECT_EQ((*events)[1].timestamp_ms(), kNow - 300'000);
  EXPECT_EQ((*events)[2].timestamp_ms(), kNow - 2 * 3'600'000);
  EXPECT_EQ((*events)[3].timestamp_ms(), kNow - 86'400'000);
}

TEST(ParseEventsTest, AbsoluteMillisecondsAreUsedAsIs) {
  auto events = ParseEvents("PURCHASE:84029G@1700000000123", 5);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type(), v1::EVENT_TYPE_PURCHASE);
  EXPECT_EQ((*events)[0].item_id(), "84029G");
  EXPECT_EQ((*events)[0].timestamp_ms(), 1700000000123);
}

TEST(ParseEventsTest, MissingTimeMeansNow) {
  auto events = ParseEvents("view:a", kNow);
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ((*events)[0].timestamp_ms(), kNow);
}

TEST(ParseEventsTest, TypeIsCaseInsensitiveAndPrefixIsOptional) {
  auto events = ParseEvents(
      "view:a,Add_To_Wishlist:b,EVENT_TYPE_CLICK:c,event_type_purchase:d",
      kNow);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[0].type(), v1::EVENT_TYPE_VIEW);
  EXPECT_EQ((*events)[1].type(), v1::EVENT_TYPE_ADD_TO_WISHLIST);
  EXPECT_EQ((*events)[2].type(), v1::EVENT_TYPE_CLICK);
  EXPECT_EQ((*events)[3].type(), v1::EVENT_TYPE_PURCHASE);
}

TEST(ParseEventsTest, EmptySpecIsNoEvents) {
  auto events = ParseEvents("", kNow);
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());
}

TEST(ParseEventsTest, SpacesAroundEntriesAreIgnored) {
  auto events = ParseEvents(" VIEW:a@-1s , CLICK:b ", kNow);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].item_id(), "b");
}

TEST(ParseEventsTest, UnknownTypeIsNamedWithEntryIndexAndValidTypes) {
  auto events = ParseEvents("VIEW:a,BUY:b@-1s", kNow);
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(events),
              AllOf(HasSubstr("--events[1] \"BUY:b@-1s\""),
                    HasSubstr("unknown event type \"BUY\""),
                    HasSubstr("VIEW, CLICK, ADD_TO_CART, PURCHASE, "
                              "ADD_TO_WISHLIST")));
}

TEST(ParseEventsTest, UnspecifiedTypeIsRefused) {
  auto events = ParseEvents("UNSPECIFIED:a", kNow);
  ASSERT_FALSE(events.ok());
  EXPECT_THAT(MessageOf(events), HasSubstr("\"UNSPECIFIED\""));
}

TEST(ParseEventsTest, UnknownTimeUnitIsNamed) {
  auto events = ParseEvents("VIEW:a@-5y", kNow);
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(events),
              AllOf(HasSubstr("--events[0]"), HasSubstr("unknown time unit "
                                                        "\"y\"")));
}

TEST(ParseEventsTest, MissingTypeSeparatorIsExplained) {
  auto events = ParseEvents("85123A", kNow);
  ASSERT_FALSE(events.ok());
  EXPECT_THAT(MessageOf(events), HasSubstr("TYPE:item_id[@time]"));
}

TEST(ParseEventsTest, EmptyItemIdAndStrayCommaAreRefused) {
  EXPECT_THAT(MessageOf(ParseEvents("VIEW:@-1s", kNow)),
              HasSubstr("empty item id"));
  EXPECT_THAT(MessageOf(ParseEvents("VIEW:a,", kNow)),
              AllOf(HasSubstr("--events[1]"), HasSubstr("empty entry")));
}

TEST(ParseEventTimeTest, UnsignedWithUnitMeansAgoAndPlusMeansFuture) {
  EXPECT_EQ(*ParseEventTime("60s", kNow), kNow - 60'000);
  EXPECT_EQ(*ParseEventTime("+30s", kNow), kNow + 30'000);
  EXPECT_EQ(*ParseEventTime("-250ms", kNow), kNow - 250);
  EXPECT_EQ(*ParseEventTime("-1.5h", kNow), kNow - 5'400'000);
}

TEST(ParseEventTimeTest, RelativeTimeWithoutUnitIsRefused) {
  auto t = ParseEventTime("-60", kNow);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(MessageOf(t), HasSubstr("needs a unit"));
}

TEST(ParseEventTimeTest, FractionalAbsoluteAndHugeOffsetsAreRefused) {
  EXPECT_FALSE(ParseEventTime("1700000000000.5", kNow).ok());
  EXPECT_THAT(MessageOf(ParseEventTime("-99999999999d", kNow)),
              HasSubstr("out of range"));
  EXPECT_THAT(MessageOf(ParseEventTime("", kNow)), HasSubstr("empty time"));
  EXPECT_THAT(MessageOf(ParseEventTime("-s", kNow)), HasSubstr("no number"));
}

// ---------------------------------------------------------------------------
// Candidates.
// ---------------------------------------------------------------------------

TEST(ParseCandidatesTest, IdsWithAndWithoutBaseScores) {
  auto candidates = ParseCandidates("85123A:0.9,71053,84406B:-1.5e-1");
  ASSERT_TRUE(candidates.ok()) << candidates.status();
  ASSERT_EQ(candidates->size(), 3u);
  EXPECT_EQ((*candidates)[0].item_id(), "85123A");
  EXPECT_TRUE((*candidates)[0].has_base_score());
  EXPECT_DOUBLE_EQ((*candidates)[0].base_score(), 0.9);
  EXPECT_EQ((*candidates)[1].item_id(), "71053");
  // Absent, not 0: the server distinguishes "no score" from a score of 0.
  EXPECT_FALSE((*candidates)[1].has_base_score());
  EXPECT_DOUBLE_EQ((*candidates)[2].base_score(), -0.15);
}

TEST(ParseCandidatesTest, NonNumericOrNonFiniteBaseScoreIsNamed) {
  auto bad = ParseCandidates("a,b:high");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(bad), AllOf(HasSubstr("--candidates[1] \"b:high\""),
                                    HasSubstr("base score \"high\"")));
  EXPECT_FALSE(ParseCandidates("a:nan").ok());
  EXPECT_FALSE(ParseCandidates("a:inf").ok());
}

TEST(ParseCandidatesTest, EmptyIdIsRefused) {
  EXPECT_THAT(MessageOf(ParseCandidates(":0.5")), HasSubstr("empty item id"));
  EXPECT_THAT(MessageOf(ParseCandidates("a,,b")), HasSubstr("--candidates[1]"));
}

// ---------------------------------------------------------------------------
// Overrides.
// ---------------------------------------------------------------------------

TEST(ApplyOverridesTest, SetsScoringParamsFieldsByName) {
  v1::ScoringParams params;
  ASSERT_TRUE(ApplyOverrides("half_life_seconds=600, factor_weight=2,"
                             "keep_out_of_stock=true",
                             &params)
                  .ok());
  EXPECT_TRUE(params.has_half_life_seconds());
  EXPECT_DOUBLE_EQ(params.half_life_seconds(), 600);
  EXPECT_DOUBLE_EQ(params.factor_weight(), 2);
  EXPECT_TRUE(params.keep_out_of_stock());
  // Untouched fields stay unset so the server keeps its config for them.
  EXPECT_FALSE(params.has_base_weight());
}

TEST(ApplyOverridesTest, UnknownNameListsValidNames) {
  v1::ScoringParams params;
  absl::Status status = ApplyOverrides("half_life=600", &params);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status),
              AllOf(HasSubstr("unknown ScoringParams field \"half_life\""),
                    HasSubstr("base_weight"), HasSubstr("half_life_seconds"),
                    HasSubstr("keep_out_of_stock")));
}

TEST(ApplyOverridesTest, BadValuesMissingEqualsAndDuplicatesAreRefused) {
  v1::ScoringParams params;
  EXPECT_THAT(MessageOf(ApplyOverrides("factor_weight=lots", &params)),
              HasSubstr("factor_weight=lots: expected a finite number"));
  EXPECT_THAT(MessageOf(ApplyOverrides("keep_out_of_stock=maybe", &params)),
              HasSubstr("expected true or false"));
  EXPECT_THAT(MessageOf(ApplyOverrides("factor_weight", &params)),
              HasSubstr("expected name=value"));
  EXPECT_THAT(MessageOf(ApplyOverrides("view_weight=1,view_weight=2", &params)),
              HasSubstr("\"view_weight\" is given twice"));
}

TEST(ApplyOverridesTest, EmptySpecChangesNothing) {
  v1::ScoringParams params;
  ASSERT_TRUE(ApplyOverrides("", &params).ok());
  EXPECT_EQ(params.ByteSizeLong(), 0u);
}

// ---------------------------------------------------------------------------
// JSON requests.
// ---------------------------------------------------------------------------

TEST(ParseRequestJsonTest, ParsesProtobufJsonMapping) {
  auto request = ParseRequestJson(R"({
    "requestId": "r1", "userId": "17850",
    "candidates": [{"itemId": "85123A", "baseScore": 0.5}],
    "events": [{"itemId": "71053", "type": "EVENT_TYPE_VIEW",
                "timestampMs": "1700000000000"}],
    "topK": 2, "overrides": {"halfLifeSeconds": 600}
  })");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->user_id(), "17850");
  EXPECT_EQ(request->candidates(0).item_id(), "85123A");
  EXPECT_EQ(request->events(0).type(), v1::EVENT_TYPE_VIEW);
  EXPECT_EQ(request->events(0).timestamp_ms(), 1700000000000);
  EXPECT_EQ(request->top_k(), 2u);
  EXPECT_DOUBLE_EQ(request->overrides().half_life_seconds(), 600);
}

TEST(ParseRequestJsonTest, SyntaxErrorIsInvalidArgument) {
  auto request = ParseRequestJson(R"({"userId": )");
  ASSERT_FALSE(request.ok());
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(request),
              HasSubstr("not a valid rerank.v1.RerankRequest"));
}

TEST(ParseRequestJsonTest, UnknownFieldIsAnErrorNamingIt) {
  auto request = ParseRequestJson(R"({"userID": "17850"})");
  ASSERT_FALSE(request.ok());
  EXPECT_THAT(MessageOf(request), HasSubstr("userID"));
}

TEST(ParseRequestJsonTest, BadEnumAndEmptyInputAreErrors) {
  EXPECT_FALSE(
      ParseRequestJson(R"({"events": [{"itemId": "a", "type": "VIEW"}]})")
          .ok());
  EXPECT_THAT(MessageOf(ParseRequestJson("  \n")), HasSubstr("empty"));
}

// ---------------------------------------------------------------------------
// Building requests.
// ---------------------------------------------------------------------------

TEST(BuildRequestFromFlagsTest, FillsEveryFieldFromFlags) {
  CliRequestFlags flags;
  flags.user_id = "17850";
  flags.candidates = "85123A:0.9,71053";
  flags.events = "VIEW:85123A@-60s";
  flags.top_k = 1;
  flags.request_id = "req-1";
  flags.overrides = "half_life_seconds=600";
  auto request = BuildRequestFromFlags(flags, kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->request_id(), "req-1");
  EXPECT_EQ(request->user_id(), "17850");
  EXPECT_EQ(request->candidates_size(), 2);
  EXPECT_EQ(request->events(0).timestamp_ms(), kNow - 60'000);
  EXPECT_EQ(request->top_k(), 1u);
  EXPECT_TRUE(request->explain());
  // No --now_ms: the server scores at its own clock.
  EXPECT_EQ(request->now_ms(), 0);
  EXPECT_DOUBLE_EQ(request->overrides().half_life_seconds(), 600);
}

TEST(BuildRequestFromFlagsTest, NowMsFlagIsSentAndAnchorsRelativeEvents) {
  CliRequestFlags flags;
  flags.candidates = "a";
  flags.events = "VIEW:a@-1m";
  flags.now_ms = 1000000;
  auto request = BuildRequestFromFlags(flags, kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->now_ms(), 1000000);
  EXPECT_EQ(request->events(0).timestamp_ms(), 1000000 - 60'000);
}

TEST(BuildRequestFromFlagsTest, GeneratesRequestIdWhenNotGiven) {
  CliRequestFlags flags;
  flags.candidates = "a";
  auto first = BuildRequestFromFlags(flags, kNow);
  auto second = BuildRequestFromFlags(flags, kNow);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_THAT(first->request_id(), StartsWith("cli-"));
  EXPECT_NE(first->request_id(), second->request_id());
}

TEST(BuildRequestFromFlagsTest, CandidatesAreRequired) {
  auto request = BuildRequestFromFlags(CliRequestFlags(), kNow);
  ASSERT_FALSE(request.ok());
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(request), HasSubstr("--candidates"));
}

TEST(BuildRerankRequestTest, JsonFromStdinIsAdjustedByCommonFlags) {
  CliOptions options;
  options.request_path = "-";
  options.request.top_k = 3;
  options.request.overrides = "factor_weight=2";
  std::istringstream in(
      R"({"requestId": "from-file", "candidates": [{"itemId": "a"}],
          "overrides": {"halfLifeSeconds": 60}})");
  auto request = BuildRerankRequest(options, in, kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->request_id(), "from-file");
  EXPECT_EQ(request->top_k(), 3u);
  EXPECT_TRUE(request->explain());
  EXPECT_DOUBLE_EQ(request->overrides().half_life_seconds(), 60);
  EXPECT_DOUBLE_EQ(request->overrides().factor_weight(), 2);
}

TEST(BuildRerankRequestTest, JsonErrorNamesTheSource) {
  CliOptions options;
  options.request_path = "-";
  std::istringstream in("{nope");
  auto request = BuildRerankRequest(options, in, kNow);
  ASSERT_FALSE(request.ok());
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(request), StartsWith("--request=-: "));
}

TEST(BuildRerankRequestTest, RequestFileCannotBeMixedWithCandidateFlags) {
  CliOptions options;
  options.request_path = "req.json";
  options.request.candidates = "a";
  std::istringstream in;
  auto request = BuildRerankRequest(options, in, kNow);
  ASSERT_FALSE(request.ok());
  EXPECT_THAT(MessageOf(request), HasSubstr("cannot be combined"));
}

TEST(BuildRerankRequestTest, MissingFileIsNotFound) {
  CliOptions options;
  options.request_path = "/nonexistent/req.json";
  std::istringstream in;
  auto request = BuildRerankRequest(options, in, kNow);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(request), HasSubstr("/nonexistent/req.json"));
}

// ---------------------------------------------------------------------------
// Formatting.
// ---------------------------------------------------------------------------

// Two items: one known with a direct and a neighbour boost, one unknown to
// the model that was purchased; an unknown user with two fallbacks.
v1::RerankResponse SampleResponse() {
  v1::RerankResponse response;
  response.set_request_id("cli-abc");
  response.set_model_version("als64-2026-11-28");
  response.set_user_known(false);
  response.add_fallbacks(v1::FALLBACK_UNKNOWN_USER);
  response.add_fallbacks(v1::FALLBACK_UNKNOWN_CANDIDATES);
  response.set_now_ms(kNow);
  v1::RerankStats* stats = response.mutable_stats();
  stats->set_candidates_received(3);
  stats->set_unknown_candidates(1);
  stats->set_duplicate_candidates(1);
  stats->set_events_received(2);
  stats->set_future_events_clamped(1);

  v1::RankedItem* first = response.add_items();
  first->set_item_id("71053");
  first->set_score(1.2345);
  first->set_input_position(1);
  v1::Explanation* ex = first->mutable_explanation();
  ex->set_base(0.5);
  ex->set_factor(0.6);
  ex->set_known_item(true);
  ex->set_category("mugs");
  v1::Boost* direct = ex->add_boosts();
  direct->set_event_item_id("71053");
  direct->set_event_type(v1::EVENT_TYPE_ADD_TO_CART);
  direct->set_age_ms(300'000);
  direct->set_decay(0.89);
  direct->set_type_weight(0.5);
  direct->set_direct(1);
  direct->set_contribution(0.445);
  v1::Boost* neighbour = ex->add_boosts();
  neighbour->set_event_item_id("85123A");
  neighbour->set_event_type(v1::EVENT_TYPE_VIEW);
  neighbour->set_age_ms(60'000);
  neighbour->set_decay(0.98);
  neighbour->set_type_weight(0.1);
  neighbour->set_direct(0);
  neighbour->set_similarity(0.42);
  // 0.98 * 0.1 * (0 + 0.5 * 0.42): w_nb = 0.5 must be recovered.
  neighbour->set_contribution(0.98 * 0.1 * 0.5 * 0.42);
  ex->set_boost_total(0.445 + 0.98 * 0.1 * 0.5 * 0.42);

  v1::RankedItem* second = response.add_items();
  second->set_item_id("84406B");
  second->set_score(-4.8);
  second->set_input_position(2);
  v1::Explanation* ex2 = second->mutable_explanation();
  ex2->set_base(0.2);
  ex2->set_known_item(false);
  ex2->set_purchase_demotion(-5);
  return response;
}

TEST(FormatResponseTableTest, HasHeaderAndOneRowPerItemWithValues) {
  const std::string table =
      FormatResponseTable(SampleResponse(), absl::Microseconds(3214));
  EXPECT_THAT(table, HasSubstr("rank  item_id  category       score    pos"
                               "        base      factor      boosts\n"));
  EXPECT_THAT(table, HasSubstr("   1  71053    mugs          1.2345      1"
                               "      0.5000      0.6000     +0.4656\n"));
  EXPECT_THAT(table, HasSubstr("   2  84406B*               -4.8000      2"
                               "      0.2000      0.0000     +0.0000\n"));
}

TEST(FormatResponseTableTest, ShowsBoostFormulaLinesUnderTheirItem) {
  const std::string table =
      FormatResponseTable(SampleResponse(), absl::Milliseconds(3));
  EXPECT_THAT(table,
              HasSubstr("      ← ADD_TO_CART 71053 5m ago: decay 0.89 × w 0.50 "
                        "× (direct 1) = +0.4450\n"));
  EXPECT_THAT(table,
              HasSubstr("      ← VIEW 85123A 60s ago: decay 0.98 × w 0.10 × "
                        "(direct 0 + 0.50 × sim 0.42) = +0.0206\n"));
  EXPECT_THAT(table, HasSubstr("      ↓ purchased: demotion -5.0000\n"));
  EXPECT_THAT(table, HasSubstr("* not in the model"));
  // Boost lines belong to the first item, the demotion to the second.
  EXPECT_LT(table.find("← VIEW"), table.find("   2  84406B"));
  EXPECT_GT(table.find("↓ purchased"), table.find("   2  84406B"));
}

TEST(FormatResponseTableTest, FooterHasModelUserFallbacksStatsNowAndLatency) {
  const std::string table =
      FormatResponseTable(SampleResponse(), absl::Microseconds(3214));
  EXPECT_THAT(table, HasSubstr("model       als64-2026-11-28\n"));
  EXPECT_THAT(table, HasSubstr("user        unknown\n"));
  EXPECT_THAT(table,
              HasSubstr("fallbacks   UNKNOWN_USER, UNKNOWN_CANDIDATES\n"));
  EXPECT_THAT(table, HasSubstr("candidates  3 received, 2 returned, 1 unknown, "
                               "1 duplicate, 0 dropped\n"));
  EXPECT_THAT(table, HasSubstr("events      2 received, 0 unknown, 0 dropped "
                               "(too old), 1 clamped (future)\n"));
  EXPECT_THAT(table, HasSubstr("now_ms      1700000000000 "
                               "(2023-11-14T22:13:20.000Z, server)\n"));
  EXPECT_THAT(table, HasSubstr("latency     3.214ms"));
  EXPECT_THAT(table, HasSubstr("request_id  cli-abc\n"));
}

TEST(FormatResponseTableTest, WithoutExplanationsShowsDashesAndAHint) {
  v1::RerankResponse response;
  response.set_user_known(true);
  v1::RankedItem* item = response.add_items();
  item->set_item_id("a");
  item->set_score(1);
  const std::string table = FormatResponseTable(response, absl::ZeroDuration());
  EXPECT_THAT(table, HasSubstr("   1  a            1.0000      0"
                               "           -           -           -\n"));
  // Server always sets now_ms; an epoch-0 date would only mislead.
  EXPECT_THAT(table, HasSubstr("now_ms      0 (unset)\n"));
  EXPECT_THAT(table, HasSubstr("run with --explain"));
  EXPECT_THAT(table, HasSubstr("user        known\n"));
  EXPECT_THAT(table, HasSubstr("fallbacks   none\n"));
  EXPECT_THAT(table, Not(HasSubstr("category")));
}

TEST(FormatResponseTableTest, ShowsReasonsRemovedItemsProfileAndRuleCounts) {
  v1::RerankResponse response = SampleResponse();
  v1::Reason* boosted = response.mutable_items(0)->add_reasons();
  boosted->set_code(v1::REASON_CODE_BOOSTED);
  boosted->set_rule("xmas");
  boosted->set_score_delta(0.5);
  v1::Reason* pinned = response.mutable_items(1)->add_reasons();
  pinned->set_code(v1::REASON_CODE_PINNED);
  pinned->set_rule("rules.pins[0]");
  pinned->set_from_position(4);
  pinned->set_to_position(1);
  v1::RemovedItem* removed = response.add_removed();
  removed->set_item_id("22423");
  removed->set_input_position(3);
  removed->mutable_reason()->set_code(v1::REASON_CODE_EXCLUDED_CATEGORY);
  removed->mutable_reason()->set_rule("rules.exclude_categories");
  response.set_profile("home");
  v1::ReasonCount* count = response.mutable_stats()->add_reasons();
  count->set_code(v1::REASON_CODE_BOOSTED);
  count->set_count(1);
  const std::string table =
      FormatResponseTable(response, absl::Microseconds(10));
  EXPECT_THAT(table, HasSubstr("      ⚑ BOOSTED by xmas: +0.5000\n"));
  EXPECT_THAT(table,
              HasSubstr("      ⚑ PINNED by rules.pins[0]: rank 5 -> 2\n"));
  EXPECT_THAT(table,
              HasSubstr("removed:\n      22423 (pos 3): ⚑ "
                        "EXCLUDED_CATEGORY by rules.exclude_categories\n"));
  EXPECT_THAT(table, HasSubstr("profile     home\n"));
  EXPECT_THAT(table, HasSubstr("rules       BOOSTED 1\n"));
  EXPECT_LT(table.find("BOOSTED by xmas"), table.find("   2  84406B"));
}

TEST(BuildRequestFromFlagsTest, ProfileRulesAndRemovedAreSent) {
  CliRequestFlags flags;
  flags.candidates = "a,b";
  flags.profile = "cart";
  flags.rules = R"({"excludeItems":["a"],"pins":[{"itemId":"b","slot":0}]})";
  flags.return_removed = true;
  absl::StatusOr<v1::RerankRequest> request =
      BuildRequestFromFlags(flags, kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->profile(), "cart");
  EXPECT_TRUE(request->return_removed());
  ASSERT_EQ(request->rules().exclude_items_size(), 1);
  EXPECT_EQ(request->rules().pins(0).item_id(), "b");
}

TEST(BuildRequestFromFlagsTest, RankerFlagIsSentAndUnsetLeavesServerDefault) {
  CliRequestFlags flags;
  flags.candidates = "a";
  absl::StatusOr<v1::RerankRequest> request =
      BuildRequestFromFlags(flags, kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->ranker(), v1::RANKER_KIND_UNSPECIFIED);
  const std::pair<const char*, v1::RankerKind> kCases[] = {
      {"formula", v1::RANKER_KIND_FORMULA},
      {"linear", v1::RANKER_KIND_LINEAR},
      {"gbdt", v1::RANKER_KIND_GBDT},
      {"GBDT", v1::RANKER_KIND_GBDT}};
  for (const auto& [name, kind] : kCases) {
    flags.ranker = name;
    request = BuildRequestFromFlags(flags, kNow);
    ASSERT_TRUE(request.ok()) << name << ": " << request.status();
    EXPECT_EQ(request->ranker(), kind) << name;
  }
}

TEST(BuildRequestFromFlagsTest, BadRankerIsRefusedNamingTheFlagAndValues) {
  CliRequestFlags flags;
  flags.candidates = "a";
  for (const char* bad : {"xgboost", "unspecified", "RANKER_KIND_GBDT"}) {
    flags.ranker = bad;
    const absl::Status status = BuildRequestFromFlags(flags, kNow).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(status.message()),
                AllOf(StartsWith(absl::StrCat("--ranker=", bad, ": ")),
                      HasSubstr("formula, linear or gbdt")));
  }
}

TEST(BuildRerankRequestTest, RankerFlagReplacesTheFilesRanker) {
  CliOptions options;
  options.request_path = "-";
  options.request.ranker = "linear";
  std::istringstream in(
      R"({"candidates": [{"itemId": "a"}], "ranker": "RANKER_KIND_GBDT"})");
  auto request = BuildRerankRequest(options, in, kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->ranker(), v1::RANKER_KIND_LINEAR);
}

TEST(BuildRerankRequestTest, UserVectorFlagReplacesTheFilesVector) {
  CliOptions options;
  options.request_path = "-";
  options.request.user_vector = " 0.5, -1,2e-3 ";
  std::istringstream in(
      R"({"candidates": [{"itemId": "a"}], "userVector": [9, 9, 9, 9]})");
  auto request = BuildRerankRequest(options, in, kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_THAT(request->user_vector(), ElementsAre(0.5f, -1.0f, 2e-3f));
}

TEST(BuildRequestFromFlagsTest, UserVectorThatIsNotNumbersIsRefusedNamingIt) {
  CliRequestFlags flags;
  flags.candidates = "a";
  flags.user_vector = "1,x,3";
  auto request = BuildRequestFromFlags(flags, kNow);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(request.status().message(),
              HasSubstr("--user_vector: value 1 'x' is not a number"));
  flags.user_vector = "";
  request = BuildRequestFromFlags(flags, kNow);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->user_vector_size(), 0);
}

TEST(BuildRequestFromFlagsTest, BadRulesJsonIsRefusedNamingTheFlag) {
  CliRequestFlags flags;
  flags.candidates = "a";
  flags.rules = R"({"excludeItem":["a"]})";
  const absl::Status status = BuildRequestFromFlags(flags, kNow).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("--rules:"));
}

TEST(FormatResponseTableTest, EmptyResponseSaysNoItems) {
  EXPECT_THAT(FormatResponseTable(v1::RerankResponse(), absl::ZeroDuration()),
              HasSubstr("(no items)"));
}

void AddFeature(v1::Explanation* ex, absl::string_view name, double value,
                double contribution) {
  v1::FeatureContribution* feature = ex->add_features();
  feature->set_name(std::string(name));
  feature->set_value(value);
  feature->set_contribution(contribution);
}

// One item scored by the trees: bias 0.2, three non-zero contributions in
// feature order (not magnitude order), one zero one, and a boost rule.
v1::RerankResponse GbdtResponse() {
  v1::RerankResponse response;
  response.set_ranker(v1::RANKER_KIND_GBDT);
  response.set_model_version("gbdt-1");
  response.set_user_known(true);
  v1::RankedItem* item = response.add_items();
  item->set_item_id("71053");
  item->set_score(0.56);
  item->set_input_position(1);
  v1::Explanation* ex = item->mutable_explanation();
  ex->set_known_item(true);
  ex->set_ranker_bias(0.2);
  ex->set_rules(0.5);
  AddFeature(ex, "base_score", 0.9, 0.05);
  AddFeature(ex, "user_dot_z", 1.23, 0.41);
  AddFeature(ex, "popularity", 0.3, -0.6);
  AddFeature(ex, "item_known", 1, 0);
  v1::Reason* boosted = item->add_reasons();
  boosted->set_code(v1::REASON_CODE_BOOSTED);
  boosted->set_rule("xmas");
  boosted->set_score_delta(0.5);
  return response;
}

TEST(FormatResponseTableTest, LearnedRankerShowsRankerAndRulesColumns) {
  const std::string table =
      FormatResponseTable(GbdtResponse(), absl::ZeroDuration());
  EXPECT_THAT(table, StartsWith("ranker: gbdt\n"
                                "rank  item_id       score    pos"
                                "      ranker       rules\n"));
  // ranker = 0.2 + 0.05 + 0.41 - 0.6.
  EXPECT_THAT(table, HasSubstr("   1  71053        0.5600      1"
                               "      0.0600     +0.5000\n"));
  EXPECT_THAT(table, Not(HasSubstr("factor")));
  EXPECT_THAT(table, Not(HasSubstr("boosts")));
}

TEST(FormatResponseTableTest, LearnedRankerListsContributionsByMagnitude) {
  const std::string table =
      FormatResponseTable(GbdtResponse(), absl::ZeroDuration());
  // Largest |contribution| first, zero contributions left out, then the
  // rule reasons as for the formula.
  EXPECT_THAT(table, HasSubstr("      0.0600     +0.5000\n"
                               "      ← popularity = 0.3000: -0.6000\n"
                               "      ← user_dot_z = 1.2300: +0.4100\n"
                               "      ← base_score = 0.9000: +0.0500\n"
                               "      ⚑ BOOSTED by xmas: +0.5000\n"));
  EXPECT_THAT(table, Not(HasSubstr("item_known")));
}

TEST(FormatResponseTableTest, LearnedRankerShowsFiveFeaturesAndSumsTheRest) {
  v1::RerankResponse response = GbdtResponse();
  v1::Explanation* ex = response.mutable_items(0)->mutable_explanation();
  ex->clear_features();
  for (int i = 1; i <= 7; ++i) {
    AddFeature(ex, absl::StrCat("f", i), i, (i % 2 == 0 ? -0.1 : 0.1) * i);
  }
  const std::string table = FormatResponseTable(response, absl::ZeroDuration());
  EXPECT_THAT(table, HasSubstr("      ← f7 = 7.0000: +0.7000\n"
                               "      ← f6 = 6.0000: -0.6000\n"
                               "      ← f5 = 5.0000: +0.5000\n"
                               "      ← f4 = 4.0000: -0.4000\n"
                               "      ← f3 = 3.0000: +0.3000\n"
                               "      ← 2 more features: -0.1000\n"));
  EXPECT_THAT(table, Not(HasSubstr("← f2 ")));

  const std::string six =
      FormatResponseTable(response, absl::ZeroDuration(), 6);
  EXPECT_THAT(six, HasSubstr("      ← f2 = 2.0000: -0.2000\n"
                             "      ← 1 more feature: +0.1000\n"));
}

TEST(FormatResponseTableTest, LinearRankerIsNamedAndNoRankerFallbackSaid) {
  v1::RerankResponse response = GbdtResponse();
  response.set_ranker(v1::RANKER_KIND_LINEAR);
  EXPECT_THAT(FormatResponseTable(response, absl::ZeroDuration()),
              StartsWith("ranker: linear\nrank  item_id"));
  response.add_fallbacks(v1::FALLBACK_NO_RANKER);
  const std::string table = FormatResponseTable(response, absl::ZeroDuration());
  EXPECT_THAT(table, StartsWith("ranker: linear (fallback NO_RANKER: the "
                                "configured ranker is not in the model, so "
                                "the model's default served)\n"));
  EXPECT_THAT(table, HasSubstr("fallbacks   NO_RANKER\n"));
}

TEST(FormatResponseTableTest, FormulaRankerPrintsTheFormulaTableUnchanged) {
  v1::RerankResponse formula = SampleResponse();
  formula.set_ranker(v1::RANKER_KIND_FORMULA);
  formula.add_fallbacks(v1::FALLBACK_NO_RANKER);
  v1::RerankResponse unspecified = SampleResponse();
  unspecified.add_fallbacks(v1::FALLBACK_NO_RANKER);
  const std::string table = FormatResponseTable(formula, absl::ZeroDuration());
  EXPECT_EQ(table, FormatResponseTable(unspecified, absl::ZeroDuration()));
  EXPECT_THAT(table, StartsWith("rank  item_id"));
  EXPECT_THAT(table, HasSubstr("base      factor      boosts\n"));
  EXPECT_THAT(table, Not(HasSubstr("ranker")));
}

TEST(FormatResponseTableTest, LearnedRankerWithoutExplanationsShowsDashes) {
  v1::RerankResponse response = GbdtResponse();
  response.mutable_items(0)->clear_explanation();
  const std::string table = FormatResponseTable(response, absl::ZeroDuration());
  EXPECT_THAT(table, HasSubstr("   1  71053        0.5600      1"
                               "           -           -\n"));
  EXPECT_THAT(table, HasSubstr("run with --explain"));
}

TEST(FormatAgeTest, UsesReadableUnits) {
  EXPECT_EQ(FormatAge(0), "0ms");
  EXPECT_EQ(FormatAge(450), "450ms");
  EXPECT_EQ(FormatAge(60'000), "60s");
  EXPECT_EQ(FormatAge(90'000), "90s");
  EXPECT_EQ(FormatAge(300'000), "5m");
  EXPECT_EQ(FormatAge(5'400'000), "1h30m");
  EXPECT_EQ(FormatAge(3 * 86'400'000LL + 3'600'000), "3d1h");
}

TEST(FormatKeyValuesTest, PrintsEveryModelInfoFieldAlignedWithIsoTime) {
  v1::ModelInfo info;
  info.set_version("v2");
  info.set_dim(64);
  info.set_num_items(3684);
  info.set_loaded_at_ms(kNow);
  info.set_has_categories(true);
  const std::string text = FormatKeyValues(info);
  // Aligned to the longest key, num_complements.
  EXPECT_THAT(text, HasSubstr("version:         v2\n"));
  EXPECT_THAT(text, HasSubstr("dim:             64\n"));
  EXPECT_THAT(text, HasSubstr("num_users:       0\n"));
  EXPECT_THAT(text, HasSubstr("num_items:       3684\n"));
  EXPECT_THAT(text, HasSubstr("loaded_at_ms:    1700000000000 "
                              "(2023-11-14T22:13:20.000Z)\n"));
  EXPECT_THAT(text, HasSubstr("has_categories:  true\n"));
  EXPECT_THAT(text, HasSubstr("num_complements: 0\n"));
}

TEST(FormatKeyValuesTest, FlattensNestedMessages) {
  v1::ReloadResponse response;
  response.mutable_model()->set_version("v2");
  response.set_previous_version("v1");
  const std::string text = FormatKeyValues(response);
  EXPECT_THAT(text, HasSubstr("model.version:"));
  EXPECT_THAT(text, HasSubstr("previous_version:"));
}

TEST(FormatMessageJsonTest, IncludesDefaultsForScripts) {
  v1::RerankResponse response;
  response.set_model_version("v1");
  const std::string json = FormatMessageJson(response);
  EXPECT_THAT(json, HasSubstr("\"modelVersion\": \"v1\""));
  EXPECT_THAT(json, HasSubstr("\"userKnown\": false"));
}

// ---------------------------------------------------------------------------
// Exit codes and errors.
// ---------------------------------------------------------------------------

TEST(ExitCodeForTest, MapsInvalidArgumentTo2UnavailableTo3OthersTo1) {
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::OK), 0);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::INVALID_ARGUMENT), 2);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::UNAVAILABLE), 3);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::DEADLINE_EXCEEDED), 1);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::NOT_FOUND), 1);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::FAILED_PRECONDITION), 1);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::INTERNAL), 1);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInvalidArgument), 2);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnavailable), 3);
}

TEST(FormatErrorTest, NamesTheGrpcCodeAndMessage) {
  EXPECT_EQ(FormatError(FromGrpcStatus(grpc::Status(
                grpc::StatusCode::INVALID_ARGUMENT, "events[3].type"))),
            "INVALID_ARGUMENT: events[3].type");
  EXPECT_EQ(FormatError(FromGrpcStatus(
                grpc::Status(grpc::StatusCode::UNAVAILABLE, "no model"))),
            "UNAVAILABLE: no model");
}

// ---------------------------------------------------------------------------
// Health status names.
// ---------------------------------------------------------------------------

TEST(HealthStatusNameTest, NamesEveryStatusAndNumbersNewOnes) {
  EXPECT_EQ(HealthStatusName(0), "UNKNOWN");
  EXPECT_EQ(HealthStatusName(1), "SERVING");
  EXPECT_EQ(HealthStatusName(2), "NOT_SERVING");
  EXPECT_EQ(HealthStatusName(3), "SERVICE_UNKNOWN");
  EXPECT_EQ(HealthStatusName(9), "9");
}

// ---------------------------------------------------------------------------
// Commands against an in-process fake rerankd.
// ---------------------------------------------------------------------------

class FakeRerankd final : public v1::Reranker::Service,
                          public v1::ModelAdmin::Service {
 public:
  grpc::Status Rerank(grpc::ServerContext*, const v1::RerankRequest* request,
                      v1::RerankResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_request_ = *request;
    if (!status_.ok()) return status_;
    *response = SampleResponse();
    response->set_request_id(request->request_id());
    return grpc::Status::OK;
  }
  grpc::Status GetModelInfo(grpc::ServerContext* context,
                            const v1::GetModelInfoRequest*,
                            v1::ModelInfo* info) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto auth = context->client_metadata().find("authorization");
    last_authorization_ =
        auth == context->client_metadata().end()
            ? ""
            : std::string(auth->second.data(), auth->second.size());
    if (!status_.ok()) return status_;
    info->set_version("v1");
    info->set_dim(64);
    return grpc::Status::OK;
  }
  grpc::Status Reload(grpc::ServerContext*, const v1::ReloadRequest* request,
                      v1::ReloadResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status_.ok()) return status_;
    response->mutable_model()->set_version(request->model_dir());
    response->set_previous_version("v1");
    response->set_load_seconds(0.25);
    return grpc::Status::OK;
  }

  void set_status(grpc::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
  }
  v1::RerankRequest last_request() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }
  std::string last_authorization() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_authorization_;
  }

 private:
  std::string last_authorization_;
  std::mutex mu_;
  grpc::Status status_ = grpc::Status::OK;
  v1::RerankRequest last_request_;
};

class RunCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Gives the server the standard grpc.health.v1 service, so `health` is
    // tested against the real implementation rather than our own encoding.
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.RegisterService(static_cast<v1::Reranker::Service*>(&fake_));
    builder.RegisterService(static_cast<v1::ModelAdmin::Service*>(&fake_));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  int Run(absl::string_view command, const CliOptions& options,
          absl::string_view stdin_text = "") {
    std::istringstream in{std::string(stdin_text)};
    out_.str("");
    err_.str("");
    return RunCommand(command, options, channel_, in, out_, err_);
  }

  static CliOptions RerankOptions() {
    CliOptions options;
    options.request.user_id = "17850";
    options.request.candidates = "85123A,71053:0.5";
    options.request.events = "VIEW:85123A@-60s";
    options.request.request_id = "test-1";
    return options;
  }

  FakeRerankd fake_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(RunCommandTest, RerankSendsFlagsAndPrintsTableExit0) {
  EXPECT_EQ(Run("rerank", RerankOptions()), kExitOk) << err_.str();
  const v1::RerankRequest sent = fake_.last_request();
  EXPECT_EQ(sent.user_id(), "17850");
  EXPECT_EQ(sent.candidates_size(), 2);
  EXPECT_TRUE(sent.explain());
  EXPECT_EQ(sent.request_id(), "test-1");
  EXPECT_THAT(out_.str(), AllOf(HasSubstr("rank  item_id"),
                                HasSubstr("← VIEW 85123A 60s ago"),
                                HasSubstr("request_id  test-1")));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(RunCommandTest, RerankJsonFormatPrintsProtobufJson) {
  CliOptions options = RerankOptions();
  options.format = OutputFormat::kJson;
  EXPECT_EQ(Run("rerank", options), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(),
              AllOf(StartsWith("{"), HasSubstr("\"requestId\": \"test-1\""),
                    HasSubstr("\"itemId\": \"71053\"")));
}

TEST_F(RunCommandTest, RerankReadsRequestFromStdin) {
  CliOptions options;
  options.request_path = "-";
  EXPECT_EQ(Run("rerank", options,
                R"({"userId": "u9", "candidates": [{"itemId": "x"}]})"),
            kExitOk)
      << err_.str();
  EXPECT_EQ(fake_.last_request().user_id(), "u9");
}

TEST_F(RunCommandTest, ServerInvalidArgumentExits2WithCodeOnStderr) {
  fake_.set_status(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "overrides.half_life_seconds=0 is out of "
                                "bounds [1, 31536000]"));
  EXPECT_EQ(Run("rerank", RerankOptions()), kExitInvalidArgument);
  EXPECT_EQ(err_.str(),
            "error: INVALID_ARGUMENT: overrides.half_life_seconds=0 is out "
            "of bounds [1, 31536000]\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(RunCommandTest, ServerUnavailableExits3) {
  fake_.set_status(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "no model loaded"));
  EXPECT_EQ(Run("rerank", RerankOptions()), kExitUnavailable);
  EXPECT_EQ(err_.str(), "error: UNAVAILABLE: no model loaded\n");
  EXPECT_EQ(Run("info", CliOptions()), kExitUnavailable);
}

TEST_F(RunCommandTest, OtherServerErrorsExit1) {
  fake_.set_status(grpc::Status(grpc::StatusCode::DATA_LOSS, "checksum"));
  CliOptions options;
  options.model_dir = "v2";
  EXPECT_EQ(Run("reload", options), kExitFailure);
  EXPECT_EQ(err_.str(), "error: DATA_LOSS: checksum\n");
}

TEST_F(RunCommandTest, LocalFlagErrorExits2WithoutCallingTheServer) {
  CliOptions options = RerankOptions();
  options.request.events = "VIEW:a@-5y";
  EXPECT_EQ(Run("rerank", options), kExitInvalidArgument);
  EXPECT_THAT(err_.str(), AllOf(StartsWith("error: INVALID_ARGUMENT: "),
                                HasSubstr("unknown time unit \"y\"")));
  EXPECT_EQ(fake_.last_request().ByteSizeLong(), 0u);
}

TEST_F(RunCommandTest, RerankSendsRankerFlagAndRefusesABadOneLocally) {
  CliOptions options = RerankOptions();
  options.request.ranker = "gbdt";
  EXPECT_EQ(Run("rerank", options), kExitOk) << err_.str();
  EXPECT_EQ(fake_.last_request().ranker(), v1::RANKER_KIND_GBDT);

  options.request.ranker = "trees";
  options.request.request_id = "test-2";
  EXPECT_EQ(Run("rerank", options), kExitInvalidArgument);
  EXPECT_THAT(err_.str(),
              StartsWith("error: INVALID_ARGUMENT: --ranker=trees"));
  EXPECT_EQ(fake_.last_request().request_id(), "test-1");
}

TEST_F(RunCommandTest, InfoPrintsKeyValueLines) {
  EXPECT_EQ(Run("info", CliOptions()), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), AllOf(HasSubstr("version:"), HasSubstr("v1\n"),
                                HasSubstr("dim:"), HasSubstr("64\n")));
}

// MakeChannel over real loopback TCP: the token file's content (trimmed)
// arrives as a bearer token, on a plaintext channel.
TEST(MakeChannelTest, TokenFileIsSentAsBearerMetadata) {
  FakeRerankd fake;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(static_cast<v1::ModelAdmin::Service*>(&fake));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string token_path =
      ::testing::TempDir() + "/rerank_cli_token_" + std::to_string(port);
  {
    std::ofstream token(token_path);
    token << "s3cret-token-0123456789\n";
  }
  ChannelFlags flags;
  flags.target = absl::StrCat("127.0.0.1:", port);
  flags.token_file = token_path;
  auto channel = MakeChannel(flags);
  ASSERT_TRUE(channel.ok()) << channel.status();
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(RunCommand("info", CliOptions(), *channel, in, out, err), kExitOk)
      << err.str();
  EXPECT_EQ(fake.last_authorization(), "Bearer s3cret-token-0123456789");

  flags.token_file.clear();
  auto plain = MakeChannel(flags);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(RunCommand("info", CliOptions(), *plain, in, out, err), kExitOk);
  EXPECT_EQ(fake.last_authorization(), "");
  server->Shutdown();
  std::remove(token_path.c_str());
}

TEST(MakeChannelTest, BadTlsOrTokenFlagsAreNamed) {
  ChannelFlags flags;
  flags.target = "127.0.0.1:1";
  flags.tls_cert_file = "client.pem";
  EXPECT_THAT(MakeChannel(flags).status().message(), HasSubstr("--tls_ca"));
  flags = ChannelFlags{};
  flags.tls_ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(MakeChannel(flags).status().message(),
              HasSubstr("--tls_ca=/nonexistent/ca.pem"));
  flags = ChannelFlags{};
  flags.token_file = "/nonexistent/token";
  EXPECT_THAT(MakeChannel(flags).status().message(), HasSubstr("--token_file"));
}

TEST_F(RunCommandTest, ReloadSendsModelDirAndPrintsSummary) {
  CliOptions options;
  options.model_dir = "v2";
  EXPECT_EQ(Run("reload", options), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("reloaded: v1 -> v2 in 250ms\n"));
}

TEST_F(RunCommandTest, ReloadWithoutModelDirExits2) {
  EXPECT_EQ(Run("reload", CliOptions()), kExitInvalidArgument);
  EXPECT_THAT(err_.str(), HasSubstr("--model_dir"));
}

TEST_F(RunCommandTest, HealthReportsServingExit0) {
  EXPECT_EQ(Run("health", CliOptions()), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(), "status: SERVING\n");
}

TEST_F(RunCommandTest, HealthOfUnknownServiceIsNotFoundExit1) {
  CliOptions options;
  options.health_service = "no.such.Service";
  EXPECT_EQ(Run("health", options), kExitFailure);
  EXPECT_THAT(err_.str(), StartsWith("error: NOT_FOUND"));
}

TEST_F(RunCommandTest, UnknownCommandExits2) {
  EXPECT_EQ(Run("rank", CliOptions()), kExitInvalidArgument);
  EXPECT_THAT(err_.str(), HasSubstr("unknown command \"rank\""));
}

TEST(RunCommandUnreachableTest, NoServerIsUnavailableExit3) {
  // Port 1 on loopback refuses connections immediately.
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  CliOptions options;
  options.request.candidates = "a";
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(RunCommand("rerank", options, channel, in, out, err),
            kExitUnavailable);
  EXPECT_THAT(err.str(), StartsWith("error: UNAVAILABLE: "));
}

TEST(UsageTextTest, ListsSubcommandsAndExamples) {
  const std::string usage = UsageText();
  EXPECT_THAT(
      usage,
      AllOf(HasSubstr("rerank-cli rerank"), HasSubstr("rerank-cli info"),
            HasSubstr("rerank-cli reload"), HasSubstr("rerank-cli health"),
            HasSubstr("Examples:"), HasSubstr("Exit codes")));
  EXPECT_THAT(usage, HasSubstr("--ranker=formula|linear|gbdt"));
}

}  // namespace
}  // namespace rerank
