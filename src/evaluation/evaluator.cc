#include "evaluation/evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/parallel.h"
#include "common/status_macros.h"
#include "evaluation/histories.h"
#include "evaluation/random.h"
#include "evaluation/user_knn.h"
#include "google/protobuf/util/json_util.h"
#include "rerank/v1/config.pb.h"
#include "scoring/rules.h"
#include "scoring/scorer.h"
#include "training/interaction_matrix.h"
#include "training/neighbors.h"
#include "training/read_file.h"

namespace rerank {
namespace {

// Tags of the random streams (DeriveSeed), one per purpose.
constexpr uint64_t kSampleStream = 0x5a3f1e;
constexpr uint64_t kCandidateStream = 0xca4d1d;
constexpr uint64_t kSegmentBootstrapStream = 0xb5e9;

// Bootstrap series per strategy: HR@k, NDCG@k, MRR, then ILD@k and
// coverage@k as (value or 0, 1 if defined) pairs whose ratio of means is
// the mean over the cases where they are defined.
enum Series {
  kHit,
  kNdcg,
  kMrr,
  kIldSum,
  kIldCount,
  kCoverageSum,
  kCoverageCount,
  kNumSeries
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// id -> row of an id table.
absl::flat_hash_map<absl::string_view, int32_t> IndexIds(
    const std::vector<std::string>& ids) {
  absl::flat_hash_map<absl::string_view, int32_t> index;
  index.reserve(ids.size());
  for (size_t r = 0; r < ids.size(); ++r) {
    index.emplace(ids[r], static_cast<int32_t>(r));
  }
  return index;
}

int32_t Find(const absl::flat_hash_map<absl::string_view, int32_t>& index,
             absl::string_view id) {
  auto it = index.find(id);
  return it == index.end() ? -1 : it->second;
}

// Weights for the "factors" strategy: only w_mf <u, v_c> is left. With every
// event type weight 0 the session vector has no usable event, so u_eff is
// the user's own factor vector (and absent for an unknown user).
absl::StatusOr<ScoringWeights> FactorsOnlyWeights(const ScoringWeights& full) {
  v1::ScoringParams p;
  p.set_base_weight(0);
  p.set_factor_weight(1);
  p.set_neighbor_weight(0);
  p.set_view_weight(0);
  p.set_click_weight(0);
  p.set_add_to_cart_weight(0);
  p.set_purchase_weight(0);
  p.set_wishlist_weight(0);
  p.set_purchase_demotion(0);
  return ApplyScoringParams(full, p, "factors");
}

// The strategies scored through rerank::Rerank.
struct RerankStrategy {
  int index = 0;  // into EvalReport::strategies
  ScorerOptions options;
  const v1::Rules* rules = nullptr;  // sent as request.rules; null: none
  bool explain = false;  // the full strategy: read diagnostics off it
};

// The reported segments; index 0 is "all".
struct SegmentDef {
  const char* name;
  const char* description;
  bool (*keep)(const CaseRecord&);
};
constexpr SegmentDef kSegments[] = {
    {"all", "every sampled test case", [](const CaseRecord&) { return true; }},
    {"known_users", "the user has >= 1 train interaction",
     [](const CaseRecord& c) { return c.known_user; }},
    {"cold_users", "the user has no train interaction",
     [](const CaseRecord& c) { return !c.known_user; }},
    {"repeat", "the user interacted with the true item before",
     [](const CaseRecord& c) { return c.repeat; }},
    {"first_time", "the true item is new to the user",
     [](const CaseRecord& c) { return !c.repeat; }},
    // The lists that are exactly what the retriever produces in
    // production; in the others the true item was inserted at a random
    // place, so there the baseline's rank is random by construction.
    {"retrieved", "the true item is in the retriever's top N+1",
     [](const CaseRecord& c) { return c.true_retrieved; }},
    {"not_retrieved", "the true item was inserted at a random position",
     [](const CaseRecord& c) { return !c.true_retrieved; }},
};
constexpr int kNumSegments = sizeof(kSegments) / sizeof(kSegments[0]);

// The interval of `samples` (non-finite ones dropped: resamples without a
// defined case) around `point`; NaN throughout if nothing is defined.
Interval FiniteInterval(std::vector<double> samples, double point,
                        double confidence) {
  samples.erase(std::remove_if(samples.begin(), samples.end(),
                               [](double v) { return !std::isfinite(v); }),
                samples.end());
  if (samples.empty() || !std::isfinite(point)) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {nan, nan, nan};
  }
  return PercentileInterval(std::move(samples), point, confidence);
}

SegmentReport Summarize(const std::string& name, const std::string& description,
                        const std::vector<const CaseRecord*>& cases,
                        const std::vector<Interaction>& xs, int num_strategies,
                        const EvalOptions& options, uint64_t segment_index,
                        absl::Status* status) {
  SegmentReport seg;
  seg.name = name;
  seg.description = description;
  seg.cases = static_cast<int64_t>(cases.size());
  if (cases.empty()) return seg;
  const double n = static_cast<double>(cases.size());
  for (const CaseRecord* c : cases) {
    seg.repeat_fraction += c->repeat;
    seg.demoted_fraction += c->demoted;
    seg.true_item_known_fraction += c->true_item_known;
    seg.true_retrieved_fraction += c->true_retrieved;
    seg.session_event_fraction += c->session_event;
    seg.any_boost_fraction += c->any_boost;
    seg.mean_events += c->events;
  }
  seg.repeat_fraction /= n;
  seg.demoted_fraction /= n;
  seg.true_item_known_fraction /= n;
  seg.true_retrieved_fraction /= n;
  seg.session_event_fraction /= n;
  seg.any_boost_fraction /= n;
  seg.mean_events /= n;

  // Case-major values, series = metric * num_strategies + strategy.
  const int num_series = kNumSeries * num_strategies;
  std::vector<double> values(cases.size() * num_series);
  seg.metrics.resize(num_strategies);
  for (size_t i = 0; i < cases.size(); ++i) {
    double* row = &values[i * num_series];
    auto at = [&](Series m, int s) -> double& {
      return row[m * num_strategies + s];
    };
    for (int s = 0; s < num_strategies; ++s) {
      const RankMetrics m = MetricsForRank(cases[i]->ranks[s], options.cutoff);
      at(kHit, s) = m.hit;
      at(kNdcg, s) = m.ndcg;
      at(kMrr, s) = m.reciprocal_rank;
      const double ild = cases[i]->ild[s];
      const double coverage = cases[i]->coverage[s];
      at(kIldSum, s) = std::isfinite(ild) ? ild : 0.0;
      at(kIldCount, s) = std::isfinite(ild) ? 1.0 : 0.0;
      at(kCoverageSum, s) = std::isfinite(coverage) ? coverage : 0.0;
      at(kCoverageCount, s) = std::isfinite(coverage) ? 1.0 : 0.0;
      seg.metrics[s].ild_cases += std::isfinite(ild);
      if (s > 0) {
        if (cases[i]->ranks[s] < cases[i]->ranks[0]) ++seg.metrics[s].better;
        if (cases[i]->ranks[s] > cases[i]->ranks[0]) ++seg.metrics[s].worse;
      }
    }
  }
  BootstrapOptions bo;
  bo.resamples = options.bootstrap;
  bo.seed = DeriveSeed(options.seed, kSegmentBootstrapStream, segment_index);
  bo.threads = options.threads;
  std::vector<int32_t> clusters;
  if (options.bootstrap_unit == BootstrapUnit::kUser) {
    // Dense user ids in order of first appearance.
    absl::flat_hash_map<absl::string_view, int32_t> user_cluster;
    clusters.reserve(cases.size());
    for (const CaseRecord* c : cases) {
      clusters.push_back(
          user_cluster
              .try_emplace(xs[c->interaction].user_id,
                           static_cast<int32_t>(user_cluster.size()))
              .first->second);
    }
  }
  absl::StatusOr<std::vector<double>> boot =
      BootstrapMeans(values, num_series, bo, clusters);
  if (!boot.ok()) {
    *status = boot.status();
    return seg;
  }
  // Metric `m` (kHit, kNdcg, kMrr, kIldSum for ILD, kCoverageSum for
  // coverage) of strategy `s`: on the whole segment (b < 0) or resample b.
  // Ratios are NaN where no case is defined.
  auto value = [&](Series m, int s, int b) {
    auto mean = [&](Series series) {
      const int k = series * num_strategies + s;
      return b < 0 ? SeriesMean(values, num_series, k)
                   : (*boot)[static_cast<size_t>(b) * num_series + k];
    };
    if (m != kIldSum && m != kCoverageSum) return mean(m);
    const double count = mean(static_cast<Series>(m + 1));
    return count > 0 ? mean(m) / count
                     : std::numeric_limits<double>::quiet_NaN();
  };
  const int b_count = options.bootstrap;
  const int full = num_strategies > kFullStrategy ? kFullStrategy : -1;
  std::vector<double> samples(b_count), diffs(b_count), f_diffs(b_count);
  for (const Series m : {kHit, kNdcg, kMrr, kIldSum, kCoverageSum}) {
    for (int s = 0; s < num_strategies; ++s) {
      for (int b = 0; b < b_count; ++b) {
        samples[b] = value(m, s, b);
        diffs[b] = samples[b] - value(m, kBaselineStrategy, b);
        if (full >= 0) f_diffs[b] = samples[b] - value(m, full, b);
      }
      const double point = value(m, s, -1);
      const Interval ci = FiniteInterval(samples, point, options.confidence);
      const Interval d = FiniteInterval(
          diffs, point - value(m, kBaselineStrategy, -1), options.confidence);
      const Interval f =
          full >= 0 ? FiniteInterval(f_diffs, point - value(m, full, -1),
                                     options.confidence)
                    : Interval{};
      StrategyMetrics& out = seg.metrics[s];
      switch (m) {
        case kHit:
          out.hit = ci;
          out.d_hit = d;
          out.f_hit = f;
          break;
        case kNdcg:
          out.ndcg = ci;
          out.d_ndcg = d;
          out.f_ndcg = f;
          break;
        case kMrr:
          out.mrr = ci;
          out.d_mrr = d;
          break;
        case kIldSum:
          out.ild = ci;
          out.f_ild = f;
          break;
        default:
          out.coverage = ci;
          out.f_coverage = f;
          break;
      }
    }
  }
  return seg;
}

}  // namespace

absl::StatusOr<UserFilter> ParseUserFilter(absl::string_view name) {
  if (name == "all") return UserFilter::kAll;
  if (name == "known") return UserFilter::kKnown;
  if (name == "cold") return UserFilter::kCold;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown user filter '", name, "' (expected all, known or cold)"));
}

absl::string_view UserFilterName(UserFilter filter) {
  switch (filter) {
    case UserFilter::kAll:
      return "all";
    case UserFilter::kKnown:
      return "known";
    case UserFilter::kCold:
      return "cold";
  }
  return "all";
}

ScoringVariant NoDemotionVariant() {
  ScoringVariant v;
  v.name = "full_no_demotion";
  v.description =
      "Rerank, server weights with purchase_demotion=0 (repeat purchases "
      "are not pushed down)";
  v.overrides.set_purchase_demotion(0);
  v.ranker = RankerKind::kFormula;
  return v;
}

std::vector<ScoringVariant> FormulaPartVariants() {
  std::vector<ScoringVariant> out(2);
  out[0].name = "formula_base0";
  out[0].description = "Rerank, the formula with base_weight=0";
  out[0].overrides.set_base_weight(0);
  out[1].name = "formula_boosts_only";
  out[1].description =
      "Rerank, the formula with base_weight=0 and factor_weight=0: the "
      "event boosts (direct + neighbours) alone";
  out[1].overrides.set_base_weight(0);
  out[1].overrides.set_factor_weight(0);
  for (ScoringVariant& v : out) v.ranker = RankerKind::kFormula;
  return out;
}

std::vector<ScoringVariant> DiversityVariants() {
  std::vector<ScoringVariant> out;
  for (const double lambda : {0.7, 0.4}) {
    ScoringVariant v;
    v.name = absl::StrCat("full+mmr", lambda);
    v.rules.mutable_diversity()->set_lambda(lambda);
    v.rules.mutable_diversity()->set_top(10);
    out.push_back(std::move(v));
  }
  ScoringVariant cap;
  cap.name = "full+cap2";
  v1::Cap* c = cap.rules.add_caps();
  c->set_field(v1::CAP_FIELD_CATEGORY);
  c->set_max_items(2);
  c->set_within_top(10);
  out.push_back(std::move(cap));
  for (ScoringVariant& v : out) {
    v.description = absl::StrCat("Rerank, server weights with rules: ",
                                 DescribeRules(v.rules));
  }
  return out;
}

std::vector<ScoringVariant> DefaultScoringVariants() {
  std::vector<ScoringVariant> out = {NoDemotionVariant()};
  for (ScoringVariant& v : FormulaPartVariants()) out.push_back(std::move(v));
  for (ScoringVariant& v : DiversityVariants()) out.push_back(std::move(v));
  return out;
}

std::string DescribeRules(const v1::Rules& rules) {
  std::vector<std::string> parts;
  if (rules.has_diversity() && rules.diversity().has_lambda()) {
    const v1::Diversity& d = rules.diversity();
    const uint32_t top = d.has_top() ? d.top() : kDefaultDiversityTop;
    parts.push_back(absl::StrCat("MMR diversity lambda=", d.lambda(),
                                 " over the top ", top, " (pool ",
                                 d.has_pool() ? d.pool() : 5 * top, ")"));
  }
  for (const v1::Cap& c : rules.caps()) {
    parts.push_back(absl::StrCat(
        "at most ", c.max_items(), " per ",
        c.field() == v1::CAP_FIELD_GROUP ? "group" : "category",
        c.value().empty() ? "" : absl::StrCat(" '", c.value(), "'"),
        " within the top ", c.within_top()));
  }
  v1::Rules rest = rules;
  rest.clear_diversity();
  rest.clear_caps();
  if (rest.ByteSizeLong() > 0) {
    std::string printed;
    google::protobuf::util::JsonPrintOptions po;
    po.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(rest, &printed, po);
    parts.push_back(absl::StrCat("rules ", printed));
  }
  return absl::StrJoin(parts, "; ");
}

namespace {

bool IsVariantNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '.' || c == '+' || c == '-';
}

// The length of the JSON object at the start of `s` (which starts with
// '{'), up to and including its matching '}'; npos if unbalanced. Braces
// inside strings do not count.
size_t JsonObjectLength(absl::string_view s) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      return i + 1;
    }
  }
  return absl::string_view::npos;
}

