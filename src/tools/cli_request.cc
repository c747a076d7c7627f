// rerank-cli's request building: flags and JSON into a RerankRequest
// (declared in rerank_cli_lib.h, "Request building").

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <istream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "tools/cli_internal.h"
#include "tools/rerank_cli_lib.h"

namespace rerank {
namespace cli_internal {

absl::StatusOr<std::string> ReadAll(const std::string& path, std::istream& in) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>());
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(absl::StrFormat("cannot read --request=%s: %s",
                                               path, std::strerror(errno)));
  }
  return std::string(std::istreambuf_iterator<char>(file),
                     std::istreambuf_iterator<char>());
}

}  // namespace cli_internal

namespace {

using cli_internal::kEventTypePrefix;
using cli_internal::ReadAll;
using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

// Relative offsets beyond ~3000 years are typos, and keeping them bounded
// keeps the int64 arithmetic below far from overflow.
constexpr double kMaxRelativeMs = 1e14;

// Splits a comma-separated flag value. An empty flag is an empty list; an
// empty entry inside a non-empty flag ("a,,b", "a,") is reported by callers
// because it is almost always a shell-quoting or copy-paste mistake.
std::vector<absl::string_view> SplitList(absl::string_view spec) {
  spec = absl::StripAsciiWhitespace(spec);
  if (spec.empty()) return {};
  std::vector<absl::string_view> parts = absl::StrSplit(spec, ',');
  for (absl::string_view& part : parts) {
    part = absl::StripAsciiWhitespace(part);
  }
  return parts;
}

std::string EntryLabel(absl::string_view flag, size_t index,
                       absl::string_view entry) {
  return absl::StrFormat("--%s[%d] \"%s\"", flag, index, entry);
}
std::string ValidEventTypeNames() {
  const EnumDescriptor* descriptor = v1::EventType_descriptor();
  std::vector<std::string> names;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    if (descriptor->value(i)->number() == v1::EVENT_TYPE_UNSPECIFIED) continue;
    names.push_back(std::string(
        absl::StripPrefix(descriptor->value(i)->name(), kEventTypePrefix)));
  }
  return absl::StrJoin(names, ", ");
}

std::string ValidOverrideNames() {
  const Descriptor* descriptor = v1::ScoringParams::descriptor();
  std::vector<std::string> names;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    names.push_back(descriptor->field(i)->name());
  }
  return absl::StrJoin(names, ", ");
}

absl::Status SetScalarFromString(const FieldDescriptor* field,
                                 absl::string_view value, Message* message) {
  const Reflection* reflection = message->GetReflection();
  auto bad_value = [&](absl::string_view expected) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--override %s=%s: expected %s", field->name(), value, expected));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v = 0;
      // Non-finite values pass SimpleAtod but are never a useful weight.
      if (!absl::SimpleAtod(value, &v) || !std::isfinite(v)) {
        return bad_value("a finite number");
      }
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        reflection->SetDouble(message, field, v);
      } else {
        reflection->SetFloat(message, field, static_cast<float>(v));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v = false;
      if (!absl::SimpleAtob(value, &v)) return bad_value("true or false");
      reflection->SetBool(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v = 0;
      if (!absl::SimpleAtoi(value, &v)) return bad_value("an int32");
      reflection->SetInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = 0;
      if (!absl::SimpleAtoi(value, &v)) return bad_value("an int64");
      reflection->SetInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v = 0;
      if (!absl::SimpleAtoi(value, &v)) return bad_value("a uint32");
      reflection->SetUInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v = 0;
      if (!absl::SimpleAtoi(value, &v)) return bad_value("a uint64");
      reflection->SetUInt64(message, field, v);
      return absl::OkStatus();
    }
    default:
      // ScoringParams is flat scalars today; fail loudly if that changes.
      return absl::UnimplementedError(absl::StrFormat(
          "--override %s: field type %s is not supported by rerank-cli",
          field->name(), field->type_name()));
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Request building.
// ---------------------------------------------------------------------------

absl::StatusOr<v1::EventType> ParseWireEventType(absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(name));
  if (!absl::StartsWith(upper, kEventTypePrefix)) {
    upper = absl::StrCat(kEventTypePrefix, upper);
  }
  v1::EventType type = v1::EVENT_TYPE_UNSPECIFIED;
  if (!v1::EventType_Parse(upper, &type) ||
      type == v1::EVENT_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unknown event type \"%s\" (valid: %s)", name, ValidEventTypeNames()));
  }
  return type;
}

