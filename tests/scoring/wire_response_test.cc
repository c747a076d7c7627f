// RerankWire / RerankNullWire (scorer.h): the items in wire form must parse
// back to exactly what Rerank / RerankNull put into the response, for plain
// items, for items with explanations or reasons, and for the values proto3
// leaves out (score 0, input position 0).

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "model/model_snapshot.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scorer.h"
#include "scoring/scoring_context.h"

namespace rerank {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

std::unique_ptr<const ModelSnapshot> MakeModel() {
  ModelData data;
  data.version = "wire-v1";
  data.dim = 2;
  data.user_ids = {"alice"};
  data.user_factors = {1, 0.5};
  data.item_ids = {"shoe", "sock", "hat"};
  data.item_factors = {1, 0, 0, 1, 0.5, 0.5};
  data.neighbor_indptr = {0, 1, 2, 2};
  data.neighbor_indices = {1, 0};
  data.neighbor_scores = {0.5f, 0.5f};
  data.item_categories = {"footwear", "socks", "hats"};
  auto model = ModelSnapshot::FromData(std::move(data));
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(model).value();
}

v1::RerankResponse ParseWire(const v1::RerankResponse& header,
                             const std::string& items) {
  EXPECT_EQ(header.items_size(), 0) << "items belong to the wire part";
  v1::RerankResponse parsed;
  EXPECT_TRUE(parsed.ParseFromString(header.SerializeAsString() + items));
  return parsed;
}

class WireResponseTest : public ::testing::Test {
 protected:
  // Both forms of both scorers agree, byte for byte once re-serialized.
  void ExpectWireMatches(const v1::RerankRequest& request,
                         const ScorerOptions& options = ScorerOptions()) {
    v1::RerankResponse expected;
    ASSERT_TRUE(Rerank(*model_, request, options, kNow, &expected).ok());
    v1::RerankResponse header;
    std::string items;
    ASSERT_TRUE(
        RerankWire(*model_, request, options, kNow, &header, &items).ok());
    EXPECT_EQ(ParseWire(header, items).SerializeAsString(),
              expected.SerializeAsString());

    v1::RerankResponse expected_null;
    ASSERT_TRUE(
        RerankNull(*model_, request, options, kNow, &expected_null).ok());
    v1::RerankResponse null_header;
    std::string null_items;
    ASSERT_TRUE(RerankNullWire(*model_, request, options, kNow, &null_header,
                               &null_items)
                    .ok());
    EXPECT_EQ(ParseWire(null_header, null_items).SerializeAsString(),
              expected_null.SerializeAsString());
  }

  std::unique_ptr<const ModelSnapshot> model_ = MakeModel();
};

v1::RerankRequest PlainRequest() {
  v1::RerankRequest request;
  request.set_request_id("r1");
  request.set_user_id("alice");
  for (const char* id : {"hat", "shoe", "ghost", "sock", "shoe"}) {
    request.add_candidates()->set_item_id(id);
  }
  request.mutable_candidates(0)->set_base_score(0.25);
  v1::Event* e = request.add_events();
  e->set_item_id("sock");
  e->set_type(v1::EVENT_TYPE_VIEW);
  e->set_timestamp_ms(kNow - 60'000);
  return request;
}

TEST_F(WireResponseTest, PlainItemsMatchTheMessageForm) {
  ExpectWireMatches(PlainRequest());
}

TEST_F(WireResponseTest, ExplainedItemsMatchTheMessageForm) {
  v1::RerankRequest request = PlainRequest();
  request.set_explain(true);
  ExpectWireMatches(request);
}

TEST_F(WireResponseTest, ItemsWithReasonsMatchTheMessageForm) {
  // Some items carry reasons (boosted, pinned), others do not: both kinds
  // interleave in one list, in order.
  v1::RerankRequest request = PlainRequest();
  v1::BoostRule* boost = request.mutable_rules()->add_boosts();
  boost->set_name("promo");
  boost->set_item_id("hat");
  boost->set_mode(v1::BOOST_MODE_ADD);
  boost->set_value(1.5);
  v1::Pin* pin = request.mutable_rules()->add_pins();
  pin->set_item_id("ghost");
  pin->set_slot(0);
  request.mutable_rules()->add_exclude_items("sock");
  request.set_return_removed(true);
  ExpectWireMatches(request);
}

TEST_F(WireResponseTest, TopKAndEmptyListsMatchTheMessageForm) {
  v1::RerankRequest request = PlainRequest();
  request.set_top_k(2);
  ExpectWireMatches(request);
  request.clear_candidates();
  ExpectWireMatches(request);
}

TEST_F(WireResponseTest, DefaultValuedFieldsAreLeftOutAsProtobufDoes) {
  // Anonymous, no events, no base scores: every score is 0 and the first
  // item's input position is 0, both of which proto3 does not write.
  v1::RerankRequest request;
  for (const char* id : {"shoe", "sock"}) {
    request.add_candidates()->set_item_id(id);
  }
  ExpectWireMatches(request);
  v1::RerankResponse header;
  std::string items;
  ASSERT_TRUE(
      RerankWire(*model_, request, ScorerOptions(), kNow, &header, &items)
          .ok());
  v1::RerankResponse expected;
  ASSERT_TRUE(Rerank(*model_, request, ScorerOptions(), kNow, &expected).ok());
  std::string expected_items;
  for (const v1::RankedItem& item : expected.items()) {
    v1::RerankResponse one;
    *one.add_items() = item;
    expected_items += one.SerializeAsString();
  }
  EXPECT_EQ(items, expected_items) << "byte-identical to protobuf's encoding";
}

TEST(AppendPlainItemWireTest, EncodesLikeProtobuf) {
  const std::string long_id(300, 'x');  // a two-byte length varint
  for (const double score :
       {0.0, -0.0, 1.5, -3.25, std::numeric_limits<double>::infinity(),
        std::numeric_limits<double>::quiet_NaN(), 5e-324}) {
    for (const uint32_t position : {0u, 1u, 127u, 128u, 300000u}) {
      for (const std::string& id : {std::string("a"), long_id}) {
        v1::RerankResponse expected;
        v1::RankedItem* item = expected.add_items();
        item->set_item_id(id);
        item->set_score(score);
        item->set_input_position(position);
        std::string wire = "prefix";
        scoring_internal::AppendPlainItemWire(id, score, position, &wire);
        EXPECT_EQ(wire, "prefix" + expected.SerializeAsString())
            << "score " << score << " position " << position << " id bytes "
            << id.size();
      }
    }
  }
}

}  // namespace
}  // namespace rerank
