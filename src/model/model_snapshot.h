#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/factor_storage.h"
#include "ranking/ranker.h"

namespace rerank {

// An in-memory model whose arrays are owned vectors. Written by rerank-train
// and by tests; ModelSnapshot::FromData validates it. All matrices are
// row-major: row r of `user_factors` is user_factors[r*dim .. r*dim+dim).
struct ModelData {
  std::string version;
  int32_t dim = 0;
  std::vector<std::string> user_ids;
  std::vector<std::string> item_ids;
  std::vector<float> user_factors;  // user_ids.size() x dim
  std::vector<float> item_factors;  // item_ids.size() x dim
  // How both matrices are stored once written or served: FromData and
  // WriteModel encode the float factors above into it (factor_storage.h).
  FactorDtype factor_dtype = FactorDtype::kFloat32;
  // Item neighbours in CSR form: the neighbours of item row i are
  // neighbor_indices[neighbor_indptr[i] .. neighbor_indptr[i+1]) with the
  // matching neighbor_scores. indptr has item_ids.size()+1 entries.
  std::vector<int64_t> neighbor_indptr;
  std::vector<int32_t> neighbor_indices;
  std::vector<float> neighbor_scores;
  // The complement table (co-purchased / co-carted items), same CSR layout.
  // All three empty: the model has no separate complement table, and the
  // neighbour table above serves both roles (a format_version 1 model).
  // Otherwise the neighbour table above is the substitutes (co-viewed)
  // table. An all-zero indptr is a separate, empty complement table.
  std::vector<int64_t> complement_indptr;
  std::vector<int32_t> complement_indices;
  std::vector<float> complement_scores;
  // Empty, or one category per item row ("" for none).
  std::vector<std::string> item_categories;
  // format_version 3. Empty, or one training count per item row (finite,
  // >= 0): rerank-train's count of distinct users per item; the rankers'
  // popularity feature.
  std::vector<float> item_counts;
  // At most one per kind (kLinear, kGbdt); validated by Ranker::Create.
  std::vector<RankerSpec> rankers;
  // What scores when neither the request nor the config says: kFormula, or
  // a kind in `rankers`.
  RankerKind default_ranker = RankerKind::kFormula;
};

// The factors of a ModelData encoded into its factor_dtype, as the files
// and a served snapshot hold them: `user` and `item` are the raw element
// bytes (rows x dim elements, row-major), the scales one float per row for
// kInt8 (else empty).
struct EncodedFactors {
  std::vector<char> user;
  std::vector<char> item;
  std::vector<float> user_scales;
  std::vector<float> item_scales;
};
// FAILED_PRECONDITION naming the file, row and column of a value that is not
// finite or does not fit the dtype.
absl::StatusOr<std::shared_ptr<const EncodedFactors>> EncodeFactors(
    const ModelData& data);

// Where a snapshot came from; filled by the loader.
struct ModelMetadata {
  std::string version;
  int32_t format_version = 1;
  std::string source_dir;  // absolute, symlinks resolved; empty for FromData
  std::string checksum;    // hex sha256 of manifest.json; empty for FromData
  int64_t loaded_at_ms = 0;
  // Wall-clock seconds of each phase of building the snapshot, in order
  // (e.g. "read, sha256, split user_ids"); phases that ran concurrently
  // overlap. The loader's file phases, then ModelSnapshot::Create's. For
  // benchmarks and logs (docs/performance.md).
  std::vector<std::pair<std::string, double>> load_phases;
};

// An id -> row table over an id list it does not own (ModelSnapshot's
// user_ids / item_ids). Open addressing with linear probing over 8-byte
// slots {32-bit hash tag, row}, at most ~70% full: a lookup touches one slot
// cache line and then the id itself to confirm, where absl::flat_hash_map<
// string_view, int32_t> touches its control bytes, a 24-byte slot and the
// id, and takes three times the memory (10M users: 134 MB instead of ~420).
// The hash is seeded per process, so clients cannot aim request ids at one
// probe chain. Immutable after Build; safe to share across threads.
class IdIndex {
 public:
  IdIndex() = default;
  IdIndex(IdIndex&&) = default;
  IdIndex& operator=(IdIndex&&) = default;

  // Indexes `ids`, which must outlive the index and stay in place. On the
  // first empty id (in row order) or the first id equal to an earlier one,
  // stops and returns false with *bad_row set to it and, for a duplicate,
  // *first_row to the earlier row (-1 for an empty id).
  bool Build(absl::Span<const std::string> ids, int64_t* bad_row,
             int64_t* first_row);

