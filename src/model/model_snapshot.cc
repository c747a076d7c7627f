#include "model/model_snapshot.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace rerank {
namespace {

// Wall-clock seconds since `start`, for ModelMetadata::load_phases.
double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// File names used in validation messages. The loader maps manifest roles to
// these canonical names; a model written by WriteModel uses them verbatim.
constexpr char kUserFactorsFile[] = "user_factors.npy";
constexpr char kItemFactorsFile[] = "item_factors.npy";
constexpr char kUserIdsFile[] = "user_ids.txt";
constexpr char kItemIdsFile[] = "item_ids.txt";
constexpr char kIndptrFile[] = "neighbors_indptr.npy";
constexpr char kIndicesFile[] = "neighbors_indices.npy";
constexpr char kScoresFile[] = "neighbors_scores.npy";
constexpr char kComplementIndptrFile[] = "complements_indptr.npy";
constexpr char kComplementIndicesFile[] = "complements_indices.npy";
constexpr char kComplementScoresFile[] = "complements_scores.npy";
constexpr char kCategoriesFile[] = "item_categories.txt";
constexpr char kItemCountsFile[] = "item_counts.npy";
constexpr char kUserScalesFile[] = "user_factor_scales.npy";
constexpr char kItemScalesFile[] = "item_factor_scales.npy";

// Row indices are int32 (neighbors_indices.npy is int32), so tables larger
// than this cannot be addressed.
constexpr int64_t kMaxRows = 2147483647;

absl::Status Invalid(absl::string_view file, absl::string_view problem) {
  return absl::FailedPreconditionError(absl::StrCat(file, ": ", problem));
}

// True if any of the kBlock floats at `p` is NaN or infinite. Branch-free
// over a fixed count so that the compiler vectorises it (at -O2 too): a
// 10M x 64 factor matrix is 640M floats, and a branch per element cost ~0.4 s
// of a load.
constexpr int64_t kFiniteBlock = 64;
bool BlockHasNonFinite(const float* p) {
  uint32_t bad = 0;
  for (int64_t k = 0; k < kFiniteBlock; ++k) {
    uint32_t bits;
    std::memcpy(&bits, p + k, sizeof(bits));
    // All exponent bits set: Inf or NaN.
    bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad != 0;
}

absl::Status CheckFinite(const float* data, int64_t rows, int32_t dim,
                         absl::string_view file) {
  const int64_t n = rows * dim;
  int64_t i = 0;
  // Fast scan in blocks; the first bad block (if any) and the tail are then
  // walked element by element, which also finds the first bad element for
  // the message.
  while (i + kFiniteBlock <= n && !BlockHasNonFinite(data + i)) {
    i += kFiniteBlock;
  }
  for (; i < n; ++i) {
    if (!std::isfinite(data[i])) {
      return Invalid(file,
                     absl::StrCat("row ", i / dim, " column ", i % dim, " is ",
                                  std::isnan(data[i]) ? "NaN" : "Inf"));
    }
  }
  return absl::OkStatus();
}

// float16: no NaN or Inf. Same block scan as CheckFinite.
absl::Status CheckFiniteHalf(const uint16_t* data, int64_t rows, int32_t dim,
                             absl::string_view file) {
  const int64_t n = rows * dim;
  int64_t i = 0;
  while (i + kFiniteBlock <= n) {
    uint32_t bad = 0;
    for (int64_t k = 0; k < kFiniteBlock; ++k) {
      bad |= static_cast<uint32_t>(HalfIsNonFinite(data[i + k]));
    }
    if (bad != 0) break;
    i += kFiniteBlock;
  }
  for (; i < n; ++i) {
    if (HalfIsNonFinite(data[i])) {
      return Invalid(
          file,
          absl::StrCat("row ", i / dim, " column ", i % dim, " is ",
                       (data[i] & 0x3ff) != 0 ? "NaN" : "Inf", " (float16)"));
    }
  }
  return absl::OkStatus();
}

// The stored factors of one matrix: finite values; int8 also finite scales
// >= 0, one per row.
absl::Status CheckFactors(FactorDtype dtype, const void* data,
                          const float* scales, int64_t rows, int32_t dim,
                          absl::string_view file,
                          absl::string_view scales_file) {
  switch (dtype) {
    case FactorDtype::kFloat32:
      return CheckFinite(static_cast<const float*>(data), rows, dim, file);
    case FactorDtype::kFloat16:
      return CheckFiniteHalf(static_cast<const uint16_t*>(data), rows, dim,
                             file);
    case FactorDtype::kInt8:
      if (rows > 0 && scales == nullptr) return Invalid(scales_file, "missing");
      for (int64_t r = 0; r < rows; ++r) {
        if (!std::isfinite(scales[r]) || scales[r] < 0) {
          return Invalid(scales_file,
                         absl::StrCat("row ", r, " is ", scales[r],
                                      ", must be finite and >= 0"));
        }
      }
      return absl::OkStatus();  // every int8 value is a valid level
  }
  return absl::InternalError("unknown factor dtype");
}

absl::Status BuildIndex(const std::vector<std::string>& ids,
                        absl::string_view file, IdIndex* index) {
  if (static_cast<int64_t>(ids.size()) > kMaxRows) {
    return Invalid(
        file, absl::StrCat(ids.size(), " ids exceed the limit of ", kMaxRows));
  }
  int64_t bad_row = -1;
  int64_t first_row = -1;
  if (index->Build(ids, &bad_row, &first_row)) return absl::OkStatus();
  if (first_row < 0) {
    return Invalid(file, absl::StrCat("line ", bad_row + 1, " is an empty id"));
  }
  return Invalid(file,
                 absl::StrCat("duplicate id '", ids[bad_row], "' on lines ",
                              first_row + 1, " and ", bad_row + 1));
}

// The file names a neighbour table's messages use.
struct TableFiles {
  const char* indptr;
  const char* indices;
  const char* scores;
};
constexpr TableFiles kSubstituteFiles = {kIndptrFile, kIndicesFile,
                                         kScoresFile};
constexpr TableFiles kComplementFiles = {
    kComplementIndptrFile, kComplementIndicesFile, kComplementScoresFile};

// One CSR neighbour table.
struct CsrTable {
  const int64_t* indptr;
  const int32_t* indices;
  const float* scores;
  TableFiles files;
};

CsrTable SubstitutesTable(const ModelSnapshot::Parts& p) {
  return {p.neighbor_indptr, p.neighbor_indices, p.neighbor_scores,
          kSubstituteFiles};
}

CsrTable ComplementsTable(const ModelSnapshot::Parts& p) {
  return {p.complement_indptr, p.complement_indices, p.complement_scores,
          kComplementFiles};
}

// The same rules for both tables: indptr starts at 0 and never decreases,
// every index is another item's row, scores are finite and descending per
// item.
absl::Status ValidateTable(const CsrTable& t, int64_t items) {
  if (t.indptr == nullptr) {
    return Invalid(t.files.indptr, "missing");
  }
  if (t.indptr[0] != 0) {
    return Invalid(t.files.indptr, absl::StrCat("first entry is ", t.indptr[0],
                                                ", expected 0"));
  }
  for (int64_t i = 0; i < items; ++i) {
    if (t.indptr[i + 1] < t.indptr[i]) {
      return Invalid(t.files.indptr,
                     absl::StrCat("not non-decreasing at entry ", i + 1, " (",
                                  t.indptr[i + 1], " < ", t.indptr[i], ")"));
    }
  }
  const int64_t nnz = t.indptr[items];
  if (nnz > 0 && (t.indices == nullptr || t.scores == nullptr)) {
    return Invalid(t.files.indices, "missing");
  }
  for (int64_t row = 0; row < items; ++row) {
    for (int64_t k = t.indptr[row]; k < t.indptr[row + 1]; ++k) {
      const int32_t j = t.indices[k];
      if (j < 0 || j >= items) {
        return Invalid(
            t.files.indices,
            absl::StrCat("entry ", k, " (neighbour of item row ", row, ") is ",
                         j, ", outside [0, ", items, ")"));
      }
      if (j == row) {
        return Invalid(t.files.indices, absl::StrCat("entry ", k, ": item row ",
                                                     row, " lists itself"));
      }
      if (!std::isfinite(t.scores[k])) {
        return Invalid(t.files.scores,
                       absl::StrCat("entry ", k, " is not finite"));
      }
      if (k > t.indptr[row] && t.scores[k] > t.scores[k - 1]) {
        return Invalid(t.files.scores,
                       absl::StrCat("neighbours of item row ", row,
                                    " are not sorted by descending score at "
                                    "entry ",
                                    k));
      }
    }
  }
  return absl::OkStatus();
}

// Sizes of an owned CSR table against `items` (FromData), before pointers
// into it are handed to Create.
absl::Status CheckOwnedTable(const std::vector<int64_t>& indptr,
                             const std::vector<int32_t>& indices,
                             const std::vector<float>& scores, size_t items,
                             const TableFiles& names) {
  if (indptr.size() != items + 1) {
    return Invalid(names.indptr,
                   absl::StrCat(indptr.size(),
                                " entries, expected items + 1 = ", items + 1));
  }
  const int64_t nnz = indptr.back();
  if (nnz < 0 || static_cast<size_t>(nnz) != indices.size()) {
    return Invalid(names.indices, absl::StrCat(indices.size(), " entries, but ",
                                               names.indptr, " ends at ", nnz));
  }
  if (scores.size() != indices.size()) {
    return Invalid(names.scores,
                   absl::StrCat(scores.size(), " entries, expected ",
                                indices.size(), " (one per neighbour index)"));
  }
  return absl::OkStatus();
}

NeighborList Row(const int64_t* indptr, const int32_t* indices,
                 const float* scores, int32_t item_row) {
  const int64_t begin = indptr[item_row];
  const int64_t end = indptr[item_row + 1];
  const size_t n = static_cast<size_t>(end - begin);
  return NeighborList{absl::Span<const int32_t>(indices + begin, n),
                      absl::Span<const float>(scores + begin, n)};
}

// ---------------------------------------------------------------------------
// IdIndex
// ---------------------------------------------------------------------------

// Ids of a batch whose slots are prefetched together: enough to cover a
// memory latency with hashing work, few enough that the prefetches fit the
// core's outstanding-miss buffers.
constexpr size_t kLookupBatch = 16;

uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint64_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// id == stored, inlined for the short ids that dominate: the libc memcmp
// call absl::string_view's operator== makes was ~20 instructions a lookup.
bool SameId(absl::string_view id, const std::string& stored) {
  const size_t n = id.size();
  if (n != stored.size()) return false;
  // An empty view may have a null data(), which memcmp must not get.
  if (n == 0) return true;
  const char* p = id.data();
  const char* q = stored.data();
  if (n >= 8 && n <= 16) {
    return Load64(p) == Load64(q) && Load64(p + n - 8) == Load64(q + n - 8);
  }
  if (n >= 4 && n < 8) {
    return Load32(p) == Load32(q) && Load32(p + n - 4) == Load32(q + n - 4);
  }
  return std::memcmp(p, q, n) == 0;
}

// 64x64 -> 128-bit multiply, folded: the mixing step of wyhash.
uint64_t Mix(uint64_t a, uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

constexpr uint64_t kP0 = 0xa0761d6478bd642full;
constexpr uint64_t kP1 = 0xe7037ed1a0b428dbull;

// Per process, so that the probe sequences of request ids cannot be
// predicted from outside (as absl's hash is seeded).
uint64_t ProcessSeed() {
  static const uint64_t seed = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  return seed;
}

// Rounds [begin, end) inward to huge-page boundaries and asks for huge pages:
// a 10M-user index is 134 MB of random accesses, which with 4 KiB pages
// would miss the TLB on nearly every lookup. Advisory; errors are ignored.
void AdviseHugePages(const void* begin, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t b =
      (reinterpret_cast<uintptr_t>(begin) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t e =
      (reinterpret_cast<uintptr_t>(begin) + bytes) & ~(kHuge - 1);
  if (e > b) {
    ::madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);
  }
}

}  // namespace

// Short ids (the common case) are read as at most two overlapping words, so
// hashing costs a few instructions and no loop; longer ones 16 bytes a step.
// wyhash's structure; only its distribution matters here, and lookups always
// confirm by comparing the ids.
uint64_t IdIndex::Hash(absl::string_view id) const {
  const char* p = id.data();
  const size_t n = id.size();
  uint64_t seed = seed_ ^ kP0;
  uint64_t a;
  uint64_t b;
  if (ABSL_PREDICT_TRUE(n <= 16)) {
    if (n >= 8) {
      a = Load64(p);
      b = Load64(p + n - 8);
    } else if (n >= 4) {
      a = Load32(p);
      b = Load32(p + n - 4);
    } else if (n > 0) {
      a = (static_cast<uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
          (static_cast<uint64_t>(static_cast<unsigned char>(p[n >> 1])) << 8) |
          static_cast<unsigned char>(p[n - 1]);
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    size_t i = 0;
    for (; i + 16 < n; i += 16) {
      seed = Mix(Load64(p + i) ^ kP1, Load64(p + i + 8) ^ seed);
    }
    a = Load64(p + n - 16);
    b = Load64(p + n - 8);
  }
  return Mix(kP1 ^ n, Mix(a ^ kP1, b ^ seed));
}

bool IdIndex::Build(absl::Span<const std::string> ids, int64_t* bad_row,
                    int64_t* first_row) {
  ids_ = ids.data();
  seed_ = ProcessSeed();
  // Power of two >= n / 0.7, at least 16 slots.
  const uint64_t n = ids.size();
  const uint64_t capacity =
      std::max<uint64_t>(16, std::bit_ceil((n * 10 + 6) / 7));
  mask_ = capacity - 1;
  slots_.clear();
  slots_.reserve(capacity);
  AdviseHugePages(slots_.data(), capacity * sizeof(Slot));
  slots_.resize(capacity, Slot{~0u, -1});

  // Hashes and slot prefetches run a batch ahead of the inserts, which
  // otherwise wait on a cache miss each (the table is far larger than the
  // cache for 10M ids).
  uint64_t hashes[kLookupBatch];
  for (size_t base = 0; base < n; base += kLookupBatch) {
    const size_t count = std::min<size_t>(kLookupBatch, n - base);
    for (size_t j = 0; j < count; ++j) {
      hashes[j] = Hash(ids[base + j]);
      __builtin_prefetch(&slots_[hashes[j] & mask_], 1);
    }
    for (size_t j = 0; j < count; ++j) {
      const size_t row = base + j;
      const std::string& id = ids[row];
      if (id.empty()) {
        *bad_row = static_cast<int64_t>(row);
        *first_row = -1;
        return false;
      }
      const uint32_t tag = static_cast<uint32_t>(hashes[j] >> 32);
      uint64_t pos = hashes[j] & mask_;
      while (slots_[pos].row >= 0) {
        const Slot& slot = slots_[pos];
        if (slot.tag == tag && ids[slot.row] == id) {
          *bad_row = static_cast<int64_t>(row);
          *first_row = slot.row;
          return false;
        }
        pos = (pos + 1) & mask_;
      }
      slots_[pos] = Slot{tag, static_cast<int32_t>(row)};
    }
  }
  return true;
}

int32_t IdIndex::ProbeFrom(absl::string_view id, uint64_t pos,
                           uint32_t tag) const {
  while (true) {
    const Slot slot = slots_[pos];
    if (slot.row < 0) return -1;
    if (slot.tag == tag && SameId(id, ids_[slot.row])) {
      return slot.row;
    }
    pos = (pos + 1) & mask_;
  }
}

int32_t IdIndex::Find(absl::string_view id) const {
  if (slots_.empty()) return -1;
  const uint64_t h = Hash(id);
  return ProbeFrom(id, h & mask_, static_cast<uint32_t>(h >> 32));
}

void IdIndex::FindBatch(absl::Span<const absl::string_view> ids,
                        int32_t* rows) const {
  if (slots_.empty()) {
    std::fill(rows, rows + ids.size(), -1);
    return;
  }
  uint64_t hashes[kLookupBatch];
  for (size_t base = 0; base < ids.size(); base += kLookupBatch) {
    const size_t count = std::min(kLookupBatch, ids.size() - base);
    // 1. Hash the batch and prefetch each id's home slot.
    for (size_t j = 0; j < count; ++j) {
      hashes[j] = Hash(ids[base + j]);
      __builtin_prefetch(&slots_[hashes[j] & mask_]);
    }
    // 2. Take each home slot's row as the likely answer and prefetch that
    // row's id, which the comparison reads.
    for (size_t j = 0; j < count; ++j) {
      const int32_t row = slots_[hashes[j] & mask_].row;
      rows[base + j] = row;
      if (row >= 0) __builtin_prefetch(&ids_[row]);
    }
    // 3. Confirm; anything but a hit in the home slot takes the plain probe.
    for (size_t j = 0; j < count; ++j) {
      const uint64_t pos = hashes[j] & mask_;
      const uint32_t tag = static_cast<uint32_t>(hashes[j] >> 32);
      const int32_t row = rows[base + j];
      if (row >= 0 && slots_[pos].tag == tag &&
          SameId(ids[base + j], ids_[row])) {
        continue;
      }
      rows[base + j] = row < 0 ? -1 : ProbeFrom(ids[base + j], pos, tag);
    }
  }
}

namespace {
// Relaxed: a count for a gauge, it publishes no data.
std::atomic<int64_t> alive_snapshots{0};
}  // namespace

ModelSnapshot::ModelSnapshot(Parts parts) : parts_(std::move(parts)) {
  alive_snapshots.fetch_add(1, std::memory_order_relaxed);
  user_matrix_ = {parts_.factor_dtype, parts_.user_factors,
                  parts_.user_factor_scales, parts_.dim};
  item_matrix_ = {parts_.factor_dtype, parts_.item_factors,
                  parts_.item_factor_scales, parts_.dim};
}

ModelSnapshot::~ModelSnapshot() {
  alive_snapshots.fetch_sub(1, std::memory_order_relaxed);
}

int64_t ModelSnapshot::AliveCount() {
  return alive_snapshots.load(std::memory_order_relaxed);
}

absl::StatusOr<std::shared_ptr<const EncodedFactors>> EncodeFactors(
    const ModelData& data) {
  auto out = std::make_shared<EncodedFactors>();
  auto encode = [&](const std::vector<float>& values, const char* file,
                    std::vector<char>* bytes,
                    std::vector<float>* scales) -> absl::Status {
    switch (data.factor_dtype) {
      case FactorDtype::kFloat32:
        bytes->resize(values.size() * sizeof(float));
        if (!values.empty()) {
          std::memcpy(bytes->data(), values.data(), bytes->size());
        }
        return absl::OkStatus();
      case FactorDtype::kFloat16: {
        ASSIGN_OR_RETURN(std::vector<uint16_t> halves,
                         EncodeFloat16(values, data.dim, file));
        bytes->resize(halves.size() * sizeof(uint16_t));
        if (!halves.empty()) {
          std::memcpy(bytes->data(), halves.data(), bytes->size());
        }
        return absl::OkStatus();
      }
      case FactorDtype::kInt8: {
        std::vector<int8_t> q;
        RETURN_IF_ERROR(EncodeInt8(values, data.dim, file, &q, scales));
        bytes->assign(q.begin(), q.end());
        return absl::OkStatus();
      }
    }
    return absl::InternalError("unknown factor dtype");
  };
  RETURN_IF_ERROR(encode(data.user_factors, kUserFactorsFile, &out->user,
                         &out->user_scales));
  RETURN_IF_ERROR(encode(data.item_factors, kItemFactorsFile, &out->item,
                         &out->item_scales));
  return std::shared_ptr<const EncodedFactors>(std::move(out));
}

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
  if (parts.item_counts != nullptr) {
    for (int64_t i = 0; i < items; ++i) {
      const float c = parts.item_counts[i];
      if (!std::isfinite(c) || c < 0) {
        return Invalid(kItemCountsFile,
                       absl::StrCat("row ", i, " is ", c,
                                    ", must be finite and >= 0"));
      }
    }
  }
  {
    bool seen[3] = {false, false, false};
    for (const std::shared_ptr<const Ranker>& r : parts.rankers) {
      if (r == nullptr) return absl::InternalError("null ranker in the model");
      const int k = static_cast<int>(r->kind());
      if (r->kind() == RankerKind::kFormula || seen[k]) {
        return absl::FailedPreconditionError(absl::StrCat(
            "ranker_", RankerKindName(r->kind()),
            ".json: the model holds more than one ranker of this kind"));
      }
      seen[k] = true;
    }
    const RankerKind d = parts.default_ranker;
    if (d != RankerKind::kFormula && !seen[static_cast<int>(d)]) {
      return absl::FailedPreconditionError(absl::StrCat(
          "manifest.json: default_ranker is \"", RankerKindName(d),
          "\" but the model has no ranker_", RankerKindName(d), ".json"));
    }
  }
  // Built in place: the indexes refer to parts_.user_ids/item_ids, whose
  // elements must not move after indexing.
  std::unique_ptr<ModelSnapshot> snapshot(new ModelSnapshot(std::move(parts)));
  Parts& p = snapshot->parts_;
  const auto start = std::chrono::steady_clock::now();
  double scan_seconds = 0;

  // Two independent halves: scanning the arrays (memory-bound, dominated by
  // the user factors) and building the id indexes (latency-bound). For a big
  // model they run on two threads; the errors are then reported in the order
  // the checks were always made, so which problem a broken model reports
  // does not depend on timing.
  absl::Status finite_users, finite_items, neighbors, complements;
  auto scan_arrays = [&] {
    const auto scan_start = std::chrono::steady_clock::now();
    finite_users =
        CheckFactors(p.factor_dtype, p.user_factors, p.user_factor_scales,
                     users, p.dim, kUserFactorsFile, kUserScalesFile);
    finite_items =
        CheckFactors(p.factor_dtype, p.item_factors, p.item_factor_scales,
                     items, p.dim, kItemFactorsFile, kItemScalesFile);
    neighbors = ValidateTable(SubstitutesTable(p), items);
    if (p.complement_indptr != nullptr) {
      complements = ValidateTable(ComplementsTable(p), items);
    }
    scan_seconds = SecondsSince(scan_start);
  };
  // Below this many floats a thread costs more than it saves (and the tests'
  // tiny models stay single-threaded).
  constexpr int64_t kParallelFloats = int64_t{1} << 22;
  const bool parallel = (users + items) * p.dim >= kParallelFloats;
  std::thread scanner;
  if (parallel) {
    scanner = std::thread(scan_arrays);
  } else {
    scan_arrays();
  }
  absl::Status user_index, item_index;
  // With a single thread, skip the indexes of a model already refused.
  if (parallel || (finite_users.ok() && finite_items.ok() && neighbors.ok() &&
                   complements.ok())) {
    user_index = BuildIndex(p.user_ids, kUserIdsFile, &snapshot->user_index_);
    if (user_index.ok()) {
      item_index = BuildIndex(p.item_ids, kItemIdsFile, &snapshot->item_index_);
    }
  }
  const double index_seconds = SecondsSince(start);
  if (scanner.joinable()) scanner.join();
  for (absl::Status* s : {&finite_users, &finite_items, &neighbors,
                          &complements, &user_index, &item_index}) {
    RETURN_IF_ERROR(*s);
  }
  std::vector<std::pair<std::string, double>>& phases = p.metadata.load_phases;
  phases.emplace_back(
      parallel ? "check factors + neighbours (thread)" : "check arrays",
      scan_seconds);
  phases.emplace_back("build id indexes", index_seconds);
  phases.emplace_back("Create total", SecondsSince(start));
  if (p.item_counts != nullptr) {
    float max_count = 0;
    for (int64_t i = 0; i < items; ++i) {
      max_count = std::max(max_count, p.item_counts[i]);
    }
    snapshot->popularity_.assign(static_cast<size_t>(items), 0.0f);
    if (max_count > 0) {
      const double denom = std::log1p(static_cast<double>(max_count));
      for (int64_t i = 0; i < items; ++i) {
        snapshot->popularity_[i] = static_cast<float>(
            std::log1p(static_cast<double>(p.item_counts[i])) / denom);
      }
    }
  }
  if (!p.item_categories.empty()) {
    // Interned once here so that the feature pass compares categories as
    // integers (string compares were 3 % of a linear-ranker call).
    auto& ids = snapshot->category_ids_;
    snapshot->category_id_.assign(static_cast<size_t>(items), -1);
    for (int64_t i = 0; i < items; ++i) {
      const std::string& name = snapshot->parts_.item_categories[i];
      if (name.empty()) continue;
      snapshot->category_id_[i] =
          ids.try_emplace(name, static_cast<int32_t>(ids.size()))
              .first->second;
    }
  }
  if (p.finish) {
    RETURN_IF_ERROR(p.finish(&p.metadata));
    p.finish = nullptr;  // may hold references into the loader's frame
  }
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
  RETURN_IF_ERROR(CheckOwnedTable(data.neighbor_indptr, data.neighbor_indices,
                                  data.neighbor_scores, items,
                                  kSubstituteFiles));
  const bool complements = !data.complement_indptr.empty() ||
                           !data.complement_indices.empty() ||
                           !data.complement_scores.empty();
  if (complements) {
    RETURN_IF_ERROR(
        CheckOwnedTable(data.complement_indptr, data.complement_indices,
                        data.complement_scores, items, kComplementFiles));
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
  parts.factor_dtype = owned->factor_dtype;
  if (owned->factor_dtype == FactorDtype::kFloat32) {
    parts.user_factors = owned->user_factors.data();
    parts.item_factors = owned->item_factors.data();
  } else {
    ASSIGN_OR_RETURN(std::shared_ptr<const EncodedFactors> encoded,
                     EncodeFactors(*owned));
    parts.user_factors = encoded->user.data();
    parts.item_factors = encoded->item.data();
    parts.user_factor_scales = encoded->user_scales.data();
    parts.item_factor_scales = encoded->item_scales.data();
    if (encoded->user_scales.empty()) parts.user_factor_scales = nullptr;
    if (encoded->item_scales.empty()) parts.item_factor_scales = nullptr;
    parts.storage.push_back(std::move(encoded));
    // The float copies are not served: free them.
    owned->user_factors = std::vector<float>();
    owned->item_factors = std::vector<float>();
  }
  parts.neighbor_indptr = owned->neighbor_indptr.data();
  parts.neighbor_indices = owned->neighbor_indices.data();
  parts.neighbor_scores = owned->neighbor_scores.data();
  if (complements) {
    parts.complement_indptr = owned->complement_indptr.data();
    parts.complement_indices = owned->complement_indices.data();
    parts.complement_scores = owned->complement_scores.data();
  }
  if (!owned->item_counts.empty()) {
    if (owned->item_counts.size() != items) {
      return Invalid(kItemCountsFile,
                     absl::StrCat(owned->item_counts.size(),
                                  " values, expected one per item (", items,
                                  ")"));
    }
    parts.item_counts = owned->item_counts.data();
  }
  for (RankerSpec& spec : owned->rankers) {
    const std::string file =
        absl::StrCat("ranker_", RankerKindName(spec.kind), ".json");
    absl::StatusOr<std::unique_ptr<const Ranker>> ranker =
        Ranker::Create(std::move(spec));
    if (!ranker.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(file, ": ", ranker.status().message()));
    }
    parts.rankers.push_back(std::move(*ranker));
  }
  owned->rankers.clear();
  parts.default_ranker = owned->default_ranker;
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

int64_t ModelSnapshot::num_complements() const {
  if (parts_.complement_indptr == nullptr) return 0;
  return parts_.complement_indptr[parts_.item_ids.size()];
}

NeighborList ModelSnapshot::Neighbors(int32_t item_row) const {
  return Row(parts_.neighbor_indptr, parts_.neighbor_indices,
             parts_.neighbor_scores, item_row);
}

NeighborList ModelSnapshot::Neighbors(int32_t item_row,
                                      NeighborTable table) const {
  if (table == NeighborTable::kComplements &&
      parts_.complement_indptr != nullptr) {
    return Row(parts_.complement_indptr, parts_.complement_indices,
               parts_.complement_scores, item_row);
  }
  return Neighbors(item_row);
}

const Ranker* ModelSnapshot::ranker(RankerKind kind) const {
  for (const std::shared_ptr<const Ranker>& r : parts_.rankers) {
    if (r->kind() == kind) return r.get();
  }
  return nullptr;
}

int32_t ModelSnapshot::FindCategoryId(absl::string_view name) const {
  const auto it = category_ids_.find(name);
  return it == category_ids_.end() ? -1 : it->second;
}

absl::string_view ModelSnapshot::ItemCategory(int32_t item_row) const {
  if (parts_.item_categories.empty()) return {};
  return parts_.item_categories[item_row];
}

}  // namespace rerank
