// rerank-train: interaction log -> model directory.
//
//   rerank-train --log=interactions.csv.gz --out=models/v1
//       --factors=32 --iterations=15 --regularization=0.05 --alpha=1
//       --cg_steps=3 --threads=2 --seed=42
//       --neighbors=20 --min_support=2 --neighbors_from=cooccurrence
//       --neighbor_tables=auto --ranker=auto
//
// See src/training/trainer.h for the pipeline and the library entry point
// (RunTraining) that this is a thin wrapper over, and
// src/learning/ranker_training.h for the learned rankers it then fits.

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "learning/ranker_training.h"
#include "ranking/features.h"
#include "training/trainer.h"

ABSL_FLAG(std::string, log, "",
          "Interaction log: CSV with header "
          "user_id,item_id,event_type,timestamp[,weight]; may be gzipped.");
ABSL_FLAG(std::string, out, "", "Model directory to write (created).");
ABSL_FLAG(std::string, model_version, "",
          "Model version string; default: the UTC time, YYYYMMDDTHHMMSSZ.");
ABSL_FLAG(std::string, export_user_factors, "",
          "Also write the user factors to this directory for a feature store "
          "(user_factors.npy, user_ids.txt, user_export.json).");
ABSL_FLAG(bool, items_only, false,
          "Write the model without user factors (num_users = 0); callers "
          "send RerankRequest.user_vector (e.g. from --export_user_factors).");
ABSL_FLAG(std::string, item_categories, "",
          "Optional CSV item_id,category (header optional).");
ABSL_FLAG(bool, skip_bad_lines, false,
          "Skip and count malformed log lines instead of failing.");

// Event confidence weights: an event adds weight(type) * its `weight`
// column to its (user, item) pair; 0 ignores the type.
ABSL_FLAG(double, view_weight, 1, "Confidence weight of a view.");
ABSL_FLAG(double, click_weight, 2, "Confidence weight of a click.");
ABSL_FLAG(double, add_to_cart_weight, 4, "Confidence weight of add_to_cart.");
ABSL_FLAG(double, purchase_weight, 8, "Confidence weight of a purchase.");
ABSL_FLAG(double, wishlist_weight, 3, "Confidence weight of a wishlist add.");

ABSL_FLAG(int32_t, factors, 32, "Latent dimension.");
ABSL_FLAG(std::string, factor_dtype, "float32",
          "How the model stores its factor matrices: float32, float16 (half "
          "the bytes) or int8 with a scale per row (a quarter); see "
          "docs/model-format.md.");
ABSL_FLAG(int32_t, iterations, 15, "ALS iterations.");
ABSL_FLAG(double, regularization, 0.05, "L2 regularization lambda.");
ABSL_FLAG(double, alpha, 1,
          "Confidence scale: c = 1 + alpha * w (or alpha * log(1 + w)), w "
          "the pair's summed event weights.");
ABSL_FLAG(std::string, confidence, "linear",
          "Confidence scaling of the summed weight w: linear or log.");
ABSL_FLAG(int32_t, cg_steps, 3, "Conjugate-gradient steps per row update.");
ABSL_FLAG(int32_t, threads, 2,
          "Worker threads for ALS and neighbours (results do not depend on "
          "it).");
ABSL_FLAG(uint64_t, seed, 42, "Seed of the random factor initialisation.");
ABSL_FLAG(bool, compute_loss, true, "Log the training loss per iteration.");

ABSL_FLAG(int32_t, neighbors, 20, "Neighbours per item (0: none).");
ABSL_FLAG(int32_t, min_support, 2,
          "Minimum co-occurrence count (users) for a co-occurrence "
          "neighbour.");
ABSL_FLAG(std::string, neighbors_from, "cooccurrence",
          "cooccurrence, factors, or both (blend).");
ABSL_FLAG(double, neighbor_factor_weight, 0.5,
          "With --neighbors_from=both: weight of the factor cosine; the "
          "co-occurrence cosine gets 1 - this.");
ABSL_FLAG(std::string, neighbor_tables, "auto",
          "auto: two neighbour tables (substitutes from view/click/wishlist "
          "events, complements from add_to_cart/purchase events; a "
          "format_version 2 model) when the log has both kinds and "
          "neighbours come from co-occurrence, else one; one: a single "
          "table from all events (format_version 1, readable by older "
          "servers); two: two tables or fail.");
