#include "model/model_writer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <system_error>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/json_quote.h"
#include "common/status_macros.h"
#include "model/factor_storage.h"
#include "model/file_util.h"
#include "model/manifest.h"
#include "model/model_loader.h"
#include "model/npy.h"
#include "model/sha256.h"
#include "model/text_lines.h"

namespace rerank {

namespace {

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("WriteModel: ", what));
}

// As in ModelSnapshot::FromData: all three complement arrays empty means no
// separate complement table.
bool HasComplements(const ModelData& d) {
  return !d.complement_indptr.empty() || !d.complement_indices.empty() ||
         !d.complement_scores.empty();
}

// Checks what ModelSnapshot cannot see: sizes that make the raw pointers
// safe to hand to Create, and the rules of the on-disk format (ids must be
// representable as lines, at least one item, a version string).
absl::Status CheckShapes(const ModelData& d) {
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  const int64_t users = static_cast<int64_t>(d.user_ids.size());
  const int64_t items = static_cast<int64_t>(d.item_ids.size());
  if (d.version.empty()) return Invalid("version is empty");
  if (d.dim < 1)
    return Invalid(absl::StrCat("dim is ", d.dim, ", must be >= 1"));
  if (items < 1) return Invalid("no items; a model needs at least one item");
  if (users > kInt32Max || items > kInt32Max) {
    return Invalid("more than INT32_MAX users or items");
  }
  if (static_cast<int64_t>(d.user_factors.size()) != users * d.dim) {
    return Invalid(absl::StrCat("user_factors has ", d.user_factors.size(),
                                " values, expected ", users, " x ", d.dim));
  }
  if (static_cast<int64_t>(d.item_factors.size()) != items * d.dim) {
    return Invalid(absl::StrCat("item_factors has ", d.item_factors.size(),
                                " values, expected ", items, " x ", d.dim));
  }
  // An empty indptr means "no neighbour table", as in ModelSnapshot::FromData;
  // WriteModel then writes an all-zero indptr.
  if (d.neighbor_indptr.empty()) {
    if (!d.neighbor_indices.empty() || !d.neighbor_scores.empty()) {
      return Invalid("neighbor_indices/scores given without neighbor_indptr");
    }
  } else {
    if (static_cast<int64_t>(d.neighbor_indptr.size()) != items + 1) {
      return Invalid(absl::StrCat("neighbor_indptr has ",
                                  d.neighbor_indptr.size(),
                                  " entries, expected ", items + 1));
    }
    const int64_t nnz = d.neighbor_indptr.back();
    if (static_cast<int64_t>(d.neighbor_indices.size()) != nnz ||
        static_cast<int64_t>(d.neighbor_scores.size()) != nnz) {
      return Invalid(
          absl::StrCat("neighbor_indptr ends at ", nnz, " but there are ",
                       d.neighbor_indices.size(), " neighbor_indices and ",
                       d.neighbor_scores.size(), " neighbor_scores"));
    }
  }
  if (HasComplements(d)) {
    if (static_cast<int64_t>(d.complement_indptr.size()) != items + 1) {
      return Invalid(absl::StrCat("complement_indptr has ",
                                  d.complement_indptr.size(),
                                  " entries, expected ", items + 1));
    }
    const int64_t nnz = d.complement_indptr.back();
    if (static_cast<int64_t>(d.complement_indices.size()) != nnz ||
        static_cast<int64_t>(d.complement_scores.size()) != nnz) {
      return Invalid(
          absl::StrCat("complement_indptr ends at ", nnz, " but there are ",
                       d.complement_indices.size(), " complement_indices and ",
                       d.complement_scores.size(), " complement_scores"));
    }
  }
  if (!d.item_counts.empty() &&
      static_cast<int64_t>(d.item_counts.size()) != items) {
    return Invalid(absl::StrCat("item_counts has ", d.item_counts.size(),
                                " entries, expected ", items,
                                " (one per item) or none"));
  }
  {
    bool seen[3] = {false, false, false};
    for (const RankerSpec& r : d.rankers) {
      const int k = static_cast<int>(r.kind);
      if (r.kind == RankerKind::kFormula || seen[k]) {
        return Invalid(absl::StrCat("rankers: a ", RankerKindName(r.kind),
                                    " ranker is not allowed or repeated"));
      }
      seen[k] = true;
    }
    if (d.default_ranker != RankerKind::kFormula &&
        !seen[static_cast<int>(d.default_ranker)]) {
      return Invalid(absl::StrCat("default_ranker is ",
                                  RankerKindName(d.default_ranker),
                                  " but rankers has none of that kind"));
    }
  }
  if (!d.item_categories.empty() &&
      d.item_categories.size() != d.item_ids.size()) {
    return Invalid(absl::StrCat("item_categories has ",
                                d.item_categories.size(), " entries, expected ",
                                items, " (one per item) or none"));
  }
  struct Column {
    const char* name;
    const std::vector<std::string>* values;
    bool allow_empty;
  };
  for (const Column& c :
       {Column{"user_ids", &d.user_ids, false},
        Column{"item_ids", &d.item_ids, false},
        Column{"item_categories", &d.item_categories, true}}) {
    for (size_t i = 0; i < c.values->size(); ++i) {
      absl::Status st = CheckLineValue((*c.values)[i], c.allow_empty);
      if (!st.ok()) {
        return Invalid(absl::StrCat(c.name, "[", i, "] ", st.message()));
      }
    }
  }
  return absl::OkStatus();
}