template <typename Message>
absl::Status ParseJsonPart(absl::string_view json, Message* message,
                           absl::string_view what) {
  const auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message);
  if (!st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": ", std::string(st.message().data(), st.message().size())));
  }
  return absl::OkStatus();
}

// "mmr:0.7:10" -> {"0.7", "10"} after the keyword.
std::vector<absl::string_view> PartFields(absl::string_view part) {
  std::vector<absl::string_view> fields = absl::StrSplit(part, ':');
  fields.erase(fields.begin());
  return fields;
}

absl::Status ParseMmrPart(absl::string_view part, v1::Rules* rules) {
  const std::vector<absl::string_view> f = PartFields(part);
  if (f.empty() || f.size() > 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", part, "' is not mmr:LAMBDA[:TOP[:POOL]]"));
  }
  double lambda = 0;
  if (!absl::SimpleAtod(f[0], &lambda) || !(lambda >= 0 && lambda <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", part, "': lambda '", f[0], "' is not a number in [0, 1]"));
  }
  v1::Diversity* d = rules->mutable_diversity();
  d->set_lambda(lambda);
  const char* names[] = {"", "top", "pool"};
  for (size_t k = 1; k < f.size(); ++k) {
    uint32_t n = 0;
    if (!absl::SimpleAtoi(f[k], &n) || n < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", part, "': ", names[k], " '", f[k], "' is not an integer >= 1"));
    }
    k == 1 ? d->set_top(n) : d->set_pool(n);
  }
  return absl::OkStatus();
}

absl::Status ParseCapPart(absl::string_view part, v1::Rules* rules) {
  const std::vector<absl::string_view> f = PartFields(part);
  if (f.empty() || f.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", part, "' is not cap:MAX[:WITHIN]"));
  }
  int32_t max_items = 0;
  if (!absl::SimpleAtoi(f[0], &max_items) || max_items < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", part, "': MAX '", f[0], "' is not an integer >= 0"));
  }
  int32_t within = 10;
  if (f.size() == 2 && (!absl::SimpleAtoi(f[1], &within) || within < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", part, "': WITHIN '", f[1], "' is not an integer >= 1"));
  }
  v1::Cap* cap = rules->add_caps();
  cap->set_field(v1::CAP_FIELD_CATEGORY);
  cap->set_max_items(max_items);
  cap->set_within_top(within);
  return absl::OkStatus();
}

// Parses one variant's parts from the start of `*rest` up to an unnested
// ';' or the end, and consumes them.
absl::Status ParseVariantParts(absl::string_view* rest, ScoringVariant* v) {
  bool has_overrides = false;
  bool expect_part = true;
  while (true) {
    *rest = absl::StripLeadingAsciiWhitespace(*rest);
    if (!expect_part) {
      if (rest->empty() || rest->front() == ';') return absl::OkStatus();
      if (rest->front() != '+') {
        return absl::InvalidArgumentError(
            absl::StrCat("expected '+', ';' or the end before '", *rest, "'"));
      }
      rest->remove_prefix(1);
      *rest = absl::StripLeadingAsciiWhitespace(*rest);
      expect_part = true;
      continue;
    }
    if (rest->empty() || rest->front() == ';' || rest->front() == '+') {
      return absl::InvalidArgumentError(
          "a part is missing (expected {ScoringParams JSON}, "
          "mmr:LAMBDA[:TOP[:POOL]], cap:MAX[:WITHIN] or rules:{Rules JSON})");
    }
    const bool is_rules = absl::StartsWith(*rest, "rules:");
    if (rest->front() == '{' || is_rules) {
      absl::string_view json = *rest;
      if (is_rules) json.remove_prefix(6);
      const size_t len = json.empty() || json.front() != '{'
                             ? absl::string_view::npos
                             : JsonObjectLength(json);
      if (len == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", *rest, "' is not a complete JSON object"));
      }
      json = json.substr(0, len);
      if (is_rules) {
        v1::Rules more;
        RETURN_IF_ERROR(
            ParseJsonPart(json, &more, absl::StrCat("rules:", json)));
        v->rules.MergeFrom(more);
      } else {
        if (has_overrides) {
          return absl::InvalidArgumentError(absl::StrCat(
              "'", json, "' is a second {ScoringParams JSON} part"));
        }
        has_overrides = true;
        RETURN_IF_ERROR(ParseJsonPart(json, &v->overrides, json));
      }
      rest->remove_prefix(json.data() + json.size() - rest->data());
    } else {
      const size_t end = rest->find_first_of("+;");
      const absl::string_view part =
          absl::StripTrailingAsciiWhitespace(rest->substr(0, end));
      if (absl::StartsWith(part, "mmr:")) {
        RETURN_IF_ERROR(ParseMmrPart(part, &v->rules));
      } else if (absl::StartsWith(part, "cap:")) {
        RETURN_IF_ERROR(ParseCapPart(part, &v->rules));
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown part '", part,
            "' (expected {ScoringParams JSON}, mmr:LAMBDA[:TOP[:POOL]], "
            "cap:MAX[:WITHIN] or rules:{Rules JSON})"));
      }
      rest->remove_prefix(end == absl::string_view::npos ? rest->size() : end);
    }
    expect_part = false;
  }
}

}  // namespace

