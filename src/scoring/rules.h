#pragma once

// Merchandising rules (README "Merchandising"): one validated layer of rules
// (RuleSet), and the named profiles of the server config that bundle weights
// with rules. The stages that apply them are in scoring_context.h.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scoring_params.h"

namespace rerank {

// Bounds of the rule fields (rerank.proto mirrors them in comments).
inline constexpr double kMaxBoostAdd = 100.0;
inline constexpr double kMaxBoostMultiply = 100.0;
inline constexpr double kMaxRepurchaseWindowSeconds = 315360000.0;
inline constexpr uint32_t kDefaultDiversityTop = 10;
inline constexpr uint32_t kMaxDiversityTop = 1000;
inline constexpr uint32_t kMaxDiversityPool = 10000;
inline constexpr size_t kMaxRuleNameBytes = 128;

// One layer of rules -- a profile's or a request's -- validated, with the
// lookups the stages need built once. Rule names (for Reason.rule) are
// precomputed here so that stages only hand out string_views into them.
// Immutable after Create; safe to share across threads.
class RuleSet {
 public:
  struct Boost {
    enum class Target { kItem, kCategory, kAttribute };
    Target target = Target::kItem;
    std::string key;  // item id, category or attribute
    bool multiply = false;
    double value = 0.0;
    std::string name;  // BoostRule.name, else "<path>.boosts[i]"
  };
  struct Cap {
    bool by_group = false;  // CAP_FIELD_GROUP, else CAP_FIELD_CATEGORY
    int32_t max_items = 0;
    int32_t within_top = 1;
    std::string value;  // "" = every value
    std::string name;   // "<path>.caps[i]"
  };
  struct Pin {
    std::string item_id;
    int32_t slot = 0;
    std::string name;  // "<path>.pins[i]"
  };

  // Validates `rules` and builds the layer. `path` names the rules in error
  // messages and default rule names: "rules" for a request's,
  // "profiles.<name>.rules" for a profile's. `limits.max_id_bytes` bounds
  // every id, category and attribute. Errors are INVALID_ARGUMENT naming the
  // rule, e.g. "rules.caps[0].max_items=-1 is negative".
  static absl::StatusOr<std::unique_ptr<const RuleSet>> Create(
      const v1::Rules& rules, absl::string_view path,
      const RequestLimits& limits);

  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  // Filters.
  bool ExcludesItem(absl::string_view id) const {
    return !exclude_items_.empty() && exclude_items_.contains(id);
  }
  bool ExcludesCategory(absl::string_view category) const {
    if (exclude_categories_.empty()) return false;
    // A few categories: comparing is cheaper than hashing the candidate's.
    if (exclude_categories_list_.size() <= kLinearSearchMax) {
      for (const std::string& c : exclude_categories_list_) {
        if (c == category) return true;
      }
      return false;
    }
    return exclude_categories_.contains(category);
  }
  // The excluded item ids, in rule order (duplicates removed): the filter
  // looks each one up among the candidates rather than hashing every
  // candidate's id.
  const std::vector<std::string>& exclude_items_list() const {
    return exclude_items_list_;
  }
  bool has_excludes() const {
    return !exclude_items_.empty() || !exclude_categories_.empty();
  }
  bool has_category_excludes() const { return !exclude_categories_.empty(); }
  const std::string& exclude_items_name() const { return exclude_items_name_; }
  const std::string& exclude_categories_name() const {
    return exclude_categories_name_;
  }
  // The window (seconds) for a purchased item of `category` set by this
  // layer: its per-category entry, else its default; nullopt if it sets
  // neither.
  std::optional<double> RepurchaseWindow(absl::string_view category) const;
  bool has_repurchase_window() const {
    return repurchase_window_.has_value() || !repurchase_by_category_.empty();
  }
  const std::string& repurchase_name() const { return repurchase_name_; }

  const std::vector<Boost>& boosts() const { return boosts_; }
  const v1::Diversity& diversity() const { return diversity_; }
  const std::string& diversity_name() const { return diversity_name_; }
  const std::vector<Cap>& caps() const { return caps_; }
  const std::vector<Pin>& pins() const { return pins_; }

  // Whether any boost / cap rule looks at categories (the stages then work
  // out each candidate's category once).
  bool uses_categories() const { return uses_categories_; }

 private:
  RuleSet() = default;

  absl::flat_hash_set<std::string> exclude_items_;
  absl::flat_hash_set<std::string> exclude_categories_;
  std::vector<std::string> exclude_items_list_;
  std::vector<std::string> exclude_categories_list_;
  static constexpr size_t kLinearSearchMax = 8;
  std::string exclude_items_name_;
  std::string exclude_categories_name_;
  std::optional<double> repurchase_window_;
  absl::flat_hash_map<std::string, double> repurchase_by_category_;
  std::string repurchase_name_;
  std::vector<Boost> boosts_;
  v1::Diversity diversity_;
  std::string diversity_name_;
  std::vector<Cap> caps_;
  std::vector<Pin> pins_;
  bool uses_categories_ = false;
};

// A named profile of the server config: weights (the config's `scoring`
// with the profile's applied) and its rules. Immutable; shared.
struct Profile {
  std::string name;
  ScoringWeights weights;
  std::shared_ptr<const RuleSet> rules;  // never null
};

}  // namespace rerank