  // Row of `id`, or -1.
  int32_t Find(absl::string_view id) const;

  // rows[i] = Find(ids[i]) for every i, several at a time: the slots and ids
  // of a batch are prefetched before any is compared, so the cache misses of
  // a request's candidates overlap instead of queueing one after another.
  void FindBatch(absl::Span<const absl::string_view> ids, int32_t* rows) const;

 private:
  struct Slot {
    uint32_t tag;  // high half of the id's hash
    int32_t row;   // -1: empty
  };

  uint64_t Hash(absl::string_view id) const;
  // Continues a probe for `id` from slot index `pos`.
  int32_t ProbeFrom(absl::string_view id, uint64_t pos, uint32_t tag) const;

  const std::string* ids_ = nullptr;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  uint64_t seed_ = 0;
};

// Which neighbour table (README "Scoring"): substitutes follow VIEW/CLICK/
// wishlist events, complements follow ADD_TO_CART/PURCHASE.
enum class NeighborTable { kSubstitutes, kComplements };

// The neighbours of one item row: parallel arrays, sorted by descending score.
struct NeighborList {
  absl::Span<const int32_t> items;
  absl::Span<const float> scores;
};

// An immutable, fully validated model: factor matrices, id tables and the
// item-neighbour tables (substitutes, and optionally a separate complement
// table; without one the substitutes table serves both roles). Every accessor
// is const and the object never changes after construction, so it is safe to
// share across threads without locking. The arrays are either owned vectors
// (FromData) or read-only memory-mapped .npy files (model_loader.h); `storage_`
// keeps whichever alive.
class ModelSnapshot {
 public:
  // Views of arrays whose lifetime `storage` guarantees. Used by the loader.
  struct Parts {
    ModelMetadata metadata;
    int32_t dim = 0;
    std::vector<std::string> user_ids;
    std::vector<std::string> item_ids;
    // user_ids.size() x dim and item_ids.size() x dim elements of
    // factor_dtype; with kInt8 also one scale per row.
    FactorDtype factor_dtype = FactorDtype::kFloat32;
    const void* user_factors = nullptr;
    const void* item_factors = nullptr;
    const float* user_factor_scales = nullptr;
    const float* item_factor_scales = nullptr;
    const int64_t* neighbor_indptr = nullptr;   // item_ids.size() + 1
    const int32_t* neighbor_indices = nullptr;  // neighbor_indptr[last]
    const float* neighbor_scores = nullptr;     // neighbor_indptr[last]
    // The complement table, same layout; all null: none (format_version 1).
    const int64_t* complement_indptr = nullptr;   // item_ids.size() + 1
    const int32_t* complement_indices = nullptr;  // complement_indptr[last]
    const float* complement_scores = nullptr;     // complement_indptr[last]
    std::vector<std::string> item_categories;     // empty or one per item
    // format_version 3: null, or item_ids.size() training counts.
    const float* item_counts = nullptr;
    // format_version 3: validated rankers, at most one per kind.
    std::vector<std::shared_ptr<const Ranker>> rankers;
    RankerKind default_ranker = RankerKind::kFormula;
    std::vector<std::shared_ptr<const void>> storage;
    // If set, Create calls it once its own checks have passed, before it
    // returns the snapshot, and fails with its error. The loader waits there
    // for a checksum it computed in the background while Create validated
    // and indexed, and adds that phase to metadata.load_phases.
    std::function<absl::Status(ModelMetadata* metadata)> finish;
  };

  // Validates `parts` (finite factors; for the neighbour table and the
  // complement table, if any: indptr monotone and in range, indices in range
  // and not self, finite scores sorted descending per item; no empty or
  // duplicate ids; item counts finite and >= 0; at most one ranker per kind,
  // the default one present) and builds the id lookup tables. Error messages name the
  // file (e.g. "item_factors.npy: row 7 column 3 is NaN").
  static absl::StatusOr<std::unique_ptr<const ModelSnapshot>> Create(
      Parts parts);

  // Same validation for an owned in-memory model (tests, tools).
  static absl::StatusOr<std::unique_ptr<const ModelSnapshot>> FromData(
      ModelData data);

  ModelSnapshot(const ModelSnapshot&) = delete;
  ModelSnapshot& operator=(const ModelSnapshot&) = delete;
  ~ModelSnapshot();

  // ModelSnapshot objects alive in this process: the served one, plus any
  // retired by a reload and not yet freed (still held by calls in flight,
  // or queued for the reclaimer), plus one being loaded. Steady at 1 in a
  // server between reloads; rerank_model_snapshots. Thread-safe.
  static int64_t AliveCount();