absl::StatusOr<int64_t> ParseEventTime(absl::string_view spec, int64_t now_ms) {
  const absl::string_view original = spec;
  if (spec.empty()) {
    return absl::InvalidArgumentError(
        "empty time after '@' (use e.g. -60s, 5m, or epoch ms)");
  }
  // A sign makes a time relative; an unsigned number with a unit ("60s") is
  // also relative, and reads as "ago" because that is what events are.
  bool relative = false;
  int64_t direction = -1;
  if (spec.front() == '-' || spec.front() == '+') {
    relative = true;
    direction = spec.front() == '+' ? 1 : -1;
    spec.remove_prefix(1);
  }
  const size_t unit_pos = spec.find_first_not_of("0123456789.");
  const absl::string_view number = spec.substr(0, unit_pos);
  const absl::string_view unit =
      unit_pos == absl::string_view::npos ? "" : spec.substr(unit_pos);
  if (number.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("time \"%s\" has no number", original));
  }
  if (unit.empty()) {
    if (relative) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "relative time \"%s\" needs a unit: ms, s, m, h or d (e.g. -60s)",
          original));
    }
    int64_t absolute_ms = 0;
    if (!absl::SimpleAtoi(number, &absolute_ms)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "absolute time \"%s\" must be integer ms since the epoch", original));
    }
    return absolute_ms;
  }
  int64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "s") {
    unit_ms = 1000;
  } else if (unit == "m") {
    unit_ms = 60 * 1000;
  } else if (unit == "h") {
    unit_ms = 3600 * 1000;
  } else if (unit == "d") {
    unit_ms = 86400 * 1000;
  } else {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unknown time unit \"%s\" in \"%s\" (use ms, s, m, h, d, or absolute "
        "epoch ms)",
        unit, original));
  }
  double amount = 0;
  if (!absl::SimpleAtod(number, &amount)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "time \"%s\": \"%s\" is not a number", original, number));
  }
  const double offset_ms = amount * static_cast<double>(unit_ms);
  if (!std::isfinite(offset_ms) || offset_ms > kMaxRelativeMs) {
    return absl::InvalidArgumentError(
        absl::StrFormat("time \"%s\" is out of range", original));
  }
  return now_ms + direction * std::llround(offset_ms);
}

absl::StatusOr<std::vector<v1::Event>> ParseEvents(absl::string_view spec,
                                                   int64_t now_ms) {
  std::vector<v1::Event> events;
  const std::vector<absl::string_view> entries = SplitList(spec);
  for (size_t i = 0; i < entries.size(); ++i) {
    const absl::string_view entry = entries[i];
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat(EntryLabel("events", i, entry), ": ", why));
    };
    if (entry.empty()) return fail("empty entry (stray comma?)");
    // The type never contains ':' and the time never contains '@', so split
    // at the first ':' and the last '@'; the item id is what is between.
    const size_t colon = entry.find(':');
    if (colon == absl::string_view::npos) {
      return fail("expected TYPE:item_id[@time], e.g. VIEW:85123A@-60s");
    }
    absl::StatusOr<v1::EventType> type =
        ParseWireEventType(entry.substr(0, colon));
    if (!type.ok()) return fail(type.status().message());
    absl::string_view rest = entry.substr(colon + 1);
    int64_t timestamp_ms = now_ms;
    const size_t at = rest.rfind('@');
    if (at != absl::string_view::npos) {
      absl::StatusOr<int64_t> t = ParseEventTime(rest.substr(at + 1), now_ms);
      if (!t.ok()) return fail(t.status().message());
      timestamp_ms = *t;
      rest = rest.substr(0, at);
    }
    if (rest.empty()) return fail("empty item id");
    v1::Event& event = events.emplace_back();
    event.set_type(*type);
    event.set_item_id(std::string(rest));
    event.set_timestamp_ms(timestamp_ms);
  }
  return events;
}

