// rerank-cli's output: tables, key/value lines and JSON of the responses
// (declared in rerank_cli_lib.h, "Output").

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "tools/cli_internal.h"
#include "tools/rerank_cli_lib.h"

namespace rerank {
namespace cli_internal {

std::string ShortEnumName(const google::protobuf::EnumDescriptor* descriptor,
                          int value, absl::string_view prefix) {
  const auto* enum_value = descriptor->FindValueByNumber(value);
  if (enum_value == nullptr) return absl::StrCat(value);
  return std::string(absl::StripPrefix(enum_value->name(), prefix));
}

std::string EventTypeName(v1::EventType type) {
  return ShortEnumName(v1::EventType_descriptor(), type, kEventTypePrefix);
}

}  // namespace cli_internal

namespace {

using cli_internal::EventTypeName;
using cli_internal::kEventTypePrefix;
using cli_internal::ShortEnumName;
using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

constexpr absl::string_view kFallbackPrefix = "FALLBACK_";
constexpr absl::string_view kReasonCodePrefix = "REASON_CODE_";
constexpr absl::string_view kRankerKindPrefix = "RANKER_KIND_";

std::string FormatEpochMs(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms),
                          absl::UTCTimeZone());
}

// One field's value(s) as text for FormatKeyValues.
std::string ScalarToString(const Message& message, const FieldDescriptor* field,
                           int index) {
  const Reflection* r = message.GetReflection();
  const bool rep = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(message, field, index)
                              : r->GetInt32(message, field));
    case FieldDescriptor::CPPTYPE_INT64: {
      const int64_t v = rep ? r->GetRepeatedInt64(message, field, index)
                            : r->GetInt64(message, field);
      // Epoch timestamps are unreadable as raw ms.
      if (absl::EndsWith(field->name(), "_at_ms") && v > 0) {
        return absl::StrCat(v, " (", FormatEpochMs(v), ")");
      }
      return absl::StrCat(v);
    }
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(message, field, index)
                              : r->GetUInt32(message, field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(message, field, index)
                              : r->GetUInt64(message, field));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(rep ? r->GetRepeatedDouble(message, field, index)
                              : r->GetDouble(message, field));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(rep ? r->GetRepeatedFloat(message, field, index)
                              : r->GetFloat(message, field));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(message, field, index)
                  : r->GetBool(message, field))
                 ? "true"
                 : "false";
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int v = rep ? r->GetRepeatedEnumValue(message, field, index)
                        : r->GetEnumValue(message, field);
      return ShortEnumName(field->enum_type(), v, "");
    }
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(message, field, index)
                 : r->GetString(message, field);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      // Repeated sub-messages: compact single-line text is good enough for
      // admin output (none exist in v1 admin messages).
      return (rep ? r->GetRepeatedMessage(message, field, index)
                  : r->GetMessage(message, field))
          .ShortDebugString();
  }
  return "";
}

void CollectKeyValues(const Message& message, const std::string& prefix,
                      std::vector<std::pair<std::string, std::string>>* out) {
  const Descriptor* descriptor = message.GetDescriptor();
  const Reflection* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    const std::string key = absl::StrCat(prefix, field->name());
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !field->is_repeated()) {
      CollectKeyValues(reflection->GetMessage(message, field), key + ".", out);
      continue;
    }
    if (field->is_repeated()) {
      std::vector<std::string> values;
      for (int j = 0; j < reflection->FieldSize(message, field); ++j) {
        values.push_back(ScalarToString(message, field, j));
      }
      out->emplace_back(key, absl::StrJoin(values, ", "));
      continue;
    }
    out->emplace_back(key, ScalarToString(message, field, -1));
  }
}

// Servers before Boost.neighbor_weight existed did not send it, but it is
// fixed by the other fields: contribution = decay * w * (direct + w_nb * sim).
std::optional<double> InferNeighborWeight(const v1::Boost& boost) {
  if (boost.neighbor_weight() != 0) return boost.neighbor_weight();
  const double scale = boost.decay() * boost.type_weight();
  if (boost.similarity() == 0 || scale == 0) return std::nullopt;
  return (boost.contribution() / scale - boost.direct()) / boost.similarity();
}