ABSL_FLAG(int32_t, max_user_history, 500,
          "Only each user's most recent N distinct items count for "
          "co-occurrence (bounds the quadratic cost).");

ABSL_FLAG(std::string, ranker, "auto",
          "Learned ranker to fit: auto (linear and gbdt; gbdt is the default "
          "only when it beats linear on the validation lists beyond noise) | "
          "linear | gbdt | formula (none).");
ABSL_FLAG(double, ranker_holdout, 0.1,
          "Last fraction of the log (by interactions) held out to build the "
          "rankers' training lists.");
ABSL_FLAG(int32_t, ranker_lists, 6000,
          "Held-out baskets sampled as training lists (0: all).");
ABSL_FLAG(int32_t, ranker_candidates, 50,
          "Candidates per training list, as the retriever returns them (the "
          "list is N+1 long).");
ABSL_FLAG(int32_t, ranker_events, 20,
          "Events per training request: the user's last N.");
ABSL_FLAG(std::string, ranker_features, "",
          "Comma-separated feature names (README \"Learned ranking\") the "
          "rankers may use; empty: the default set (scale-free features, "
          "none from the caller's retriever); all: every feature.");
ABSL_FLAG(int32_t, gbdt_trees, 300, "Most trees of the gbdt ranker.");
ABSL_FLAG(int32_t, gbdt_depth, 6, "Depth of the gbdt ranker's trees.");

namespace rerank {
namespace {

absl::StatusOr<RankerTrainingOptions> RankerOptionsFromFlags(
    const TrainOptions& train) {
  RankerTrainingOptions o;
  auto choice = ParseRankerChoice(absl::GetFlag(FLAGS_ranker));
  if (!choice.ok()) return choice.status();
  o.choice = *choice;
  o.holdout_fraction = absl::GetFlag(FLAGS_ranker_holdout);
  o.max_lists = absl::GetFlag(FLAGS_ranker_lists);
  o.num_candidates = absl::GetFlag(FLAGS_ranker_candidates);
  o.max_events = absl::GetFlag(FLAGS_ranker_events);
  o.gbdt.max_trees = absl::GetFlag(FLAGS_gbdt_trees);
  o.gbdt.max_depth = absl::GetFlag(FLAGS_gbdt_depth);
  const std::string features = absl::GetFlag(FLAGS_ranker_features);
  if (features == "all") {
    for (absl::string_view name : FeatureNames()) {
      o.linear.features.emplace_back(name);
    }
    o.gbdt.features = o.linear.features;
  } else if (!features.empty()) {
    for (absl::string_view name : absl::StrSplit(features, ',')) {
      if (FindFeature(name) < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--ranker_features: '", name, "' is not a feature of ",
            kFeatureSetName));
      }
      o.linear.features.emplace_back(name);
    }
    o.gbdt.features = o.linear.features;
  }
  o.seed = train.als.seed;
  o.threads = train.als.threads;
  absl::Status valid = ValidateRankerTrainingOptions(o);
  if (!valid.ok()) return valid;
  return o;
}