absl::StatusOr<std::vector<ScoringVariant>> ParseScoringVariants(
    absl::string_view spec) {
  std::vector<ScoringVariant> out;
  absl::string_view rest = spec;
  while (true) {
    rest = absl::StripLeadingAsciiWhitespace(rest);
    while (!rest.empty() && rest.front() == ';') {
      rest.remove_prefix(1);
      rest = absl::StripLeadingAsciiWhitespace(rest);
    }
    if (rest.empty()) break;
    const size_t eq = rest.find('=');
    const size_t semi = rest.find(';');
    if (eq == absl::string_view::npos || eq == 0 ||
        (semi != absl::string_view::npos && semi < eq)) {
      return absl::InvalidArgumentError(
          absl::StrCat("variant '", rest.substr(0, semi),
                       "' is not name=part+part... (see --help)"));
    }
    ScoringVariant v;
    v.name = std::string(absl::StripAsciiWhitespace(rest.substr(0, eq)));
    for (char c : v.name) {
      if (!IsVariantNameChar(c)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "variant name '", v.name, "' must be [A-Za-z0-9_.+-]+"));
      }
    }
    rest.remove_prefix(eq + 1);
    absl::Status st = ParseVariantParts(&rest, &v);
    if (!st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("variant ", v.name, ": ", st.message()));
    }
    absl::StatusOr<std::unique_ptr<const RuleSet>> checked =
        RuleSet::Create(v.rules, "rules", RequestLimits{});
    if (!checked.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("variant ", v.name, ": ", checked.status().message()));
    }
    std::vector<std::string> what;
    if (v.overrides.ByteSizeLong() > 0) {
      std::string printed;
      google::protobuf::util::JsonPrintOptions po;
      po.preserve_proto_field_names = true;
      (void)google::protobuf::util::MessageToJsonString(v.overrides, &printed,
                                                        po);
      what.push_back(absl::StrCat("overrides ", printed));
    }
    if (v.rules.ByteSizeLong() > 0) {
      what.push_back(absl::StrCat("rules: ", DescribeRules(v.rules)));
    }
    v.description = absl::StrCat(
        "Rerank, server weights",
        what.empty() ? "" : absl::StrCat(" with ", absl::StrJoin(what, "; ")));
    out.push_back(std::move(v));
  }
  return out;
}

