#include "scoring/scoring_params.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "scoring/number_format.h"

namespace rerank {
namespace {

using scoring_internal::FormatNumber;

// One bounded double field of ScoringParams / ScoringWeights. A table keeps
// the bounds in one place, so ApplyScoringParams and ValidateScoringWeights
// can never disagree with each other (the bounds mirror rerank.proto).
struct DoubleField {
  const char* name;
  double ScoringWeights::*member;
  bool (v1::ScoringParams::*has)() const;
  double (v1::ScoringParams::*get)() const;
  double lo;
  double hi;
};

constexpr DoubleField kDoubleFields[] = {
    {"base_weight", &ScoringWeights::base_weight,
     &v1::ScoringParams::has_base_weight, &v1::ScoringParams::base_weight, 0,
     100},
    {"factor_weight", &ScoringWeights::factor_weight,
     &v1::ScoringParams::has_factor_weight, &v1::ScoringParams::factor_weight,
     0, 100},
    {"neighbor_weight", &ScoringWeights::neighbor_weight,
     &v1::ScoringParams::has_neighbor_weight,
     &v1::ScoringParams::neighbor_weight, 0, 100},
    {"half_life_seconds", &ScoringWeights::half_life_seconds,
     &v1::ScoringParams::has_half_life_seconds,
     &v1::ScoringParams::half_life_seconds, 1, 31536000},
    {"session_blend", &ScoringWeights::session_blend,
     &v1::ScoringParams::has_session_blend, &v1::ScoringParams::session_blend,
     0, 1},
    {"view_weight", &ScoringWeights::view_weight,
     &v1::ScoringParams::has_view_weight, &v1::ScoringParams::view_weight, -100,
     100},
    {"click_weight", &ScoringWeights::click_weight,
     &v1::ScoringParams::has_click_weight, &v1::ScoringParams::click_weight,
     -100, 100},
    {"add_to_cart_weight", &ScoringWeights::add_to_cart_weight,
     &v1::ScoringParams::has_add_to_cart_weight,
     &v1::ScoringParams::add_to_cart_weight, -100, 100},
    {"purchase_weight", &ScoringWeights::purchase_weight,
     &v1::ScoringParams::has_purchase_weight,
     &v1::ScoringParams::purchase_weight, -100, 100},
    {"wishlist_weight", &ScoringWeights::wishlist_weight,
     &v1::ScoringParams::has_wishlist_weight,
     &v1::ScoringParams::wishlist_weight, -100, 100},
    {"purchase_demotion", &ScoringWeights::purchase_demotion,
     &v1::ScoringParams::has_purchase_demotion,
     &v1::ScoringParams::purchase_demotion, 0, 1e6},
    {"max_event_age_seconds", &ScoringWeights::max_event_age_seconds,
     &v1::ScoringParams::has_max_event_age_seconds,
     &v1::ScoringParams::max_event_age_seconds, 1, 315360000},
};

absl::Status CheckBounds(const DoubleField& field, double value,
                         absl::string_view field_prefix) {
  const std::string name = field_prefix.empty()
                               ? std::string(field.name)
                               : absl::StrCat(field_prefix, ".", field.name);
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, "=", FormatNumber(value), " is not a finite number"));
  }
  if (value < field.lo || value > field.hi) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, "=", FormatNumber(value), " is out of bounds [",
        FormatNumber(field.lo), ", ", FormatNumber(field.hi), "]"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace scoring_internal {

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // Integral values print without an exponent ("31536000", not
  // "3.1536e+07"), so messages read like the bounds in rerank.proto.
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    return absl::StrFormat("%.0f", value);
  }
  // Otherwise the shortest text that parses back to the same double.
  for (int precision = 1; precision < 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, value);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

}  // namespace scoring_internal

double ScoringWeights::TypeWeight(v1::EventType type) const {
  switch (type) {
    case v1::EVENT_TYPE_VIEW:
      return view_weight;
    case v1::EVENT_TYPE_CLICK:
      return click_weight;
    case v1::EVENT_TYPE_ADD_TO_CART:
      return add_to_cart_weight;
    case v1::EVENT_TYPE_PURCHASE:
      return purchase_weight;
    case v1::EVENT_TYPE_ADD_TO_WISHLIST:
      return wishlist_weight;
    default:
      // UNSPECIFIED and values added to the enum after this build; requests
      // carrying them are refused by ValidateRequest anyway.
      return 0.0;
  }
}

absl::StatusOr<ScoringWeights> ApplyScoringParams(
    const ScoringWeights& base, const v1::ScoringParams& params,
    absl::string_view field_prefix) {
  ScoringWeights result = base;
  for (const DoubleField& field : kDoubleFields) {
    if (!(params.*field.has)()) continue;
    const double value = (params.*field.get)();
    if (absl::Status status = CheckBounds(field, value, field_prefix);
        !status.ok()) {
      return status;
    }
    result.*field.member = value;
  }
  if (params.has_keep_out_of_stock()) {
    result.keep_out_of_stock = params.keep_out_of_stock();
  }
  return result;
}

absl::Status ValidateScoringWeights(const ScoringWeights& weights,
                                    absl::string_view field_prefix) {
  for (const DoubleField& field : kDoubleFields) {
    if (absl::Status status =
            CheckBounds(field, weights.*field.member, field_prefix);
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace rerank