std::string FormatBoostLine(const v1::Boost& boost) {
  const std::string age = boost.age_ms() == 0
                              ? "now"
                              : absl::StrCat(FormatAge(boost.age_ms()), " ago");
  std::string inner = absl::StrFormat("direct %g", boost.direct());
  if (boost.similarity() != 0) {
    const std::optional<double> w_nb = InferNeighborWeight(boost);
    absl::StrAppendFormat(
        &inner, " + %s × sim %.2f",
        w_nb.has_value() ? absl::StrFormat("%.2f", *w_nb) : std::string("?"),
        boost.similarity());
  }
  return absl::StrFormat("← %s %s %s: decay %.2f × w %.2f × (%s) = %+.4f",
                         EventTypeName(boost.event_type()),
                         boost.event_item_id(), age, boost.decay(),
                         boost.type_weight(), inner, boost.contribution());
}

// "⚑ boosted by promo: +10.0000", "⚑ capped by rules.caps[0]: 1 -> 2".
std::string FormatReasonLine(const v1::Reason& reason) {
  const std::string code = ShortEnumName(v1::ReasonCode_descriptor(),
                                         reason.code(), kReasonCodePrefix);
  std::string detail;
  switch (reason.code()) {
    case v1::REASON_CODE_BOOSTED:
    case v1::REASON_CODE_BURIED:
      detail = absl::StrFormat(": %+.4f", reason.score_delta());
      break;
    case v1::REASON_CODE_DIVERSITY_PROMOTED:
    case v1::REASON_CODE_DIVERSITY_DEMOTED:
    case v1::REASON_CODE_CAPPED:
    case v1::REASON_CODE_PINNED:
      // Positions as ranks (1-based), like the rank column.
      detail = absl::StrFormat(": rank %d -> %d", reason.from_position() + 1,
                               reason.to_position() + 1);
      break;
    default:
      break;
  }
  return absl::StrCat("⚑ ", code, " by ", reason.rule(), detail);
}

bool IsLearnedRanker(v1::RankerKind ranker) {
  return ranker == v1::RANKER_KIND_LINEAR || ranker == v1::RANKER_KIND_GBDT;
}

// "ranker: gbdt", plus why when the server served a ranker it was not asked
// for.
std::string FormatRankerLine(const v1::RerankResponse& response) {
  std::string line = absl::StrCat(
      "ranker: ",
      absl::AsciiStrToLower(ShortEnumName(
          v1::RankerKind_descriptor(), response.ranker(), kRankerKindPrefix)));
  if (std::find(response.fallbacks().begin(), response.fallbacks().end(),
                v1::FALLBACK_NO_RANKER) != response.fallbacks().end()) {
    absl::StrAppend(&line,
                    " (fallback NO_RANKER: the configured ranker is not in "
                    "the model, so the model's default served)");
  }
  return line;
}

// ranker_bias + sum of the feature contributions: the learned ranker's share
// of the score (the rest is `rules`).
double LearnedScore(const v1::Explanation& ex) {
  double total = ex.ranker_bias();
  for (const v1::FeatureContribution& f : ex.features()) {
    total += f.contribution();
  }
  return total;
}

// "← user_dot_z = 1.2300: +0.4100" for the `max_lines` non-zero
// contributions of largest magnitude (ties keep the server's feature order),
// then one line summing the others so the lines still add up.
void AppendFeatureLines(const v1::Explanation& ex, int max_lines,
                        absl::string_view indent, std::string* out) {
  std::vector<const v1::FeatureContribution*> features;
  for (const v1::FeatureContribution& f : ex.features()) {
    if (f.contribution() != 0) features.push_back(&f);
  }
  std::stable_sort(
      features.begin(), features.end(),
      [](const v1::FeatureContribution* a, const v1::FeatureContribution* b) {
        return std::abs(a->contribution()) > std::abs(b->contribution());
      });
  const size_t shown =
      std::min(features.size(), static_cast<size_t>(std::max(max_lines, 0)));
  for (size_t i = 0; i < shown; ++i) {
    absl::StrAppendFormat(out, "%s← %s = %.4f: %+.4f\n", indent,
                          features[i]->name(), features[i]->value(),
                          features[i]->contribution());
  }
  if (shown < features.size()) {
    double rest = 0;
    for (size_t i = shown; i < features.size(); ++i) {
      rest += features[i]->contribution();
    }
    absl::StrAppendFormat(out, "%s← %d more feature%s: %+.4f\n", indent,
                          features.size() - shown,
                          features.size() - shown == 1 ? "" : "s", rest);
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Output.
// ---------------------------------------------------------------------------

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "json") return OutputFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrFormat("--format=%s: expected table or json", name));
}

