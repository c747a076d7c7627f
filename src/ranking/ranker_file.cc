// The ranker file (ranker.h, docs/model-format.md): the protobuf JSON
// mapping of rerank.v1.RankerFile, converted to and from RankerSpec.
//
// Protobuf's JSON printer writes doubles and floats with the fewest digits
// that read back to the same value (SimpleDtoa / SimpleFtoa), and its parser
// reads them back exactly, so a spec survives RankerSpecToJson ->
// ParseRankerSpecJson bit for bit (ranker_file_test checks it), except that
// a -0 comes back as 0 (NoNegativeZero below).

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "google/protobuf/util/json_util.h"
#include "ranking/ranker.h"
#include "rerank/v1/ranker.pb.h"

namespace rerank {
namespace {

constexpr uint32_t kRankerFormatVersion = 1;

absl::Status FileError(absl::string_view file_name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file_name, ": ", what));
}

RankerSpec FromProto(v1::RankerFile& file, RankerKind kind) {
  RankerSpec spec;
  spec.kind = kind;
  spec.feature_set = std::move(*file.mutable_feature_set());
  spec.feature_names.assign(
      std::make_move_iterator(file.mutable_features()->begin()),
      std::make_move_iterator(file.mutable_features()->end()));
  const v1::LinearRanker& l = file.linear();
  spec.linear.bias = l.bias();
  spec.linear.weights.assign(l.weights().begin(), l.weights().end());
  spec.linear.means.assign(l.means().begin(), l.means().end());
  spec.linear.scales.assign(l.scales().begin(), l.scales().end());
  const v1::GbdtRanker& g = file.gbdt();
  spec.gbdt.base_score = g.base_score();
  spec.gbdt.trees.resize(g.trees_size());
  for (int i = 0; i < g.trees_size(); ++i) {
    const v1::Tree& pt = g.trees(i);
    TreeSpec& t = spec.gbdt.trees[i];
    t.left.assign(pt.left().begin(), pt.left().end());
    t.right.assign(pt.right().begin(), pt.right().end());
    t.feature.assign(pt.feature().begin(), pt.feature().end());
    t.threshold.assign(pt.threshold().begin(), pt.threshold().end());
    t.default_left.reserve(pt.default_left_size());
    for (const bool b : pt.default_left()) t.default_left.push_back(b ? 1 : 0);
    t.value.assign(pt.value().begin(), pt.value().end());
    t.cover.assign(pt.cover().begin(), pt.cover().end());
  }
  spec.description = std::move(*file.mutable_description());
  return spec;
}

// -0 as 0: protobuf prints -0.0 as "-0", which its parser reads as the
// integer 0, i.e. +0.0, so a signed zero would not survive the round trip.
// The sign of a zero changes no score (x < -0 iff x < 0; s + -0 == s).
template <typename T>
T NoNegativeZero(T v) {
  return v == 0 ? T{0} : v;
}

template <typename T>
void AddAll(const std::vector<T>& from,
            google::protobuf::RepeatedField<T>* to) {
  to->Reserve(static_cast<int>(from.size()));
  for (const T v : from) to->Add(NoNegativeZero(v));
}

}  // namespace

absl::StatusOr<RankerSpec> ParseRankerSpecJson(absl::string_view json,
                                               absl::string_view file_name) {
  // Checked before parsing: the parser's memory grows with the input.
  if (json.size() > static_cast<uint64_t>(kMaxRankerFileBytes)) {
    return FileError(file_name,
                     absl::StrCat(json.size(),
                                  " bytes is above kMaxRankerFileBytes=",
                                  kMaxRankerFileBytes));
  }
  v1::RankerFile file;
  google::protobuf::util::JsonParseOptions options;
  // An unknown field is a typo or a newer format: either way the ranker
  // would not be what its author meant.
  options.ignore_unknown_fields = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &file, options);
  if (!parsed.ok()) {
    return FileError(file_name,
                     absl::StrCat("not a rerank.v1.RankerFile in JSON: ",
                                  parsed.message().as_string()));
  }
  if (file.format_version() != kRankerFormatVersion) {
    return FileError(file_name,
                     absl::StrCat("format_version=", file.format_version(),
                                  " is not ", kRankerFormatVersion));
  }
  const absl::StatusOr<RankerKind> kind = ParseRankerKind(file.kind());
  if (!kind.ok()) return FileError(file_name, kind.status().message());
  return FromProto(file, *kind);
}

absl::StatusOr<std::unique_ptr<const Ranker>> ParseRankerJson(
    absl::string_view json, absl::string_view file_name) {
  absl::StatusOr<RankerSpec> spec = ParseRankerSpecJson(json, file_name);
  if (!spec.ok()) return spec.status();
  absl::StatusOr<std::unique_ptr<const Ranker>> ranker =
      Ranker::Create(*std::move(spec));
  if (!ranker.ok()) return FileError(file_name, ranker.status().message());
  return ranker;
}

std::string RankerSpecToJson(const RankerSpec& spec) {
  v1::RankerFile file;
  file.set_format_version(kRankerFormatVersion);
  file.set_kind(std::string(RankerKindName(spec.kind)));
  file.set_feature_set(spec.feature_set);
  for (const std::string& name : spec.feature_names) file.add_features(name);
  // Only the sections in use (or, in a spec Create would refuse, not
  // empty), so that a linear file has no "gbdt" and the other way round.
  const LinearSpec& l = spec.linear;
  if (spec.kind == RankerKind::kLinear || l.bias != 0.0 || !l.weights.empty() ||
      !l.means.empty() || !l.scales.empty()) {
    v1::LinearRanker* pl = file.mutable_linear();
    pl->set_bias(NoNegativeZero(l.bias));
    AddAll(l.weights, pl->mutable_weights());
    AddAll(l.means, pl->mutable_means());
    AddAll(l.scales, pl->mutable_scales());
  }
  const GbdtSpec& g = spec.gbdt;
  if (spec.kind == RankerKind::kGbdt || g.base_score != 0.0 ||
      !g.trees.empty()) {
    v1::GbdtRanker* pg = file.mutable_gbdt();
    pg->set_base_score(NoNegativeZero(g.base_score));
    for (const TreeSpec& t : g.trees) {
      v1::Tree* pt = pg->add_trees();
      pt->mutable_left()->Add(t.left.begin(), t.left.end());
      pt->mutable_right()->Add(t.right.begin(), t.right.end());
      pt->mutable_feature()->Add(t.feature.begin(), t.feature.end());
      AddAll(t.threshold, pt->mutable_threshold());
      for (const uint8_t b : t.default_left) pt->add_default_left(b != 0);
      AddAll(t.value, pt->mutable_value());
      AddAll(t.cover, pt->mutable_cover());
    }
  }
  file.set_description(spec.description);

  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  // "bias": 0 and "description": "" are written too: the file says
  // everything, and a reader never has to know proto3's defaults.
  options.always_print_primitive_fields = true;
  // One line: a tree ensemble has 10^4..10^6 numbers, and whitespace would
  // put each on its own line.
  options.add_whitespace = false;
  std::string out;
  const auto printed =
      google::protobuf::util::MessageToJsonString(file, &out, options);
  // Only a description or feature name that is not UTF-8 fails; such a
  // spec cannot be written as a ranker file, and "" is refused on reading.
  if (!printed.ok()) return std::string();
  out.push_back('\n');
  return out;
}

}  // namespace rerank
