#include "training/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "model/file_util.h"
#include "model/model_writer.h"
#include "spdlog/spdlog.h"

namespace rerank {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

absl::StatusOr<NeighborTables> ParseNeighborTables(absl::string_view name) {
  if (name == "auto") return NeighborTables::kAuto;
  if (name == "one") return NeighborTables::kOne;
  if (name == "two") return NeighborTables::kTwo;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown neighbour tables '", name, "' (expected auto, one or two)"));
}

absl::string_view NeighborTablesName(NeighborTables tables) {
  switch (tables) {
    case NeighborTables::kAuto:
      return "auto";
    case NeighborTables::kOne:
      return "one";
    case NeighborTables::kTwo:
      return "two";
  }
  return "?";
}

absl::StatusOr<bool> ChooseTwoNeighborTables(const InteractionMatrix& matrix,
                                             const TrainOptions& options,
                                             std::string* reason) {
  if (options.neighbor_tables == NeighborTables::kOne) {
    *reason = "neighbor_tables=one";
    return false;
  }
  // Why two tables cannot be built, or "".
  std::string missing;
  if (options.neighbors.source == NeighborSource::kFactors) {
    missing =
        "factor neighbours do not depend on event types; two tables need "
        "co-occurrence (neighbors_from cooccurrence or both)";
  } else if (matrix.EventsOfTypes(kViewEventTypes) == 0) {
    missing = "log has no view/click/wishlist events";
  } else if (matrix.EventsOfTypes(kCartEventTypes) == 0) {
    missing = "log has no add_to_cart/purchase events";
  }
  if (missing.empty()) {
    *reason =
        "substitutes from view/click/wishlist events, complements from "
        "add_to_cart/purchase events";
    return true;
  }
  if (options.neighbor_tables == NeighborTables::kTwo) {
    return absl::InvalidArgumentError(
        absl::StrCat("neighbor_tables=two: ", missing));
  }
  *reason = std::move(missing);
  return false;
}

std::string DefaultModelVersion(absl::Time now) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone());
}