absl::StatusOr<std::vector<v1::Candidate>> ParseCandidates(
    absl::string_view spec) {
  std::vector<v1::Candidate> candidates;
  const std::vector<absl::string_view> entries = SplitList(spec);
  for (size_t i = 0; i < entries.size(); ++i) {
    const absl::string_view entry = entries[i];
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat(EntryLabel("candidates", i, entry), ": ", why));
    };
    if (entry.empty()) return fail("empty entry (stray comma?)");
    v1::Candidate& candidate = candidates.emplace_back();
    const size_t colon = entry.rfind(':');
    absl::string_view id = entry;
    if (colon != absl::string_view::npos) {
      id = entry.substr(0, colon);
      const absl::string_view score_text = entry.substr(colon + 1);
      double score = 0;
      if (!absl::SimpleAtod(score_text, &score) || !std::isfinite(score)) {
        return fail(absl::StrFormat("base score \"%s\" is not a finite number",
                                    score_text));
      }
      candidate.set_base_score(score);
    }
    if (id.empty()) return fail("empty item id");
    candidate.set_item_id(std::string(id));
  }
  return candidates;
}

absl::Status ApplyOverrides(absl::string_view spec, v1::ScoringParams* params) {
  const Descriptor* descriptor = v1::ScoringParams::descriptor();
  std::set<std::string> seen;
  const std::vector<absl::string_view> entries = SplitList(spec);
  for (size_t i = 0; i < entries.size(); ++i) {
    const absl::string_view entry = entries[i];
    const size_t eq = entry.find('=');
    if (entry.empty() || eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(EntryLabel("override", i, entry),
                       ": expected name=value, e.g. half_life_seconds=600"));
    }
    const std::string name(absl::StripAsciiWhitespace(entry.substr(0, eq)));
    const absl::string_view value =
        absl::StripAsciiWhitespace(entry.substr(eq + 1));
    const FieldDescriptor* field = descriptor->FindFieldByName(name);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--override: unknown ScoringParams field \"%s\" (valid: %s)", name,
          ValidOverrideNames()));
    }
    // Last-one-wins would hide a mistake in a long override list.
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrFormat("--override: \"%s\" is given twice", name));
    }
    RETURN_IF_ERROR(SetScalarFromString(field, value, params));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::RerankRequest> ParseRequestJson(absl::string_view json) {
  if (absl::StripAsciiWhitespace(json).empty()) {
    return absl::InvalidArgumentError("request JSON is empty");
  }
  v1::RerankRequest request;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      std::string(json), &request, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request JSON is not a valid rerank.v1.RerankRequest: ",
                     std::string(status.message())));
  }
  return request;
}

absl::StatusOr<v1::RankerKind> ParseRanker(absl::string_view name) {
  const std::string lower =
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  if (lower == "formula") return v1::RANKER_KIND_FORMULA;
  if (lower == "linear") return v1::RANKER_KIND_LINEAR;
  if (lower == "gbdt") return v1::RANKER_KIND_GBDT;
  return absl::InvalidArgumentError(absl::StrFormat(
      "--ranker=%s: expected formula, linear or gbdt (or leave it unset for "
      "the server's default)",
      name));
}

std::string GenerateRequestId() {
  std::random_device device;
  const uint64_t bits =
      (static_cast<uint64_t>(device()) << 32) ^ static_cast<uint64_t>(device());
  return absl::StrFormat("cli-%016x", bits);
}

