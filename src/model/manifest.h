#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

// manifest.json of a model directory (docs/model-format.md): parsing with
// every key and value checked, and canonical serialization. Error messages
// are relative to the manifest ("key 'dim' ..."); the loader prefixes the
// file name.

namespace rerank {

inline constexpr char kManifestFileName[] = "manifest.json";
// Larger manifests are refused before parsing; a real one is < 2 KiB.
inline constexpr int64_t kMaxManifestBytes = 1 << 20;

// File roles, the keys of "files".
inline constexpr char kUserFactorsRole[] = "user_factors";
inline constexpr char kItemFactorsRole[] = "item_factors";
inline constexpr char kUserIdsRole[] = "user_ids";
inline constexpr char kItemIdsRole[] = "item_ids";
inline constexpr char kNeighborsIndptrRole[] = "neighbors_indptr";
inline constexpr char kNeighborsIndicesRole[] = "neighbors_indices";
inline constexpr char kNeighborsScoresRole[] = "neighbors_scores";
inline constexpr char kItemCategoriesRole[] = "item_categories";  // optional
// format_version 2: the complement table. The neighbors_* roles are then the
// substitutes table.
inline constexpr char kComplementsIndptrRole[] = "complements_indptr";
inline constexpr char kComplementsIndicesRole[] = "complements_indices";
inline constexpr char kComplementsScoresRole[] = "complements_scores";

// format_version 3 (all optional): training counts per item and the learned
// rankers (README "Learned ranking"). The complement table becomes optional
// too (all three of its files, or none).
inline constexpr char kItemCountsRole[] = "item_counts";
inline constexpr char kRankerLinearRole[] = "ranker_linear";
inline constexpr char kRankerGbdtRole[] = "ranker_gbdt";

// format_version 4: the factor matrices may be stored as float16 or int8
// (key factor_dtype); int8 adds one float32 scale per row, required then and
// refused otherwise.
inline constexpr char kUserFactorScalesRole[] = "user_factor_scales";
inline constexpr char kItemFactorScalesRole[] = "item_factor_scales";

// Format versions this reader supports: 1 (one neighbour table), 2 (adds
// the complement table) and 3 (adds item counts and rankers).
// kModelFormatVersion (model_loader.h) is the newest.
inline constexpr int32_t kOldestModelFormatVersion = 1;
inline constexpr int32_t kTwoTableFormatVersion = 2;
inline constexpr int32_t kRankerFormatVersion = 3;
inline constexpr int32_t kFactorDtypeFormatVersion = 4;

// The roles a manifest of `format_version` may name, in canonical order
// (required ones first, then optional); empty for an unsupported version.
absl::Span<const absl::string_view> ManifestRoles(int32_t format_version);
// Whether a version that has `role` requires it: the factors, ids and
// neighbour table always; the complement table at version 2 only.
bool IsRequiredRole(absl::string_view role, int32_t format_version);

// The file name WriteModel uses for `role`, e.g. "user_factors.npy".
std::string DefaultFileName(absl::string_view role);

struct ManifestFile {
  std::string path;    // a plain file name inside the model directory
  std::string sha256;  // 64 lowercase hex digits
};

struct ModelManifest {
  int32_t format_version = 1;
  std::string model_version;
  int32_t dim = 0;
  int64_t num_users = 0;
  int64_t num_items = 0;
  int64_t num_neighbors = 0;
  // format_version 2 only: total entries of the complement table.
  int64_t num_complements = 0;
  // role -> file. All required roles of format_version present;
  // item_categories optional.
  std::map<std::string, ManifestFile> files;
  // Free-form provenance; empty means absent.
  // format_version 3 only: "formula", "linear" or "gbdt" (whose file must
  // be present); empty means absent, i.e. formula.
  std::string default_ranker;
  // format_version 4 only: "float32", "float16" or "int8"; empty means
  // absent, i.e. float32.
  std::string factor_dtype;
  std::string created_by;
  std::string created_at;
  std::string description;
};

// Parses and validates manifest JSON. FAILED_PRECONDITION for anything
// malformed: not a JSON object, format_version missing, not 1 to 3 (checked
// before anything else, so a newer manifest gets that message rather than
// "unknown key"), unknown or missing keys for its version (num_complements
// and the complements_* roles need version 2, default_ranker, item_counts
// and ranker_* need version 3; default_ranker must name a present ranker
// file; factor_dtype and the *_factor_scales roles need version 4, the
// scales exactly when factor_dtype is int8), wrong types, counts
// out of range (dim >= 1; 0 <= num_users <= INT32_MAX; 1 <= num_items <=
// INT32_MAX; 0 <= num_neighbors, num_complements), unknown or missing file
// roles, bad sha256 strings, unsafe or duplicate paths.
absl::StatusOr<ModelManifest> ParseModelManifest(absl::string_view json);

// Canonical, deterministic, human-readable JSON for `manifest` (keys in
// documented order, two-space indent, trailing newline). Writes
// num_complements only for format_version >= 2. Does not validate.
std::string SerializeModelManifest(const ModelManifest& manifest);

// OK if `name` is a plain file name: non-empty, at most 255 bytes, no '/',
// no NUL, no "..", not "." and not manifest.json. Guards against manifests
// that point outside their directory.
absl::Status ValidateManifestFileName(absl::string_view name);

}  // namespace rerank