// Runs ModelSnapshot's content validation over views of `d`, without copying
// the arrays. Only call after CheckShapes.
absl::Status ValidateContent(const ModelData& d,
                             const std::vector<int64_t>& indptr) {
  ModelSnapshot::Parts parts;
  parts.metadata.version = d.version;
  parts.dim = d.dim;
  parts.user_ids = d.user_ids;
  parts.item_ids = d.item_ids;
  parts.item_categories = d.item_categories;
  parts.user_factors = d.user_factors.data();
  parts.item_factors = d.item_factors.data();
  parts.neighbor_indptr = indptr.data();
  parts.neighbor_indices = d.neighbor_indices.data();
  parts.neighbor_scores = d.neighbor_scores.data();
  if (HasComplements(d)) {
    parts.complement_indptr = d.complement_indptr.data();
    parts.complement_indices = d.complement_indices.data();
    parts.complement_scores = d.complement_scores.data();
  }
  if (!d.item_counts.empty()) parts.item_counts = d.item_counts.data();
  for (const RankerSpec& spec : d.rankers) {
    absl::StatusOr<std::unique_ptr<const Ranker>> ranker =
        Ranker::Create(spec);
    if (!ranker.ok()) {
      return Invalid(absl::StrCat("ranker_", RankerKindName(spec.kind),
                                  ".json: ", ranker.status().message()));
    }
    parts.rankers.push_back(std::move(*ranker));
  }
  parts.default_ranker = d.default_ranker;
  // The snapshot is discarded right away, while `d` is still alive.
  return ModelSnapshot::Create(std::move(parts)).status();
}

template <typename T>
absl::string_view Bytes(const std::vector<T>& v) {
  return absl::string_view(reinterpret_cast<const char*>(v.data()),
                           v.size() * sizeof(T));
}

// Writes one file atomically and records it in the manifest.
absl::Status WriteRole(const std::string& dir, const char* role,
                       absl::Span<const absl::string_view> pieces,
                       ModelManifest* manifest, const WriteStepHook& step) {
  ManifestFile file;
  file.path = DefaultFileName(role);
  Sha256 hash;
  for (absl::string_view p : pieces) hash.Update(p);
  file.sha256 = hash.HexDigest();
  RETURN_IF_ERROR(
      WriteFileAtomically(absl::StrCat(dir, "/", file.path), pieces));
  if (step) step(file.path);
  manifest->files[role] = std::move(file);
  return absl::OkStatus();
}

