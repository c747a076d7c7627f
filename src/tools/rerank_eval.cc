// rerank-eval: offline evaluation of rerankd's re-ranking on a time-split
// interaction log (docs/evaluation.md).
//
//   rerank-eval --log=interactions.csv.gz --split_time=2011-11-01
//       --retriever=popularity --num_candidates=100 --max_test_cases=20000
//       --seed=42 --bootstrap=1000 --threads=2
//       --json_out=eval.json --html_out=eval.html
//
// A thin main over src/evaluation (RunEvaluation); the table goes to stdout,
// progress to stderr.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "evaluation/evaluator.h"
#include "evaluation/report.h"
#include "learning/ranker_training.h"
#include "model/model_loader.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "training/interaction_log.h"
#include "training/item_categories.h"
#include "training/timestamp.h"

ABSL_FLAG(std::string, log, "",
          "Interaction log (as for rerank-train); may be gzipped.");
ABSL_FLAG(bool, skip_bad_lines, false,
          "Skip and count malformed log lines instead of failing.");
ABSL_FLAG(std::string, split_time, "",
          "Interactions at or after this moment are the test side, e.g. "
          "2011-11-01 (UTC) or Unix seconds. Overrides --test_fraction.");
ABSL_FLAG(double, test_fraction, 0.1,
          "Without --split_time: the test side is the last fraction of the "
          "interactions (or of the time range, see --fraction_of).");
ABSL_FLAG(std::string, fraction_of, "interactions",
          "What --test_fraction is a fraction of: interactions or time.");
ABSL_FLAG(std::string, test_event_type, "purchase",
          "Event type of the held-out interactions that become test cases.");
ABSL_FLAG(std::string, users, "all",
          "Test cases of which users: all, known (>= 1 train interaction) or "
          "cold (none). Segments are reported either way.");
ABSL_FLAG(int64_t, max_test_cases, 20000,
          "Uniform random sample of at most this many test cases (0: all).");
ABSL_FLAG(uint64_t, seed, 42,
          "Seed of the test-case sample, the insertion of unretrieved true "
          "items and the bootstrap.");
ABSL_FLAG(int32_t, num_candidates, 100,
          "Retrieved candidates per test case, besides the true item.");
ABSL_FLAG(std::string, retriever, "popularity",
          "Baseline retriever: popularity or cooccurrence.");
ABSL_FLAG(int32_t, retriever_neighbors, 200,
          "Neighbours per item in the co-occurrence retriever's table.");
ABSL_FLAG(int32_t, max_events, 50,
          "Events per request: the user's last N before the test moment.");
ABSL_FLAG(int32_t, user_knn_k, 50, "Neighbours of user-based CF.");
ABSL_FLAG(int32_t, cutoff, 10, "k of HR@k and NDCG@k.");
ABSL_FLAG(int32_t, bootstrap, 1000, "Bootstrap resamples of test cases.");
ABSL_FLAG(std::string, bootstrap_unit, "case",
          "What a bootstrap draw resamples: case (test case) or user (all of "
          "a user's test cases; wider, accounts for correlated purchases).");
ABSL_FLAG(double, confidence, 0.95, "Confidence level of the intervals.");
ABSL_FLAG(int32_t, threads, 2,
          "Worker threads (training, scoring, bootstrap). Results do not "
          "depend on it.");
ABSL_FLAG(std::string, model, "",
          "Evaluate this model directory instead of training one on the "
          "train side (it must not have seen the test side).");
ABSL_FLAG(std::string, config, "",
          "rerankd config JSON whose `scoring` weights the full strategy "
          "uses (default: the server's built-in defaults).");
ABSL_FLAG(bool, no_demotion_variant, true,
          "Also score the full_no_demotion variant (purchase_demotion=0).");
ABSL_FLAG(bool, diversity_variants, true,
          "Also score full+mmr0.7, full+mmr0.4 (MMR diversity over the top "
          "10) and full+cap2 (at most 2 per category within the top 10).");
ABSL_FLAG(std::string, variants, "",
          "More named variants of the full score, ';'-separated "
          "name=part+part... where a part is {ScoringParams JSON} (weight "
          "overrides on top of the full weights), mmr:LAMBDA[:TOP[:POOL]] "
          "(request rules.diversity), cap:MAX[:WITHIN] (a category cap, "
          "WITHIN default 10) or rules:{Rules JSON}; names are "
          "[A-Za-z0-9_.+-]+. E.g. 'full_no_base={\"base_weight\":0};"
          "nobase+mmr0.5={\"base_weight\":0}+mmr:0.5;full+cap3=cap:3:10'.");
ABSL_FLAG(std::string, item_categories, "",
          "CSV of item_id,category (as for rerank-train) for the model "
          "trained in memory: category caps and category coverage use it. "
          "Ignored with --model (the model has its own).");
