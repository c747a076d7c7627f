#include "tools/rerank_cli_lib.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <istream>
#include <iterator>
#include <ostream>
#include <random>
#include <set>
#include <utility>

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
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"
#include "rerank/v1/rerank.grpc.pb.h"

namespace rerank {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

constexpr absl::string_view kEventTypePrefix = "EVENT_TYPE_";
constexpr absl::string_view kFallbackPrefix = "FALLBACK_";
constexpr absl::string_view kReasonCodePrefix = "REASON_CODE_";
constexpr absl::string_view kRankerKindPrefix = "RANKER_KIND_";

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

// Enum value name without its proto prefix, or the number for values this
// build of the CLI does not know (a newer server may send them).
std::string ShortEnumName(const EnumDescriptor* descriptor, int value,
                          absl::string_view prefix) {
  const auto* enum_value = descriptor->FindValueByNumber(value);
  if (enum_value == nullptr) return absl::StrCat(value);
  return std::string(absl::StripPrefix(enum_value->name(), prefix));
}

std::string EventTypeName(v1::EventType type) {
  return ShortEnumName(v1::EventType_descriptor(), type, kEventTypePrefix);
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

std::string FormatEpochMs(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms),
                          absl::UTCTimeZone());
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

std::chrono::system_clock::time_point DeadlineFrom(absl::Duration timeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

// Prints a failed status the same way for local and RPC errors, so scripts
// and humans see one format: "error: CODE: message".
int ReportError(const absl::Status& status, std::ostream& err) {
  err << "error: " << FormatError(status) << "\n";
  return ExitCodeFor(status.code());
}

int RunRerank(const CliOptions& options,
              const std::shared_ptr<grpc::Channel>& channel, std::istream& in,
              std::ostream& out, std::ostream& err) {
  absl::StatusOr<v1::RerankRequest> request =
      BuildRerankRequest(options, in, absl::ToUnixMillis(absl::Now()));
  if (!request.ok()) return ReportError(request.status(), err);

  auto stub = v1::Reranker::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineFrom(options.deadline));
  v1::RerankResponse response;
  // Measured around the whole call, so the first call includes connection
  // setup: that is what a storefront's first request would see too.
  const absl::Time start = absl::Now();
  const grpc::Status status = stub->Rerank(&context, *request, &response);
  const absl::Duration latency = absl::Now() - start;
  if (!status.ok()) return ReportError(FromGrpcStatus(status), err);

  if (options.format == OutputFormat::kJson) {
    out << FormatMessageJson(response) << "\n";
  } else {
    out << FormatResponseTable(response, latency);
  }
  return kExitOk;
}

int RunInfo(const CliOptions& options,
            const std::shared_ptr<grpc::Channel>& channel, std::ostream& out,
            std::ostream& err) {
  auto stub = v1::ModelAdmin::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineFrom(options.deadline));
  v1::ModelInfo info;
  const grpc::Status status =
      stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  if (!status.ok()) return ReportError(FromGrpcStatus(status), err);
  out << (options.format == OutputFormat::kJson ? FormatMessageJson(info) + "\n"
                                                : FormatKeyValues(info));
  return kExitOk;
}

int RunReload(const CliOptions& options,
              const std::shared_ptr<grpc::Channel>& channel, std::ostream& out,
              std::ostream& err) {
  if (options.model_dir.empty()) {
    return ReportError(
        absl::InvalidArgumentError("reload needs --model_dir (relative to the "
                                   "server's model root, e.g. --model_dir=v2)"),
        err);
  }
  auto stub = v1::ModelAdmin::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineFrom(options.deadline));
  v1::ReloadRequest request;
  request.set_model_dir(options.model_dir);
  v1::ReloadResponse response;
  const grpc::Status status = stub->Reload(&context, request, &response);
  if (!status.ok()) return ReportError(FromGrpcStatus(status), err);
  if (options.format == OutputFormat::kJson) {
    out << FormatMessageJson(response) << "\n";
  } else {
    // Loads of a small model take well under a millisecond; "%.3fs" would
    // print 0.000s.
    const absl::Duration took = absl::Trunc(
        absl::Seconds(response.load_seconds()), absl::Microseconds(1));
    out << absl::StrFormat(
        "reloaded: %s -> %s in %s\n",
        response.previous_version().empty() ? "(none)"
                                            : response.previous_version(),
        response.model().version(), absl::FormatDuration(took));
    out << FormatKeyValues(response);
  }
  return kExitOk;
}

