#include "scoring/rules.h"

#include <cmath>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "scoring/number_format.h"

namespace rerank {
namespace {

using scoring_internal::FormatNumber;

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, problem));
}

// A non-empty id-like string within max_id_bytes.
absl::Status CheckKey(absl::string_view value, const std::string& field,
                      const RequestLimits& limits) {
  if (value.empty()) return Invalid(field, " is empty");
  if (value.size() > limits.max_id_bytes) {
    return Invalid(field, absl::StrCat(": ", value.size(),
                                       " bytes exceeds limits.max_id_bytes=",
                                       limits.max_id_bytes));
  }
  return absl::OkStatus();
}

absl::Status CheckWindow(double seconds, const std::string& field) {
  if (!std::isfinite(seconds) || seconds < 0 ||
      seconds > kMaxRepurchaseWindowSeconds) {
    return Invalid(
        field,
        absl::StrCat("=", FormatNumber(seconds), " is out of bounds [0, ",
                     FormatNumber(kMaxRepurchaseWindowSeconds), "]"));
  }
  return absl::OkStatus();
}

size_t CountRules(const v1::Rules& rules) {
  return static_cast<size_t>(rules.exclude_items_size()) +
         rules.exclude_categories_size() +
         (rules.has_repurchase_window_seconds() ? 1 : 0) +
         rules.repurchase_window_seconds_by_category_size() +
         rules.boosts_size() + rules.caps_size() + rules.pins_size() +
         (rules.has_diversity() ? 1 : 0);
}

}  // namespace

