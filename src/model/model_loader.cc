#include "model/model_loader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/factor_storage.h"
#include "model/file_util.h"
#include "model/manifest.h"
#include "model/mapped_file.h"
#include "model/npy.h"
#include "model/sha256.h"
#include "model/text_lines.h"
#include "ranking/ranker.h"

namespace rerank {

namespace {

// Wall-clock seconds since `start`, for ModelMetadata::load_phases.
double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

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

absl::Status ChecksumStatus(const ManifestFile& file,
                            const std::string& actual) {
  if (actual != file.sha256) {
    return absl::DataLossError(
        absl::StrCat(file.path, ": sha256 is ", actual,
                     " but manifest.json says ", file.sha256,
                     " (file corrupt, or replaced without updating the "
                     "manifest)"));
  }
  return absl::OkStatus();
}

absl::Status CheckChecksum(const ManifestFile& file, absl::string_view bytes) {
  return ChecksumStatus(file, Sha256Hex(bytes));
}

// Records wall-clock phases into ModelMetadata::load_phases.
class PhaseClock {
 public:
  explicit PhaseClock(std::vector<std::pair<std::string, double>>* out)
      : out_(out), start_(std::chrono::steady_clock::now()) {}
  // Ends the current phase as `name` and starts the next one.
  void Lap(std::string name) {
    const auto now = std::chrono::steady_clock::now();
    out_->emplace_back(std::move(name),
                       std::chrono::duration<double>(now - start_).count());
    start_ = now;
  }

 private:
  std::vector<std::pair<std::string, double>>* out_;
  std::chrono::steady_clock::time_point start_;
};

// Hashes one mapped file on its own thread while the loader goes on with the
// others. With verify_checksums the sha256 of the user factors (2.6 GB for
// 10M users at dim 64) was the longest single step of a load, and nothing
// else depends on it: the loader only consults the result where the
// sequential loader checked it, so which error a broken model reports does
// not change. Destroying it cancels the hashing (between chunks) and joins.
class BackgroundChecksum {
 public:
  explicit BackgroundChecksum(std::shared_ptr<const MappedFile> file)
      : file_(std::move(file)), thread_([this] { Run(); }) {}
  ~BackgroundChecksum() {
    cancel_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
  }
  BackgroundChecksum(const BackgroundChecksum&) = delete;
  BackgroundChecksum& operator=(const BackgroundChecksum&) = delete;

  // Waits for the hex digest.
  const std::string& Wait() {
    if (thread_.joinable()) thread_.join();
    return digest_;
  }
  double seconds() const { return seconds_; }

 private:
  void Run() {
    // Chunks bound how long a cancelled hash keeps running.
    constexpr size_t kChunk = size_t{64} << 20;
    const auto start = std::chrono::steady_clock::now();
    const absl::string_view bytes = file_->bytes();
    Sha256 h;
    for (size_t pos = 0; pos < bytes.size(); pos += kChunk) {
      if (cancel_.load(std::memory_order_relaxed)) return;
      h.Update(bytes.substr(pos, kChunk));
    }
    digest_ = h.HexDigest();
    seconds_ = SecondsSince(start);
  }