template <typename T>
absl::Status WriteArray(const std::string& dir, const char* role,
                        const std::vector<T>& values,
                        std::initializer_list<int64_t> shape,
                        ModelManifest* manifest, const WriteStepHook& step) {
  ASSIGN_OR_RETURN(std::string header, EncodeNpyHeader(NpyDescr<T>(), shape));
  const absl::string_view pieces[] = {header, Bytes(values)};
  return WriteRole(dir, role, pieces, manifest, step);
}

absl::Status WriteText(const std::string& dir, const char* role,
                       const std::vector<std::string>& lines,
                       ModelManifest* manifest, const WriteStepHook& step) {
  const std::string content = JoinLines(lines);
  const absl::string_view pieces[] = {content};
  return WriteRole(dir, role, pieces, manifest, step);
}

}  // namespace

absl::Status WriteUserFactorExport(const ModelData& data,
                                   const std::string& dir) {
  const int64_t users = static_cast<int64_t>(data.user_ids.size());
  if (data.dim <= 0 ||
      static_cast<int64_t>(data.user_factors.size()) != users * data.dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "user factor export: ", data.user_factors.size(),
        " values, expected num_users x dim = ", users, " x ", data.dim));
  }
  RETURN_IF_ERROR(CreateDirectories(dir));
  RETURN_IF_ERROR(WriteNpy<float>(absl::StrCat(dir, "/user_factors.npy"),
                                  data.user_factors, {users, data.dim}));
  const std::string ids = JoinLines(data.user_ids);
  const absl::string_view id_pieces[] = {ids};
  RETURN_IF_ERROR(
      WriteFileAtomically(absl::StrCat(dir, "/user_ids.txt"), id_pieces));
  const std::string info =
      absl::StrCat("{\n  \"model_version\": ", JsonQuote(data.version),
                   ",\n  \"dim\": ", data.dim, ",\n  \"num_users\": ", users,
                   ",\n  \"files\": {\"user_factors\": \"user_factors.npy\", "
                   "\"user_ids\": \"user_ids.txt\"}\n}\n");
  const absl::string_view info_pieces[] = {info};
  return WriteFileAtomically(absl::StrCat(dir, "/user_export.json"),
                             info_pieces);
}

namespace {

absl::Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, dir);
  absl::Status status;
  if (::fsync(fd) != 0) status = ErrnoStatus(errno, dir);
  ::close(fd);
  return status;
}