absl::Status ValidateEvalOptions(const EvalOptions& o) {
  if (o.num_candidates < 1 || o.num_candidates > 9999) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_candidates must be in [1, 9999], got ", o.num_candidates));
  }
  if (o.max_events < 0 || o.max_events > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_events must be in [0, 1000], got ", o.max_events));
  }
  if (o.max_test_cases < 0) {
    return absl::InvalidArgumentError("max_test_cases must be >= 0");
  }
  if (o.retriever_neighbors < 1) {
    return absl::InvalidArgumentError("retriever_neighbors must be >= 1");
  }
  if (o.user_knn_k < 1) {
    return absl::InvalidArgumentError("user_knn_k must be >= 1");
  }
  if (o.cutoff < 1) return absl::InvalidArgumentError("cutoff must be >= 1");
  if (o.bootstrap < 1) {
    return absl::InvalidArgumentError("bootstrap must be >= 1");
  }
  if (!(o.confidence > 0 && o.confidence < 1)) {
    return absl::InvalidArgumentError("confidence must be in (0, 1)");
  }
  if (o.threads < 1) return absl::InvalidArgumentError("threads must be >= 1");
  RETURN_IF_ERROR(ValidateScoringWeights(o.full_weights, "full_weights"));
  absl::flat_hash_set<std::string> names = {"baseline", "user_cf", "factors",
                                            "full"};
  for (const ScoringVariant& v : o.variants) {
    if (v.name.empty() || !names.insert(v.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("variant name '", v.name, "' is empty or taken"));
    }
    RETURN_IF_ERROR(
        ApplyScoringParams(o.full_weights, v.overrides, v.name).status());
    absl::StatusOr<std::unique_ptr<const RuleSet>> rules =
        RuleSet::Create(v.rules, "rules", RequestLimits{});
    if (!rules.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("variant ", v.name, ": ", rules.status().message()));
    }
  }
  return absl::OkStatus();
}

