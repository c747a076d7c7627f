#include "model/manifest.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "model/model_loader.h"
#include "model/sha256.h"

namespace rerank {

namespace {

using ::google::protobuf::Struct;
using ::google::protobuf::Value;

// Spelled out rather than built from the k*Role constants: a string_view of
// a char array is not a constant expression under -fsanitize=address.
constexpr absl::string_view kRolesV1[] = {
    "user_factors",     "item_factors",     "user_ids",
    "item_ids",         "neighbors_indptr", "neighbors_indices",
    "neighbors_scores", "item_categories",
};
constexpr absl::string_view kRolesV2[] = {
    "user_factors",       "item_factors",       "user_ids",
    "item_ids",           "neighbors_indptr",   "neighbors_indices",
    "neighbors_scores",   "complements_indptr", "complements_indices",
    "complements_scores", "item_categories",
};
constexpr absl::string_view kRolesV3[] = {
    "user_factors",       "item_factors",       "user_ids",
    "item_ids",           "neighbors_indptr",   "neighbors_indices",
    "neighbors_scores",   "complements_indptr", "complements_indices",
    "complements_scores", "item_categories",    "item_counts",
    "ranker_linear",      "ranker_gbdt",
};
constexpr absl::string_view kRolesV4[] = {
    "user_factors",       "item_factors",       "user_ids",
    "item_ids",           "neighbors_indptr",   "neighbors_indices",
    "neighbors_scores",   "complements_indptr", "complements_indices",
    "complements_scores", "item_categories",    "item_counts",
    "ranker_linear",      "ranker_gbdt",        "user_factor_scales",
    "item_factor_scales",
};
// What version 2 adds: refused in a version 1 manifest with a message that
// says so, rather than only "unknown key".
constexpr absl::string_view kV2OnlyRoles[] = {
    "complements_indptr", "complements_indices", "complements_scores"};
constexpr char kNumComplementsKey[] = "num_complements";

// JSON numbers are doubles; counts beyond 2^53 cannot be represented exactly.
constexpr int64_t kMaxJsonInt = int64_t{1} << 53;

absl::Status Bad(absl::string_view what) {
  return absl::FailedPreconditionError(what);
}

absl::string_view KindName(const Value& v) {
  switch (v.kind_case()) {
    case Value::kNullValue:
      return "null";
    case Value::kNumberValue:
      return "a number";
    case Value::kStringValue:
      return "a string";
    case Value::kBoolValue:
      return "a boolean";
    case Value::kStructValue:
      return "an object";
    case Value::kListValue:
      return "an array";
    default:
      return "nothing";
  }
}

// Integer value of `key` in [min, max].
absl::StatusOr<int64_t> GetInt(const Struct& s, const std::string& key,
                               int64_t min, int64_t max) {
  auto it = s.fields().find(key);
  if (it == s.fields().end()) {
    return Bad(absl::StrCat("missing required key '", key, "'"));
  }
  const Value& v = it->second;
  if (v.kind_case() != Value::kNumberValue) {
    return Bad(
        absl::StrCat("key '", key, "' must be an integer, got ", KindName(v)));
  }
  const double d = v.number_value();
  if (!std::isfinite(d) || d != std::trunc(d) ||
      std::fabs(d) > static_cast<double>(kMaxJsonInt)) {
    return Bad(absl::StrCat("key '", key, "' must be an integer, got ", d));
  }
  const int64_t n = static_cast<int64_t>(d);
  if (n < min || n > max) {
    return Bad(absl::StrCat("key '", key, "' is ", n, ", must be in [", min,
                            ", ", max, "]"));
  }
  return n;
}

// String value of `key`; `required` decides whether absence is an error
// (absent optional keys yield "").
absl::StatusOr<std::string> GetString(const Struct& s, const std::string& key,
                                      bool required) {
  auto it = s.fields().find(key);
  if (it == s.fields().end()) {
    if (required) return Bad(absl::StrCat("missing required key '", key, "'"));
    return std::string();
  }
  if (it->second.kind_case() != Value::kStringValue) {
    return Bad(absl::StrCat("key '", key, "' must be a string, got ",
                            KindName(it->second)));
  }
  return it->second.string_value();
}

absl::Status CheckKeys(const Struct& s,
                       absl::Span<const absl::string_view> allowed,
                       absl::string_view where) {
  // Sorted so the message is deterministic (protobuf maps are unordered).
  std::vector<std::string> unknown;
  for (const auto& [key, value] : s.fields()) {
    bool ok = false;
    for (absl::string_view a : allowed) ok = ok || key == a;
    if (!ok) unknown.push_back(absl::StrCat("'", key, "'"));
  }
  if (unknown.empty()) return absl::OkStatus();
  std::sort(unknown.begin(), unknown.end());
  return Bad(absl::StrCat("unknown key", unknown.size() > 1 ? "s " : " ",
                          absl::StrJoin(unknown, ", "), where,
                          " (allowed: ", absl::StrJoin(allowed, ", "), ")"));
}

absl::StatusOr<ManifestFile> ParseFileEntry(const std::string& role,
                                            const Value& v) {
  if (v.kind_case() != Value::kStructValue) {
    return Bad(
        absl::StrCat("files.", role, " must be an object, got ", KindName(v)));
  }
  const Struct& s = v.struct_value();
  static constexpr absl::string_view kAllowed[] = {"path", "sha256"};
  {
    absl::Status st = CheckKeys(s, kAllowed, absl::StrCat(" in files.", role));
    if (!st.ok()) return st;
  }
  ManifestFile f;
  absl::StatusOr<std::string> path = GetString(s, "path", true);
  if (!path.ok()) {
    return Bad(absl::StrCat("files.", role, ": ", path.status().message()));
  }
  absl::StatusOr<std::string> sha = GetString(s, "sha256", true);
  if (!sha.ok()) {
    return Bad(absl::StrCat("files.", role, ": ", sha.status().message()));
  }
  absl::Status name_ok = ValidateManifestFileName(*path);
  if (!name_ok.ok()) {
    return Bad(absl::StrCat("files.", role, ".path: ", name_ok.message()));
  }
  if (!IsSha256Hex(*sha)) {
    return Bad(absl::StrCat("files.", role, ".sha256 '", *sha,
                            "' is not 64 hex digits"));
  }
  f.path = std::move(*path);
  f.sha256 = absl::AsciiStrToLower(*sha);
  return f;
}

void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(kHex[(c >> 4) & 0xF]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

absl::Span<const absl::string_view> ManifestRoles(int32_t format_version) {
  switch (format_version) {
    case kOldestModelFormatVersion:
      return kRolesV1;
    case kTwoTableFormatVersion:
      return kRolesV2;
    case kRankerFormatVersion:
      return kRolesV3;
    case kFactorDtypeFormatVersion:
      return kRolesV4;
    default:
      return {};
  }
}

bool IsRequiredRole(absl::string_view role, int32_t format_version) {
  if (role == kItemCategoriesRole || role == kItemCountsRole ||
      role == kRankerLinearRole || role == kRankerGbdtRole ||
      role == kUserFactorScalesRole || role == kItemFactorScalesRole) {
    // The scales are required by factor_dtype int8, checked apart.
    return false;
  }
  if (role == kComplementsIndptrRole || role == kComplementsIndicesRole ||
      role == kComplementsScoresRole) {
    return format_version == kTwoTableFormatVersion;
  }
  return true;
}

std::string DefaultFileName(absl::string_view role) {
  const bool text = role == kUserIdsRole || role == kItemIdsRole ||
                    role == kItemCategoriesRole;
  if (role == kRankerLinearRole || role == kRankerGbdtRole) {
    return absl::StrCat(role, ".json");
  }
  return absl::StrCat(role, text ? ".txt" : ".npy");
}

absl::Status ValidateManifestFileName(absl::string_view name) {
  if (name.empty()) return Bad("file name is empty");
  if (name.size() > 255) return Bad("file name is longer than 255 bytes");
  if (name.find('/') != absl::string_view::npos) {
    return Bad(absl::StrCat("'", name,
                            "' contains '/'; must be a plain file name in the "
                            "model directory"));
  }
  if (name.find('\0') != absl::string_view::npos) {
    return Bad("file name contains a NUL byte");
  }
  // ".." alone would escape; refusing it anywhere keeps the rule obvious.
  if (name == "." || name.find("..") != absl::string_view::npos) {
    return Bad(absl::StrCat("'", name,
                            "' contains '..' or is '.'; must be a plain file "
                            "name in the model directory"));
  }
  if (name == kManifestFileName) {
    return Bad("a data file cannot be manifest.json");
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelManifest> ParseModelManifest(absl::string_view json) {
  Struct root;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &root, opts);
  if (!parsed.ok()) {
    // protobuf prefixes some messages with ": "; drop it.
    return Bad(absl::StrCat(
        "not a valid JSON object: ",
        absl::StripPrefix(
            absl::string_view(parsed.message().data(), parsed.message().size()),
            ": ")));
  }
  ModelManifest m;
  // format_version first: a newer manifest may legitimately have keys this
  // reader does not know, and "too new" is the useful message then.
  {
    absl::StatusOr<int64_t> v =
        GetInt(root, "format_version", std::numeric_limits<int32_t>::min(),
               std::numeric_limits<int32_t>::max());
    if (!v.ok()) return v.status();
    const std::string supported =
        absl::StrCat(kOldestModelFormatVersion, " to ", kModelFormatVersion);
    if (*v > kModelFormatVersion) {
      return Bad(absl::StrCat(
          "format_version ", *v, " is newer than this reader supports (",
          supported, "); upgrade rerankd to load this model"));
    }
    if (*v < kOldestModelFormatVersion) {
      return Bad(absl::StrCat("format_version ", *v,
                              " is not a format version (this reader "
                              "supports ",
                              supported, ")"));
    }
    m.format_version = static_cast<int32_t>(*v);
  }
  const bool two_tables = m.format_version >= kTwoTableFormatVersion;
  // A version 1 manifest with version 2's keys is most likely a writer that
  // forgot to bump the version; say so instead of a bare "unknown key".
  if (!two_tables) {
    auto v2_only = [&](absl::string_view key, absl::string_view where) {
      return Bad(absl::StrCat("unknown key '", key, "'", where,
                              " for format_version ", m.format_version,
                              " (the complement table needs format_version ",
                              kTwoTableFormatVersion, ")"));
    };
    if (root.fields().contains(kNumComplementsKey)) {
      return v2_only(kNumComplementsKey, "");
    }
    auto files_it = root.fields().find("files");
    if (files_it != root.fields().end() &&
        files_it->second.kind_case() == Value::kStructValue) {
      for (absl::string_view role : kV2OnlyRoles) {
        if (files_it->second.struct_value().fields().contains(
                std::string(role))) {
          return v2_only(role, " in 'files'");
        }
      }
    }
  }
  static constexpr absl::string_view kTopKeysV1[] = {
      "format_version", "model_version", "dim",   "num_users",
      "num_items",      "num_neighbors", "files", "created_by",
      "created_at",     "description"};
  static constexpr absl::string_view kTopKeysV2[] = {
      "format_version", "model_version",   "dim",   "num_users",  "num_items",
      "num_neighbors",  "num_complements", "files", "created_by", "created_at",
      "description"};
  static constexpr absl::string_view kTopKeysV3[] = {
      "format_version", "model_version",   "dim",
      "num_users",      "num_items",       "num_neighbors",
      "num_complements", "default_ranker", "files",
      "created_by",     "created_at",      "description"};
  static constexpr absl::string_view kTopKeysV4[] = {
      "format_version",  "model_version",  "dim",
      "num_users",       "num_items",      "num_neighbors",
      "num_complements", "default_ranker", "factor_dtype",
      "files",           "created_by",     "created_at",
      "description"};
  const bool v3 = m.format_version >= kRankerFormatVersion;
  const bool v4 = m.format_version >= kFactorDtypeFormatVersion;
  if (!v4 && root.fields().contains("factor_dtype")) {
    return Bad(absl::StrCat("unknown key 'factor_dtype' for format_version ",
                            m.format_version,
                            " (float16 and int8 factors need format_version ",
                            kFactorDtypeFormatVersion, ")"));
  }
  if (!v3 && root.fields().contains("default_ranker")) {
    return Bad(absl::StrCat("unknown key 'default_ranker' for format_version ",
                            m.format_version, " (rankers need format_version ",
                            kRankerFormatVersion, ")"));
  }
  {
    absl::Status st = v4           ? CheckKeys(root, kTopKeysV4, "")
                      : v3         ? CheckKeys(root, kTopKeysV3, "")
                      : two_tables ? CheckKeys(root, kTopKeysV2, "")
                                   : CheckKeys(root, kTopKeysV1, "");
    if (!st.ok()) return st;
  }
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  absl::StatusOr<std::string> version = GetString(root, "model_version", true);
  if (!version.ok()) return version.status();
  if (version->empty()) return Bad("key 'model_version' is empty");
  m.model_version = std::move(*version);
  absl::StatusOr<int64_t> dim = GetInt(root, "dim", 1, kInt32Max);
  if (!dim.ok()) return dim.status();
  m.dim = static_cast<int32_t>(*dim);
  absl::StatusOr<int64_t> users = GetInt(root, "num_users", 0, kInt32Max);
  if (!users.ok()) return users.status();
  m.num_users = *users;
  // An item table with no rows cannot rank anything; it is almost surely a
  // broken training run, so it is refused rather than swapped in.
  absl::StatusOr<int64_t> items = GetInt(root, "num_items", 1, kInt32Max);
  if (!items.ok()) return items.status();
  m.num_items = *items;
  absl::StatusOr<int64_t> nnz = GetInt(root, "num_neighbors", 0, kMaxJsonInt);
  if (!nnz.ok()) return nnz.status();
  m.num_neighbors = *nnz;
  if (two_tables) {
    absl::StatusOr<int64_t> complements =
        GetInt(root, kNumComplementsKey, 0, kMaxJsonInt);
    if (!complements.ok()) return complements.status();
    m.num_complements = *complements;
  }
  if (v3) {
    absl::StatusOr<std::string> d = GetString(root, "default_ranker", false);
    if (!d.ok()) return d.status();
    if (!d->empty() && *d != "formula" && *d != "linear" && *d != "gbdt") {
      return Bad(absl::StrCat("key 'default_ranker' is '", *d,
                              "', must be formula, linear or gbdt"));
    }
    m.default_ranker = std::move(*d);
  }
  if (v4) {
    absl::StatusOr<std::string> d = GetString(root, "factor_dtype", false);
    if (!d.ok()) return d.status();
    if (!d->empty() && *d != "float32" && *d != "float16" && *d != "int8") {
      return Bad(absl::StrCat("key 'factor_dtype' is '", *d,
                              "', must be float32, float16 or int8"));
    }
    m.factor_dtype = std::move(*d);
  }
  for (const char* key : {"created_by", "created_at", "description"}) {
    absl::StatusOr<std::string> s = GetString(root, key, false);
    if (!s.ok()) return s.status();
    if (key == std::string_view("created_by")) m.created_by = std::move(*s);
    if (key == std::string_view("created_at")) m.created_at = std::move(*s);
    if (key == std::string_view("description")) m.description = std::move(*s);
  }

  auto files_it = root.fields().find("files");
  if (files_it == root.fields().end()) {
    return Bad("missing required key 'files'");
  }
  if (files_it->second.kind_case() != Value::kStructValue) {
    return Bad(absl::StrCat("key 'files' must be an object, got ",
                            KindName(files_it->second)));
  }
  const Struct& files = files_it->second.struct_value();
  const absl::Span<const absl::string_view> roles =
      ManifestRoles(m.format_version);
  {
    absl::Status st = CheckKeys(files, roles, " in 'files'");
    if (!st.ok()) return st;
  }
  for (absl::string_view role_view : roles) {
    const std::string role(role_view);
    auto it = files.fields().find(role);
    if (it == files.fields().end()) {
      if (IsRequiredRole(role, m.format_version)) {
        return Bad(
            absl::StrCat("missing required file role 'files.", role, "'"));
      }
      continue;
    }
    absl::StatusOr<ManifestFile> f = ParseFileEntry(role, it->second);
    if (!f.ok()) return f.status();
    for (const auto& [other_role, other] : m.files) {
      if (other.path == f->path) {
        return Bad(absl::StrCat("files.", role, ".path '", f->path,
                                "' is also used by files.", other_role));
      }
    }
    m.files.emplace(role, std::move(*f));
  }
  if (v3) {
    // The complement table is all three files or none.
    const int present = m.files.contains(kComplementsIndptrRole) +
                        m.files.contains(kComplementsIndicesRole) +
                        m.files.contains(kComplementsScoresRole);
    if (present != 0 && present != 3) {
      return Bad(
          "files.complements_indptr, complements_indices and "
          "complements_scores must be given together or not at all");
    }
    if (present == 0 && m.num_complements != 0) {
      return Bad(absl::StrCat("num_complements is ", m.num_complements,
                              " but there is no complement table"));
    }
    const bool int8 = m.factor_dtype == "int8";
    for (const char* role : {kUserFactorScalesRole, kItemFactorScalesRole}) {
      if (int8 && !m.files.contains(role)) {
        return Bad(absl::StrCat("missing required file role 'files.", role,
                                "' (factor_dtype int8 has a scale per row)"));
      }
      if (!int8 && m.files.contains(role)) {
        return Bad(absl::StrCat(
            "files.", role,
            " is only for factor_dtype int8 (this "
            "manifest's is ",
            m.factor_dtype.empty() ? "float32" : m.factor_dtype, ")"));
      }
    }
    if (m.default_ranker == "linear" || m.default_ranker == "gbdt") {
      const std::string role = absl::StrCat("ranker_", m.default_ranker);
      if (!m.files.contains(role)) {
        return Bad(absl::StrCat("default_ranker is '", m.default_ranker,
                                "' but files.", role, " is missing"));
      }
    }
  }
  return m;
}

std::string SerializeModelManifest(const ModelManifest& m) {
  std::string out = "{\n";
  absl::StrAppend(&out, "  \"format_version\": ", m.format_version, ",\n");
  out.append("  \"model_version\": ");
  AppendJsonString(&out, m.model_version);
  absl::StrAppend(&out, ",\n  \"dim\": ", m.dim,
                  ",\n  \"num_users\": ", m.num_users,
                  ",\n  \"num_items\": ", m.num_items,
                  ",\n  \"num_neighbors\": ", m.num_neighbors, ",\n");
  if (m.format_version >= kTwoTableFormatVersion) {
    absl::StrAppend(&out, "  \"", kNumComplementsKey, "\": ", m.num_complements,
                    ",\n");
  }
  if (m.format_version >= kRankerFormatVersion && !m.default_ranker.empty()) {
    out.append("  \"default_ranker\": ");
    AppendJsonString(&out, m.default_ranker);
    out.append(",\n");
  }
  if (m.format_version >= kFactorDtypeFormatVersion &&
      !m.factor_dtype.empty()) {
    out.append("  \"factor_dtype\": ");
    AppendJsonString(&out, m.factor_dtype);
    out.append(",\n");
  }
  const std::pair<const char*, const std::string*> optional[] = {
      {"created_by", &m.created_by},
      {"created_at", &m.created_at},
      {"description", &m.description}};
  for (const auto& [key, value] : optional) {
    if (value->empty()) continue;
    absl::StrAppend(&out, "  \"", key, "\": ");
    AppendJsonString(&out, *value);
    out.append(",\n");
  }
  out.append("  \"files\": {");
  bool first = true;
  // Each version's roles are a superset of the last's, in the same order.
  for (absl::string_view role : kRolesV4) {
    auto it = m.files.find(std::string(role));
    if (it == m.files.end()) continue;
    absl::StrAppend(&out, first ? "\n" : ",\n", "    \"", role,
                    "\": {\"path\": ");
    AppendJsonString(&out, it->second.path);
    out.append(", \"sha256\": ");
    AppendJsonString(&out, it->second.sha256);
    out.append("}");
    first = false;
  }
  out.append(first ? "}\n}\n" : "\n  }\n}\n");
  return out;
}

}  // namespace rerank