int RunHealth(const CliOptions& options,
              const std::shared_ptr<grpc::Channel>& channel, std::ostream& out,
              std::ostream& err) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineFrom(options.deadline));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(options.health_service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return ReportError(FromGrpcStatus(status), err);
  const int serving = static_cast<int>(response.status());

  const std::string name = HealthStatusName(serving);
  if (options.format == OutputFormat::kJson) {
    out << "{\"status\": \"" << name << "\"}\n";
  } else {
    out << "status: " << name << "\n";
  }
  // The RPC worked but the server says it cannot serve: not a success for a
  // probe script, yet not one of the specific gRPC failures either.
  return serving == grpc::health::v1::HealthCheckResponse::SERVING
             ? kExitOk
             : kExitFailure;
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
    absl::StatusOr<v1::EventType> type = ParseWireEventType(entry.substr(0, colon));
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

// ---------------------------------------------------------------------------
// Status and exit codes.
// ---------------------------------------------------------------------------

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
      return kExitInvalidArgument;
    case absl::StatusCode::kUnavailable:
      return kExitUnavailable;
    default:
      return kExitFailure;
  }
}

int ExitCodeFor(grpc::StatusCode code) {
  return ExitCodeFor(static_cast<absl::StatusCode>(code));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::string FormatError(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                      status.message());
}

// ---------------------------------------------------------------------------
// grpc.health.v1.
// ---------------------------------------------------------------------------

std::string HealthStatusName(int status) {
  switch (status) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return absl::StrCat(status);
  }
}

// ---------------------------------------------------------------------------
// Commands.
// ---------------------------------------------------------------------------

std::string UsageText() {
  return R"(rerank-cli: command-line client for rerankd.

Usage:
  rerank-cli rerank [--target=HOST:PORT] --candidates=LIST [--user=ID]
                    [--events=LIST] [options]
  rerank-cli rerank [--target=HOST:PORT] --request=FILE|- [options]
  rerank-cli info   [--admin_target=HOST:PORT] [--format=table|json]
  rerank-cli reload [--admin_target=HOST:PORT] --model_dir=DIR
                    [--format=table|json]
  rerank-cli health [--target=HOST:PORT] [--service=NAME]

rerank:
  --request=FILE          RerankRequest as protobuf JSON ("-" reads stdin).
  --user=ID               Shopper id; empty means anonymous.
  --candidates=LIST       id[:base_score],...  e.g. 85123A:0.9,71053,84406B:0.4
  --events=LIST           TYPE:item_id[@time],...
                            TYPE: VIEW, CLICK, ADD_TO_CART, PURCHASE,
                                  ADD_TO_WISHLIST (any case)
                            time: -60s or 60s (ago), +5m (future), units
                                  ms s m h d; a bare integer is epoch ms;
                                  no @time means now
  --top_k=N               Return the best N (default: all).
  --now_ms=MS             Score at this moment (default: server clock). Also
                          the reference for relative event times.
  --[no]explain           Ask for explanations (default true); the table
                          shows base, factor and every boost from them
                          (learned rankers: their score and the 5 largest
                          feature contributions).
  --ranker=formula|linear|gbdt
                          The function that orders the candidates, e.g. for
                          an A/B test (default: the server config's, else
                          the model's). See README "Learned ranking".
  --user_vector=F,F,...   The shopper's factor vector (e.g. from a feature
                          store), the model's dim floats; replaces the
                          model's row for --user. See README "Scoring".
  --request_id=ID         Default: generated "cli-<hex>".
  --override=NAME=V,...   Per-request ScoringParams by field name, e.g.
                          half_life_seconds=600,factor_weight=2
  --profile=NAME          Merchandising profile from the server config.
  --rules=JSON            Merchandising rules (a Rules message as protobuf
                          JSON), e.g. '{"excludeItems":["71053"]}'; see
                          README "Merchandising". The table shows each
                          rule's reason under the items it touched.
  --removed               Also list the candidates that filters removed.
  With --request, --top_k, --now_ms, --explain, --request_id, --override,
  --profile, --rules, --removed and --ranker adjust the file's request;
  --user/--candidates/--events are refused.

common:
  --target=HOST:PORT      rerank/health: default 127.0.0.1:50051.
  --admin_target=H:P      info/reload (ModelAdmin): default 127.0.0.1:50052,
                          rerankd's admin port.
  --tls_ca=FILE           Use TLS, trusting this CA (PEM).
  --tls_cert=FILE --tls_key=FILE
                          Client certificate for mutual TLS.
  --token_file=FILE       Send "authorization: Bearer <token>" (admin token).
  --format=table|json     json: protobuf JSON of the response, for scripts.
  --deadline_ms=MS        Per-call deadline (default 2000).

Exit codes: 0 ok; 2 INVALID_ARGUMENT (bad request or flags); 3 UNAVAILABLE
(server unreachable or no model loaded); 1 anything else (also health
NOT_SERVING). Errors go to stderr as "error: CODE: message".

Examples:
  rerank-cli rerank --user=17850 --candidates=85123A,71053,84406B \
      --events=VIEW:85123A@-60s,ADD_TO_CART:71053@-5m --top_k=2
  rerank-cli rerank --candidates=85123A:0.9,71053:0.2 \
      --override=half_life_seconds=600,factor_weight=2
  rerank-cli rerank --request=req.json --format=json | jq -r '.items[].itemId'
  echo '{"candidates":[{"itemId":"85123A"}]}' | rerank-cli rerank --request=-
  rerank-cli info
  rerank-cli reload --model_dir=v2
  rerank-cli health --service=rerank.v1.Reranker
)";
}