namespace {

// The strategies of a run: the baseline, user-based CF, the factors alone
// and the full scorer, then each learned ranker the model has by name, then
// the options' variants. Fills `strategies` (names and descriptions, index
// 0 the baseline) and returns the Rerank ones with their scorer options.
absl::StatusOr<std::vector<RerankStrategy>> BuildStrategies(
    const EvalOptions& options, const ModelSnapshot& model,
    std::vector<StrategyInfo>* strategies) {
  *strategies = {
      {"baseline", absl::StrCat("retriever order (",
                                RetrieverKindName(options.retriever), ")")},
      {"user_cf", absl::StrCat("user-based CF, cosine over binary train "
                               "histories, k=",
                               options.user_knn_k)},
      {"factors",
       "Rerank, w_base=w_nb=0, every w_type=0, purchase_demotion=0: "
       "<u, v_c> with the user's own factors"},
      {"full", "Rerank, the server's scoring weights"},
  };
  std::vector<RerankStrategy> rerank_strategies;
  {
    ASSIGN_OR_RETURN(ScoringWeights factors,
                     FactorsOnlyWeights(options.full_weights));
    RerankStrategy s;
    s.index = 2;
    s.options.weights = factors;
    // A term of the formula, whatever the model's default ranker.
    s.options.ranker = RankerKind::kFormula;
    rerank_strategies.push_back(s);
    s.index = 3;
    s.options.weights = options.full_weights;
    s.options.ranker.reset();
    s.explain = true;
    rerank_strategies.push_back(s);
    (*strategies)[3].description = absl::StrCat(
        (*strategies)[3].description, ", the model's default ranker (",
        RankerKindName(model.default_ranker()), ")");
    s.explain = false;
    // Each ranker of the model by name, when it has learned ones.
    if (model.ranker(RankerKind::kLinear) != nullptr ||
        model.ranker(RankerKind::kGbdt) != nullptr) {
      for (const RankerKind kind :
           {RankerKind::kFormula, RankerKind::kLinear, RankerKind::kGbdt}) {
        if (kind != RankerKind::kFormula && model.ranker(kind) == nullptr) {
          continue;
        }
        s.index = static_cast<int>(strategies->size());
        s.options.ranker = kind;
        rerank_strategies.push_back(s);
        strategies->push_back(
            {std::string(RankerKindName(kind)),
             kind == RankerKind::kFormula
                 ? std::string("Rerank, the server's scoring weights, the "
                               "hand-weighted formula")
                 : absl::StrCat("Rerank, the model's ", RankerKindName(kind),
                                " ranker (",
                                model.ranker(kind)->spec().description, ")")});
      }
    }
    for (const ScoringVariant& v : options.variants) {
      ASSIGN_OR_RETURN(
          ScoringWeights w,
          ApplyScoringParams(options.full_weights, v.overrides, v.name));
      s.index = static_cast<int>(strategies->size());
      s.options.weights = w;
      s.options.ranker = v.ranker;
      s.rules = v.rules.ByteSizeLong() > 0 ? &v.rules : nullptr;
      rerank_strategies.push_back(s);
      strategies->push_back({v.name, v.description});
    }
  }
  return rerank_strategies;
}

// What every test case reads while it is scored (step 3 of
// RunEvaluation); nothing in it changes then.
struct CaseInputs {
  const std::vector<Interaction>& xs;
  const EvalOptions& options;
  const InteractionMatrix& matrix;
  const ModelSnapshot& model;
  const absl::flat_hash_map<absl::string_view, int32_t>& user_row;
  const absl::flat_hash_map<absl::string_view, int32_t>& item_row;
  const UserHistories& histories;
  const UserKnn& knn;
  // Known users' neighbourhoods, computed once: knn_cache[k] is
  // knn_users[k]'s (sorted ids).
  const std::vector<int32_t>& knn_users;
  const std::vector<std::vector<ScoredUser>>& knn_cache;
  const std::vector<ScoredItem>& popularity_top;
  const CooccurrenceRetriever& cooccurrence;
  const std::vector<RerankStrategy>& rerank_strategies;
  const std::vector<StrategyInfo>& strategies;
  bool model_has_categories;
  double half_life_ms;
};

// Scores test cases one after another for one chunk of RunEvaluation's
// step 3: the candidate list, every strategy's rank of the held-out item,
// and ILD / coverage / catalog flags of each strategy's first k. Owns its
// scratch buffers (reused across cases); writes only the case's record and
// the chunk's `seen` flags. Not thread-safe: one per chunk.
class CaseScorer {
 public:
  CaseScorer(const CaseInputs& in, std::vector<char>* seen)
      : in_(in),
        num_strategies_(static_cast<int>(in.strategies.size())),
        model_items_(in.model.num_items()),
        seen_(*seen) {
    seen_.assign(
        static_cast<size_t>(kNumSegments) * num_strategies_ * model_items_, 0);
  }