// Writes every file of the model, manifest last, into `dir` (a fresh, empty
// directory) and syncs it.
absl::Status WriteModelFiles(const ModelData& data, const std::string& dir,
                             const WriteStepHook& step) {
  const int64_t users = static_cast<int64_t>(data.user_ids.size());
  const int64_t items = static_cast<int64_t>(data.item_ids.size());
  std::vector<int64_t> empty_indptr;
  const std::vector<int64_t>* indptr = &data.neighbor_indptr;
  if (indptr->empty()) {
    empty_indptr.assign(static_cast<size_t>(items + 1), 0);
    indptr = &empty_indptr;
  }
  RETURN_IF_ERROR(ValidateContent(data, *indptr));

  const bool complements = HasComplements(data);
  const bool v3 = !data.item_counts.empty() || !data.rankers.empty();
  ModelManifest m;
  // The oldest version that can express the model, so that older servers
  // keep loading the models they can serve (docs/model-format.md,
  // Compatibility).
  const bool v4 = data.factor_dtype != FactorDtype::kFloat32;
  m.format_version = v4            ? kFactorDtypeFormatVersion
                     : v3          ? kRankerFormatVersion
                     : complements ? kTwoTableFormatVersion
                                   : kOldestModelFormatVersion;
  if (v4) m.factor_dtype = std::string(FactorDtypeName(data.factor_dtype));
  if (data.default_ranker != RankerKind::kFormula) {
    m.default_ranker = std::string(RankerKindName(data.default_ranker));
  }
  m.model_version = data.version;
  m.dim = data.dim;
  m.num_users = users;
  m.num_items = items;
  m.num_neighbors = static_cast<int64_t>(data.neighbor_indices.size());
  m.num_complements = static_cast<int64_t>(data.complement_indices.size());
  m.created_by = "rerank WriteModel";

  RETURN_IF_ERROR(WriteText(dir, kUserIdsRole, data.user_ids, &m, step));
  RETURN_IF_ERROR(WriteText(dir, kItemIdsRole, data.item_ids, &m, step));
  if (!data.item_categories.empty()) {
    RETURN_IF_ERROR(
        WriteText(dir, kItemCategoriesRole, data.item_categories, &m, step));
  }
  if (data.factor_dtype == FactorDtype::kFloat32) {
    RETURN_IF_ERROR(WriteArray(dir, kUserFactorsRole, data.user_factors,
                               {users, data.dim}, &m, step));
    RETURN_IF_ERROR(WriteArray(dir, kItemFactorsRole, data.item_factors,
                               {items, data.dim}, &m, step));
  } else {
    ASSIGN_OR_RETURN(std::shared_ptr<const EncodedFactors> encoded,
                     EncodeFactors(data));
    const absl::string_view descr = FactorNpyDescr(data.factor_dtype);
    for (const auto& [role, bytes, rows] :
         {std::tuple(kUserFactorsRole, &encoded->user, users),
          std::tuple(kItemFactorsRole, &encoded->item, items)}) {
      ASSIGN_OR_RETURN(std::string header,
                       EncodeNpyHeader(descr, {rows, data.dim}));
      const absl::string_view pieces[] = {header, Bytes(*bytes)};
      RETURN_IF_ERROR(WriteRole(dir, role, pieces, &m, step));
    }
    if (data.factor_dtype == FactorDtype::kInt8) {
      RETURN_IF_ERROR(WriteArray(dir, kUserFactorScalesRole,
                                 encoded->user_scales, {users}, &m, step));
      RETURN_IF_ERROR(WriteArray(dir, kItemFactorScalesRole,
                                 encoded->item_scales, {items}, &m, step));
    }
  }
  RETURN_IF_ERROR(
      WriteArray(dir, kNeighborsIndptrRole, *indptr, {items + 1}, &m, step));
  RETURN_IF_ERROR(WriteArray(dir, kNeighborsIndicesRole, data.neighbor_indices,
                             {m.num_neighbors}, &m, step));
  RETURN_IF_ERROR(WriteArray(dir, kNeighborsScoresRole, data.neighbor_scores,
                             {m.num_neighbors}, &m, step));
  if (complements) {
    RETURN_IF_ERROR(WriteArray(dir, kComplementsIndptrRole,
                               data.complement_indptr, {items + 1}, &m, step));
    RETURN_IF_ERROR(WriteArray(dir, kComplementsIndicesRole,
                               data.complement_indices, {m.num_complements},
                               &m, step));
    RETURN_IF_ERROR(WriteArray(dir, kComplementsScoresRole,
                               data.complement_scores, {m.num_complements},
                               &m, step));
  }
  if (!data.item_counts.empty()) {
    RETURN_IF_ERROR(
        WriteArray(dir, kItemCountsRole, data.item_counts, {items}, &m, step));
  }
  const std::pair<const char*, RankerKind> ranker_roles[] = {
      {kRankerLinearRole, RankerKind::kLinear},
      {kRankerGbdtRole, RankerKind::kGbdt}};
  for (const auto& [role, kind] : ranker_roles) {
    const RankerSpec* spec = nullptr;
    for (const RankerSpec& r : data.rankers) {
      if (r.kind == kind) spec = &r;
    }
    if (spec == nullptr) continue;
    const std::string json = RankerSpecToJson(*spec);
    const absl::string_view pieces[] = {json};
    RETURN_IF_ERROR(WriteRole(dir, role, pieces, &m, step));
  }
  // The manifest goes last, so that even the private directory never holds
  // a manifest naming a file that is not complete.
  const std::string manifest = SerializeModelManifest(m);
  const absl::string_view pieces[] = {manifest};
  RETURN_IF_ERROR(
      WriteFileAtomically(absl::StrCat(dir, "/", kManifestFileName), pieces));
  if (step) step(kManifestFileName);
  return SyncDirectory(dir);
}

