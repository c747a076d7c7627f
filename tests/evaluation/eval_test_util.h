#pragma once

// A small generated interaction log for end-to-end evaluation tests.

#include <cstdint>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "training/interaction_log.h"

namespace rerank::testing_util {

inline constexpr double kLogStart = 1'300'000'000;  // Unix seconds
inline constexpr double kDay = 86400;

// Two clusters of 40 shoppers over two disjoint groups of 15 products; each
// shopper has 14 events (mostly purchases, some views / clicks / carts) over
// 60 days, 90% inside their own cluster, with a cluster-wide popularity
// skew. Ten more shoppers only appear from day 50 on (cold at a day-45
// split).
inline InteractionLog GeneratedLog(uint64_t seed = 5) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](uint64_t n) { return static_cast<int>(rng() % n); };
  const EventType types[] = {EventType::kPurchase, EventType::kPurchase,
                             EventType::kPurchase, EventType::kView,
                             EventType::kClick,    EventType::kAddToCart};
  InteractionLog log;
  auto add = [&](const std::string& user, int cluster, int day_lo, int day_hi) {
    const int c = uniform(10) == 0 ? 1 - cluster : cluster;
    // Skewed: low product numbers are more popular.
    const int item = std::min(uniform(15), uniform(15));
    Interaction x;
    x.user_id = user;
    x.item_id = absl::StrCat("c", c, "_", item);
    x.event_type = types[uniform(6)];
    x.timestamp =
        kLogStart + (day_lo + uniform(day_hi - day_lo)) * kDay + uniform(86400);
    log.interactions.push_back(x);
  };
  for (int cluster = 0; cluster < 2; ++cluster) {
    for (int u = 0; u < 40; ++u) {
      for (int k = 0; k < 14; ++k) {
        add(absl::StrCat("u", cluster, "_", u), cluster, 0, 60);
      }
    }
    for (int u = 0; u < 5; ++u) {
      for (int k = 0; k < 6; ++k) {
        add(absl::StrCat("new", cluster, "_", u), cluster, 50, 60);
      }
    }
  }
  log.records = static_cast<int64_t>(log.interactions.size());
  return log;
}

}  // namespace rerank::testing_util