  const ModelMetadata& metadata() const { return parts_.metadata; }
  const std::string& version() const { return parts_.metadata.version; }
  int32_t dim() const { return parts_.dim; }
  int64_t num_users() const;
  int64_t num_items() const;
  int64_t num_neighbors() const;  // total entries of the neighbour table
  // The model has a separate complement table (format_version 2).
  bool has_complements() const { return parts_.complement_indptr != nullptr; }
  // Entries of the complement table; 0 when there is none.
  int64_t num_complements() const;
  bool has_categories() const { return !parts_.item_categories.empty(); }
  // The model stores training counts per item (format_version 3).
  bool has_item_counts() const { return parts_.item_counts != nullptr; }
  // log(1 + count) / log(1 + max count) of the item row, in [0, 1]; 0 for
  // every item of a model without counts. Precomputed per row.
  float ItemPopularity(int32_t item_row) const {
    return popularity_.empty() ? 0.0f : popularity_[item_row];
  }
  // Asks for the cache lines of the row's popularity and category id (two
  // per-item arrays that the feature pass reads at random).
  void PrefetchItemScalars(int32_t item_row) const {
    if (!popularity_.empty()) __builtin_prefetch(&popularity_[item_row]);
    if (!category_id_.empty()) __builtin_prefetch(&category_id_[item_row]);
  }
  // The model's ranker of `kind`; null for kFormula or a kind it lacks.
  const Ranker* ranker(RankerKind kind) const;
  RankerKind default_ranker() const { return parts_.default_ranker; }

  // Row of `id`, or -1 if the model does not know it.
  int32_t FindUser(absl::string_view id) const { return user_index_.Find(id); }
  int32_t FindItem(absl::string_view id) const { return item_index_.Find(id); }
  // rows[i] = FindItem(ids[i]), with the lookups' cache misses overlapped:
  // for the scorer's per-request candidate and event ids.
  void FindItems(absl::Span<const absl::string_view> ids, int32_t* rows) const {
    item_index_.FindBatch(ids, rows);
  }

  const std::string& user_id(int32_t row) const { return parts_.user_ids[row]; }
  const std::string& item_id(int32_t row) const { return parts_.item_ids[row]; }

  // How the factor matrices are stored; the matrices in that storage, for
  // the row kernels of factor_storage.h (DotRow, AddScaledRow, DecodeRow).
  FactorDtype factor_dtype() const { return parts_.factor_dtype; }
  const FactorMatrix& UserMatrix() const { return user_matrix_; }
  const FactorMatrix& ItemMatrix() const { return item_matrix_; }
  // float32 models only (factor_dtype() == kFloat32): pointers to `dim()`
  // contiguous floats. `row` must be valid.
  const float* UserFactors(int32_t row) const {
    return static_cast<const float*>(parts_.user_factors) +
           static_cast<int64_t>(row) * parts_.dim;
  }
  const float* ItemFactors(int32_t row) const {
    return static_cast<const float*>(parts_.item_factors) +
           static_cast<int64_t>(row) * parts_.dim;
  }
  // The substitutes table: the only table of a format_version 1 model.
  NeighborList Neighbors(int32_t item_row) const;
  // The neighbours of `item_row` in `table`. kComplements falls back to the
  // substitutes table when !has_complements(), so callers need not care
  // which format the model came in.
  NeighborList Neighbors(int32_t item_row, NeighborTable table) const;
  // "" when the model has no categories.
  absl::string_view ItemCategory(int32_t item_row) const;
  // A dense id of ItemCategory(item_row), equal for equal names; -1 for ""
  // (no categories, or none for this item).
  int32_t ItemCategoryId(int32_t item_row) const {
    return category_id_.empty() ? -1 : category_id_[item_row];
  }
  // The id ItemCategoryId gives the items of category `name`; -1 when no
  // item of the model has it (and for "").
  int32_t FindCategoryId(absl::string_view name) const;

 private:
  explicit ModelSnapshot(Parts parts);

  Parts parts_;
  FactorMatrix user_matrix_;
  FactorMatrix item_matrix_;
  // Over parts_.user_ids / item_ids, which never change.
  IdIndex user_index_;
  IdIndex item_index_;
  std::vector<float> popularity_;  // per item row; empty without counts
  std::vector<int32_t> category_id_;  // per item row; empty without categories
  // Category name (into parts_.item_categories) -> its id.
  absl::flat_hash_map<absl::string_view, int32_t> category_ids_;
};

}  // namespace rerank