ABSL_FLAG(std::string, json_out, "", "Write the report as JSON here.");
ABSL_FLAG(std::string, html_out, "",
          "Write a self-contained HTML report here.");

// Training on the train side (same names and defaults as rerank-train).
ABSL_FLAG(int32_t, factors, 32, "Latent dimension.");
ABSL_FLAG(std::string, factor_dtype, "float32",
          "How the evaluated model stores its factors: float32, float16 or "
          "int8 (docs/model-format.md); training is float32 either way.");
ABSL_FLAG(int32_t, iterations, 15, "ALS iterations.");
ABSL_FLAG(double, regularization, 0.05, "L2 regularization lambda.");
ABSL_FLAG(double, alpha, 1, "Confidence scale.");
ABSL_FLAG(int32_t, cg_steps, 3, "Conjugate-gradient steps per row update.");
ABSL_FLAG(uint64_t, als_seed, 42, "Seed of the ALS initialisation.");
ABSL_FLAG(int32_t, neighbors, 20, "Model neighbours per item.");
ABSL_FLAG(int32_t, min_support, 2, "Minimum co-occurrence count.");
ABSL_FLAG(std::string, neighbors_from, "cooccurrence",
          "cooccurrence, factors, or both.");

ABSL_FLAG(std::string, ranker, "auto",
          "Learned rankers of the model trained in memory, fitted on the last "
          "slice of the train side as rerank-train does: auto|linear|gbdt|"
          "formula (none). Ignored with --model (its own rankers count).");
ABSL_FLAG(bool, part_variants, true,
          "Add the formula's single parts (formula_base0, "
          "formula_boosts_only).");