absl::StatusOr<ModelData> TrainModelData(const InteractionMatrix& matrix,
                                         const TrainOptions& options,
                                         const ItemCategoryMap* categories,
                                         TrainSummary* summary) {
  TrainSummary local;
  TrainSummary& s = summary != nullptr ? *summary : local;
  s.users = matrix.num_users();
  s.items = matrix.num_items();
  s.nnz = matrix.nnz();
  s.events = matrix.num_events;
  s.zero_weight_events = matrix.zero_weight_events;
  // Decided before ALS: a forced choice that cannot be met fails fast.
  ASSIGN_OR_RETURN(
      const bool two_tables,
      ChooseTwoNeighborTables(matrix, options, &s.neighbor_tables_reason));
  s.two_neighbor_tables = two_tables;

  spdlog::info(
      "training ALS: {} users x {} items, {} pairs; factors={} "
      "iterations={} regularization={} alpha={} cg_steps={} "
      "threads={} seed={}",
      s.users, s.items, s.nnz, options.als.factors, options.als.iterations,
      options.als.regularization, options.als.alpha, options.als.cg_steps,
      options.als.threads, options.als.seed);
  auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(
      AlsResult als,
      TrainAls(matrix, options.als, [](const AlsIterationStats& it) {
        spdlog::info(
            "ALS iteration {:>3}: {:.3f} s, loss {:.6g} "
            "(normalized {:.6g})",
            it.iteration, it.seconds, it.loss, it.normalized_loss);
      }));
  s.als_seconds = SecondsSince(start);
  s.final_loss = als.iterations.empty()
                     ? std::numeric_limits<double>::quiet_NaN()
                     : als.iterations.back().loss;
  s.final_normalized_loss = als.iterations.empty()
                                ? std::numeric_limits<double>::quiet_NaN()
                                : als.iterations.back().normalized_loss;

  start = std::chrono::steady_clock::now();
  NeighborOptions substitute_options = options.neighbors;
  if (two_tables) substitute_options.event_types = kViewEventTypes;
  ASSIGN_OR_RETURN(ItemNeighbors neighbors,
                   BuildItemNeighbors(matrix, substitute_options,
                                      als.item_factors, als.dim));
  s.neighbor_entries = neighbors.size();
  ItemNeighbors complements;
  if (two_tables) {
    NeighborOptions complement_options = options.neighbors;
    complement_options.event_types = kCartEventTypes;
    ASSIGN_OR_RETURN(complements,
                     BuildItemNeighbors(matrix, complement_options,
                                        als.item_factors, als.dim));
    s.complement_entries = complements.size();
  }
  s.neighbor_seconds = SecondsSince(start);
  if (two_tables) {
    spdlog::info(
        "neighbour tables: two ({}); {}: {} substitute entries, {} "
        "complement entries in {:.3f} s",
        s.neighbor_tables_reason,
        std::string(NeighborSourceName(options.neighbors.source)),
        s.neighbor_entries, s.complement_entries, s.neighbor_seconds);
  } else {
    spdlog::info("neighbour tables: one ({}); {}: {} entries in {:.3f} s",
                 s.neighbor_tables_reason,
                 std::string(NeighborSourceName(options.neighbors.source)),
                 s.neighbor_entries, s.neighbor_seconds);
  }

  ModelData data;
  data.version = options.model_version.empty()
                     ? DefaultModelVersion(absl::Now())
                     : options.model_version;
  s.model_version = data.version;
  data.dim = als.dim;
  data.user_ids = matrix.user_ids;
  data.item_ids = matrix.item_ids;
  // Popularity for the learned rankers' features: distinct training users
  // per item (not events: a few wholesalers re-ordering one item dozens of
  // times should not make it popular).
  data.item_counts.resize(matrix.item_ids.size());
  for (int32_t i = 0; i < matrix.num_items(); ++i) {
    data.item_counts[i] =
        static_cast<float>(matrix.item_indptr[i + 1] - matrix.item_indptr[i]);
  }
  data.user_factors = std::move(als.user_factors);
  data.item_factors = std::move(als.item_factors);
  data.neighbor_indptr = std::move(neighbors.indptr);
  data.neighbor_indices = std::move(neighbors.indices);
  data.neighbor_scores = std::move(neighbors.scores);
  if (two_tables) {
    data.complement_indptr = std::move(complements.indptr);
    data.complement_indices = std::move(complements.indices);
    data.complement_scores = std::move(complements.scores);
  }
  if (categories != nullptr) {
    data.item_categories.resize(data.item_ids.size());
    int64_t known = 0;
    for (size_t i = 0; i < data.item_ids.size(); ++i) {
      auto it = categories->find(data.item_ids[i]);
      if (it == categories->end()) continue;
      ++known;
      data.item_categories[i] = it->second;
      if (!it->second.empty()) ++s.categorized_items;
    }
    s.unknown_category_items = static_cast<int64_t>(categories->size()) - known;
  }
  return data;
}

