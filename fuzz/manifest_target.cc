// FuzzManifest: manifest.json parsing on hostile bytes, plus the
// serialize/parse round trip for every manifest that is accepted.

#include <algorithm>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fuzz/fuzz_targets.h"
#include "model/manifest.h"
#include "model/model_loader.h"
#include "model/sha256.h"

namespace rerank::fuzz {
namespace {

bool SameManifest(const ModelManifest& a, const ModelManifest& b) {
  if (a.format_version != b.format_version ||
      a.model_version != b.model_version || a.dim != b.dim ||
      a.num_users != b.num_users || a.num_items != b.num_items ||
      a.num_neighbors != b.num_neighbors ||
      a.num_complements != b.num_complements || a.created_by != b.created_by ||
      a.created_at != b.created_at || a.description != b.description ||
      a.files.size() != b.files.size()) {
    return false;
  }
  for (const auto& [role, file] : a.files) {
    auto it = b.files.find(role);
    if (it == b.files.end() || it->second.path != file.path ||
        it->second.sha256 != file.sha256) {
      return false;
    }
  }
  return true;
}

}  // namespace

int FuzzManifest(const uint8_t* data, size_t size) {
  // The loader refuses larger files before parsing.
  if (size > static_cast<size_t>(kMaxManifestBytes)) return -1;
  const absl::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ModelManifest> parsed = ParseModelManifest(json);
  if (!parsed.ok()) {
    FUZZ_CHECK(!parsed.status().message().empty());
    return 0;
  }
  const ModelManifest& m = *parsed;
  // The documented guarantees of ParseModelManifest.
  FUZZ_CHECK(m.format_version >= 1 && m.format_version <= kModelFormatVersion);
  FUZZ_CHECK(!m.model_version.empty());
  FUZZ_CHECK(m.dim >= 1);
  FUZZ_CHECK(m.num_users >= 0 && m.num_users <= INT32_MAX);
  FUZZ_CHECK(m.num_items >= 1 && m.num_items <= INT32_MAX);
  FUZZ_CHECK(m.num_neighbors >= 0);
  FUZZ_CHECK(m.num_complements >= 0);
  // Version 1 has no complement table.
  FUZZ_CHECK(m.format_version >= 2 || m.num_complements == 0);
  // factor_dtype is version 4's, and int8 exactly when the scales are named.
  FUZZ_CHECK(m.factor_dtype.empty() ||
             m.format_version >= kFactorDtypeFormatVersion);
  FUZZ_CHECK(m.factor_dtype.empty() || m.factor_dtype == "float32" ||
             m.factor_dtype == "float16" || m.factor_dtype == "int8");
  FUZZ_CHECK((m.factor_dtype == "int8") ==
             m.files.contains(kItemFactorScalesRole));
  FUZZ_CHECK((m.factor_dtype == "int8") ==
             m.files.contains(kUserFactorScalesRole));
  const absl::Span<const absl::string_view> roles =
      ManifestRoles(m.format_version);
  for (absl::string_view role : roles) {
    FUZZ_CHECK(!IsRequiredRole(role, m.format_version) || m.files.contains(std::string(role)));
  }
  for (const auto& [role, file] : m.files) {
    FUZZ_CHECK(std::find(roles.begin(), roles.end(), role) != roles.end());
    FUZZ_CHECK(ValidateManifestFileName(file.path).ok());
    FUZZ_CHECK(IsSha256Hex(file.sha256));
    for (const auto& [other_role, other] : m.files) {
      FUZZ_CHECK(other_role == role || other.path != file.path);
    }
  }
  // Canonical JSON must parse back to the same manifest, and be a fixed
  // point of serialization.
  const std::string canonical = SerializeModelManifest(m);
  absl::StatusOr<ModelManifest> again = ParseModelManifest(canonical);
  if (!again.ok()) {
    std::fprintf(stderr, "canonical manifest refused: %s\n%s\n",
                 std::string(again.status().message()).c_str(),
                 canonical.c_str());
  }
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(SameManifest(m, *again));
  FUZZ_CHECK(SerializeModelManifest(*again) == canonical);
  return 0;
}

}  // namespace rerank::fuzz
