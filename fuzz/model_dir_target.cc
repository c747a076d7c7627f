// FuzzModelDir: LoadModel on a model directory with hostile files.
//
// The base model is tests/testdata/model_tiny (RERANK_FUZZ_BASE_MODEL_DIR),
// copied once per process into a temp directory. Input layout:
//
//   byte 0, bits 0-3  which file the rest of the input replaces:
//                     0 manifest.json, 1..8 the data files in kFiles order;
//                     9..15 multi-file mode: the rest is split on kSeparator
//                     and part i replaces kFiles[i] (missing parts keep the
//                     base file), so counts and arrays can change together.
//   byte 0, bit 4     verify checksums. Unless the input supplies
//                     manifest.json, the manifest's sha256 values are then
//                     recomputed, so the load gets past the checksums.
//                     Without it the loader skips them (LoadOptions).
//   bytes 1..         the file contents.
//
// A model that loads is then ranked against with every item as a candidate
// and events on every item: what ModelSnapshot::Create accepts must be safe
// to score.

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_targets.h"
#include "model/manifest.h"
#include "model/model_loader.h"
#include "model/model_snapshot.h"
#include "model/sha256.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scorer.h"

#ifndef RERANK_FUZZ_BASE_MODEL_DIR
#error "RERANK_FUZZ_BASE_MODEL_DIR must name tests/testdata/model_tiny"
#endif

