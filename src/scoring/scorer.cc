#include "scoring/scorer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "ranking/features.h"
#include "scoring/number_format.h"
#include "scoring/scoring_context.h"
#include "scoring/scoring_params.h"

namespace rerank {
namespace {

using scoring_internal::FormatNumber;
using scoring_internal::ScoringContext;

// Checks an id against max_id_bytes (and, when `required`, emptiness).
// Takes the field name as parts (e.g. "candidates[", 3, "].item_id") and
// only formats it on failure: ValidateRequest runs per candidate on the hot
// path, where building names eagerly would cost more than the checks.
template <typename... Parts>
absl::Status CheckId(absl::string_view id, bool required,
                     const RequestLimits& limits, const Parts&... field) {
  if (required && id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field..., " is empty"));
  }
  if (id.size() > limits.max_id_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field..., ": ", id.size(),
        " bytes exceeds limits.max_id_bytes=", limits.max_id_bytes));
  }
  return absl::OkStatus();
}

// The slow path of ValidateRequest's candidate loop: what, if anything, is
// wrong with candidate `i`. Kept out of line so that the loop stays a few
// instructions per candidate (inlined, it cost ~20 more).
ABSL_ATTRIBUTE_NOINLINE absl::Status CheckCandidate(
    const v1::Candidate& c, int i, const RequestLimits& limits) {
  RETURN_IF_ERROR(CheckId(c.item_id(), /*required=*/true, limits, "candidates[",
                          i, "].item_id"));
  if (c.has_base_score() && !std::isfinite(c.base_score())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "candidates[", i, "].base_score=", FormatNumber(c.base_score()),
        " is not finite"));
  }
  return absl::OkStatus();
}

// Candidate.group_id and .attributes, which only rules read: checked when a
// profile or request rules apply.
absl::Status ValidateRuleFields(const v1::RerankRequest& request,
                                const RequestLimits& limits) {
  for (int i = 0; i < request.candidates_size(); ++i) {
    const v1::Candidate& c = request.candidates(i);
    RETURN_IF_ERROR(CheckId(c.group_id(), /*required=*/c.has_group_id(), limits,
                            "candidates[", i, "].group_id"));
    if (static_cast<uint64_t>(c.attributes_size()) >
        limits.max_attributes_per_candidate) {
      return absl::InvalidArgumentError(
          absl::StrCat("candidates[", i, "].attributes: ", c.attributes_size(),
                       " exceeds limits.max_attributes_per_candidate=",
                       limits.max_attributes_per_candidate));
    }
    for (int a = 0; a < c.attributes_size(); ++a) {
      RETURN_IF_ERROR(CheckId(c.attributes(a), /*required=*/true, limits,
                              "candidates[", i, "].attributes[", a, "]"));
    }
  }
  return absl::OkStatus();
}

// The request's own rules, validated; null when it has none.
absl::StatusOr<std::unique_ptr<const RuleSet>> RequestRules(
    const v1::RerankRequest& request, const RequestLimits& limits) {
  if (!request.has_rules()) return nullptr;
  return RuleSet::Create(request.rules(), "rules", limits);
}

// Sets ctx->layers to the rule layers in application order (the profile's,
// then the request's) and, when there are any, checks the candidate fields
// that only rules read.
absl::Status SetRuleLayers(const RuleSet* request_rules,
                           const ScorerOptions& options,
                           scoring_internal::ScoringContext* ctx) {
  if (ctx->profile != nullptr) {
    ctx->layers[ctx->num_layers++] = ctx->profile->rules.get();
  }
  if (request_rules != nullptr) {
    ctx->layers[ctx->num_layers++] = request_rules;
  }
  if (ctx->num_layers == 0) return absl::OkStatus();
  return ValidateRuleFields(ctx->request, options.limits);
}

// The moment to score at: the request's, else the caller's clock.
int64_t EffectiveNow(const v1::RerankRequest& request, int64_t now_ms) {
  return request.now_ms() != 0 ? request.now_ms() : now_ms;
}