  const std::shared_ptr<const MappedFile> file_;
  std::atomic<bool> cancel_{false};
  std::string digest_;  // written by the thread, read after join
  double seconds_ = 0;
  std::thread thread_;  // last: starts after the members it uses exist
};

// True if `s` is all ASCII with no '\r' and no NUL: text that can break no
// line rule (text_lines.h) except the one against empty lines. Branch-free
// over fixed blocks so that it vectorises.
bool IsPlainAscii(absl::string_view s) {
  constexpr size_t kBlock = 64;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    unsigned bad = 0;
    for (size_t k = 0; k < kBlock; ++k) {
      const unsigned char c = p[i + k];
      bad |= (c & 0x80u) | static_cast<unsigned>(c == '\r') |
             static_cast<unsigned>(c == 0);
    }
    if (bad != 0) return false;
  }
  for (; i < n; ++i) {
    if ((p[i] & 0x80u) != 0 || p[i] == '\r' || p[i] == 0) return false;
  }
  return true;
}

// ParseLines(content, allow_empty_lines) with a fast path for plain ASCII
// id files: its per-line checks (four scans per line, UTF-8 decoding) and
// the vector's regrowth were 0.8 s of CPU for 10M user ids. Anything the fast
// path cannot accept goes to ParseLines, which stays the source of the rules
// and of the error messages.
absl::StatusOr<std::vector<std::string>> SplitLines(absl::string_view content,
                                                    bool allow_empty_lines) {
  if (!IsPlainAscii(content)) return ParseLines(content, allow_empty_lines);
  std::vector<std::string> lines;
  lines.reserve(
      static_cast<size_t>(std::count(content.begin(), content.end(), '\n')) +
      1);
  const char* const data = content.data();
  const size_t n = content.size();
  size_t pos = 0;
  while (pos < n) {
    const void* nl = std::memchr(data + pos, '\n', n - pos);
    const size_t end =
        nl == nullptr
            ? n
            : static_cast<size_t>(static_cast<const char*>(nl) - data);
    if (end == pos && !allow_empty_lines) {
      return ParseLines(content, allow_empty_lines);
    }
    lines.emplace_back(data + pos, end - pos);
    pos = end + 1;
  }
  return lines;
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
                     MappedFile::OpenAt(dir_fd_, file.path,
                                        options_.copy_max_bytes));
    // Checksum before parsing: for a corrupted file "checksum mismatch" is
    // the true diagnosis, whatever the header now looks like. Hashing also
    // pages the whole file in, which MADV_WILLNEED only requests.
    if (options_.verify_checksums) {
      RETURN_IF_ERROR(CheckChecksum(file, mapped->bytes()));
    }
    return CheckArray(file, mapped, descr, shape, shape_source, storage);
  }

  // MapArray for a file already mapped whose checksum `background` is
  // computing (null without verify_checksums). Does not wait for it unless
  // the header is refused: the checksum error then takes precedence, as in
  // MapArray.
  absl::StatusOr<const char*> MapArrayHashing(
      const char* role, const std::shared_ptr<const MappedFile>& mapped,
      BackgroundChecksum* background, absl::string_view descr,
      std::initializer_list<int64_t> shape, absl::string_view shape_source,
      std::vector<std::shared_ptr<const void>>* storage) {
    const ManifestFile& file = manifest_.files.at(role);
    absl::StatusOr<const char*> data =
        CheckArray(file, mapped, descr, shape, shape_source, storage);
    if (!data.ok() && background != nullptr) {
      RETURN_IF_ERROR(ChecksumStatus(file, background->Wait()));
    }
    return data;
  }

  // Reads and validates the ranker file of `role`, which must hold a ranker
  // of `kind`. Refusals are FAILED_PRECONDITION naming the file.
  absl::StatusOr<std::shared_ptr<const Ranker>> ReadRanker(const char* role,
                                                           RankerKind kind) {
    const ManifestFile& file = manifest_.files.at(role);
    ASSIGN_OR_RETURN(std::string content,
                     ReadFileAt(dir_fd_, file.path, kMaxRankerFileBytes));
    if (options_.verify_checksums) {
      RETURN_IF_ERROR(CheckChecksum(file, content));
    }
    absl::StatusOr<std::unique_ptr<const Ranker>> ranker =
        ParseRankerJson(content, file.path);
    if (!ranker.ok()) {
      return absl::FailedPreconditionError(ranker.status().message());
    }
    if ((*ranker)->kind() != kind) {
      return absl::FailedPreconditionError(absl::StrCat(
          file.path, ": holds a ", RankerKindName((*ranker)->kind()),
          " ranker, but files.", role, " must be ", RankerKindName(kind)));
    }
    return std::shared_ptr<const Ranker>(std::move(*ranker));
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
        SplitLines(content, allow_empty_lines);
    if (!lines.ok()) return PrefixStatus(lines.status(), file.path);
    if (static_cast<int64_t>(lines->size()) != expected) {
      return absl::FailedPreconditionError(
          absl::StrCat(file.path, ": has ", lines->size(), " lines, but ",
                       count_key, " in manifest.json is ", expected));
    }
    return std::move(*lines);
  }

 private:
  // Parses the .npy header of `mapped` and checks dtype, shape and size.
  absl::StatusOr<const char*> CheckArray(
      const ManifestFile& file, const std::shared_ptr<const MappedFile>& mapped,
      absl::string_view descr, std::initializer_list<int64_t> shape,
      absl::string_view shape_source,
      std::vector<std::shared_ptr<const void>>* storage) {
    absl::StatusOr<NpyArray> array =
        CheckNpyArray(mapped->bytes(), descr, shape, shape_source);
    if (!array.ok()) return PrefixStatus(array.status(), file.path);
    storage->push_back(mapped);
    return array->data;
  }

  const int dir_fd_;
  const ModelManifest& manifest_;
  const LoadOptions& options_;
};

