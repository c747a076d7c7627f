#include "model/model_snapshot.h"

#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace rerank {
namespace {

// File names used in validation messages. The loader maps manifest roles to
// these canonical names; a model written by WriteModel uses them verbatim.
constexpr char kUserFactorsFile[] = "user_factors.npy";
constexpr char kItemFactorsFile[] = "item_factors.npy";
constexpr char kUserIdsFile[] = "user_ids.txt";
constexpr char kItemIdsFile[] = "item_ids.txt";
constexpr char kIndptrFile[] = "neighbors_indptr.npy";
constexpr char kIndicesFile[] = "neighbors_indices.npy";
constexpr char kScoresFile[] = "neighbors_scores.npy";
constexpr char kCategoriesFile[] = "item_categories.txt";

// Row indices are int32 (neighbors_indices.npy is int32), so tables larger
// than this cannot be addressed.
constexpr int64_t kMaxRows = 2147483647;

absl::Status Invalid(absl::string_view file, absl::string_view problem) {
  return absl::FailedPreconditionError(absl::StrCat(file, ": ", problem));
}

absl::Status CheckFinite(const float* data, int64_t rows, int32_t dim,
                         absl::string_view file) {
  const int64_t n = rows * dim;
  for (int64_t i = 0; i < n; ++i) {
    // One branch per element in the common (all-finite) case; the message
    // work happens only on failure.
    if (!std::isfinite(data[i])) {
      return Invalid(file, absl::StrCat("row ", i / dim, " column ", i % dim,
                                        " is ",
                                        std::isnan(data[i]) ? "NaN" : "Inf"));
    }
  }
  return absl::OkStatus();
}

absl::Status BuildIndex(const std::vector<std::string>& ids,
                        absl::string_view file,
                        absl::flat_hash_map<absl::string_view, int32_t>* index) {
  if (static_cast<int64_t>(ids.size()) > kMaxRows) {
    return Invalid(file, absl::StrCat(ids.size(), " ids exceed the limit of ",
                                      kMaxRows));
  }
  index->reserve(ids.size());
  for (size_t row = 0; row < ids.size(); ++row) {
    const std::string& id = ids[row];
    if (id.empty()) {
      return Invalid(file, absl::StrCat("line ", row + 1, " is an empty id"));
    }
    auto [it, inserted] =
        index->try_emplace(absl::string_view(id), static_cast<int32_t>(row));
    if (!inserted) {
      return Invalid(file, absl::StrCat("duplicate id '", id, "' on lines ",
                                        it->second + 1, " and ", row + 1));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateNeighbors(const ModelSnapshot::Parts& p) {
  const int64_t items = static_cast<int64_t>(p.item_ids.size());
  if (p.neighbor_indptr == nullptr) {
    return Invalid(kIndptrFile, "missing");
  }
  if (p.neighbor_indptr[0] != 0) {
    return Invalid(kIndptrFile,
                   absl::StrCat("first entry is ", p.neighbor_indptr[0],
                                ", expected 0"));
  }
  for (int64_t i = 0; i < items; ++i) {
    if (p.neighbor_indptr[i + 1] < p.neighbor_indptr[i]) {
      return Invalid(kIndptrFile,
                     absl::StrCat("not non-decreasing at entry ", i + 1, " (",
                                  p.neighbor_indptr[i + 1], " < ",
                                  p.neighbor_indptr[i], ")"));
    }
  }
  const int64_t nnz = p.neighbor_indptr[items];
  if (nnz > 0 && (p.neighbor_indices == nullptr || p.neighbor_scores == nullptr)) {
    return Invalid(kIndicesFile, "missing");
  }
  for (int64_t row = 0; row < items; ++row) {
    for (int64_t k = p.neighbor_indptr[row]; k < p.neighbor_indptr[row + 1];
         ++k) {
      const int32_t j = p.neighbor_indices[k];
      if (j < 0 || j >= items) {
        return Invalid(kIndicesFile,
                       absl::StrCat("entry ", k, " (neighbour of item row ",
                                    row, ") is ", j, ", outside [0, ", items,
                                    ")"));
      }
      if (j == row) {
        return Invalid(kIndicesFile, absl::StrCat("entry ", k, ": item row ",
                                                  row, " lists itself"));
      }
      if (!std::isfinite(p.neighbor_scores[k])) {
        return Invalid(kScoresFile, absl::StrCat("entry ", k, " is not finite"));
      }
      if (k > p.neighbor_indptr[row] &&
          p.neighbor_scores[k] > p.neighbor_scores[k - 1]) {
        return Invalid(kScoresFile,
                       absl::StrCat("neighbours of item row ", row,
                                    " are not sorted by descending score at "
                                    "entry ",
                                    k));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

ModelSnapshot::ModelSnapshot(Parts parts) : parts_(std::move(parts)) {}

absl::StatusOr<std::unique_ptr<const ModelSnapshot>> ModelSnapshot::Create(
    Parts parts) {
  if (parts.dim <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("manifest.json: dim is ", parts.dim, ", must be > 0"));
  }
  const int64_t users = static_cast<int64_t>(parts.user_ids.size());
  const int64_t items = static_cast<int64_t>(parts.item_ids.size());
  if (users > 0 && parts.user_factors == nullptr) {
    return Invalid(kUserFactorsFile, "missing");
  }
  if (items > 0 && parts.item_factors == nullptr) {
    return Invalid(kItemFactorsFile, "missing");
  }
  if (!parts.item_categories.empty() &&
      static_cast<int64_t>(parts.item_categories.size()) != items) {
    return Invalid(kCategoriesFile,
                   absl::StrCat(parts.item_categories.size(),
                                " lines, expected one per item (", items, ")"));
  }
  RETURN_IF_ERROR(CheckFinite(parts.user_factors, users, parts.dim,
                              kUserFactorsFile));
  RETURN_IF_ERROR(CheckFinite(parts.item_factors, items, parts.dim,
                              kItemFactorsFile));
  RETURN_IF_ERROR(ValidateNeighbors(parts));

  // Built in place: the index keys view into parts_.user_ids/item_ids, whose
  // buffers must not move after indexing.
  std::unique_ptr<ModelSnapshot> snapshot(new ModelSnapshot(std::move(parts)));
  RETURN_IF_ERROR(BuildIndex(snapshot->parts_.user_ids, kUserIdsFile,
                             &snapshot->user_index_));
  RETURN_IF_ERROR(BuildIndex(snapshot->parts_.item_ids, kItemIdsFile,
                             &snapshot->item_index_));
  return std::unique_ptr<const ModelSnapshot>(std::move(snapshot));
}

absl::StatusOr<std::unique_ptr<const ModelSnapshot>> ModelSnapshot::FromData(
    ModelData data) {
  const size_t users = data.user_ids.size();
  const size_t items = data.item_ids.size();
  const size_t dim = data.dim > 0 ? static_cast<size_t>(data.dim) : 0;
  if (data.dim <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("manifest.json: dim is ", data.dim, ", must be > 0"));
  }
  if (data.user_factors.size() != users * dim) {
    return Invalid(kUserFactorsFile,
                   absl::StrCat(data.user_factors.size(), " values, expected ",
                                users, " users x ", dim));
  }
  if (data.item_factors.size() != items * dim) {
    return Invalid(kItemFactorsFile,
                   absl::StrCat(data.item_factors.size(), " values, expected ",
                                items, " items x ", dim));
  }
  if (data.neighbor_indptr.empty()) {
    // No neighbour table at all: an empty CSR.
    data.neighbor_indptr.assign(items + 1, 0);
  }
  if (data.neighbor_indptr.size() != items + 1) {
    return Invalid(kIndptrFile,
                   absl::StrCat(data.neighbor_indptr.size(),
                                " entries, expected items + 1 = ", items + 1));
  }
  const int64_t nnz = data.neighbor_indptr.back();
  if (nnz < 0 || static_cast<size_t>(nnz) != data.neighbor_indices.size()) {
    return Invalid(kIndicesFile,
                   absl::StrCat(data.neighbor_indices.size(),
                                " entries, but neighbors_indptr ends at ", nnz));
  }
  if (data.neighbor_scores.size() != data.neighbor_indices.size()) {
    return Invalid(kScoresFile,
                   absl::StrCat(data.neighbor_scores.size(),
                                " entries, expected ",
                                data.neighbor_indices.size(),
                                " (one per neighbour index)"));
  }

  // The vectors move into a shared holder whose buffers back the Parts
  // pointers; moving a std::vector keeps its buffer address.
  auto owned = std::make_shared<ModelData>(std::move(data));
  Parts parts;
  parts.metadata.version = owned->version;
  parts.dim = owned->dim;
  parts.user_ids = std::move(owned->user_ids);
  parts.item_ids = std::move(owned->item_ids);
  parts.item_categories = std::move(owned->item_categories);
  parts.user_factors = owned->user_factors.data();
  parts.item_factors = owned->item_factors.data();
  parts.neighbor_indptr = owned->neighbor_indptr.data();
  parts.neighbor_indices = owned->neighbor_indices.data();
  parts.neighbor_scores = owned->neighbor_scores.data();
  parts.storage.push_back(std::move(owned));
  return Create(std::move(parts));
}

int64_t ModelSnapshot::num_users() const {
  return static_cast<int64_t>(parts_.user_ids.size());
}

int64_t ModelSnapshot::num_items() const {
  return static_cast<int64_t>(parts_.item_ids.size());
}

int64_t ModelSnapshot::num_neighbors() const {
  return parts_.neighbor_indptr[parts_.item_ids.size()];
}

int32_t ModelSnapshot::FindUser(absl::string_view id) const {
  auto it = user_index_.find(id);
  return it == user_index_.end() ? -1 : it->second;
}

int32_t ModelSnapshot::FindItem(absl::string_view id) const {
  auto it = item_index_.find(id);
  return it == item_index_.end() ? -1 : it->second;
}

NeighborList ModelSnapshot::Neighbors(int32_t item_row) const {
  const int64_t begin = parts_.neighbor_indptr[item_row];
  const int64_t end = parts_.neighbor_indptr[item_row + 1];
  const size_t n = static_cast<size_t>(end - begin);
  return NeighborList{
      absl::Span<const int32_t>(parts_.neighbor_indices + begin, n),
      absl::Span<const float>(parts_.neighbor_scores + begin, n)};
}

absl::string_view ModelSnapshot::ItemCategory(int32_t item_row) const {
  if (parts_.item_categories.empty()) return {};
  return parts_.item_categories[item_row];
}

}  // namespace rerank