namespace rerank {
namespace {

absl::StatusOr<EvalOptions> OptionsFromFlags() {
  EvalOptions o;
  const std::string split = absl::GetFlag(FLAGS_split_time);
  if (!split.empty()) {
    std::optional<double> t = ParseTimestamp(split);
    if (!t.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--split_time: cannot parse '", split, "'"));
    }
    o.split.split_time = *t;
  }
  o.split.test_fraction = absl::GetFlag(FLAGS_test_fraction);
  ASSIGN_OR_RETURN(o.split.fraction_of,
                   ParseFractionOf(absl::GetFlag(FLAGS_fraction_of)));
  const std::string type = absl::GetFlag(FLAGS_test_event_type);
  std::optional<EventType> t = ParseEventType(type);
  if (!t.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--test_event_type: unknown event type '", type, "'"));
  }
  o.test_event_type = *t;
  ASSIGN_OR_RETURN(o.users, ParseUserFilter(absl::GetFlag(FLAGS_users)));
  o.max_test_cases = absl::GetFlag(FLAGS_max_test_cases);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.num_candidates = absl::GetFlag(FLAGS_num_candidates);
  ASSIGN_OR_RETURN(o.retriever,
                   ParseRetrieverKind(absl::GetFlag(FLAGS_retriever)));
  o.retriever_neighbors = absl::GetFlag(FLAGS_retriever_neighbors);
  o.max_events = absl::GetFlag(FLAGS_max_events);
  o.user_knn_k = absl::GetFlag(FLAGS_user_knn_k);
  o.cutoff = absl::GetFlag(FLAGS_cutoff);
  o.bootstrap = absl::GetFlag(FLAGS_bootstrap);
  ASSIGN_OR_RETURN(o.bootstrap_unit,
                   ParseBootstrapUnit(absl::GetFlag(FLAGS_bootstrap_unit)));
  o.confidence = absl::GetFlag(FLAGS_confidence);
  o.threads = absl::GetFlag(FLAGS_threads);
  if (!absl::GetFlag(FLAGS_config).empty()) {
    ASSIGN_OR_RETURN(o.full_weights,
                     ScoringWeightsFromConfigFile(absl::GetFlag(FLAGS_config)));
  }
  o.variants.clear();
  if (absl::GetFlag(FLAGS_no_demotion_variant)) {
    o.variants.push_back(NoDemotionVariant());
  }
  if (absl::GetFlag(FLAGS_part_variants)) {
    for (ScoringVariant& v : FormulaPartVariants()) {
      o.variants.push_back(std::move(v));
    }
  }
  if (absl::GetFlag(FLAGS_diversity_variants)) {
    for (ScoringVariant& v : DiversityVariants()) {
      o.variants.push_back(std::move(v));
    }
  }
  if (!absl::GetFlag(FLAGS_item_categories).empty()) {
    ASSIGN_OR_RETURN(o.item_categories,
                     ReadItemCategories(absl::GetFlag(FLAGS_item_categories)));
  }
  ASSIGN_OR_RETURN(std::vector<ScoringVariant> more,
                   ParseScoringVariants(absl::GetFlag(FLAGS_variants)));
  o.variants.insert(o.variants.end(), more.begin(), more.end());

  o.train.als.factors = absl::GetFlag(FLAGS_factors);
  {
    auto dtype = ParseFactorDtype(absl::GetFlag(FLAGS_factor_dtype));
    if (!dtype.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--factor_dtype: ", dtype.status().message()));
    }
    o.train.factor_dtype = *dtype;
  }
  o.train.als.iterations = absl::GetFlag(FLAGS_iterations);
  o.train.als.regularization =
      static_cast<float>(absl::GetFlag(FLAGS_regularization));
  o.train.als.alpha = static_cast<float>(absl::GetFlag(FLAGS_alpha));
  o.train.als.cg_steps = absl::GetFlag(FLAGS_cg_steps);
  o.train.als.seed = absl::GetFlag(FLAGS_als_seed);
  // The loss is only logged; skipping it saves a CG step's worth per
  // iteration.
  o.train.als.compute_loss = false;
  o.train.neighbors.num_neighbors = absl::GetFlag(FLAGS_neighbors);
  o.train.neighbors.min_support = absl::GetFlag(FLAGS_min_support);
  ASSIGN_OR_RETURN(o.train.neighbors.source,
                   ParseNeighborSource(absl::GetFlag(FLAGS_neighbors_from)));
  RETURN_IF_ERROR(ValidateAlsOptions(o.train.als));
  RETURN_IF_ERROR(ValidateNeighborOptions(o.train.neighbors));
  RETURN_IF_ERROR(ValidateEvalOptions(o));
  ASSIGN_OR_RETURN(const RankerChoice choice,
                   ParseRankerChoice(absl::GetFlag(FLAGS_ranker)));
  if (choice != RankerChoice::kFormula) {
    RankerTrainingOptions ranker;
    ranker.choice = choice;
    ranker.seed = o.seed;
    ranker.threads = o.threads;
    RETURN_IF_ERROR(ValidateRankerTrainingOptions(ranker));
    TrainOptions train = o.train;
    train.als.threads = o.threads;
    train.neighbors.threads = o.threads;
    o.train.finish_model =
        [train, ranker](const InteractionLog& log,
                        const ItemCategoryMap* categories,
                        ModelData* model) -> absl::StatusOr<std::string> {
      RankerTrainingReport report;
      RETURN_IF_ERROR(
          TrainRankers(log, train, categories, ranker, model, &report));
      std::string summary = FormatRankerTrainingReport(report);
      spdlog::info("rankers fitted on the train side:\n{}", summary);
      return summary;
    };
  }
  return o;
}

absl::Status Run() {
  const std::string log_path = absl::GetFlag(FLAGS_log);
  if (log_path.empty()) return absl::InvalidArgumentError("--log is required");
  ASSIGN_OR_RETURN(const EvalOptions options, OptionsFromFlags());

  std::shared_ptr<const ModelSnapshot> model;
  if (!absl::GetFlag(FLAGS_model).empty()) {
    ASSIGN_OR_RETURN(model, LoadModel(absl::GetFlag(FLAGS_model)));
  }
  LogReadOptions read_options;
  read_options.skip_bad_lines = absl::GetFlag(FLAGS_skip_bad_lines);
  spdlog::info("reading {}", log_path);
  ASSIGN_OR_RETURN(const InteractionLog log,
                   ReadInteractionLog(log_path, read_options));
  if (log.skipped_lines > 0) {
    spdlog::warn("{} bad lines skipped", log.skipped_lines);
  }
  ASSIGN_OR_RETURN(const EvalReport report,
                   RunEvaluation(log, options, model, log_path));
  std::fputs(FormatTextReport(report).c_str(), stdout);
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    RETURN_IF_ERROR(WriteStringToFile(absl::GetFlag(FLAGS_json_out),
                                      EvalReportToJson(report)));
  }
  if (!absl::GetFlag(FLAGS_html_out).empty()) {
    RETURN_IF_ERROR(WriteStringToFile(absl::GetFlag(FLAGS_html_out),
                                      EvalReportToHtml(report)));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace rerank

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Evaluates re-ranking on a time-split interaction log: baseline order, "
      "user-based CF, factors only and the full rerankd score, with "
      "bootstrap CIs.\n"
      "  rerank-eval --log=interactions.csv.gz --split_time=2011-11-01 "
      "[--retriever=popularity|cooccurrence] [--json_out=eval.json] "
      "[--html_out=eval.html]");
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("rerank-eval"));
  if (positional.size() > 1) {
    std::fprintf(stderr, "rerank-eval: unexpected argument '%s'\n",
                 positional[1]);
    return 2;
  }
  const absl::Status status = rerank::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "rerank-eval: %s\n", status.ToString().c_str());
    return absl::IsInvalidArgument(status) ? 2 : 1;
  }
  return 0;
}