std::string FormatAge(int64_t age_ms) {
  if (age_ms < 0) return absl::StrCat("-", FormatAge(-age_ms));
  if (age_ms < 1000) return absl::StrCat(age_ms, "ms");
  const int64_t seconds = age_ms / 1000;
  // Under two minutes seconds read best ("90s" rather than "1m30s").
  if (seconds < 120) return absl::StrCat(seconds, "s");
  struct Unit {
    int64_t seconds;
    const char* suffix;
  };
  constexpr Unit kUnits[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (size_t i = 0; i < std::size(kUnits); ++i) {
    if (seconds < kUnits[i].seconds) continue;
    std::string out =
        absl::StrCat(seconds / kUnits[i].seconds, kUnits[i].suffix);
    if (i + 1 < std::size(kUnits)) {
      const int64_t rest =
          (seconds % kUnits[i].seconds) / kUnits[i + 1].seconds;
      if (rest > 0) absl::StrAppend(&out, rest, kUnits[i + 1].suffix);
    }
    return out;
  }
  return absl::StrCat(seconds, "s");  // Unreachable: seconds >= 120.
}

std::string FormatResponseTable(const v1::RerankResponse& response,
                                absl::Duration latency, int max_feature_lines) {
  const bool learned = IsLearnedRanker(response.ranker());
  bool any_explanation = false;
  bool any_unknown = false;
  bool any_category = false;
  size_t id_width = std::string("item_id").size();
  size_t category_width = std::string("category").size();
  for (const v1::RankedItem& item : response.items()) {
    const bool unknown =
        item.has_explanation() && !item.explanation().known_item();
    any_explanation |= item.has_explanation();
    any_unknown |= unknown;
    id_width = std::max(id_width, item.item_id().size() + (unknown ? 1 : 0));
    if (!item.explanation().category().empty()) {
      any_category = true;
      category_width =
          std::max(category_width, item.explanation().category().size());
    }
  }

  std::string out;
  // Formula tables have no ranker line: they print as they always have.
  if (learned) absl::StrAppend(&out, FormatRankerLine(response), "\n");
  absl::StrAppendFormat(&out, "%4s  %-*s  ", "rank", id_width, "item_id");
  if (any_category) {
    absl::StrAppendFormat(&out, "%-*s  ", category_width, "category");
  }
  if (learned) {
    absl::StrAppendFormat(&out, "%10s  %5s  %10s  %10s\n", "score", "pos",
                          "ranker", "rules");
  } else {
    absl::StrAppendFormat(&out, "%10s  %5s  %10s  %10s  %10s\n", "score", "pos",
                          "base", "factor", "boosts");
  }
  // Boost lines are indented under item_id so the rank column stays clean.
  const std::string detail_indent(6, ' ');
  for (int i = 0; i < response.items_size(); ++i) {
    const v1::RankedItem& item = response.items(i);
    const v1::Explanation& ex = item.explanation();
    const bool unknown = item.has_explanation() && !ex.known_item();
    absl::StrAppendFormat(&out, "%4d  %-*s  ", i + 1, id_width,
                          absl::StrCat(item.item_id(), unknown ? "*" : ""));
    if (any_category) {
      absl::StrAppendFormat(&out, "%-*s  ", category_width, ex.category());
    }
    absl::StrAppendFormat(&out, "%10.4f  %5d  ", item.score(),
                          item.input_position());
    if (learned) {
      if (item.has_explanation()) {
        absl::StrAppendFormat(&out, "%10.4f  %+10.4f\n", LearnedScore(ex),
                              ex.rules());
      } else {
        absl::StrAppendFormat(&out, "%10s  %10s\n", "-", "-");
      }
      AppendFeatureLines(ex, max_feature_lines, detail_indent, &out);
    } else if (item.has_explanation()) {
      absl::StrAppendFormat(&out, "%10.4f  %10.4f  %+10.4f\n", ex.base(),
                            ex.factor(), ex.boost_total());
    } else {
      absl::StrAppendFormat(&out, "%10s  %10s  %10s\n", "-", "-", "-");
    }
    for (const v1::Boost& boost : ex.boosts()) {
      absl::StrAppend(&out, detail_indent, FormatBoostLine(boost), "\n");
    }
    if (ex.purchase_demotion() != 0) {
      absl::StrAppendFormat(&out, "%s↓ purchased: demotion %+.4f\n",
                            detail_indent, ex.purchase_demotion());
    }
    for (const v1::Reason& reason : item.reasons()) {
      absl::StrAppend(&out, detail_indent, FormatReasonLine(reason), "\n");
    }
  }
  if (!response.removed().empty()) {
    absl::StrAppend(&out, "removed:\n");
    for (const v1::RemovedItem& removed : response.removed()) {
      absl::StrAppendFormat(&out, "%s%s (pos %d): %s\n", detail_indent,
                            removed.item_id(), removed.input_position(),
                            FormatReasonLine(removed.reason()));
    }
  }
  if (response.items().empty()) absl::StrAppend(&out, "(no items)\n");
  if (any_unknown) {
    absl::StrAppend(&out, learned
                              ? "* not in the model: its factor features "
                                "are 0\n"
                              : "* not in the model: keeps its base score (+ "
                                "direct boosts)\n");
  }
  if (!any_explanation && !response.items().empty()) {
    absl::StrAppend(&out, "(no explanations: run with --explain)\n");
  }

  std::vector<std::string> fallbacks;
  for (int f : response.fallbacks()) {
    fallbacks.push_back(
        ShortEnumName(v1::Fallback_descriptor(), f, kFallbackPrefix));
  }
  const v1::RerankStats& s = response.stats();
  absl::StrAppend(&out, "\n");
  auto line = [&out](absl::string_view key, absl::string_view value) {
    absl::StrAppendFormat(&out, "%-11s %s\n", key, value);
  };
  line("model", response.model_version());
  line("user", absl::StrCat(response.user_known() ? "known" : "unknown",
                            response.user_vector_source() ==
                                    v1::USER_VECTOR_SOURCE_REQUEST
                                ? ", vector from the request"
                                : ""));
  line("fallbacks",
       fallbacks.empty() ? "none" : absl::StrJoin(fallbacks, ", "));
  line("candidates",
       absl::StrFormat("%d received, %d returned, %d unknown, %d duplicate, "
                       "%d dropped",
                       s.candidates_received(), response.items_size(),
                       s.unknown_candidates(), s.duplicate_candidates(),
                       s.dropped_candidates()));
  line("events",
       absl::StrFormat("%d received, %d unknown, %d dropped (too old), "
                       "%d clamped (future)",
                       s.events_received(), s.unknown_events(),
                       s.dropped_events(), s.future_events_clamped()));
  if (!response.profile().empty()) line("profile", response.profile());
  if (!s.reasons().empty()) {
    std::vector<std::string> counts;
    for (const v1::ReasonCount& count : s.reasons()) {
      counts.push_back(
          absl::StrCat(ShortEnumName(v1::ReasonCode_descriptor(), count.code(),
                                     kReasonCodePrefix),
                       " ", count.count()));
    }
    line("rules", absl::StrJoin(counts, ", "));
  }
  line("now_ms", response.now_ms() == 0
                     ? std::string("0 (unset)")
                     : absl::StrFormat("%d (%s, server)", response.now_ms(),
                                       FormatEpochMs(response.now_ms())));
  line("latency", absl::StrCat(absl::FormatDuration(
                                   absl::Trunc(latency, absl::Microseconds(1))),
                               " (client-measured)"));
  line("request_id", response.request_id());
  return out;
}

std::string FormatMessageJson(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    // Only possible for messages with invalid UTF-8 strings; keep the output
    // parseable for scripts rather than printing half a document.
    return absl::StrCat("{\"error\": \"cannot print response as JSON\"}");
  }
  // add_whitespace ends with a newline; callers add their own.
  return std::string(absl::StripSuffix(json, "\n"));
}

std::string FormatKeyValues(const Message& message) {
  std::vector<std::pair<std::string, std::string>> pairs;
  CollectKeyValues(message, "", &pairs);
  size_t width = 0;
  for (const auto& [key, value] : pairs) width = std::max(width, key.size());
  std::string out;
  for (const auto& [key, value] : pairs) {
    absl::StrAppendFormat(&out, "%-*s %s\n", width + 1, key + ":", value);
  }
  return out;
}

}  // namespace rerank
