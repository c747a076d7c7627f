#include "learning/ranker_training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/parallel.h"
#include "common/status_macros.h"
#include "evaluation/candidates.h"
#include "evaluation/histories.h"
#include "evaluation/random.h"
#include "evaluation/time_split.h"
#include "ranking/features.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scorer.h"
#include "spdlog/spdlog.h"
#include "training/interaction_matrix.h"
#include "training/neighbors.h"

namespace rerank {
namespace {

// Seed streams (DeriveSeed tags).
constexpr uint64_t kSampleStream = 0x5a17;
constexpr uint64_t kListStream = 0x11575;
constexpr uint64_t kSplitStream = 0x5b117;

// Fewer lists than these and a fit means nothing.
constexpr int64_t kMinFitLists = 50;
constexpr int64_t kMinValidationLists = 10;
// Share of the baskets of two or more items that become session lists.
constexpr double kSessionListShare = 0.5;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// The most valuable event type with enough held-out interactions to learn
// from (what the shop wants more of); -1: none has, use every type.
int ChooseTargetType(absl::Span<const Interaction> xs,
                     absl::Span<const int64_t> held_out) {
  int64_t counts[kNumEventTypes] = {};
  for (const int64_t i : held_out) {
    ++counts[static_cast<int>(xs[i].event_type)];
  }
  constexpr int64_t kMinTargets = 200;
  for (const EventType t :
       {EventType::kPurchase, EventType::kAddToCart, EventType::kClick,
        EventType::kWishlist, EventType::kView}) {
    if (counts[static_cast<int>(t)] >= kMinTargets) return static_cast<int>(t);
  }
  return -1;
}

// One held-out basket: a user's target interactions at one timestamp.
struct Basket {
  int64_t first = 0;           // log index of its first interaction
  std::vector<int64_t> items;  // log indices
};

// One list's rows, before concatenation.
struct ListRows {
  std::vector<float> features;
  std::vector<float> labels;
  bool session = false;  // part of the basket given as events
  bool validation = false;
  bool relevant = false;
  int retriever = 0;
};

void Append(const ListRows& list, RankingData* data) {
  data->features.insert(data->features.end(), list.features.begin(),
                        list.features.end());
  data->labels.insert(data->labels.end(), list.labels.begin(),
                      list.labels.end());
  data->offsets.push_back(static_cast<int64_t>(data->labels.size()));
}

}  // namespace

absl::StatusOr<RankerChoice> ParseRankerChoice(absl::string_view name) {
  if (name == "formula") return RankerChoice::kFormula;
  if (name == "linear") return RankerChoice::kLinear;
  if (name == "gbdt") return RankerChoice::kGbdt;
  if (name == "auto") return RankerChoice::kAuto;
  return absl::InvalidArgumentError(absl::StrCat(
      "ranker \"", name, "\" must be one of formula|linear|gbdt|auto"));
}

absl::string_view RankerChoiceName(RankerChoice choice) {
  switch (choice) {
    case RankerChoice::kFormula:
      return "formula";
    case RankerChoice::kLinear:
      return "linear";
    case RankerChoice::kGbdt:
      return "gbdt";
    case RankerChoice::kAuto:
      break;
  }
  return "auto";
}

absl::Status ValidateRankerTrainingOptions(const RankerTrainingOptions& o) {
  if (!(o.holdout_fraction > 0.0 && o.holdout_fraction < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ranker_holdout=", o.holdout_fraction, " must be in (0, 1)"));
  }
  if (!(o.validation_fraction > 0.0 && o.validation_fraction < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ranker_validation=", o.validation_fraction, " must be in (0, 1)"));
  }
  if (o.num_candidates < 1 || o.num_candidates > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ranker_candidates=", o.num_candidates, " must be in [1, 1000]"));
  }
  if (o.max_events < 0 || o.max_events > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("ranker_events=", o.max_events, " must be in [0, 1000]"));
  }
  if (o.max_lists < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ranker_lists=", o.max_lists, " must be >= 0"));
  }
  if (o.retriever_neighbors < o.num_candidates) {
    return absl::InvalidArgumentError(
        absl::StrCat("retriever_neighbors=", o.retriever_neighbors,
                     " must be >= ranker_candidates=", o.num_candidates));
  }
  if (o.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads=", o.threads, " must be >= 1"));
  }
  return absl::OkStatus();
}

absl::Status BuildRankingLists(absl::Span<const Interaction> xs,
                               absl::Span<const int64_t> train_side,
                               absl::Span<const int64_t> held_out,
                               const ModelSnapshot& model,
                               const RankerTrainingOptions& options,
                               RankingData* fit, RankingData* validation,
                               RankerTrainingReport* report) {
  // Retrievers over the train side only, as rerank-eval builds them.
  std::vector<Interaction> train_xs;
  train_xs.reserve(train_side.size());
  for (const int64_t i : train_side) train_xs.push_back(xs[i]);
  ASSIGN_OR_RETURN(const InteractionMatrix matrix,
                   BuildInteractionMatrix(train_xs));
  train_xs = {};
  const PopularityRetriever popularity(matrix);
  NeighborOptions no;
  no.num_neighbors = options.retriever_neighbors;
  no.source = NeighborSource::kCooccurrence;
  no.threads = options.threads;
  ASSIGN_OR_RETURN(const ItemNeighbors table, BuildItemNeighbors(matrix, no));
  const CooccurrenceRetriever cooccurrence(table, popularity);
  absl::flat_hash_map<absl::string_view, int32_t> item_row;
  for (size_t r = 0; r < matrix.item_ids.size(); ++r) {
    item_row.emplace(matrix.item_ids[r], static_cast<int32_t>(r));
  }
  auto row_of = [&](absl::string_view id) {
    auto it = item_row.find(id);
    return it == item_row.end() ? -1 : it->second;
  };

  // Baskets of the target type.
  const int target = ChooseTargetType(xs, held_out);
  report->target_type =
      target < 0 ? "any"
                 : std::string(EventTypeName(static_cast<EventType>(target)));
  std::vector<Basket> baskets;
  {
    absl::flat_hash_map<std::pair<absl::string_view, int64_t>, int64_t> index;
    for (const int64_t i : held_out) {
      const Interaction& x = xs[i];
      if (target >= 0 && static_cast<int>(x.event_type) != target) continue;
      auto [it, inserted] = index.try_emplace(
          std::make_pair(absl::string_view(x.user_id), ToMillis(x.timestamp)),
          static_cast<int64_t>(baskets.size()));
      if (inserted) baskets.push_back(Basket{i, {}});
      baskets[it->second].items.push_back(i);
    }
  }
  report->baskets = static_cast<int64_t>(baskets.size());
  if (options.max_lists > 0 &&
      static_cast<int64_t>(baskets.size()) > options.max_lists) {
    EvalRng rng(DeriveSeed(options.seed, kSampleStream, 0));
    for (int64_t k = 0; k < options.max_lists; ++k) {
      const uint64_t j =
          k + rng.Uniform(static_cast<uint64_t>(baskets.size() - k));
      std::swap(baskets[k], baskets[j]);
    }
    baskets.resize(options.max_lists);
  }
  std::sort(baskets.begin(), baskets.end(),
            [&](const Basket& a, const Basket& b) {
              if (xs[a.first].timestamp != xs[b.first].timestamp) {
                return xs[a.first].timestamp < xs[b.first].timestamp;
              }
              return a.first < b.first;
            });

  const UserHistories histories = BuildUserHistories(xs);
  const std::vector<ScoredItem> popularity_top =
      popularity.Retrieve(options.num_candidates + 1);
  const ScorerOptions scorer;  // features do not depend on weights
  const int64_t n = static_cast<int64_t>(baskets.size());
  std::vector<ListRows> lists(n);
  std::vector<absl::Status> status(options.threads);
  RunChunks(EvenChunks(n, options.threads), [&](int chunk, int64_t begin,
                                                int64_t end) {
    v1::RerankRequest request;
    std::vector<int32_t> history_rows;
    absl::flat_hash_set<int32_t> seen;
    absl::flat_hash_set<absl::string_view> basket_items;
    std::vector<ScoredItem> unseen;
    std::vector<int64_t> distinct, revealed;
    absl::flat_hash_set<int32_t> revealed_rows;
    std::vector<float> rows;
    for (int64_t b = begin; b < end && status[chunk].ok(); ++b) {
      const Basket& basket = baskets[b];
      const Interaction& first = xs[basket.first];
      basket_items.clear();
      distinct.clear();
      for (const int64_t i : basket.items) {
        if (basket_items.insert(xs[i].item_id).second) {
          distinct.push_back(i);
        }
      }
      // Session lists: part of the basket is revealed as events at the
      // basket's moment and the rest is what to find, as on a storefront
      // where the shopper's earlier actions of the session are the events of
      // the next call. Without them the short-horizon features would never
      // see a positive in training. Half of the baskets of two or more
      // items, a uniform number of them revealed (seeded per basket).
      revealed.clear();
      EvalRng session_rng(DeriveSeed(options.seed, kListStream,
                                     static_cast<uint64_t>(basket.first)));
      if (distinct.size() >= 2 &&
          session_rng.UniformDouble() < kSessionListShare) {
        for (size_t k = distinct.size() - 1; k > 0; --k) {
          std::swap(distinct[k], distinct[session_rng.Uniform(k + 1)]);
        }
        // At most max_events of them, like the history.
        const size_t shown =
            std::min<size_t>(1 + session_rng.Uniform(distinct.size() - 1),
                             static_cast<size_t>(options.max_events));
        for (size_t k = 0; k < shown; ++k) {
          revealed.push_back(distinct[k]);
          basket_items.erase(xs[distinct[k]].item_id);
        }
      }

      // The user's interactions strictly before the basket.
      const int32_t slot = histories.slot.at(first.user_id);
      const auto h_begin = histories.order.begin() + histories.indptr[slot];
      const auto h_end = histories.order.begin() + histories.indptr[slot + 1];
      const auto cut = std::partition_point(h_begin, h_end, [&](int64_t j) {
        return xs[j].timestamp < first.timestamp;
      });
      const auto ev_begin =
          cut - std::min<int64_t>(cut - h_begin, options.max_events);
      history_rows.clear();
      for (auto it = ev_begin; it != cut; ++it) {
        history_rows.push_back(row_of(xs[*it].item_id));
      }
      revealed_rows.clear();
      for (const int64_t i : revealed) {
        const int32_t row = row_of(xs[i].item_id);
        history_rows.push_back(row);
        if (row >= 0) revealed_rows.insert(row);
      }

      ListRows& list = lists[b];
      list.retriever = static_cast<int>(b % 3);
      std::vector<ScoredItem> retrieved;
      if (list.retriever == 0) {
        retrieved = popularity_top;
      } else if (list.retriever == 1) {
        seen.clear();
        for (auto it = h_begin; it != cut; ++it) {
          seen.insert(row_of(xs[*it].item_id));
        }
        for (const int32_t row : revealed_rows) seen.insert(row);
        unseen.clear();
        for (const ScoredItem& s : popularity.ranking()) {
          if (seen.contains(s.item)) continue;
          unseen.push_back(s);
          if (static_cast<int>(unseen.size()) > options.num_candidates) break;
        }
        retrieved = unseen;
      } else {
        retrieved =
            cooccurrence.Retrieve(history_rows, options.num_candidates + 1);
      }
      // The list exactly as the retriever returned it: no basket item is
      // inserted. An inserted item carries a retrieval score that disagrees
      // with its other features (its popularity, its co-occurrence), and a
      // ranker learns to find the odd one out instead of what the shopper
      // wants; serving lists never hold such an item. Lists whose
      // retriever found no basket item teach nothing and are dropped.
      // What the session already holds is not a candidate.
      if (!revealed_rows.empty()) {
        retrieved.erase(std::remove_if(retrieved.begin(), retrieved.end(),
                                       [&](const ScoredItem& r) {
                                         return revealed_rows.contains(r.item);
                                       }),
                        retrieved.end());
      }
      if (retrieved.size() > static_cast<size_t>(options.num_candidates) + 1) {
        retrieved.resize(options.num_candidates + 1);
      }
      bool any_relevant = false;
      for (const ScoredItem& r : retrieved) {
        any_relevant |= basket_items.contains(matrix.item_ids[r.item]);
      }
      if (!any_relevant) continue;
      const double top = retrieved.empty() ? 0.0 : retrieved.front().score;

      request.Clear();
      request.set_user_id(first.user_id);
      request.set_now_ms(ToMillis(first.timestamp));
      for (const ScoredItem& r : retrieved) {
        v1::Candidate* c = request.add_candidates();
        c->set_item_id(matrix.item_ids[r.item]);
        c->set_base_score(top > 0 ? r.score / top : 0.0);
      }
      for (auto it = ev_begin; it != cut; ++it) {
        v1::Event* e = request.add_events();
        e->set_item_id(xs[*it].item_id);
        e->set_type(ToProtoEventType(xs[*it].event_type));
        e->set_timestamp_ms(ToMillis(xs[*it].timestamp));
      }
      for (const int64_t i : revealed) {
        v1::Event* e = request.add_events();
        e->set_item_id(xs[i].item_id);
        e->set_type(ToProtoEventType(xs[i].event_type));
        e->set_timestamp_ms(ToMillis(xs[i].timestamp));
      }
      list.session = !revealed.empty();
      absl::Status s =
          ExtractFeatures(model, request, scorer, request.now_ms(), &rows);
      if (!s.ok()) {
        status[chunk] = absl::InternalError(
            absl::StrCat("features of list ", b, ": ", s.message()));
        break;
      }
      list.features = rows;
      list.labels.resize(request.candidates_size());
      for (int k = 0; k < request.candidates_size(); ++k) {
        const bool relevant =
            basket_items.contains(request.candidates(k).item_id());
        list.labels[k] = relevant ? 1.0f : 0.0f;
        list.relevant |= relevant;
      }
      EvalRng split(DeriveSeed(options.seed, kSplitStream,
                               static_cast<uint64_t>(basket.first)));
      list.validation = split.UniformDouble() < options.validation_fraction;
    }
  });
  for (const absl::Status& s : status) RETURN_IF_ERROR(s);

  *fit = RankingData();
  *validation = RankingData();
  report->lists_by_retriever.assign(3, 0);
  std::vector<double> baseline;
  for (const ListRows& list : lists) {
    if (!list.relevant) continue;
    ++report->lists_by_retriever[list.retriever];
    report->session_lists += list.session ? 1 : 0;
    Append(list, list.validation ? validation : fit);
    if (list.validation) {
      for (size_t k = 0; k < list.labels.size(); ++k) {
        baseline.push_back(-static_cast<double>(k));
      }
    }
  }
  report->fit_lists = fit->num_lists();
  report->validation_lists = validation->num_lists();
  report->fit_rows = fit->num_rows();
  report->validation_rows = validation->num_rows();
  report->validation_ndcg_baseline =
      validation->num_lists() > 0 ? MeanNdcg(*validation, baseline, 10) : 0.0;
  return absl::OkStatus();
}

absl::StatusOr<PairedDifference> PairedValidationDifference(
    const RankerSpec& a, const RankerSpec& b, const RankingData& validation) {
  const int64_t rows = validation.num_rows();
  auto list_ndcg =
      [&](const RankerSpec& spec) -> absl::StatusOr<std::vector<double>> {
    ASSIGN_OR_RETURN(std::unique_ptr<const Ranker> ranker,
                     Ranker::Create(spec));
    std::vector<double> scores(static_cast<size_t>(rows));
    ranker->Score(validation.features.data(), static_cast<int32_t>(rows),
                  kNumFeatures, scores.data());
    return ListNdcg(validation, scores, 10);
  };
  ASSIGN_OR_RETURN(const std::vector<double> na, list_ndcg(a));
  ASSIGN_OR_RETURN(const std::vector<double> nb, list_ndcg(b));
  PairedDifference d;
  double sum = 0.0, sum_sq = 0.0;
  for (size_t g = 0; g < na.size(); ++g) {
    if (std::isnan(na[g]) || std::isnan(nb[g])) continue;
    const double x = nb[g] - na[g];
    sum += x;
    sum_sq += x * x;
    ++d.lists;
  }
  if (d.lists > 0) d.mean = sum / static_cast<double>(d.lists);
  if (d.lists > 1) {
    const double n = static_cast<double>(d.lists);
    const double var = std::max(0.0, (sum_sq - n * d.mean * d.mean) / (n - 1));
    d.standard_error = std::sqrt(var / n);
  }
  return d;
}

absl::Status TrainRankers(const InteractionLog& log, const TrainOptions& train,
                          const ItemCategoryMap* categories,
                          const RankerTrainingOptions& options,
                          ModelData* model, RankerTrainingReport* report) {
  RETURN_IF_ERROR(ValidateRankerTrainingOptions(options));
  *report = RankerTrainingReport();
  if (options.choice == RankerChoice::kFormula) return absl::OkStatus();
  const auto start = std::chrono::steady_clock::now();
  const std::vector<Interaction>& xs = log.interactions;

  // 1. Inner split and the inner model.
  SplitOptions split_options;
  split_options.test_fraction = options.holdout_fraction;
  ASSIGN_OR_RETURN(report->split_time, ComputeSplitTime(xs, split_options));
  const TimeSplit split = SplitByTime(xs, report->split_time);
  report->inner_train_interactions = static_cast<int64_t>(split.train.size());
  report->holdout_interactions = static_cast<int64_t>(split.test.size());
  // kAuto keeps the formula where an explicit choice fails.
  auto too_small = [&](std::string why) -> absl::Status {
    if (options.choice != RankerChoice::kAuto) {
      return absl::InvalidArgumentError(absl::StrCat("ranker: ", why));
    }
    spdlog::warn("ranker: {}; the model keeps the formula", why);
    report->skipped = std::move(why);
    report->seconds = SecondsSince(start);
    return absl::OkStatus();
  };
  if (split.train.empty() || split.test.empty()) {
    return too_small(absl::StrCat(
        "the held-out slice (ranker_holdout=", options.holdout_fraction,
        ") leaves ", split.train.size(), " train and ", split.test.size(),
        " held-out interactions"));
  }
  std::unique_ptr<const ModelSnapshot> inner;
  {
    std::vector<Interaction> train_xs;
    train_xs.reserve(split.train.size());
    for (const int64_t i : split.train) train_xs.push_back(xs[i]);
    ASSIGN_OR_RETURN(const InteractionMatrix matrix,
                     BuildInteractionMatrix(train_xs, train.event_weights));
    TrainOptions inner_options = train;
    inner_options.model_version = "ranker-inner";
    ASSIGN_OR_RETURN(ModelData data, TrainModelData(matrix, inner_options,
                                                    categories, nullptr));
    ASSIGN_OR_RETURN(inner, ModelSnapshot::FromData(std::move(data)));
  }
  spdlog::info("ranker: inner model on {} interactions before {:.0f}",
               split.train.size(), report->split_time);

  // 2. Lists.
  RankingData fit, validation;
  RETURN_IF_ERROR(BuildRankingLists(xs, split.train, split.test, *inner,
                                    options, &fit, &validation, report));
  inner.reset();
  if (report->fit_lists < kMinFitLists ||
      report->validation_lists < kMinValidationLists) {
    return too_small(absl::StrCat(
        "the held-out slice gives ", report->fit_lists, " fitting and ",
        report->validation_lists, " validation lists (need ", kMinFitLists,
        " and ", kMinValidationLists,
        "); raise ranker_holdout or use --ranker=formula"));
  }
  spdlog::info(
      "ranker: {} fitting lists ({} rows), {} validation lists, "
      "target {}",
      report->fit_lists, report->fit_rows, report->validation_lists,
      report->target_type);

  // 3. Fit.
  const FitProgress progress = [](const std::string& line) {
    spdlog::debug("{}", line);
  };
  const bool want_linear = options.choice == RankerChoice::kLinear ||
                           options.choice == RankerChoice::kAuto;
  const bool want_gbdt = options.choice == RankerChoice::kGbdt ||
                         options.choice == RankerChoice::kAuto;
  std::vector<RankerSpec> specs;
  if (want_linear) {
    LinearFitOptions lo = options.linear;
    lo.seed = options.seed;
    if (lo.features.empty()) {
      lo.features.assign(std::begin(kDefaultRankerFeatures),
                         std::end(kDefaultRankerFeatures));
    }
    ASSIGN_OR_RETURN(RankerSpec spec,
                     FitLinear(fit, validation, lo, progress, &report->linear));
    report->fitted_linear = true;
    spec.description = absl::StrFormat(
        "rerank-train linear: %d fitting / %d validation lists (target %s), "
        "validation ndcg@10 %.4f (list order %.4f)",
        report->fit_lists, report->validation_lists, report->target_type,
        report->linear.validation_ndcg, report->validation_ndcg_baseline);
    report->chosen = RankerKind::kLinear;
    specs.push_back(std::move(spec));
  }
  if (want_gbdt) {
    GbdtFitOptions go = options.gbdt;
    go.seed = options.seed;
    if (go.features.empty()) {
      go.features.assign(std::begin(kDefaultRankerFeatures),
                         std::end(kDefaultRankerFeatures));
    }
    go.threads = options.threads;
    ASSIGN_OR_RETURN(RankerSpec spec,
                     FitGbdt(fit, validation, go, progress, &report->gbdt));
    report->fitted_gbdt = true;
    spec.description = absl::StrFormat(
        "rerank-train gbdt: %d trees, %d fitting / %d validation lists "
        "(target %s), validation ndcg@10 %.4f (list order %.4f)",
        report->gbdt.iterations, report->fit_lists, report->validation_lists,
        report->target_type, report->gbdt.validation_ndcg,
        report->validation_ndcg_baseline);
    specs.push_back(std::move(spec));
    if (!want_linear) {
      report->chosen = RankerKind::kGbdt;
    } else {
      ASSIGN_OR_RETURN(
          report->gbdt_minus_linear,
          PairedValidationDifference(specs[0], specs[1], validation));
      // The trees replace the linear ranker only when they are better on
      // the validation lists beyond noise: two standard errors of the
      // paired per-list difference. The trees fit the inner split's lists
      // more closely, and on logs of a few thousand lists that closeness
      // does not carry to the next time slice unless it is large.
      const PairedDifference& d = report->gbdt_minus_linear;
      if (d.lists > 1 && d.mean - 2.0 * d.standard_error > 0.0) {
        report->chosen = RankerKind::kGbdt;
      }
    }
  }
  model->rankers = std::move(specs);
  model->default_ranker = report->chosen;
  report->seconds = SecondsSince(start);
  return absl::OkStatus();
}

std::string FormatRankerTrainingReport(const RankerTrainingReport& r) {
  std::string out;
  if (!r.fitted_linear && !r.fitted_gbdt) {
    if (!r.skipped.empty()) {
      return absl::StrCat(
          "  ranker:     formula (no learned ranker: ", r.skipped, ")\n");
    }
    return "  ranker:     formula (no learned ranker)\n";
  }
  absl::StrAppendFormat(
      &out,
      "  ranker:     %s by default; %d fitting + %d validation lists "
      "(%d + %d rows) from the last %d interactions, target %s, in %.1f s\n",
      RankerKindName(r.chosen), r.fit_lists, r.validation_lists, r.fit_rows,
      r.validation_rows, r.holdout_interactions, r.target_type, r.seconds);
  absl::StrAppendFormat(&out,
                        "              validation ndcg@10: list order %.4f",
                        r.validation_ndcg_baseline);
  if (r.fitted_linear) {
    absl::StrAppendFormat(&out, ", linear %.4f", r.linear.validation_ndcg);
  }
  if (r.fitted_gbdt) {
    absl::StrAppendFormat(&out, ", gbdt %.4f (%d trees)",
                          r.gbdt.validation_ndcg, r.gbdt.iterations);
  }
  out += "\n";
  if (r.fitted_linear && r.fitted_gbdt) {
    const PairedDifference& d = r.gbdt_minus_linear;
    absl::StrAppendFormat(
        &out,
        "              gbdt - linear: %+.4f +- %.4f (2 s.e., %d lists): %s\n",
        d.mean, 2.0 * d.standard_error, d.lists,
        r.chosen == RankerKind::kGbdt
            ? "gbdt is the default"
            : "not beyond noise, linear is the default");
  }
  return out;
}

}  // namespace rerank