// A dtype mismatch in a factor file says which dtype the manifest declared.
absl::Status WithDtype(const absl::Status& status, absl::string_view source) {
  if (!absl::StrContains(status.message(), "dtype")) return status;
  return absl::Status(status.code(), absl::StrCat(status.message(), source));
}

// The CSR ends tie an indptr array (of `role`) to the manifest's count of
// its table; the rest of the indptr (monotone, in range) is content, checked
// by ModelSnapshot::Create.
absl::Status CheckCsrEnds(const ModelManifest& m, const char* role,
                          const int64_t* indptr, int64_t count,
                          absl::string_view count_key) {
  const std::string& file = m.files.at(role).path;
  if (indptr[0] != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(file, ": first entry is ", indptr[0], ", must be 0"));
  }
  if (indptr[m.num_items] != count) {
    return absl::FailedPreconditionError(
        absl::StrCat(file, ": last entry is ", indptr[m.num_items], ", but ",
                     count_key, " in manifest.json is ", count));
  }
  return absl::OkStatus();
}

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
  PhaseClock clock(&parts.metadata.load_phases);
  // The user factors are most of the model's bytes: map them now and hash
  // them on another thread while the rest loads. A mapping error is reported
  // where the sequential order would meet it, after the id files.
  const ManifestFile& user_factors_file = m.files.at(kUserFactorsRole);
  absl::StatusOr<std::shared_ptr<const MappedFile>> user_factors_mapped =
      MappedFile::OpenAt(dir_fd.get(), user_factors_file.path,
                         options.copy_max_bytes);
  std::optional<BackgroundChecksum> user_factors_hash;
  if (user_factors_mapped.ok() && options.verify_checksums) {
    user_factors_hash.emplace(*user_factors_mapped);
  }
  clock.Lap("manifest, map user_factors");

  // Text files first: they are small, and a wrong id count is a more direct
  // message than the matching array shape mismatch.
  ASSIGN_OR_RETURN(parts.user_ids,
                   loader.ReadLines(kUserIdsRole, /*allow_empty_lines=*/false,
                                    m.num_users, "num_users"));
  clock.Lap("read, sha256, split user_ids");
  ASSIGN_OR_RETURN(parts.item_ids,
                   loader.ReadLines(kItemIdsRole, /*allow_empty_lines=*/false,
                                    m.num_items, "num_items"));
  if (m.files.contains(kItemCategoriesRole)) {
    ASSIGN_OR_RETURN(
        parts.item_categories,
        loader.ReadLines(kItemCategoriesRole,
                         /*allow_empty_lines=*/true, m.num_items, "num_items"));
  }
  clock.Lap("read, sha256, split item_ids (+ categories)");

  // Everything from the user factors on. Its errors are reported only after
  // the background checksum is known, which precedes them all.
  BackgroundChecksum* const hashing =
      user_factors_hash ? &*user_factors_hash : nullptr;
  auto load_arrays_and_create =
      [&]() -> absl::StatusOr<std::unique_ptr<const ModelSnapshot>> {
    if (!user_factors_mapped.ok()) return user_factors_mapped.status();
    if (!m.factor_dtype.empty()) {
      ASSIGN_OR_RETURN(parts.factor_dtype, ParseFactorDtype(m.factor_dtype));
    }
    // The manifest's factor_dtype says what the factor files must hold: a
    // float32 file under "float16" is refused by its descr, not converted.
    const absl::string_view factor_descr = FactorNpyDescr(parts.factor_dtype);
    const std::string dtype_source =
        m.factor_dtype.empty() ? std::string()
                               : absl::StrCat(" (factor_dtype ", m.factor_dtype,
                                              " in manifest.json)");
    absl::StatusOr<const char*> user_factors = loader.MapArrayHashing(
        kUserFactorsRole, *user_factors_mapped, hashing, factor_descr,
        {m.num_users, m.dim}, "num_users x dim in manifest.json",
        &parts.storage);
    if (!user_factors.ok())
      return WithDtype(user_factors.status(), dtype_source);
    absl::StatusOr<const char*> item_factors =
        loader.MapArray(kItemFactorsRole, factor_descr, {m.num_items, m.dim},
                        "num_items x dim in manifest.json", &parts.storage);
    if (!item_factors.ok())
      return WithDtype(item_factors.status(), dtype_source);
    if (parts.factor_dtype == FactorDtype::kInt8) {
      ASSIGN_OR_RETURN(
          const char* user_scales,
          loader.MapArray(kUserFactorScalesRole, NpyDescr<float>(),
                          {m.num_users}, "num_users in manifest.json",
                          &parts.storage));
      ASSIGN_OR_RETURN(
          const char* item_scales,
          loader.MapArray(kItemFactorScalesRole, NpyDescr<float>(),
                          {m.num_items}, "num_items in manifest.json",
                          &parts.storage));
      parts.user_factor_scales = reinterpret_cast<const float*>(user_scales);
      parts.item_factor_scales = reinterpret_cast<const float*>(item_scales);
    }
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
    parts.user_factors = *user_factors;
    parts.item_factors = *item_factors;
    parts.neighbor_indptr = reinterpret_cast<const int64_t*>(indptr);
    parts.neighbor_indices = reinterpret_cast<const int32_t*>(indices);
    parts.neighbor_scores = reinterpret_cast<const float*>(scores);
    RETURN_IF_ERROR(CheckCsrEnds(m, kNeighborsIndptrRole, parts.neighbor_indptr,
                                 m.num_neighbors, "num_neighbors"));
    if (m.files.contains(kComplementsIndptrRole)) {
      ASSIGN_OR_RETURN(
          const char* c_indptr,
          loader.MapArray(kComplementsIndptrRole, NpyDescr<int64_t>(),
                          {m.num_items + 1}, "num_items + 1 in manifest.json",
                          &parts.storage));
      ASSIGN_OR_RETURN(
          const char* c_indices,
          loader.MapArray(kComplementsIndicesRole, NpyDescr<int32_t>(),
                          {m.num_complements},
                          "num_complements in manifest.json", &parts.storage));
      ASSIGN_OR_RETURN(
          const char* c_scores,
          loader.MapArray(kComplementsScoresRole, NpyDescr<float>(),
                          {m.num_complements},
                          "num_complements in manifest.json", &parts.storage));
      parts.complement_indptr = reinterpret_cast<const int64_t*>(c_indptr);
      parts.complement_indices = reinterpret_cast<const int32_t*>(c_indices);
      parts.complement_scores = reinterpret_cast<const float*>(c_scores);
      RETURN_IF_ERROR(CheckCsrEnds(m, kComplementsIndptrRole,
                                   parts.complement_indptr, m.num_complements,
                                   "num_complements"));
    }
    if (m.files.contains(kItemCountsRole)) {
      ASSIGN_OR_RETURN(
          const char* counts,
          loader.MapArray(kItemCountsRole, NpyDescr<float>(), {m.num_items},
                          "num_items in manifest.json", &parts.storage));
      parts.item_counts = reinterpret_cast<const float*>(counts);
    }
    clock.Lap("map, sha256 item_factors and neighbours");
    const std::pair<const char*, RankerKind> ranker_roles[] = {
        {kRankerLinearRole, RankerKind::kLinear},
        {kRankerGbdtRole, RankerKind::kGbdt}};
    for (const auto& [role, kind] : ranker_roles) {
      if (!m.files.contains(role)) continue;
      ASSIGN_OR_RETURN(std::shared_ptr<const Ranker> ranker,
                       loader.ReadRanker(role, kind));
      parts.rankers.push_back(std::move(ranker));
    }
    if (!m.default_ranker.empty()) {
      ASSIGN_OR_RETURN(parts.default_ranker, ParseRankerKind(m.default_ranker));
    }
    if (!parts.rankers.empty()) clock.Lap("read, validate rankers");

    parts.metadata.loaded_at_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count();
    // Create validates and indexes while the checksum may still be running;
    // it calls back here before it returns a snapshot.
    parts.finish = [&](ModelMetadata* metadata) -> absl::Status {
      if (hashing == nullptr) return absl::OkStatus();
      const auto wait = std::chrono::steady_clock::now();
      const std::string& digest = hashing->Wait();
      metadata->load_phases.emplace_back("sha256 user_factors (background)",
                                         hashing->seconds());
      metadata->load_phases.emplace_back("wait for that sha256",
                                         SecondsSince(wait));
      return ChecksumStatus(user_factors_file, digest);
    };
    return ModelSnapshot::Create(std::move(parts));
  };
  absl::StatusOr<std::unique_ptr<const ModelSnapshot>> snapshot =
      load_arrays_and_create();
  if (!snapshot.ok() && hashing != nullptr) {
    RETURN_IF_ERROR(ChecksumStatus(user_factors_file, hashing->Wait()));
  }
  if (!snapshot.ok()) return snapshot.status();
  return std::shared_ptr<const ModelSnapshot>(std::move(*snapshot));
}

}  // namespace rerank
