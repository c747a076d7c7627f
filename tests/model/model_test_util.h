#pragma once

// Helpers shared by the model tests: a small valid ModelData, temp
// directories, whole-file I/O and manifest surgery for building broken
// fixtures out of a good model at runtime.

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "model/manifest.h"
#include "model/model_snapshot.h"
#include "model/sha256.h"

namespace rerank::testing {

// A per-process directory under the test temp dir, removed with everything
// in it when the test process exits.
inline const std::string& ProcessTempRoot() {
  struct Root {
    std::string path;
    ~Root() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Root root{[] {
    std::string tmpl =
        absl::StrCat(::testing::TempDir(), "/rerank_model_test_XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed for " << tmpl;
    }
    return tmpl;
  }()};
  return root.path;
}

// A fresh, empty directory (under ProcessTempRoot()).
inline std::string MakeTempDir() {
  std::string tmpl = absl::StrCat(ProcessTempRoot(), "/XXXXXX");
  char* made = ::mkdtemp(tmpl.data());
  EXPECT_NE(made, nullptr) << "mkdtemp failed for " << tmpl;
  return tmpl;
}

// 3 users, 4 items, dim 2, a few neighbours and categories.
inline ModelData TinyModelData() {
  ModelData d;
  d.version = "tiny-1";
  d.dim = 2;
  d.user_ids = {"u1", "u2", "u3"};
  d.item_ids = {"i1", "i2", "i3", "i4"};
  d.user_factors = {0.5f, -1.0f, 0.25f, 2.0f, -0.125f, 0.0f};
  d.item_factors = {1.0f, 0.0f, 0.0f, 1.0f, -1.5f, 0.75f, 3.0f, -2.0f};
  // i1 -> i2 (0.9), i3 (0.5); i2 -> i1 (0.9); i3 -> none; i4 -> i3 (0.3).
  d.neighbor_indptr = {0, 2, 3, 3, 4};
  d.neighbor_indices = {1, 2, 0, 2};
  d.neighbor_scores = {0.9f, 0.5f, 0.9f, 0.3f};
  d.item_categories = {"shoes", "", "hats", "shoes"};
  return d;
}

// TinyModelData with a separate complement table (a format_version 2 model):
// i1 -> i4 (0.7); i2 -> i3 (0.6), i4 (0.2); i3 -> i1 (0.4); i4 -> none.
inline ModelData TinyTwoTableModelData() {
  ModelData d = TinyModelData();
  d.version = "tiny-two-tables-1";
  d.complement_indptr = {0, 1, 3, 4, 4};
  d.complement_indices = {3, 2, 3, 0};
  d.complement_scores = {0.7f, 0.6f, 0.2f, 0.4f};
  return d;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  EXPECT_TRUE(out.good()) << "cannot write " << path;
}

inline std::string ManifestPath(const std::string& dir) {
  return absl::StrCat(dir, "/", kManifestFileName);
}

// Parses dir/manifest.json, applies `edit`, writes it back canonically.
inline void EditManifest(const std::string& dir,
                         const std::function<void(ModelManifest&)>& edit) {
  absl::StatusOr<ModelManifest> m =
      ParseModelManifest(ReadFile(ManifestPath(dir)));
  ASSERT_TRUE(m.ok()) << m.status();
  edit(*m);
  WriteFile(ManifestPath(dir), SerializeModelManifest(*m));
}

// Replaces the file of `role` with `content` and updates its manifest
// checksum, so the loader gets past checksum verification to the check
// under test.
inline void ReplaceRoleFile(const std::string& dir, const std::string& role,
                            const std::string& content) {
  EditManifest(dir, [&](ModelManifest& m) {
    ManifestFile& f = m.files.at(role);
    WriteFile(absl::StrCat(dir, "/", f.path), content);
    f.sha256 = Sha256Hex(content);
  });
}

// A format 1.0 .npy file with header dict text `dict` (padded like numpy)
// followed by `data`, for headers EncodeNpyHeader will not produce.
inline std::string RawNpy(const std::string& dict, const std::string& data,
                          char major = 1) {
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = 8 + len_bytes;
  size_t hlen = dict.size() + 1;
  hlen += (64 - (prefix + hlen) % 64) % 64;
  std::string out("\x93NUMPY", 6);
  out.push_back(major);
  out.push_back('\0');
  for (size_t i = 0; i < len_bytes; ++i) {
    out.push_back(static_cast<char>((hlen >> (8 * i)) & 0xFF));
  }
  out += dict;
  out.append(hlen - dict.size() - 1, ' ');
  out.push_back('\n');
  out += data;
  return out;
}

template <typename T>
std::string RawBytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()),
                     v.size() * sizeof(T));
}

// Runs `command` through /bin/sh; returns its exit status (or -1) and puts
// stdout+stderr into `*output`.
inline int RunCommand(const std::string& command, std::string* output) {
  std::string full = absl::StrCat(command, " 2>&1");
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  output->clear();
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output->append(buf, n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Debian's interpreter: a pyenv python3 without numpy may shadow it on PATH.
inline constexpr char kSystemPython[] = "/usr/bin/python3";

// "" if /usr/bin/python3 can import numpy, else why not (for GTEST_SKIP).
inline std::string NumpyUnavailableReason() {
  std::string out;
  int rc = RunCommand(absl::StrCat(kSystemPython, " -c 'import numpy'"), &out);
  if (rc == 0) return "";
  return absl::StrCat(kSystemPython,
                      " cannot import numpy (install python3-numpy): ", out);
}

}  // namespace rerank::testing