absl::StatusOr<TrainSummary> RunTraining(const TrainOptions& options) {
  if (options.log_path.empty()) {
    return absl::InvalidArgumentError("no interaction log given");
  }
  if (options.out_dir.empty()) {
    return absl::InvalidArgumentError("no output directory given");
  }
  if (!options.user_export_dir.empty()) {
    // The model directory is replaced as a whole when written: an export
    // inside it would be deleted with the old tree.
    // Canonical, without a trailing '/', as IsUnder wants.
    auto canonical = [](const std::string& path) {
      std::string s = std::filesystem::weakly_canonical(path).string();
      while (s.size() > 1 && s.back() == '/') s.pop_back();
      return s;
    };
    if (IsUnder(canonical(options.user_export_dir),
                canonical(options.out_dir))) {
      return absl::InvalidArgumentError(
          absl::StrCat("user factor export directory ", options.user_export_dir,
                       " is inside the model directory ", options.out_dir));
    }
  }
  // Check the cheap things before spending time on reading and training.
  RETURN_IF_ERROR(ValidateAlsOptions(options.als));
  RETURN_IF_ERROR(ValidateNeighborOptions(options.neighbors));

  const auto total_start = std::chrono::steady_clock::now();
  TrainSummary summary;
  summary.out_dir = options.out_dir;

  auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(InteractionLog log,
                   ReadInteractionLog(options.log_path, options.log));
  summary.log_records = log.records;
  summary.skipped_lines = log.skipped_lines;
  summary.bad_lines = std::move(log.bad_lines);
  for (const std::string& message : summary.bad_lines) {
    spdlog::warn("skipped {}", message);
  }
  if (summary.skipped_lines > static_cast<int64_t>(summary.bad_lines.size())) {
    spdlog::warn("... {} bad lines skipped in total", summary.skipped_lines);
  }
  ASSIGN_OR_RETURN(
      const InteractionMatrix matrix,
      BuildInteractionMatrix(log.interactions, options.event_weights));
  // The matrix holds all that training needs from here on; the finishing
  // step may need the log itself.
  if (!options.finish_model) log = InteractionLog();
  summary.read_seconds = SecondsSince(start);
  spdlog::info(
      "read {}: {} records, {} skipped, {} weighted events in "
      "{:.3f} s",
      options.log_path, summary.log_records, summary.skipped_lines,
      matrix.num_events, summary.read_seconds);

  ItemCategoryMap categories;
  const bool have_categories = !options.item_categories_path.empty();
  if (have_categories) {
    ASSIGN_OR_RETURN(categories,
                     ReadItemCategories(options.item_categories_path));
  }

  ASSIGN_OR_RETURN(
      ModelData data,
      TrainModelData(matrix, options, have_categories ? &categories : nullptr,
                     &summary));
  if (options.finish_model) {
    start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(summary.finish_summary,
                     options.finish_model(
                         log, have_categories ? &categories : nullptr, &data));
    summary.finish_seconds = SecondsSince(start);
    log = InteractionLog();
  }

  start = std::chrono::steady_clock::now();
  if (!options.user_export_dir.empty()) {
    RETURN_IF_ERROR(WriteUserFactorExport(data, options.user_export_dir));
    summary.user_export_dir = options.user_export_dir;
    summary.exported_users = static_cast<int32_t>(data.user_ids.size());
  }
  data.factor_dtype = options.factor_dtype;
  if (options.items_only) {
    data.user_ids.clear();
    data.user_factors.clear();
    summary.items_only = true;
  }
  RETURN_IF_ERROR(WriteModel(data, options.out_dir));
  summary.write_seconds = SecondsSince(start);
  summary.total_seconds = SecondsSince(total_start);
  return summary;
}

std::string FormatTrainSummary(const TrainSummary& s) {
  std::string out;
  absl::StrAppendFormat(&out, "model %s written to %s\n", s.model_version,
                        s.out_dir);
  absl::StrAppendFormat(&out,
                        "  log:        %d records, %d bad lines skipped, "
                        "%d weighted events (%d with weight 0 ignored)\n",
                        s.log_records, s.skipped_lines, s.events,
                        s.zero_weight_events);
  absl::StrAppendFormat(&out,
                        "  matrix:     %d users x %d items, %d distinct "
                        "pairs\n",
                        s.users, s.items, s.nnz);
  absl::StrAppendFormat(&out, "  loss:       %.6g (normalized %.6g)\n",
                        s.final_loss, s.final_normalized_loss);
  absl::StrAppendFormat(&out, "  neighbour tables: %s (%s)\n",
                        s.two_neighbor_tables ? "two" : "one",
                        s.neighbor_tables_reason);
  if (s.two_neighbor_tables) {
    absl::StrAppendFormat(&out,
                          "  neighbours: %d substitute entries, %d complement "
                          "entries\n",
                          s.neighbor_entries, s.complement_entries);
  } else {
    absl::StrAppendFormat(&out, "  neighbours: %d entries\n",
                          s.neighbor_entries);
  }
  if (s.categorized_items > 0 || s.unknown_category_items > 0) {
    absl::StrAppendFormat(&out,
                          "  categories: %d items categorized (%d category "
                          "rows for items not in the model)\n",
                          s.categorized_items, s.unknown_category_items);
  }
  out += s.finish_summary;
  if (!s.user_export_dir.empty()) {
    absl::StrAppendFormat(&out,
                          "  users:      %d user factor rows exported to %s\n",
                          s.exported_users, s.user_export_dir);
  }
  if (s.items_only) {
    absl::StrAppendFormat(&out,
                          "  users:      none in the model (items only: "
                          "callers send user_vector)\n");
  }
  absl::StrAppendFormat(&out,
                        "  seconds:    %.2f total (read %.2f, ALS %.2f, "
                        "neighbours %.2f, rankers %.2f, write %.2f)\n",
                        s.total_seconds, s.read_seconds, s.als_seconds,
                        s.neighbor_seconds, s.finish_seconds,
                        s.write_seconds);
  return out;
}

}  // namespace rerank
