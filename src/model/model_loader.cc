#include "model/model_loader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/file_util.h"
#include "model/manifest.h"
#include "model/mapped_file.h"
#include "model/npy.h"
#include "model/sha256.h"
#include "model/text_lines.h"

namespace rerank {

namespace {

// Owns a directory fd. Every model file is opened relative to it (openat), so
// the whole load sees one directory even if `dir` is renamed or re-pointed
// meanwhile.
class DirFd {
 public:
  explicit DirFd(int fd) : fd_(fd) {}
  ~DirFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  DirFd(const DirFd&) = delete;
  DirFd& operator=(const DirFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status CheckChecksum(const ManifestFile& file, absl::string_view bytes) {
  const std::string actual = Sha256Hex(bytes);
  if (actual != file.sha256) {
    return absl::DataLossError(
        absl::StrCat(file.path, ": sha256 is ", actual,
                     " but manifest.json says ", file.sha256,
                     " (file corrupt, or replaced without updating the "
                     "manifest)"));
  }
  return absl::OkStatus();
}

// Loads everything file-level; the result still needs ModelSnapshot::Create.
class Loader {
 public:
  Loader(int dir_fd, const ModelManifest& manifest, const LoadOptions& options)
      : dir_fd_(dir_fd), manifest_(manifest), options_(options) {}

  // Maps the .npy file of `role`, verifies its checksum and checks dtype,
  // shape and size. Returns a pointer to its data, valid while `storage`
  // holds the mapping.
  absl::StatusOr<const char*> MapArray(
      const char* role, absl::string_view descr,
      std::initializer_list<int64_t> shape, absl::string_view shape_source,
      std::vector<std::shared_ptr<const void>>* storage) {
    const ManifestFile& file = manifest_.files.at(role);
    ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> mapped,
                     MappedFile::OpenAt(dir_fd_, file.path));
    // Checksum before parsing: for a corrupted file "checksum mismatch" is
    // the true diagnosis, whatever the header now looks like. Hashing also
    // pages the whole file in, which MADV_WILLNEED only requests.
    if (options_.verify_checksums) {
      RETURN_IF_ERROR(CheckChecksum(file, mapped->bytes()));
    }
    absl::StatusOr<NpyArray> array =
        CheckNpyArray(mapped->bytes(), descr, shape, shape_source);
    if (!array.ok()) return PrefixStatus(array.status(), file.path);
    storage->push_back(mapped);
    return array->data;
  }

  // Reads the text file of `role` and splits it into exactly `expected`
  // lines.
  absl::StatusOr<std::vector<std::string>> ReadLines(
      const char* role, bool allow_empty_lines, int64_t expected,
      absl::string_view count_key) {
    const ManifestFile& file = manifest_.files.at(role);
    ASSIGN_OR_RETURN(std::string content,
                     ReadFileAt(dir_fd_, file.path, INT64_MAX));
    if (options_.verify_checksums) {
      RETURN_IF_ERROR(CheckChecksum(file, content));
    }
    absl::StatusOr<std::vector<std::string>> lines =
        ParseLines(content, allow_empty_lines);
    if (!lines.ok()) return PrefixStatus(lines.status(), file.path);
    if (static_cast<int64_t>(lines->size()) != expected) {
      return absl::FailedPreconditionError(
          absl::StrCat(file.path, ": has ", lines->size(), " lines, but ",
                       count_key, " in manifest.json is ", expected));
    }
    return std::move(*lines);
  }

 private:
  const int dir_fd_;
  const ModelManifest& manifest_;
  const LoadOptions& options_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const ModelSnapshot>> LoadModel(
    const std::string& dir, const LoadOptions& options) {
  if (dir.empty()) {
    return absl::NotFoundError("model directory path is empty");
  }
  char resolved[PATH_MAX];
  if (::realpath(dir.c_str(), resolved) == nullptr) {
    return ErrnoStatus(errno, absl::StrCat("model directory ", dir));
  }
  const int raw_fd = ::open(resolved, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (raw_fd < 0) {
    return ErrnoStatus(errno, absl::StrCat("model directory ", dir));
  }
  DirFd dir_fd(raw_fd);

  ASSIGN_OR_RETURN(
      std::string manifest_json,
      ReadFileAt(dir_fd.get(), kManifestFileName, kMaxManifestBytes));
  absl::StatusOr<ModelManifest> parsed = ParseModelManifest(manifest_json);
  if (!parsed.ok()) return PrefixStatus(parsed.status(), kManifestFileName);
  const ModelManifest& m = *parsed;

  ModelSnapshot::Parts parts;
  parts.metadata.version = m.model_version;
  parts.metadata.format_version = m.format_version;
  parts.metadata.source_dir = resolved;
  parts.metadata.checksum = Sha256Hex(manifest_json);
  parts.dim = m.dim;

  Loader loader(dir_fd.get(), m, options);
  // Text files first: they are small, and a wrong id count is a more direct
  // message than the matching array shape mismatch.
  ASSIGN_OR_RETURN(parts.user_ids,
                   loader.ReadLines(kUserIdsRole, /*allow_empty_lines=*/false,
                                    m.num_users, "num_users"));
  ASSIGN_OR_RETURN(parts.item_ids,
                   loader.ReadLines(kItemIdsRole, /*allow_empty_lines=*/false,
                                    m.num_items, "num_items"));
  if (m.files.contains(kItemCategoriesRole)) {
    ASSIGN_OR_RETURN(
        parts.item_categories,
        loader.ReadLines(kItemCategoriesRole,
                         /*allow_empty_lines=*/true, m.num_items, "num_items"));
  }

  ASSIGN_OR_RETURN(
      const char* user_factors,
      loader.MapArray(kUserFactorsRole, NpyDescr<float>(), {m.num_users, m.dim},
                      "num_users x dim in manifest.json", &parts.storage));
  ASSIGN_OR_RETURN(
      const char* item_factors,
      loader.MapArray(kItemFactorsRole, NpyDescr<float>(), {m.num_items, m.dim},
                      "num_items x dim in manifest.json", &parts.storage));
  ASSIGN_OR_RETURN(
      const char* indptr,
      loader.MapArray(kNeighborsIndptrRole, NpyDescr<int64_t>(),
                      {m.num_items + 1}, "num_items + 1 in manifest.json",
                      &parts.storage));
  ASSIGN_OR_RETURN(
      const char* indices,
      loader.MapArray(kNeighborsIndicesRole, NpyDescr<int32_t>(),
                      {m.num_neighbors}, "num_neighbors in manifest.json",
                      &parts.storage));
  ASSIGN_OR_RETURN(
      const char* scores,
      loader.MapArray(kNeighborsScoresRole, NpyDescr<float>(),
                      {m.num_neighbors}, "num_neighbors in manifest.json",
                      &parts.storage));
  parts.user_factors = reinterpret_cast<const float*>(user_factors);
  parts.item_factors = reinterpret_cast<const float*>(item_factors);
  parts.neighbor_indptr = reinterpret_cast<const int64_t*>(indptr);
  parts.neighbor_indices = reinterpret_cast<const int32_t*>(indices);
  parts.neighbor_scores = reinterpret_cast<const float*>(scores);

  // The CSR ends tie the indptr array to the manifest's count; the rest of
  // the indptr (monotone, in range) is content, checked by Create.
  const std::string& indptr_file = m.files.at(kNeighborsIndptrRole).path;
  if (parts.neighbor_indptr[0] != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(indptr_file, ": first entry is ", parts.neighbor_indptr[0],
                     ", must be 0"));
  }
  if (parts.neighbor_indptr[m.num_items] != m.num_neighbors) {
    return absl::FailedPreconditionError(absl::StrCat(
        indptr_file, ": last entry is ", parts.neighbor_indptr[m.num_items],
        ", but num_neighbors in manifest.json is ", m.num_neighbors));
  }

  parts.metadata.loaded_at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  ASSIGN_OR_RETURN(std::unique_ptr<const ModelSnapshot> snapshot,
                   ModelSnapshot::Create(std::move(parts)));
  return std::shared_ptr<const ModelSnapshot>(std::move(snapshot));
}

}  // namespace rerank