int RunCommand(absl::string_view command, const CliOptions& options,
               const std::shared_ptr<grpc::Channel>& channel, std::istream& in,
               std::ostream& out, std::ostream& err) {
  if (command == "rerank") return RunRerank(options, channel, in, out, err);
  if (command == "info") return RunInfo(options, channel, out, err);
  if (command == "reload") return RunReload(options, channel, out, err);
  if (command == "health") return RunHealth(options, channel, out, err);
  return ReportError(
      absl::InvalidArgumentError(absl::StrFormat(
          "unknown command \"%s\" (expected rerank, info, reload or health; "
          "see rerank-cli --help)",
          command)),
      err);
}

namespace {

// Adds the bearer token to every call's initial metadata.
class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string* header)
      : header_(header) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;  // owned by the factory, which outlives calls
};

class BearerTokenInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenInterceptorFactory(absl::string_view token)
      : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerTokenInterceptor(&header_);
  }

 private:
  const std::string header_;
};

absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag,
                                         const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--%s=%s cannot be read: %s", flag, path, std::strerror(errno)));
  }
  return std::string(std::istreambuf_iterator<char>(file),
                     std::istreambuf_iterator<char>());
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ChannelFlags& flags) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (flags.tls_ca_file.empty()) {
    if (!flags.tls_cert_file.empty() || !flags.tls_key_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_cert/--tls_key need --tls_ca (the CA that signed the server)");
    }
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ASSIGN_OR_RETURN(ssl.pem_root_certs,
                     ReadFlagFile("tls_ca", flags.tls_ca_file));
    if (flags.tls_cert_file.empty() != flags.tls_key_file.empty()) {
      return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
    }
    if (!flags.tls_cert_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                       ReadFlagFile("tls_cert", flags.tls_cert_file));
      ASSIGN_OR_RETURN(ssl.pem_private_key,
                       ReadFlagFile("tls_key", flags.tls_key_file));
    }
    credentials = grpc::SslCredentials(ssl);
  }
  if (flags.token_file.empty()) {
    return grpc::CreateChannel(flags.target, credentials);
  }
  ASSIGN_OR_RETURN(std::string token,
                   ReadFlagFile("token_file", flags.token_file));
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token_file=", flags.token_file, " is empty"));
  }
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(
      std::make_unique<BearerTokenInterceptorFactory>(token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      flags.target, credentials, grpc::ChannelArguments(),
      std::move(interceptors));
}

}  // namespace rerank