  // The test interaction xs[idx] into *rec. INTERNAL when Rerank refuses a
  // case (the evaluator built the request, so that is a bug).
  absl::Status Score(int64_t idx, CaseRecord* rec) {
    const EvalOptions& options = in_.options;
    const Interaction& x = in_.xs[idx];
    rec->interaction = idx;
    rec->ranks.assign(num_strategies_, 0);
    rec->ild.assign(num_strategies_, 0);
    rec->coverage.assign(num_strategies_, 0);
    const int32_t u = Find(in_.user_row, x.user_id);
    const int32_t true_row = Find(in_.item_row, x.item_id);
    rec->known_user = u >= 0;
    rec->true_item_known = true_row >= 0;

    // The user's events strictly before the test moment.
    const UserHistories& histories = in_.histories;
    const int32_t slot = histories.slot.at(x.user_id);
    const auto first = histories.order.begin() + histories.indptr[slot];
    const auto last = histories.order.begin() + histories.indptr[slot + 1];
    const auto cut = std::partition_point(first, last, [&](int64_t j) {
      return in_.xs[j].timestamp < x.timestamp;
    });
    for (auto it = first; it != cut && !rec->repeat; ++it) {
      rec->repeat = in_.xs[*it].item_id == x.item_id;
    }
    const auto ev_begin =
        cut - std::min<int64_t>(cut - first, options.max_events);
    const int64_t now_ms = ToMillis(x.timestamp);
    history_rows_.clear();
    for (auto it = ev_begin; it != cut; ++it) {
      history_rows_.push_back(Find(in_.item_row, in_.xs[*it].item_id));
      if (static_cast<double>(now_ms - ToMillis(in_.xs[*it].timestamp)) <=
          in_.half_life_ms) {
        rec->session_event = true;
      }
    }
    rec->events = static_cast<int32_t>(cut - ev_begin);

    // Candidates and the baseline.
    EvalRng rng(
        DeriveSeed(options.seed, kCandidateStream, static_cast<uint64_t>(idx)));
    const CandidateList list =
        BuildCandidateList(options.retriever == RetrieverKind::kCooccurrence
                               ? in_.cooccurrence.Retrieve(
                                     history_rows_, options.num_candidates + 1)
                               : in_.popularity_top,
                           true_row, options.num_candidates, rng);
    rec->true_retrieved = list.true_retrieved;
    rec->ranks[0] = list.true_position + 1;
    const int list_size = static_cast<int>(list.items.size());
    const int k_top = std::min(options.cutoff, list_size);
    model_rows_.resize(list_size);
    for (int k = 0; k < list_size; ++k) {
      model_rows_[k] = in_.model.FindItem(
          list.items[k] >= 0 ? in_.matrix.item_ids[list.items[k]] : x.item_id);
    }
    top_.resize(k_top);
    std::iota(top_.begin(), top_.end(), 0);
    // Every segment predicate reads fields known by now.
    segments_.clear();
    for (int g = 0; g < kNumSegments; ++g) {
      if (kSegments[g].keep(*rec)) segments_.push_back(g);
    }
    BeyondAccuracy(0, rec);

    // User-based CF. A cold user is described by the items of the events
    // they have so far (test-side, before now).
    {
      std::vector<ScoredUser> fresh;
      const std::vector<ScoredUser>* neighbors = &fresh;
      if (u >= 0) {
        const auto k =
            std::lower_bound(in_.knn_users.begin(), in_.knn_users.end(), u) -
            in_.knn_users.begin();
        neighbors = &in_.knn_cache[k];
      } else {
        fresh = in_.knn.Neighbors(history_rows_, -1, options.user_knn_k);
      }
      const std::vector<int> ranks =
          RanksByScore(in_.knn.ScoreItems(*neighbors, list.items));
      rec->ranks[1] = ranks[list.true_position];
      for (int k = 0; k < list_size; ++k) {
        if (ranks[k] <= k_top) top_[ranks[k] - 1] = k;
      }
      BeyondAccuracy(1, rec);
    }

    // The same request for every Rerank strategy.
    request_.Clear();
    request_.set_request_id(absl::StrCat("case-", idx));
    request_.set_user_id(x.user_id);
    request_.set_now_ms(now_ms);
    for (size_t k = 0; k < list.items.size(); ++k) {
      v1::Candidate* cand = request_.add_candidates();
      cand->set_item_id(list.items[k] >= 0 ? in_.matrix.item_ids[list.items[k]]
                                           : x.item_id);
      cand->set_base_score(list.base_scores[k]);
    }
    for (auto it = ev_begin; it != cut; ++it) {
      const Interaction& e = in_.xs[*it];
      v1::Event* ev = request_.add_events();
      ev->set_item_id(e.item_id);
      ev->set_type(ToProtoEventType(e.event_type));
      ev->set_timestamp_ms(ToMillis(e.timestamp));
    }
    for (const RerankStrategy& s : in_.rerank_strategies) {
      RETURN_IF_ERROR(ScoreStrategy(s, idx, list, k_top, now_ms, rec));
    }
    return absl::OkStatus();
  }

 private:
  // One Rerank strategy on the case's request: the held-out item's rank,
  // the full strategy's diagnostics, and its first k's beyond-accuracy.
  absl::Status ScoreStrategy(const RerankStrategy& s, int64_t idx,
                             const CandidateList& list, int k_top,
                             int64_t now_ms, CaseRecord* rec) {
    request_.set_explain(s.explain);
    if (s.rules != nullptr) {
      *request_.mutable_rules() = *s.rules;
    } else {
      request_.clear_rules();
    }
    response_.Clear();
    absl::Status st =
        Rerank(in_.model, request_, s.options, now_ms, &response_);
    if (!st.ok()) {
      return absl::InternalError(
          absl::StrCat("Rerank failed on test case ", idx, " (",
                       in_.strategies[s.index].name, "): ", st.message()));
    }
    for (int r = 0; r < response_.items_size(); ++r) {
      const v1::RankedItem& item = response_.items(r);
      if (static_cast<int>(item.input_position()) == list.true_position) {
        rec->ranks[s.index] = r + 1;
        if (s.explain) {
          rec->demoted = item.explanation().purchase_demotion() < 0;
        }
      }
      if (s.explain &&
          std::fabs(item.explanation().boost_total()) >= kMinVisibleBoost) {
        rec->any_boost = true;
      }
    }
    top_.resize(std::min(k_top, response_.items_size()));
    for (size_t r = 0; r < top_.size(); ++r) {
      top_[r] = static_cast<int32_t>(
          response_.items(static_cast<int>(r)).input_position());
    }
    BeyondAccuracy(s.index, rec);
    top_.resize(k_top);
    return absl::OkStatus();
  }

  // ILD@k, coverage@k and catalog flags of strategy s from top_.
  void BeyondAccuracy(int s, CaseRecord* rec) {
    const ModelSnapshot& model = in_.model;
    vectors_.clear();
    // Room for the top items' rows decoded (float16 / int8 models; a
    // float32 model's rows are read in place).
    decoded_.resize(top_.size() * model.dim());
    categories_.clear();
    for (const int32_t pos : top_) {
      const int32_t row = model_rows_[pos];
      vectors_.push_back(
          row < 0
              ? nullptr
              : RowAsFloat(model.ItemMatrix(), row,
                           decoded_.data() + vectors_.size() * model.dim()));
      categories_.push_back(row >= 0 ? model.ItemCategory(row)
                                     : absl::string_view());
      if (row < 0) continue;
      for (const int g : segments_) {
        seen_[(static_cast<size_t>(g) * num_strategies_ + s) * model_items_ +
              row] = 1;
      }
    }
    const double nan = std::numeric_limits<double>::quiet_NaN();
    rec->ild[s] = IntraListDiversity(vectors_, model.dim()).value_or(nan);
    rec->coverage[s] = in_.model_has_categories
                           ? CategoryCoverage(categories_).value_or(nan)
                           : nan;
  }

