#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/model_snapshot.h"
#include "training/als.h"
#include "training/interaction_log.h"
#include "training/interaction_matrix.h"
#include "training/item_categories.h"
#include "training/neighbors.h"

namespace rerank {

// How many item-neighbour tables to build (docs/model-format.md).
enum class NeighborTables {
  // Two when they can differ: the log has both view-type events (view,
  // click, wishlist) and cart-type events (add_to_cart, purchase), and the
  // neighbours come from co-occurrence (alone or blended). Otherwise one.
  kAuto,
  // One table from all events (a format_version 1 model, as before).
  kOne,
  // Substitutes from view-type events, complements from cart-type events;
  // INVALID_ARGUMENT when the log lacks either kind or the neighbours come
  // from factors alone.
  kTwo,
};
// "auto", "one", "two".
absl::StatusOr<NeighborTables> ParseNeighborTables(absl::string_view name);
absl::string_view NeighborTablesName(NeighborTables tables);

// Everything rerank-train needs: where to read and write, and how to train.
struct TrainOptions {
  std::string log_path;
  std::string out_dir;
  // Optional CSV of item_id,category (see ReadItemCategories).
  std::string item_categories_path;
  // "" means DefaultModelVersion(now).
  std::string model_version;
  LogReadOptions log;
  EventWeights event_weights;
  AlsOptions als;
  // Similarity, top-K etc. of every table. With two tables, the
  // substitutes use event_types = kViewEventTypes and the complements
  // kCartEventTypes (whatever neighbors.event_types says); with one table,
  // neighbors.event_types as given.
  NeighborOptions neighbors;
  NeighborTables neighbor_tables = NeighborTables::kAuto;
  // Non-empty: the trained user factors are also written there for a
  // feature store (WriteUserFactorExport), after finish_model.
  std::string user_export_dir;
  // Write the model without user factors (num_users = 0): callers send
  // RerankRequest.user_vector instead. Rankers are still fitted with the
  // users' factors, as the caller will supply them.
  bool items_only = false;
  // How the written model stores its factors (rerank-train --factor_dtype;
  // training itself is float32). rerank-eval serves its in-memory model so.
  FactorDtype factor_dtype = FactorDtype::kFloat32;
  // Called by RunTraining with the log, the categories (null when none) and
  // the model trained on all of it, just before the model is written; its
  // result goes into TrainSummary::finish_summary. rerank-train fits the
  // learned rankers here (learning/ranker_training.h), a library that
  // depends on this one. Unset: the model is written as trained.
  std::function<absl::StatusOr<std::string>(
      const InteractionLog& log, const ItemCategoryMap* categories,
      ModelData* model)>
      finish_model;
};

struct TrainSummary {
  std::string model_version;
  std::string out_dir;
  int64_t log_records = 0;             // data records in the log
  int64_t skipped_lines = 0;           // bad records skipped (skip_bad_lines)
  std::vector<std::string> bad_lines;  // the first few skip messages
  int64_t events = 0;                  // events with a positive weight
  int64_t zero_weight_events = 0;
  int32_t users = 0;
  int32_t items = 0;
  int64_t nnz = 0;  // distinct (user, item) pairs
  // The neighbour table: with two tables, the substitutes.
  int64_t neighbor_entries = 0;
  bool two_neighbor_tables = false;
  int64_t complement_entries = 0;  // 0 with one table
  // Why one or two tables, e.g. "log has no view/click/wishlist events".
  std::string neighbor_tables_reason;
  int64_t categorized_items = 0;       // model items with a non-empty category
  int64_t unknown_category_items = 0;  // category-file items not in the model
  double final_loss = 0;               // NaN when no loss was computed
  double final_normalized_loss = 0;
  double read_seconds = 0;  // log read + matrix build
  double als_seconds = 0;
  double neighbor_seconds = 0;
  double finish_seconds = 0;  // TrainOptions::finish_model
  std::string finish_summary;  // its lines for FormatTrainSummary
  double write_seconds = 0;
  std::string user_export_dir;  // where the user factors went ("" if not)
  int32_t exported_users = 0;
  bool items_only = false;
  double total_seconds = 0;
};

// "YYYYMMDDTHHMMSSZ" of `now` in UTC, e.g. "20240131T235959Z": sortable and
// safe in a path.
std::string DefaultModelVersion(absl::Time now);

// Whether to build two neighbour tables for `matrix` under `options`
// (see NeighborTables), with the reason in `*reason`. INVALID_ARGUMENT for
// NeighborTables::kTwo when two cannot be built.
absl::StatusOr<bool> ChooseTwoNeighborTables(const InteractionMatrix& matrix,
                                             const TrainOptions& options,
                                             std::string* reason);

// Trains factors and neighbours on `matrix` and assembles the model (no
// file I/O): one neighbour table, or substitutes and complements as
// ChooseTwoNeighborTables decides. `categories` may be null. Fills the counting
// and timing fields of `summary` that it knows about (summary may be null).
absl::StatusOr<ModelData> TrainModelData(const InteractionMatrix& matrix,
                                         const TrainOptions& options,
                                         const ItemCategoryMap* categories,
                                         TrainSummary* summary);

// The whole rerank-train pipeline: read the log (and the categories), build
// the matrix, train, and WriteModel() into options.out_dir.
absl::StatusOr<TrainSummary> RunTraining(const TrainOptions& options);

// A multi-line human-readable summary for the end of a run.
std::string FormatTrainSummary(const TrainSummary& summary);

}  // namespace rerank