absl::StatusOr<std::unique_ptr<const RuleSet>> RuleSet::Create(
    const v1::Rules& rules, absl::string_view path,
    const RequestLimits& limits) {
  std::unique_ptr<RuleSet> set(new RuleSet());
  const std::string p(path);

  const size_t count = CountRules(rules);
  if (count > limits.max_rules) {
    return Invalid(
        p, absl::StrCat(": ", count,
                        " entries exceed limits.max_rules=", limits.max_rules));
  }

  for (int i = 0; i < rules.exclude_items_size(); ++i) {
    RETURN_IF_ERROR(CheckKey(rules.exclude_items(i),
                             absl::StrCat(p, ".exclude_items[", i, "]"),
                             limits));
    if (set->exclude_items_.insert(rules.exclude_items(i)).second) {
      set->exclude_items_list_.push_back(rules.exclude_items(i));
    }
  }
  for (int i = 0; i < rules.exclude_categories_size(); ++i) {
    RETURN_IF_ERROR(CheckKey(rules.exclude_categories(i),
                             absl::StrCat(p, ".exclude_categories[", i, "]"),
                             limits));
    if (set->exclude_categories_.insert(rules.exclude_categories(i)).second) {
      set->exclude_categories_list_.push_back(rules.exclude_categories(i));
    }
  }
  // Rule names (Reason.rule) only for the rules present: a request's rules
  // are built per call.
  if (rules.exclude_items_size() > 0) {
    set->exclude_items_name_ = absl::StrCat(p, ".exclude_items");
  }
  if (rules.exclude_categories_size() > 0) {
    set->exclude_categories_name_ = absl::StrCat(p, ".exclude_categories");
  }

  if (rules.has_repurchase_window_seconds()) {
    RETURN_IF_ERROR(CheckWindow(rules.repurchase_window_seconds(),
                                absl::StrCat(p, ".repurchase_window_seconds")));
    set->repurchase_window_ = rules.repurchase_window_seconds();
  }
  for (const auto& [category, seconds] :
       rules.repurchase_window_seconds_by_category()) {
    const std::string field = absl::StrCat(
        p, ".repurchase_window_seconds_by_category[\"", category, "\"]");
    RETURN_IF_ERROR(CheckKey(category, field, limits));
    RETURN_IF_ERROR(CheckWindow(seconds, field));
    set->repurchase_by_category_[category] = seconds;
  }
  if (set->has_repurchase_window()) {
    set->repurchase_name_ = absl::StrCat(p, ".repurchase_window_seconds");
  }

  for (int i = 0; i < rules.boosts_size(); ++i) {
    const v1::BoostRule& rule = rules.boosts(i);
    const std::string field = absl::StrCat(p, ".boosts[", i, "]");
    Boost boost;
    switch (rule.target_case()) {
      case v1::BoostRule::kItemId:
        boost.target = Boost::Target::kItem;
        boost.key = rule.item_id();
        RETURN_IF_ERROR(CheckKey(boost.key, field + ".item_id", limits));
        break;
      case v1::BoostRule::kCategory:
        boost.target = Boost::Target::kCategory;
        boost.key = rule.category();
        RETURN_IF_ERROR(CheckKey(boost.key, field + ".category", limits));
        set->uses_categories_ = true;
        break;
      case v1::BoostRule::kAttribute:
        boost.target = Boost::Target::kAttribute;
        boost.key = rule.attribute();
        RETURN_IF_ERROR(CheckKey(boost.key, field + ".attribute", limits));
        break;
      case v1::BoostRule::TARGET_NOT_SET:
        return Invalid(field,
                       ": no target; set item_id, category or attribute");
    }
    const double value = rule.value();
    switch (rule.mode()) {
      case v1::BOOST_MODE_ADD:
        if (!std::isfinite(value) || std::fabs(value) > kMaxBoostAdd) {
          return Invalid(field, absl::StrCat(".value=", FormatNumber(value),
                                             " is out of bounds [-",
                                             FormatNumber(kMaxBoostAdd), ", ",
                                             FormatNumber(kMaxBoostAdd),
                                             "] for BOOST_MODE_ADD"));
        }
        break;
      case v1::BOOST_MODE_MULTIPLY:
        if (!std::isfinite(value) || value < 0 || value > kMaxBoostMultiply) {
          return Invalid(field, absl::StrCat(".value=", FormatNumber(value),
                                             " is out of bounds [0, ",
                                             FormatNumber(kMaxBoostMultiply),
                                             "] for BOOST_MODE_MULTIPLY"));
        }
        boost.multiply = true;
        break;
      default:
        return Invalid(field,
                       absl::StrCat(".mode=", static_cast<int>(rule.mode()),
                                    " is not BOOST_MODE_ADD or "
                                    "BOOST_MODE_MULTIPLY"));
    }
    boost.value = value;
    if (rule.name().size() > kMaxRuleNameBytes) {
      return Invalid(field, absl::StrCat(".name: ", rule.name().size(),
                                         " bytes exceeds ", kMaxRuleNameBytes));
    }
    boost.name = rule.name().empty() ? field : rule.name();
    set->boosts_.push_back(std::move(boost));
  }

  if (rules.has_diversity()) {
    const v1::Diversity& d = rules.diversity();
    const std::string field = absl::StrCat(p, ".diversity");
    if (d.has_lambda() &&
        (!std::isfinite(d.lambda()) || d.lambda() < 0 || d.lambda() > 1)) {
      return Invalid(field, absl::StrCat(".lambda=", FormatNumber(d.lambda()),
                                         " is out of bounds [0, 1]"));
    }
    if (d.has_top() && (d.top() < 1 || d.top() > kMaxDiversityTop)) {
      return Invalid(field,
                     absl::StrCat(".top=", d.top(), " is out of bounds [1, ",
                                  kMaxDiversityTop, "]"));
    }
    const uint32_t top = d.has_top() ? d.top() : kDefaultDiversityTop;
    if (d.has_pool() && (d.pool() < top || d.pool() > kMaxDiversityPool)) {
      return Invalid(field, absl::StrCat(".pool=", d.pool(),
                                         " is out of bounds [top=", top, ", ",
                                         kMaxDiversityPool, "]"));
    }
    set->diversity_ = d;
  }
  if (rules.has_diversity()) {
    set->diversity_name_ = absl::StrCat(p, ".diversity");
  }

  for (int i = 0; i < rules.caps_size(); ++i) {
    const v1::Cap& rule = rules.caps(i);
    const std::string field = absl::StrCat(p, ".caps[", i, "]");
    Cap cap;
    if (rule.field() == v1::CAP_FIELD_CATEGORY) {
      set->uses_categories_ = true;
    } else if (rule.field() == v1::CAP_FIELD_GROUP) {
      cap.by_group = true;
    } else {
      return Invalid(field,
                     absl::StrCat(".field=", static_cast<int>(rule.field()),
                                  " is not CAP_FIELD_CATEGORY or "
                                  "CAP_FIELD_GROUP"));
    }
    if (rule.max_items() < 0) {
      return Invalid(
          field, absl::StrCat(".max_items=", rule.max_items(), " is negative"));
    }
    if (rule.within_top() < 1) {
      return Invalid(field, absl::StrCat(".within_top=", rule.within_top(),
                                         " must be >= 1"));
    }
    if (!rule.value().empty()) {
      RETURN_IF_ERROR(CheckKey(rule.value(), field + ".value", limits));
    }
    cap.max_items = rule.max_items();
    cap.within_top = rule.within_top();
    cap.value = rule.value();
    cap.name = field;
    set->caps_.push_back(std::move(cap));
  }

  // Within one layer a slot or an item can be pinned once: two pins that
  // disagree have no right answer, so they are refused rather than one
  // being picked silently. (Between a profile and a request, the request's
  // pin wins; see ResolvePins.)
  absl::flat_hash_map<int32_t, int> by_slot;
  absl::flat_hash_map<std::string, int> by_item;
  for (int i = 0; i < rules.pins_size(); ++i) {
    const v1::Pin& rule = rules.pins(i);
    const std::string field = absl::StrCat(p, ".pins[", i, "]");
    RETURN_IF_ERROR(CheckKey(rule.item_id(), field + ".item_id", limits));
    if (rule.slot() < 0) {
      return Invalid(field,
                     absl::StrCat(".slot=", rule.slot(), " is negative"));
    }
    if (auto [it, inserted] = by_slot.try_emplace(rule.slot(), i); !inserted) {
      return Invalid(
          field, absl::StrCat(": slot ", rule.slot(), " is already pinned by ",
                              p, ".pins[", it->second, "]"));
    }
    if (auto [it, inserted] = by_item.try_emplace(rule.item_id(), i);
        !inserted) {
      return Invalid(field, absl::StrCat(": item '", rule.item_id(),
                                         "' is already pinned by ", p, ".pins[",
                                         it->second, "]"));
    }
    set->pins_.push_back({rule.item_id(), rule.slot(), field});
  }
  return std::unique_ptr<const RuleSet>(std::move(set));
}

std::optional<double> RuleSet::RepurchaseWindow(
    absl::string_view category) const {
  if (!repurchase_by_category_.empty() && !category.empty()) {
    auto it = repurchase_by_category_.find(category);
    if (it != repurchase_by_category_.end()) return it->second;
  }
  return repurchase_window_;
}

}  // namespace rerank