// Removes a directory tree; best effort (used on debris only).
void RemoveTree(const std::string& path) {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

// Puts the complete directory `staged` at `dir`: a plain rename when `dir`
// does not exist; when it does, an atomic exchange (renameat2
// RENAME_EXCHANGE), so `dir` is at every moment either the old or the new
// complete model, then the old tree is removed. Filesystems without the
// exchange get two renames, with a moment in which `dir` does not exist.
absl::Status Publish(const std::string& staged, const std::string& dir,
                     const WriteStepHook& step) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoStatus(errno, dir);
    if (::rename(staged.c_str(), dir.c_str()) != 0) {
      return ErrnoStatus(errno, dir);
    }
    if (step) step("published");
    return absl::OkStatus();
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": exists and is not a directory"));
  }
  // Where the old model ends up: at `staged` after an exchange, beside it
  // after the two-rename fallback.
  std::string old = staged;
  if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, dir.c_str(),
                  RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL && errno != ENOSYS) return ErrnoStatus(errno, dir);
    old = absl::StrCat(staged, ".old");
    if (::rename(dir.c_str(), old.c_str()) != 0) {
      return ErrnoStatus(errno, dir);
    }
    if (::rename(staged.c_str(), dir.c_str()) != 0) {
      const absl::Status status = ErrnoStatus(errno, dir);
      ::rename(old.c_str(), dir.c_str());  // put the old model back
      return status;
    }
  }
  if (step) step("published");
  RemoveTree(old);
  if (step) step("old removed");
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteModel(const ModelData& data, const std::string& dir) {
  return WriteModel(data, dir, WriteStepHook());
}

absl::Status WriteModel(const ModelData& data, const std::string& dir,
                        const WriteStepHook& step) {
  RETURN_IF_ERROR(CheckShapes(data));
  std::string target = dir;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  if (target.empty() || target == "/") {
    return Invalid(absl::StrCat("output directory \"", dir, "\""));
  }
  // Write through a symlink into its target (e.g. --out=models/current),
  // as writing into the directory in place used to.
  std::error_code error;
  if (std::filesystem::is_symlink(target, error)) {
    const std::filesystem::path resolved =
        std::filesystem::canonical(target, error);
    if (error) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, ": symlink cannot be resolved: ", error.message()));
    }
    target = resolved.string();
  }
  const std::filesystem::path path(target);
  const std::string parent =
      path.has_parent_path() ? path.parent_path().string() : ".";
  RETURN_IF_ERROR(CreateDirectories(parent));
  // A private directory beside the target (same filesystem, so the final
  // rename is atomic); a kill at any moment leaves at most this debris,
  // never a partial model at `dir`.
  std::string staged =
      absl::StrCat(parent, "/.", path.filename().string(), ".tmp-XXXXXX");
  if (::mkdtemp(staged.data()) == nullptr) {
    return ErrnoStatus(errno, absl::StrCat(parent, " (staging directory)"));
  }
  if (absl::Status s = WriteModelFiles(data, staged, step); !s.ok()) {
    RemoveTree(staged);
    return s;
  }
  if (absl::Status s = Publish(staged, target, step); !s.ok()) {
    RemoveTree(staged);
    return s;
  }
  return SyncDirectory(parent);
}

}  // namespace rerank