namespace rerank::fuzz {
namespace {

constexpr int kNumFiles = 9;
// File names of model_tiny; index 0 is the manifest, 1..8 match the roles
// of kRoles below.
constexpr const char* kFiles[kNumFiles] = {
    "manifest.json",         "user_factors.npy",     "item_factors.npy",
    "user_ids.txt",          "item_ids.txt",         "neighbors_indptr.npy",
    "neighbors_indices.npy", "neighbors_scores.npy", "item_categories.txt"};
constexpr const char* kRoles[kNumFiles] = {"",
                                           kUserFactorsRole,
                                           kItemFactorsRole,
                                           kUserIdsRole,
                                           kItemIdsRole,
                                           kNeighborsIndptrRole,
                                           kNeighborsIndicesRole,
                                           kNeighborsScoresRole,
                                           kItemCategoriesRole};
constexpr absl::string_view kSeparator = "\n--FILE--\n";

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "model_dir fuzz target: cannot read %s\n",
                 path.c_str());
    std::abort();
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Replaces the file at `path`. Unlinks and creates rather than truncating:
// ext4 flushes a truncated-and-rewritten file on close (auto_da_alloc),
// which would cost milliseconds per input.
void WriteWholeFile(const std::string& path, absl::string_view contents) {
  ::unlink(path.c_str());
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  FUZZ_CHECK(fd >= 0);
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n =
        ::write(fd, contents.data() + done, contents.size() - done);
    FUZZ_CHECK(n > 0);
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

// Where the temp model directory goes: $RERANK_FUZZ_TMPDIR, else /dev/shm
// (tmpfs: no disk I/O per input), else $TMPDIR, else /tmp.
std::string TempBase() {
  const char* own = getenv("RERANK_FUZZ_TMPDIR");
  if (own != nullptr && *own != '\0') return own;
  if (::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  const char* tmp = getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

// The temp model directory and what is currently on disk in it.
class Workspace {
 public:
  Workspace() {
    std::string tmpl = absl::StrCat(TempBase(), "/rerank_fuzz_model_XXXXXX");
    FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
    for (int i = 0; i < kNumFiles; ++i) {
      base_[i] = ReadWholeFile(
          absl::StrCat(RERANK_FUZZ_BASE_MODEL_DIR, "/", kFiles[i]));
      WriteWholeFile(Path(i), base_[i]);
      on_disk_[i] = base_[i];
    }
    absl::StatusOr<ModelManifest> manifest = ParseModelManifest(base_[0]);
    FUZZ_CHECK(manifest.ok());
    base_manifest_ = *manifest;
  }
  ~Workspace() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  const std::string& dir() const { return dir_; }
  const std::array<std::string, kNumFiles>& base() const { return base_; }

  // The base manifest with every sha256 recomputed from `files`.
  std::string FixedManifest(const std::array<std::string, kNumFiles>& files) {
    ModelManifest m = base_manifest_;
    for (int i = 1; i < kNumFiles; ++i) {
      auto it = m.files.find(kRoles[i]);
      if (it != m.files.end()) it->second.sha256 = Sha256Hex(files[i]);
    }
    return SerializeModelManifest(m);
  }

  // Rewrites the files whose contents differ from `files`.
  void Sync(const std::array<std::string, kNumFiles>& files) {
    for (int i = 0; i < kNumFiles; ++i) {
      if (files[i] == on_disk_[i]) continue;
      WriteWholeFile(Path(i), files[i]);
      on_disk_[i] = files[i];
    }
  }

 private:
  std::string Path(int i) const { return absl::StrCat(dir_, "/", kFiles[i]); }

  std::string dir_;
  std::array<std::string, kNumFiles> base_;
  std::array<std::string, kNumFiles> on_disk_;
  ModelManifest base_manifest_;
};

Workspace& GetWorkspace() {
  static Workspace* const workspace = new Workspace();
  // Deleted at exit so the temp directory goes away; leaked on a crash.
  static const int registered = std::atexit([] { delete workspace; });
  (void)registered;
  return *workspace;
}

// Ranks every item for a known user with events on every item: the loaded
// model must be usable, and the scorer must accept it.
void ScoreAgainst(const ModelSnapshot& model) {
  v1::RerankRequest request;
  request.set_request_id("fuzz");
  if (model.num_users() > 0) request.set_user_id(model.user_id(0));
  request.set_explain(true);
  request.set_now_ms(int64_t{1'700'000'000'000});
  const int32_t items = static_cast<int32_t>(model.num_items());
  const int32_t n = items < 64 ? items : 64;
  for (int32_t row = 0; row < n; ++row) {
    v1::Candidate* c = request.add_candidates();
    c->set_item_id(model.item_id(row));
    c->set_base_score(row * 0.25);
    v1::Event* e = request.add_events();
    e->set_item_id(model.item_id(row));
    e->set_type(static_cast<v1::EventType>(1 + row % 5));
    e->set_timestamp_ms(request.now_ms() - int64_t{60'000} * row);
    // Every item's neighbour lists must be in range.
    const NeighborList nb = model.Neighbors(row);
    FUZZ_CHECK(nb.items.size() == nb.scores.size());
    for (int32_t j : nb.items) FUZZ_CHECK(j >= 0 && j < items && j != row);
    const NeighborList comp = model.Neighbors(row, NeighborTable::kComplements);
    FUZZ_CHECK(comp.items.size() == comp.scores.size());
    for (int32_t j : comp.items) FUZZ_CHECK(j >= 0 && j < items && j != row);
    // Without a complement table the substitutes serve both roles.
    FUZZ_CHECK(model.has_complements() ||
               (comp.items.data() == nb.items.data() &&
                comp.items.size() == nb.items.size()));
  }
  request.add_candidates()->set_item_id("not-in-any-model\xff");
  ScorerOptions options;
  options.limits.max_id_bytes = 1 << 20;  // model ids have no length limit
  v1::RerankResponse response;
  const absl::Status status = Rerank(model, request, options, 0, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "Rerank refused a loaded model's ids: %s\n",
                 status.ToString().c_str());
  }
  FUZZ_CHECK(status.ok());
  FUZZ_CHECK(response.items_size() <= n + 1);
  for (const v1::RankedItem& item : response.items()) {
    FUZZ_CHECK(item.input_position() <
               static_cast<uint32_t>(request.candidates_size()));
  }
}

// The model's id -> row index against a std::map built from the same ids:
// every id finds its row, and near misses (prefixes, extensions, one byte
// changed) find what the map says, usually nothing.
template <typename IdOf, typename Find>
void CheckIndex(int64_t rows, IdOf id_of, Find find) {
  std::map<std::string, int32_t, std::less<>> reference;
  for (int32_t row = 0; row < rows; ++row) {
    FUZZ_CHECK(reference.emplace(id_of(row), row).second);  // unique ids
  }
  auto expect = [&](absl::string_view probe) {
    auto it = reference.find(probe);
    FUZZ_CHECK(find(probe) == (it == reference.end() ? -1 : it->second));
  };
  expect("");
  for (int32_t row = 0; row < rows; ++row) {
    const std::string& id = id_of(row);
    FUZZ_CHECK(find(id) == row);
    expect(absl::string_view(id).substr(0, id.size() - 1));
    expect(id + std::string(1, '\0'));
    std::string changed = id;
    changed[changed.size() / 2] ^= 0x20;
    expect(changed);
  }
}

// Everything a loaded model promises: ids index back to their rows, and it
// can be scored against.
void CheckUsable(const ModelSnapshot& snapshot) {
  FUZZ_CHECK(snapshot.dim() >= 1);
  FUZZ_CHECK(snapshot.num_items() >= 1);
  CheckIndex(
      snapshot.num_items(),
      [&](int32_t row) -> const std::string& { return snapshot.item_id(row); },
      [&](absl::string_view id) { return snapshot.FindItem(id); });
  CheckIndex(
      snapshot.num_users(),
      [&](int32_t row) -> const std::string& { return snapshot.user_id(row); },
      [&](absl::string_view id) { return snapshot.FindUser(id); });
  for (int32_t row = 0; row < snapshot.num_items(); ++row) {
    (void)snapshot.ItemCategory(row);
  }
  ScoreAgainst(snapshot);
}

}  // namespace

int FuzzModelDir(const uint8_t* data, size_t size) {
  if (size == 0) return -1;
  Workspace& ws = GetWorkspace();
  const uint8_t selector = data[0];
  const absl::string_view payload(reinterpret_cast<const char*>(data + 1),
                                  size - 1);
  std::array<std::string, kNumFiles> files = ws.base();
  const int which = selector & 0x0F;
  bool manifest_given = false;
  if (which < kNumFiles) {
    files[which] = std::string(payload);
    manifest_given = which == 0;
  } else {
    std::vector<absl::string_view> parts = absl::StrSplit(payload, kSeparator);
    for (size_t i = 0; i < parts.size() && i < kNumFiles; ++i) {
      files[i] = std::string(parts[i]);
    }
    manifest_given = true;
  }
  LoadOptions options;
  options.verify_checksums = (selector & 0x10) != 0;
  if (options.verify_checksums && !manifest_given) {
    files[0] = ws.FixedManifest(files);
  }
  ws.Sync(files);

  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model =
      LoadModel(ws.dir(), options);
  if (!model.ok()) {
    const absl::StatusCode code = model.status().code();
    if (code != absl::StatusCode::kNotFound &&
        code != absl::StatusCode::kFailedPrecondition &&
        code != absl::StatusCode::kDataLoss) {
      std::fprintf(stderr, "LoadModel: undocumented status %s\n",
                   model.status().ToString().c_str());
    }
    FUZZ_CHECK(code == absl::StatusCode::kNotFound ||
               code == absl::StatusCode::kFailedPrecondition ||
               code == absl::StatusCode::kDataLoss);
    // Our own manifest has the right checksums.
    FUZZ_CHECK(manifest_given || code != absl::StatusCode::kDataLoss);
    FUZZ_CHECK(!model.status().message().empty());
    return 0;
  }
  const ModelSnapshot& snapshot = **model;
  FUZZ_CHECK(snapshot.dim() >= 1);
  FUZZ_CHECK(snapshot.num_items() >= 1);
  FUZZ_CHECK(!snapshot.version().empty());
  FUZZ_CHECK(snapshot.metadata().checksum == Sha256Hex(files[0]));
  CheckUsable(snapshot);
  return 0;
}

// ---------------------------------------------------------------------------
// FuzzModelSnapshot: ModelSnapshot::FromData on a small model decoded from the
// input, skipping the file formats: the validation in Create is what makes a
// model safe to score, and here a single mutated byte is a neighbour index
// or a factor, where the file-level fuzzer has to keep a whole .npy valid.
// ---------------------------------------------------------------------------
namespace {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  // The next byte, or 0 once the input is used up.
  uint8_t Next() { return pos_ < size_ ? data_[pos_++] : 0; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Values worth trying for a factor or neighbour score.
float FloatFrom(uint8_t b) {
  static constexpr float kSpecial[] = {0.0f,
                                       -0.0f,
                                       1.0f,
                                       -1.0f,
                                       0.5f,
                                       1e30f,
                                       -1e30f,
                                       3e38f,
                                       -3e38f,
                                       1e-45f,
                                       2.0f,
                                       0.25f,
                                       -0.125f,
                                       100.0f,
                                       std::numeric_limits<float>::infinity(),
                                       std::numeric_limits<float>::quiet_NaN()};
  constexpr size_t kCount = sizeof(kSpecial) / sizeof(kSpecial[0]);
  if (b < 2 * kCount) return kSpecial[b % kCount];
  return static_cast<float>(b) / 16.0f - 8.0f;
}

// Byte layout, each field one byte unless noted:
//   dim-1 (mod 4), users (mod 5), items-1 (mod 8), flags
//   (bit 0: categories, bit 1: a duplicate item id, bit 2: an empty user id,
//   bit 3: a complement table, bits 4-5: factor_dtype 0 float32, 1 float16,
//   2 int8, 3 float32), users*dim + items*dim factors (FloatFrom),
//   the neighbour table: items indptr steps (signed byte, so non-monotone
//   indptrs happen), then per neighbour entry an index (b % items for
//   b < 240, else b - 248: -8..7) and a score (FloatFrom); with bit 3, the
//   complement table in the same layout.
ModelData DecodeModel(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  ModelData m;
  m.version = "snapshot-fuzz";
  m.dim = 1 + in.Next() % 4;
  const int users = in.Next() % 5;
  const int items = 1 + in.Next() % 8;
  const uint8_t flags = in.Next();
  const int dtype = (flags >> 4) & 3;
  m.factor_dtype = dtype == 1   ? FactorDtype::kFloat16
                   : dtype == 2 ? FactorDtype::kInt8
                                : FactorDtype::kFloat32;
  for (int u = 0; u < users; ++u) m.user_ids.push_back(absl::StrCat("u", u));
  for (int i = 0; i < items; ++i) m.item_ids.push_back(absl::StrCat("i", i));
  if ((flags & 2) != 0 && items > 1) m.item_ids.back() = m.item_ids.front();
  if ((flags & 4) != 0 && users > 0) m.user_ids.back().clear();
  for (int k = 0; k < users * m.dim; ++k) {
    m.user_factors.push_back(FloatFrom(in.Next()));
  }
  for (int k = 0; k < items * m.dim; ++k) {
    m.item_factors.push_back(FloatFrom(in.Next()));
  }
  auto decode_table = [&](std::vector<int64_t>& indptr,
                          std::vector<int32_t>& indices,
                          std::vector<float>& scores) {
    indptr.push_back(0);
    for (int i = 0; i < items; ++i) {
      const int step = static_cast<int8_t>(in.Next()) % 5;
      indptr.push_back(indptr.back() + step);
    }
    const int64_t nnz = indptr.back();
    for (int64_t k = 0; k < nnz; ++k) {
      const uint8_t b = in.Next();
      indices.push_back(b < 240 ? b % items : b - 248);
      scores.push_back(FloatFrom(in.Next()));
    }
  };
  decode_table(m.neighbor_indptr, m.neighbor_indices, m.neighbor_scores);
  if ((flags & 8) != 0) {
    decode_table(m.complement_indptr, m.complement_indices,
                 m.complement_scores);
  }
  if ((flags & 1) != 0) {
    for (int i = 0; i < items; ++i) {
      m.item_categories.push_back(i % 2 == 0 ? "" : absl::StrCat("c", i));
    }
  }
  return m;
}

}  // namespace

int FuzzModelSnapshot(const uint8_t* data, size_t size) {
  absl::StatusOr<std::unique_ptr<const ModelSnapshot>> model =
      ModelSnapshot::FromData(DecodeModel(data, size));
  if (!model.ok()) {
    FUZZ_CHECK(model.status().code() == absl::StatusCode::kFailedPrecondition);
    FUZZ_CHECK(!model.status().message().empty());
    return 0;
  }
  CheckUsable(**model);
  return 0;
}

}  // namespace rerank::fuzz