// This thread's buffers for ScoringContext, so that consecutive calls on a
// server thread reuse one set of allocations (scoring_context.h). Holds at
// most what the largest request so far needed (max_candidates bounds it to
// a few MB). A call on the same thread while another is in progress cannot
// happen (Rerank does not call itself), and would merely find them empty.
scoring_internal::ScoringBuffers* ThreadBuffers() {
  thread_local scoring_internal::ScoringBuffers buffers;
  return &buffers;
}

}  // namespace

absl::Status ValidateRequest(const v1::RerankRequest& request,
                             const RequestLimits& limits) {
  // Counts first: refuse an oversized request before walking it.
  if (static_cast<uint64_t>(request.candidates_size()) >
      limits.max_candidates) {
    return absl::InvalidArgumentError(
        absl::StrCat("candidates: ", request.candidates_size(),
                     " exceeds limits.max_candidates=", limits.max_candidates));
  }
  if (static_cast<uint64_t>(request.events_size()) > limits.max_events) {
    return absl::InvalidArgumentError(
        absl::StrCat("events: ", request.events_size(),
                     " exceeds limits.max_events=", limits.max_events));
  }
  RETURN_IF_ERROR(
      CheckId(request.request_id(), /*required=*/false, limits, "request_id"));
  RETURN_IF_ERROR(
      CheckId(request.user_id(), /*required=*/false, limits, "user_id"));
  if (request.now_ms() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("now_ms=", request.now_ms(), " is negative"));
  }
  // Its length needs the model and is checked by ResolveUser.
  for (int i = 0; i < request.user_vector_size(); ++i) {
    if (ABSL_PREDICT_FALSE(!std::isfinite(request.user_vector(i)))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "user_vector[", i, "]=", request.user_vector(i), " is not finite"));
    }
  }
  // The per-item loops run on the hot path for every request: each item gets
  // one cheap combined test, and only a failing item is examined again to
  // say what is wrong with it.
  for (int i = 0; i < request.candidates_size(); ++i) {
    const v1::Candidate& c = request.candidates(i);
    const size_t id_bytes = c.item_id().size();
    const bool bad_base = c.has_base_score() && !std::isfinite(c.base_score());
    // Attributes and group ids are checked by ValidateRuleFields, only when
    // rules apply: testing them here cost ~13 instructions per candidate on
    // every request.
    if (ABSL_PREDICT_TRUE(id_bytes != 0 && id_bytes <= limits.max_id_bytes &&
                          !bad_base)) {
      continue;
    }
    RETURN_IF_ERROR(CheckCandidate(c, i, limits));
  }
  for (int i = 0; i < request.events_size(); ++i) {
    const v1::Event& e = request.events(i);
    const size_t id_bytes = e.item_id().size();
    const int type = static_cast<int>(e.type());
    // Proto3 enums are open: an unknown number parses and must be refused
    // here. UNSPECIFIED is refused because an event must say what happened.
    const bool bad_type =
        type == v1::EVENT_TYPE_UNSPECIFIED || !v1::EventType_IsValid(type);
    // Negative timestamps are refused rather than clamped: they are bugs in
    // the caller, and refusing keeps now - timestamp free of overflow.
    const bool bad_time = e.timestamp_ms() < 0;
    if (ABSL_PREDICT_TRUE(id_bytes != 0 && id_bytes <= limits.max_id_bytes &&
                          !bad_type && !bad_time)) {
      continue;
    }
    RETURN_IF_ERROR(CheckId(e.item_id(), /*required=*/true, limits, "events[",
                            i, "].item_id"));
    if (bad_type) {
      return absl::InvalidArgumentError(absl::StrCat(
          "events[", i, "].type=", type, " is not a valid EventType"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "events[", i, "].timestamp_ms=", e.timestamp_ms(), " is negative"));
  }
  // Open enum, as events[].type: an unknown number is the caller's bug.
  // Whether the served model has the ranker is checked when scoring
  // (FAILED_PRECONDITION), not here: validity is the request's alone.
  if (ABSL_PREDICT_FALSE(!v1::RankerKind_IsValid(request.ranker()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("ranker=", static_cast<int>(request.ranker()),
                     " is not a valid RankerKind"));
  }
  // Bounds only; the values are applied on top of the configured weights by
  // Rerank.
  return ApplyScoringParams(ScoringWeights(), request.overrides(), "overrides")
      .status();
}

namespace {

// The stages every entry point starts with, in order: weights (profile and
// overrides), rule layers, the user's row, the candidates' rows and dedupe.
absl::Status ResolveRequest(const RuleSet* request_rules,
                            const ScorerOptions& options,
                            scoring_internal::ScoringContext* ctx) {
  namespace si = scoring_internal;
  RETURN_IF_ERROR(si::ResolveWeights(options, ctx));
  RETURN_IF_ERROR(SetRuleLayers(request_rules, options, ctx));
  RETURN_IF_ERROR(si::ResolveUser(ctx));
  si::ResolveCandidates(ctx);
  return absl::OkStatus();
}

}  // namespace

absl::Status RerankWire(const ModelSnapshot& model,
                        const v1::RerankRequest& request,
                        const ScorerOptions& options, int64_t now_ms,
                        v1::RerankResponse* response, std::string* items_wire) {
  namespace si = scoring_internal;
  RETURN_IF_ERROR(ValidateRequest(request, options.limits));
  // Declared before the context, which holds views into it until the end.
  ASSIGN_OR_RETURN(const std::unique_ptr<const RuleSet> request_rules,
                   RequestRules(request, options.limits));
  ScoringContext ctx(model, request, EffectiveNow(request, now_ms),
                     ThreadBuffers());
  RETURN_IF_ERROR(ResolveRequest(request_rules.get(), options, &ctx));
  RETURN_IF_ERROR(si::ResolvePins(&ctx));
  si::ResolveEvents(&ctx);
  RETURN_IF_ERROR(si::ResolveRanker(options.ranker.value_or(RankerKind{}),
                                    options.ranker.has_value(), &ctx));
  // filter -> score -> boosts -> diversity -> caps -> pins -> top_k
  // (README "Merchandising").
  si::DropCandidates(&ctx);
  si::ApplyFilters(&ctx);
  if (ctx.ranker != nullptr) {
    si::ComputeFeatures(&ctx);
    si::ScoreWithRanker(&ctx);
  } else {
    si::BuildUserVector(&ctx);
    si::ScoreCandidates(&ctx);
  }
  si::ApplyBoosts(&ctx);
  if (si::NeedsFullOrder(ctx)) {
    si::OrderCandidates(/*top_k=*/0, &ctx);
    si::Diversify(&ctx);
    si::ApplyCaps(&ctx);
    si::ApplyPins(&ctx);
    si::ApplyTopK(request.top_k(), &ctx);
  } else {
    si::OrderCandidates(request.top_k(), &ctx);
  }
  si::EmitResponse(ctx, response, items_wire);
  return absl::OkStatus();
}

absl::Status RerankNullWire(const ModelSnapshot& model,
                            const v1::RerankRequest& request,
                            const ScorerOptions& options, int64_t now_ms,
                            v1::RerankResponse* response,
                            std::string* items_wire) {
  namespace si = scoring_internal;
  RETURN_IF_ERROR(ValidateRequest(request, options.limits));
  // Rules are validated exactly as Rerank does (the same refusals), but not
  // applied: the floor parses what the full scorer parses.
  ASSIGN_OR_RETURN(const std::unique_ptr<const RuleSet> request_rules,
                   RequestRules(request, options.limits));
  ScoringContext ctx(model, request, EffectiveNow(request, now_ms),
                     ThreadBuffers());
  RETURN_IF_ERROR(ResolveRequest(request_rules.get(), options, &ctx));
  RETURN_IF_ERROR(si::ResolvePins(&ctx));
  // Checked, not used: a ranker the model lacks is refused alike, and the
  // response says FORMULA (input order, no learned ranker ran).
  if (request.ranker() != v1::RANKER_KIND_UNSPECIFIED) {
    RETURN_IF_ERROR(si::RequestedRanker(model, request.ranker()).status());
  }
  si::DropCandidates(&ctx);
  si::ScoreBaseOnly(&ctx);
  si::OrderByInput(request.top_k(), &ctx);
  si::EmitResponse(ctx, response, items_wire);
  return absl::OkStatus();
}

absl::Status Rerank(const ModelSnapshot& model,
                    const v1::RerankRequest& request,
                    const ScorerOptions& options, int64_t now_ms,
                    v1::RerankResponse* response) {
  return RerankWire(model, request, options, now_ms, response, nullptr);
}

absl::Status RerankNull(const ModelSnapshot& model,
                        const v1::RerankRequest& request,
                        const ScorerOptions& options, int64_t now_ms,
                        v1::RerankResponse* response) {
  return RerankNullWire(model, request, options, now_ms, response, nullptr);
}

v1::RankerKind RankerKindToProto(RankerKind kind) {
  switch (kind) {
    case RankerKind::kLinear:
      return v1::RANKER_KIND_LINEAR;
    case RankerKind::kGbdt:
      return v1::RANKER_KIND_GBDT;
    case RankerKind::kFormula:
      break;
  }
  return v1::RANKER_KIND_FORMULA;
}

absl::Status ExtractFeatures(const ModelSnapshot& model,
                             const v1::RerankRequest& request,
                             const ScorerOptions& options, int64_t now_ms,
                             std::vector<float>* features) {
  namespace si = scoring_internal;
  RETURN_IF_ERROR(ValidateRequest(request, options.limits));
  ASSIGN_OR_RETURN(const std::unique_ptr<const RuleSet> request_rules,
                   RequestRules(request, options.limits));
  ScoringContext ctx(model, request, EffectiveNow(request, now_ms),
                     ThreadBuffers());
  RETURN_IF_ERROR(ResolveRequest(request_rules.get(), options, &ctx));
  si::ResolveEvents(&ctx);
  // Only the out-of-stock drop: filters and rules are merchandising, not
  // evidence, and a training list must keep its target.
  si::DropCandidates(&ctx);
  si::ComputeFeatures(&ctx);
  const int n = request.candidates_size();
  features->assign(static_cast<size_t>(n) * kNumFeatures, 0.0f);
  for (int i = 0; i < n; ++i) {
    const std::string& id = request.candidates(i).item_id();
    const int32_t slot = si::FindCandidateSlot(ctx, model.FindItem(id), id);
    if (slot < 0) continue;
    const int32_t row = ctx.candidates[slot].feature_row;
    if (row < 0) continue;  // dropped
    si::FeatureRowOf(ctx, row,
                     features->data() + static_cast<size_t>(i) * kNumFeatures);
  }
  return absl::OkStatus();
}

absl::Status AddProfiles(
    const google::protobuf::Map<std::string, v1::Profile>& profiles,
    const std::string& default_profile, ScorerOptions* options) {
  // A profile is written by an operator, not a client: no max_rules.
  RequestLimits limits = options->limits;
  limits.max_rules = std::numeric_limits<uint32_t>::max();
  for (const auto& [name, config] : profiles) {
    const bool name_ok =
        !name.empty() && name.size() <= 64 &&
        std::all_of(name.begin(), name.end(), [](char ch) {
          return absl::ascii_isalnum(static_cast<unsigned char>(ch)) ||
                 ch == '_' || ch == '.' || ch == '-';
        });
    if (!name_ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("profiles: name '", absl::CHexEscape(name),
                       "' is not 1-64 characters of [A-Za-z0-9_.-]"));
    }
    auto profile = std::make_shared<Profile>();
    profile->name = name;
    const std::string path = absl::StrCat("profiles.", name);
    ASSIGN_OR_RETURN(profile->weights,
                     ApplyScoringParams(options->weights, config.scoring(),
                                        absl::StrCat(path, ".scoring")));
    ASSIGN_OR_RETURN(
        profile->rules,
        RuleSet::Create(config.rules(), absl::StrCat(path, ".rules"), limits));
    options->profiles[name] = std::move(profile);
  }
  if (!default_profile.empty() &&
      !options->profiles.contains(default_profile)) {
    return absl::InvalidArgumentError(
        absl::StrCat("default_profile: '", absl::CHexEscape(default_profile),
                     "' is not a key of profiles"));
  }
  options->default_profile = default_profile;
  return absl::OkStatus();
}

}  // namespace rerank