absl::StatusOr<TrainOptions> OptionsFromFlags() {
  TrainOptions o;
  o.log_path = absl::GetFlag(FLAGS_log);
  o.out_dir = absl::GetFlag(FLAGS_out);
  if (o.log_path.empty())
    return absl::InvalidArgumentError("--log is required");
  if (o.out_dir.empty()) return absl::InvalidArgumentError("--out is required");
  o.model_version = absl::GetFlag(FLAGS_model_version);
  o.item_categories_path = absl::GetFlag(FLAGS_item_categories);
  o.user_export_dir = absl::GetFlag(FLAGS_export_user_factors);
  o.items_only = absl::GetFlag(FLAGS_items_only);
  o.log.skip_bad_lines = absl::GetFlag(FLAGS_skip_bad_lines);

  o.event_weights.view = static_cast<float>(absl::GetFlag(FLAGS_view_weight));
  o.event_weights.click = static_cast<float>(absl::GetFlag(FLAGS_click_weight));
  o.event_weights.add_to_cart =
      static_cast<float>(absl::GetFlag(FLAGS_add_to_cart_weight));
  o.event_weights.purchase =
      static_cast<float>(absl::GetFlag(FLAGS_purchase_weight));
  o.event_weights.wishlist =
      static_cast<float>(absl::GetFlag(FLAGS_wishlist_weight));

  o.als.factors = absl::GetFlag(FLAGS_factors);
  {
    auto dtype = ParseFactorDtype(absl::GetFlag(FLAGS_factor_dtype));
    if (!dtype.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--factor_dtype: ", dtype.status().message()));
    }
    o.factor_dtype = *dtype;
  }
  o.als.iterations = absl::GetFlag(FLAGS_iterations);
  o.als.regularization =
      static_cast<float>(absl::GetFlag(FLAGS_regularization));
  o.als.alpha = static_cast<float>(absl::GetFlag(FLAGS_alpha));
  auto scaling = ParseConfidenceScaling(absl::GetFlag(FLAGS_confidence));
  if (!scaling.ok()) return scaling.status();
  o.als.scaling = *scaling;
  o.als.cg_steps = absl::GetFlag(FLAGS_cg_steps);
  o.als.threads = absl::GetFlag(FLAGS_threads);
  o.als.seed = absl::GetFlag(FLAGS_seed);
  o.als.compute_loss = absl::GetFlag(FLAGS_compute_loss);

  o.neighbors.num_neighbors = absl::GetFlag(FLAGS_neighbors);
  o.neighbors.min_support = absl::GetFlag(FLAGS_min_support);
  auto source = ParseNeighborSource(absl::GetFlag(FLAGS_neighbors_from));
  if (!source.ok()) return source.status();
  o.neighbors.source = *source;
  o.neighbors.factor_weight =
      static_cast<float>(absl::GetFlag(FLAGS_neighbor_factor_weight));
  o.neighbors.max_user_history = absl::GetFlag(FLAGS_max_user_history);
  o.neighbors.threads = o.als.threads;
  auto tables = ParseNeighborTables(absl::GetFlag(FLAGS_neighbor_tables));
  if (!tables.ok()) return tables.status();
  o.neighbor_tables = *tables;
  return o;
}

}  // namespace
}  // namespace rerank

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Trains a rerank model (implicit ALS factors + item neighbours) from an "
      "interaction log.\n"
      "  rerank-train --log=interactions.csv.gz --out=models/v1 [flags]");
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  // Progress goes to stderr so that stdout carries only the final summary.
  spdlog::set_default_logger(spdlog::stderr_color_mt("rerank-train"));
  if (positional.size() > 1) {
    std::fprintf(stderr, "rerank-train: unexpected argument '%s'\n",
                 positional[1]);
    return 2;
  }
  absl::StatusOr<rerank::TrainOptions> options = rerank::OptionsFromFlags();
  if (!options.ok()) {
    std::fprintf(stderr, "rerank-train: %s\n",
                 std::string(options.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<rerank::RankerTrainingOptions> ranker =
      rerank::RankerOptionsFromFlags(*options);
  if (!ranker.ok()) {
    std::fprintf(stderr, "rerank-train: %s\n",
                 std::string(ranker.status().message()).c_str());
    return 2;
  }
  if (ranker->choice != rerank::RankerChoice::kFormula) {
    const rerank::TrainOptions train = *options;
    options->finish_model =
        [train, ranker = *ranker](const rerank::InteractionLog& log,
                                  const rerank::ItemCategoryMap* categories,
                                  rerank::ModelData* model)
        -> absl::StatusOr<std::string> {
      rerank::RankerTrainingReport report;
      absl::Status s = rerank::TrainRankers(log, train, categories, ranker,
                                            model, &report);
      if (!s.ok()) return s;
      return rerank::FormatRankerTrainingReport(report);
    };
  }
  absl::StatusOr<rerank::TrainSummary> summary = rerank::RunTraining(*options);
  if (!summary.ok()) {
    std::fprintf(stderr, "rerank-train: %s\n",
                 summary.status().ToString().c_str());
    return 1;
  }
  std::fputs(rerank::FormatTrainSummary(*summary).c_str(), stdout);
  return 0;
}