  const CaseInputs& in_;
  const int num_strategies_;
  const int64_t model_items_;
  // (segment, strategy, model item) flags of the items seen in a first k.
  std::vector<char>& seen_;
  v1::RerankRequest request_;
  v1::RerankResponse response_;
  std::vector<int32_t> history_rows_;
  std::vector<int32_t> model_rows_;  // per list position, -1: unknown
  std::vector<int32_t> top_;         // list positions of a first k
  std::vector<const float*> vectors_;
  std::vector<float> decoded_;
  std::vector<absl::string_view> categories_;
  std::vector<int> segments_;  // of the current case
};

}  // namespace

absl::StatusOr<EvalReport> RunEvaluation(
    const InteractionLog& log, const EvalOptions& options,
    std::shared_ptr<const ModelSnapshot> model, absl::string_view log_source) {
  RETURN_IF_ERROR(ValidateEvalOptions(options));
  const std::vector<Interaction>& xs = log.interactions;
  EvalReport report;
  report.options = options;
  report.log_source = std::string(log_source);
  report.log_interactions = static_cast<int64_t>(xs.size());

  // 1. Split and train.
  ASSIGN_OR_RETURN(report.split_time, ComputeSplitTime(xs, options.split));
  const TimeSplit split = SplitByTime(xs, report.split_time);
  report.train_interactions = static_cast<int64_t>(split.train.size());
  report.test_interactions = static_cast<int64_t>(split.test.size());
  if (split.train.empty() || split.test.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the split at ", report.split_time, " leaves ",
                     split.train.size(), " train and ", split.test.size(),
                     " test interactions; both sides need some"));
  }
  std::vector<Interaction> train_xs;
  train_xs.reserve(split.train.size());
  for (int64_t i : split.train) train_xs.push_back(xs[i]);
  const auto train_start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(
      const InteractionMatrix matrix,
      BuildInteractionMatrix(train_xs, options.train.event_weights));
  // The finishing step (the learned rankers) needs the train side itself.
  if (!options.train.finish_model) train_xs = {};
  report.train_users = matrix.num_users();
  report.train_items = matrix.num_items();
  report.train_pairs = matrix.nnz();

  if (model == nullptr) {
    TrainOptions train = options.train;
    train.als.threads = options.threads;
    train.neighbors.threads = options.threads;
    if (train.model_version.empty()) train.model_version = "rerank-eval";
    ASSIGN_OR_RETURN(ModelData data,
                     TrainModelData(matrix, train,
                                    options.item_categories.empty()
                                        ? nullptr
                                        : &options.item_categories,
                                    nullptr));
    if (train.finish_model) {
      InteractionLog train_log;
      train_log.interactions = std::move(train_xs);
      ASSIGN_OR_RETURN(report.finish_summary,
                       train.finish_model(train_log,
                                          options.item_categories.empty()
                                              ? nullptr
                                              : &options.item_categories,
                                          &data));
    }
    data.factor_dtype = train.factor_dtype;
    ASSIGN_OR_RETURN(std::unique_ptr<const ModelSnapshot> snapshot,
                     ModelSnapshot::FromData(std::move(data)));
    model = std::move(snapshot);
    report.model_source = "trained in memory on the train side";
    if (train.factor_dtype != FactorDtype::kFloat32) {
      absl::StrAppend(&report.model_source, ", factors stored as ",
                      FactorDtypeName(train.factor_dtype));
    }
  } else {
    report.model_source = model->metadata().source_dir.empty()
                              ? "given in memory"
                              : model->metadata().source_dir;
  }
  report.model_version = model->version();
  report.model_dim = model->dim();
  report.model_users = model->num_users();
  report.model_items = model->num_items();
  report.model_neighbors = model->num_neighbors();
  report.model_has_categories = model->has_categories();
  for (int32_t row = 0; row < model->num_items(); ++row) {
    report.model_categorized_items += !model->ItemCategory(row).empty();
  }
  for (const RankerKind kind : {RankerKind::kLinear, RankerKind::kGbdt}) {
    if (const Ranker* ranker = model->ranker(kind); ranker != nullptr) {
      report.feature_importance.push_back({std::string(RankerKindName(kind)),
                                           RankerFeatureImportance(*ranker)});
    }
  }

  // Retrievers (train side only).
  const PopularityRetriever popularity(matrix);
  ItemNeighbors retriever_table;
  if (options.retriever == RetrieverKind::kCooccurrence) {
    NeighborOptions no;
    no.num_neighbors = options.retriever_neighbors;
    no.min_support = options.train.neighbors.min_support;
    no.max_user_history = options.train.neighbors.max_user_history;
    no.source = NeighborSource::kCooccurrence;
    no.threads = options.threads;
    ASSIGN_OR_RETURN(retriever_table, BuildItemNeighbors(matrix, no));
  }
  const CooccurrenceRetriever cooccurrence(retriever_table, popularity);
  report.train_seconds = SecondsSince(train_start);

  // 2. Test cases.
  const auto eval_start = std::chrono::steady_clock::now();
  const auto user_row = IndexIds(matrix.user_ids);
  const auto item_row = IndexIds(matrix.item_ids);
  std::vector<int64_t> sample;
  for (int64_t i : split.test) {
    const Interaction& x = xs[i];
    if (x.event_type != options.test_event_type) continue;
    const bool known = Find(user_row, x.user_id) >= 0;
    if (options.users == UserFilter::kKnown && !known) continue;
    if (options.users == UserFilter::kCold && known) continue;
    sample.push_back(i);
  }
  report.eligible_cases = static_cast<int64_t>(sample.size());
  if (sample.empty()) {
    return absl::InvalidArgumentError(
        "no test interaction matches the event type and user filter");
  }
  if (options.max_test_cases > 0 &&
      static_cast<int64_t>(sample.size()) > options.max_test_cases) {
    // Partial Fisher-Yates: a uniform sample without replacement.
    EvalRng rng(DeriveSeed(options.seed, kSampleStream, 0));
    for (int64_t k = 0; k < options.max_test_cases; ++k) {
      const uint64_t j =
          k + rng.Uniform(static_cast<uint64_t>(sample.size() - k));
      std::swap(sample[k], sample[j]);
    }
    sample.resize(options.max_test_cases);
  }
  std::sort(sample.begin(), sample.end(), [&](int64_t a, int64_t b) {
    if (xs[a].timestamp != xs[b].timestamp) {
      return xs[a].timestamp < xs[b].timestamp;
    }
    return a < b;
  });
  report.sampled_cases = static_cast<int64_t>(sample.size());

  ASSIGN_OR_RETURN(const std::vector<RerankStrategy> rerank_strategies,
                   BuildStrategies(options, *model, &report.strategies));
  const int num_strategies = static_cast<int>(report.strategies.size());

  const UserHistories histories = BuildUserHistories(xs);
  const UserKnn knn(matrix);
  // Known users' neighbourhoods depend only on their train items: compute
  // each once.
  std::vector<int32_t> knn_users;
  for (int64_t i : sample) {
    const int32_t u = Find(user_row, xs[i].user_id);
    if (u >= 0) knn_users.push_back(u);
  }
  std::sort(knn_users.begin(), knn_users.end());
  knn_users.erase(std::unique(knn_users.begin(), knn_users.end()),
                  knn_users.end());
  std::vector<std::vector<ScoredUser>> knn_cache(knn_users.size());
  RunChunks(EvenChunks(static_cast<int64_t>(knn_users.size()), options.threads),
            [&](int, int64_t begin, int64_t end) {
              for (int64_t k = begin; k < end; ++k) {
                knn_cache[k] = knn.Neighbors(knn.UserItems(knn_users[k]),
                                             knn_users[k], options.user_knn_k);
              }
            });
  const std::vector<ScoredItem> popularity_top =
      popularity.Retrieve(options.num_candidates + 1);
  const double half_life_ms = options.full_weights.half_life_seconds * 1000.0;

  // 3. Score every case. Cases are independent and write only their own
  // record, so the chunking does not affect the result.
  report.cases.resize(sample.size());
  const int chunks = options.threads;
  std::vector<absl::Status> chunk_status(chunks);
  // Per chunk: (segment, strategy, model item) flags of the items seen in a
  // first k (catalog coverage); OR-ed afterwards, so independent of the
  // chunking.
  const int64_t model_items = model->num_items();
  std::vector<std::vector<char>> chunk_seen(chunks);
  const CaseInputs inputs{xs,
                          options,
                          matrix,
                          *model,
                          user_row,
                          item_row,
                          histories,
                          knn,
                          knn_users,
                          knn_cache,
                          popularity_top,
                          cooccurrence,
                          rerank_strategies,
                          report.strategies,
                          report.model_has_categories,
                          half_life_ms};
  RunChunks(EvenChunks(static_cast<int64_t>(sample.size()), chunks),
            [&](int chunk, int64_t begin, int64_t end) {
              CaseScorer scorer(inputs, &chunk_seen[chunk]);
              for (int64_t c = begin; c < end; ++c) {
                absl::Status st = scorer.Score(sample[c], &report.cases[c]);
                if (!st.ok()) {
                  chunk_status[chunk] = std::move(st);
                  return;
                }
              }
            });
  for (const absl::Status& st : chunk_status) RETURN_IF_ERROR(st);
  report.eval_seconds = SecondsSince(eval_start);

  // 4. Metrics per segment.
  const auto boot_start = std::chrono::steady_clock::now();
  uint64_t segment_index = 0;
  for (const SegmentDef& def : kSegments) {
    std::vector<const CaseRecord*> members;
    for (const CaseRecord& c : report.cases) {
      if (def.keep(c)) members.push_back(&c);
    }
    absl::Status st;
    report.segments.push_back(Summarize(def.name, def.description, members, xs,
                                        num_strategies, options,
                                        segment_index++, &st));
    RETURN_IF_ERROR(st);
    SegmentReport& seg = report.segments.back();
    if (seg.metrics.empty()) continue;
    const int g = static_cast<int>(segment_index - 1);
    for (int s = 0; s < num_strategies; ++s) {
      int64_t distinct = 0;
      for (int64_t row = 0; row < model_items; ++row) {
        bool any = false;
        for (const std::vector<char>& seen : chunk_seen) {
          any |=
              !seen.empty() &&
              seen[(static_cast<size_t>(g) * num_strategies + s) * model_items +
                   row] != 0;
        }
        distinct += any;
      }
      seg.metrics[s].catalog_coverage =
          model_items > 0
              ? static_cast<double>(distinct) / static_cast<double>(model_items)
              : 0.0;
    }
  }
  report.bootstrap_seconds = SecondsSince(boot_start);
  return report;
}

absl::StatusOr<ScoringWeights> ScoringWeightsFromConfigJson(
    absl::string_view json, absl::string_view source) {
  v1::ServerConfig config;
  google::protobuf::util::JsonParseOptions parse_options;
  parse_options.ignore_unknown_fields = false;
  const auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &config,
      parse_options);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a valid rerankd config: ",
                     std::string(st.message().data(), st.message().size())));
  }
  absl::StatusOr<ScoringWeights> w =
      ApplyScoringParams(ScoringWeights{}, config.scoring(), "scoring");
  if (!w.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", w.status().message()));
  }
  return w;
}

absl::StatusOr<ScoringWeights> ScoringWeightsFromConfigFile(
    const std::string& path) {
  ASSIGN_OR_RETURN(const std::string json, ReadFileContents(path));
  return ScoringWeightsFromConfigJson(json, path);
}

}  // namespace rerank
