#pragma once

// Tiny models and temp directories for the service and server tests.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "model/model_snapshot.h"
#include "model/model_writer.h"
#include "rerank/v1/rerank.pb.h"

namespace rerank::testing {

// Two users, three items ("a", "b", "c"), dim 2, a <-> b neighbours.
// User "u1" likes dimension 0. With `flipped` false the item factors along
// that dimension are a=0.1, b=0.9, c=0.5, so u1's order (no events, no base
// scores) is b, c, a; with `flipped` true they are a=0.9, b=0.1, c=0.5 and the
// order is a, c, b.
inline ModelData TinyModel(const std::string& version, bool flipped = false) {
  ModelData m;
  m.version = version;
  m.dim = 2;
  m.user_ids = {"u1", "u2"};
  m.item_ids = {"a", "b", "c"};
  m.user_factors = {1.0f, 0.0f,   // u1
                    0.0f, 1.0f};  // u2
  const float a = flipped ? 0.9f : 0.1f;
  const float b = flipped ? 0.1f : 0.9f;
  m.item_factors = {a, 0.0f, b, 0.0f, 0.5f, 0.0f};
  m.neighbor_indptr = {0, 1, 2, 2};
  m.neighbor_indices = {1, 0};
  m.neighbor_scores = {0.5f, 0.5f};
  return m;
}

// User "u1" over TinyModel's three items, nothing else set.
inline v1::RerankRequest U1Request() {
  v1::RerankRequest request;
  request.set_user_id("u1");
  for (const char* id : {"a", "b", "c"}) {
    request.add_candidates()->set_item_id(id);
  }
  return request;
}

inline std::shared_ptr<const ModelSnapshot> TinySnapshot(
    const std::string& version, bool flipped = false) {
  auto snapshot = ModelSnapshot::FromData(TinyModel(version, flipped));
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return snapshot.ok()
             ? std::shared_ptr<const ModelSnapshot>(std::move(snapshot).value())
             : nullptr;
}

// A fresh directory under $TEST_TMPDIR or /tmp, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TEST_TMPDIR");
    std::string tmpl =
        std::string(base != nullptr ? base : "/tmp") + "/rerank_test_XXXXXX";
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr) << "mkdtemp " << tmpl;
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Writes TinyModel(version, flipped) into root/rel.
inline void WriteTinyModel(const std::string& root, const std::string& rel,
                           const std::string& version, bool flipped = false) {
  const absl::Status status =
      WriteModel(TinyModel(version, flipped), root + "/" + rel);
  ASSERT_TRUE(status.ok()) << status;
}

// Overwrites `path` with `contents`.
inline void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

}  // namespace rerank::testing
