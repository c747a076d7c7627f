#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rerank {

// An in-memory model whose arrays are owned vectors. Written by rerank-train
// and by tests; ModelSnapshot::FromData validates it. All matrices are
// row-major: row r of `user_factors` is user_factors[r*dim .. r*dim+dim).
struct ModelData {
  std::string version;
  int32_t dim = 0;
  std::vector<std::string> user_ids;
  std::vector<std::string> item_ids;
  std::vector<float> user_factors;      // user_ids.size() x dim
  std::vector<float> item_factors;      // item_ids.size() x dim
  // Item neighbours in CSR form: the neighbours of item row i are
  // neighbor_indices[neighbor_indptr[i] .. neighbor_indptr[i+1]) with the
  // matching neighbor_scores. indptr has item_ids.size()+1 entries.
  std::vector<int64_t> neighbor_indptr;
  std::vector<int32_t> neighbor_indices;
  std::vector<float> neighbor_scores;
  // Empty, or one category per item row ("" for none).
  std::vector<std::string> item_categories;
};

// Where a snapshot came from; filled by the loader.
struct ModelMetadata {
  std::string version;
  int32_t format_version = 1;
  std::string source_dir;   // absolute, symlinks resolved; empty for FromData
  std::string checksum;     // hex sha256 of manifest.json; empty for FromData
  int64_t loaded_at_ms = 0;
};

// The neighbours of one item row: parallel arrays, sorted by descending score.
struct NeighborList {
  absl::Span<const int32_t> items;
  absl::Span<const float> scores;
};

// An immutable, fully validated model: factor matrices, id tables and the
// item-neighbour table. Every accessor is const and the object never changes
// after construction, so it is safe to share across threads without locking.
// The arrays are either owned vectors (FromData) or read-only memory-mapped
// .npy files (model_loader.h); `storage_` keeps whichever alive.
class ModelSnapshot {
 public:
  // Views of arrays whose lifetime `storage` guarantees. Used by the loader.
  struct Parts {
    ModelMetadata metadata;
    int32_t dim = 0;
    std::vector<std::string> user_ids;
    std::vector<std::string> item_ids;
    const float* user_factors = nullptr;     // user_ids.size() x dim
    const float* item_factors = nullptr;     // item_ids.size() x dim
    const int64_t* neighbor_indptr = nullptr;  // item_ids.size() + 1
    const int32_t* neighbor_indices = nullptr;  // neighbor_indptr[last]
    const float* neighbor_scores = nullptr;     // neighbor_indptr[last]
    std::vector<std::string> item_categories;  // empty or one per item
    std::vector<std::shared_ptr<const void>> storage;
  };

  // Validates `parts` (finite factors, indptr monotone and in range, neighbour
  // indices in range and not self, finite scores, no empty or duplicate ids)
  // and builds the id lookup tables. Error messages name the file
  // (e.g. "item_factors.npy: row 7 column 3 is NaN").
  static absl::StatusOr<std::unique_ptr<const ModelSnapshot>> Create(
      Parts parts);

  // Same validation for an owned in-memory model (tests, tools).
  static absl::StatusOr<std::unique_ptr<const ModelSnapshot>> FromData(
      ModelData data);

  ModelSnapshot(const ModelSnapshot&) = delete;
  ModelSnapshot& operator=(const ModelSnapshot&) = delete;

  const ModelMetadata& metadata() const { return parts_.metadata; }
  const std::string& version() const { return parts_.metadata.version; }
  int32_t dim() const { return parts_.dim; }
  int64_t num_users() const;
  int64_t num_items() const;
  int64_t num_neighbors() const;  // total entries of the neighbour table
  bool has_categories() const { return !parts_.item_categories.empty(); }

  // Row of `id`, or -1 if the model does not know it.
  int32_t FindUser(absl::string_view id) const;
  int32_t FindItem(absl::string_view id) const;

  const std::string& user_id(int32_t row) const { return parts_.user_ids[row]; }
  const std::string& item_id(int32_t row) const { return parts_.item_ids[row]; }

  // Pointers to `dim()` contiguous floats. `row` must be valid.
  const float* UserFactors(int32_t row) const {
    return parts_.user_factors + static_cast<int64_t>(row) * parts_.dim;
  }
  const float* ItemFactors(int32_t row) const {
    return parts_.item_factors + static_cast<int64_t>(row) * parts_.dim;
  }
  NeighborList Neighbors(int32_t item_row) const;
  // "" when the model has no categories.
  absl::string_view ItemCategory(int32_t item_row) const;

 private:
  explicit ModelSnapshot(Parts parts);

  Parts parts_;
  // Keys view into parts_.user_ids / item_ids, which never change.
  absl::flat_hash_map<absl::string_view, int32_t> user_index_;
  absl::flat_hash_map<absl::string_view, int32_t> item_index_;
};

}  // namespace rerank