absl::StatusOr<v1::RerankRequest> BuildRequestFromFlags(
    const CliRequestFlags& flags, int64_t now_ms) {
  if (absl::StripAsciiWhitespace(flags.candidates).empty()) {
    return absl::InvalidArgumentError(
        "--candidates is required (or pass a whole request with "
        "--request=FILE)");
  }
  v1::RerankRequest request;
  request.set_user_id(flags.user_id);
  ASSIGN_OR_RETURN(std::vector<v1::Candidate> candidates,
                   ParseCandidates(flags.candidates));
  for (v1::Candidate& c : candidates) *request.add_candidates() = std::move(c);
  // Relative event times follow --now_ms when given, so a replayed request
  // means the same thing whenever it is run.
  ASSIGN_OR_RETURN(std::vector<v1::Event> events,
                   ParseEvents(flags.events, flags.now_ms.value_or(now_ms)));
  for (v1::Event& e : events) *request.add_events() = std::move(e);
  RETURN_IF_ERROR(ApplyCommonRequestFlags(flags, &request));
  return request;
}

absl::Status ApplyCommonRequestFlags(const CliRequestFlags& flags,
                                     v1::RerankRequest* request) {
  if (flags.top_k.has_value()) request->set_top_k(*flags.top_k);
  if (flags.now_ms.has_value()) request->set_now_ms(*flags.now_ms);
  request->set_explain(flags.explain);
  if (!flags.request_id.empty()) {
    request->set_request_id(flags.request_id);
  } else if (request->request_id().empty()) {
    request->set_request_id(GenerateRequestId());
  }
  if (!flags.profile.empty()) request->set_profile(flags.profile);
  if (flags.return_removed) request->set_return_removed(true);
  if (!flags.ranker.empty()) {
    ASSIGN_OR_RETURN(const v1::RankerKind ranker, ParseRanker(flags.ranker));
    request->set_ranker(ranker);
  }
  if (!absl::StripAsciiWhitespace(flags.user_vector).empty()) {
    request->clear_user_vector();
    int i = 0;
    for (absl::string_view part : absl::StrSplit(flags.user_vector, ',')) {
      float value;
      // Finiteness and length are the server's to judge (it knows the dim).
      if (!absl::SimpleAtof(absl::StripAsciiWhitespace(part), &value)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "--user_vector: value %d '%s' is not a number", i, part));
      }
      request->add_user_vector(value);
      ++i;
    }
  }
  if (!flags.rules.empty()) {
    v1::Rules rules;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const auto parsed = google::protobuf::util::JsonStringToMessage(
        flags.rules, &rules, options);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--rules: not a Rules message in protobuf JSON: ",
                       std::string(parsed.message())));
    }
    // Merged: repeated fields append to (and set fields replace) any rules
    // the --request JSON already has.
    request->mutable_rules()->MergeFrom(rules);
  }
  return ApplyOverrides(flags.overrides, request->mutable_overrides());
}

absl::StatusOr<v1::RerankRequest> BuildRerankRequest(const CliOptions& options,
                                                     std::istream& in,
                                                     int64_t now_ms) {
  if (options.request_path.empty()) {
    return BuildRequestFromFlags(options.request, now_ms);
  }
  const CliRequestFlags& flags = options.request;
  if (!flags.user_id.empty() || !flags.candidates.empty() ||
      !flags.events.empty()) {
    return absl::InvalidArgumentError(
        "--request cannot be combined with --user, --candidates or --events; "
        "edit the JSON instead");
  }
  ASSIGN_OR_RETURN(std::string json, ReadAll(options.request_path, in));
  absl::StatusOr<v1::RerankRequest> request = ParseRequestJson(json);
  if (!request.ok()) {
    return absl::Status(request.status().code(),
                        absl::StrCat("--request=", options.request_path, ": ",
                                     request.status().message()));
  }
  RETURN_IF_ERROR(ApplyCommonRequestFlags(flags, &*request));
  return request;
}

}  // namespace rerank
