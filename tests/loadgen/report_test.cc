#include "loadgen/report.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace rerank::loadgen {
namespace {

using ::testing::HasSubstr;

// 10 measured calls over 2 s: 7 OK, 2 INVALID_ARGUMENT, 1 dropped; latencies
// 100, 200, ..., 900 us for the 9 calls that were sent.
RunResult HandBuiltResult() {
  RunResult r;
  r.mode = "open";
  r.rate = 5;
  r.connections = 2;
  r.count = 10;
  r.unmeasured = 4;
  r.total = absl::Seconds(2);
  for (int us = 100; us <= 900; us += 100) {
    r.latency.Record(us * 1000);
    (us <= 700 ? r.ok_latency : r.error_latency).Record(us * 1000);
  }
  r.status_counts = {{"OK", 7}, {"INVALID_ARGUMENT", 2}, {kDroppedCode, 1}};
  r.error_messages = {{"INVALID_ARGUMENT: candidates[0].item_id", 2},
                      {std::string(kDroppedCode) + ": " + kDroppedMessage, 1}};
  return r;
}

google::protobuf::Struct ParseJson(const std::string& json) {
  google::protobuf::Struct s;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &s);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return s;
}

double Number(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  EXPECT_NE(it, s.fields().end()) << "missing key " << key;
  return it == s.fields().end() ? -1 : it->second.number_value();
}

TEST(ReportTest, JsonHasSummaryFieldsInMicroseconds) {
  const std::string json = FormatJson(HandBuiltResult());
  EXPECT_EQ(json.find('\n'), std::string::npos) << "one line for scripts";
  const google::protobuf::Struct s = ParseJson(json);
  EXPECT_EQ(s.fields().at("mode").string_value(), "open");
  EXPECT_EQ(Number(s, "rate"), 5);
  EXPECT_EQ(Number(s, "connections"), 2);
  EXPECT_EQ(Number(s, "count"), 10);
  EXPECT_EQ(Number(s, "unmeasured"), 4);
  EXPECT_EQ(Number(s, "ok"), 7);
  EXPECT_EQ(Number(s, "errors"), 3);
  EXPECT_EQ(Number(s, "total_us"), 2'000'000);
  // Dropped calls were never sent: 9 calls / 2 s.
  EXPECT_EQ(Number(s, "requests_per_second"), 4.5);
  EXPECT_EQ(Number(s, "average_us"), 500);
  EXPECT_EQ(Number(s, "fastest_us"), 100);
  EXPECT_EQ(Number(s, "slowest_us"), 900);
  // Nearest rank 5 of 9 is 500 us; its 1 us bucket reports the midpoint.
  EXPECT_EQ(Number(s, "p50_us"), 500.5);
  // Rank 9 is 900 us; the midpoint is clamped to the exact maximum.
  EXPECT_EQ(Number(s, "p90_us"), 900);
  EXPECT_EQ(Number(s, "p95_us"), 900);
  EXPECT_EQ(Number(s, "p99_us"), 900);
  EXPECT_EQ(Number(s, "p999_us"), 900);
  // Split by outcome: 100..700 us answered OK, 800 and 900 us failed.
  const google::protobuf::Struct ok =
      s.fields().at("ok_latency_us").struct_value();
  EXPECT_EQ(Number(ok, "count"), 7);
  EXPECT_EQ(Number(ok, "max"), 700);
  EXPECT_EQ(Number(ok, "p99"), 700);
  const google::protobuf::Struct failed =
      s.fields().at("error_latency_us").struct_value();
  EXPECT_EQ(Number(failed, "count"), 2);
  EXPECT_EQ(Number(failed, "p50"), 800.5);
  EXPECT_EQ(Number(failed, "max"), 900);

  const auto& codes = s.fields().at("status_codes").struct_value().fields();
  EXPECT_EQ(codes.size(), 3u);
  EXPECT_EQ(codes.at("OK").number_value(), 7);
  EXPECT_EQ(codes.at("INVALID_ARGUMENT").number_value(), 2);
  EXPECT_EQ(codes.at("DROPPED").number_value(), 1);
  const auto& errors =
      s.fields().at("error_distribution").struct_value().fields();
  EXPECT_EQ(errors.at("DROPPED: too many outstanding").number_value(), 1);
  EXPECT_EQ(errors.at("INVALID_ARGUMENT: candidates[0].item_id").number_value(),
            2);
}

TEST(ReportTest, JsonOfEmptyResultIsValidWithZeros) {
  RunResult r;
  r.mode = "closed";
  const google::protobuf::Struct s = ParseJson(FormatJson(r));
  EXPECT_EQ(Number(s, "count"), 0);
  EXPECT_EQ(Number(s, "requests_per_second"), 0);
  EXPECT_EQ(Number(s, "p99_us"), 0);
  EXPECT_TRUE(s.fields().at("status_codes").struct_value().fields().empty());
}

TEST(ReportTest, JsonQuoteEscapesSpecialCharacters) {
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  const google::protobuf::Struct s =
      ParseJson("{\"k\":" + JsonQuote("say \"hi\"\t\x02") + "}");
  EXPECT_EQ(s.fields().at("k").string_value(), "say \"hi\"\t\x02");
}

TEST(ReportTest, TextSummaryListsCountsLatenciesAndErrors) {
  const std::string text = FormatText(HandBuiltResult());
  EXPECT_THAT(text, HasSubstr("Count:        10"));
  EXPECT_THAT(text, HasSubstr("Total:        2.00 s"));
  EXPECT_THAT(text, HasSubstr("Requests/sec: 4.50"));
  EXPECT_THAT(text, HasSubstr("Fastest:      100.0 us"));
  EXPECT_THAT(text, HasSubstr("Slowest:      900.0 us"));
  EXPECT_THAT(text, HasSubstr("Average:      500.0 us"));
  EXPECT_THAT(text, HasSubstr("50   % in 500.5 us"));
  EXPECT_THAT(text, HasSubstr("99.9 % in 900.0 us"));
  EXPECT_THAT(text, HasSubstr("[OK]"));
  EXPECT_THAT(text, HasSubstr("[INVALID_ARGUMENT]"));
  EXPECT_THAT(text, HasSubstr("[2] INVALID_ARGUMENT: candidates[0].item_id"));
  EXPECT_THAT(text, HasSubstr("[1] DROPPED: too many outstanding"));
}

}  // namespace
}  // namespace rerank::loadgen
