// Compatibility with real numpy, through Debian's /usr/bin/python3: the
// Python example in docs/model-format.md must produce a loadable model, and
// files written by WriteModel must be what numpy itself writes. Skipped (with
// the reason) when /usr/bin/python3 has no numpy.

#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_loader.h"
#include "model/model_writer.h"
#include "model_test_util.h"

namespace rerank {
namespace {

using ::rerank::testing::kSystemPython;
using ::rerank::testing::MakeTempDir;
using ::rerank::testing::NumpyUnavailableReason;
using ::rerank::testing::ReadFile;
using ::rerank::testing::RunCommand;
using ::rerank::testing::TinyModelData;
using ::rerank::testing::TinyTwoTableModelData;
using ::rerank::testing::WriteFile;

#define SKIP_WITHOUT_NUMPY()                             \
  do {                                                   \
    const std::string reason = NumpyUnavailableReason(); \
    if (!reason.empty()) GTEST_SKIP() << reason;         \
  } while (false)

// The body of the first ```python fenced block in `markdown`, or "".
std::string FirstPythonBlock(const std::string& markdown) {
  const std::string open = "```python\n";
  size_t start = markdown.find(open);
  if (start == std::string::npos) return "";
  start += open.size();
  size_t end = markdown.find("\n```", start);
  if (end == std::string::npos) return "";
  return markdown.substr(start, end - start + 1);
}

// Runs `script` with /usr/bin/python3 and `env` (shell assignments).
int RunPython(const std::string& script, const std::string& env,
              std::string* output) {
  const std::string path = absl::StrCat(MakeTempDir(), "/script.py");
  WriteFile(path, script);
  return RunCommand(absl::StrCat(env, " ", kSystemPython, " ", path), output);
}

// The docs' Python example, with the line that sets `complements` replaced
// by `complements_line` unless that is empty.
std::string DocsExample(const std::string& complements_line) {
  const std::string doc =
      ReadFile(absl::StrCat(RERANK_SOURCE_DIR, "/docs/model-format.md"));
  std::string script = FirstPythonBlock(doc);
  if (script.empty() || complements_line.empty()) return script;
  const size_t start = script.find("\ncomplements = ");
  if (start == std::string::npos) return "";
  const size_t end = script.find('\n', start + 1);
  return absl::StrCat(script.substr(0, start + 1), complements_line,
                      script.substr(end));
}

absl::StatusOr<std::shared_ptr<const ModelSnapshot>> RunDocsExample(
    const std::string& script, const std::string& extra_env = "") {
  const std::string out = absl::StrCat(MakeTempDir(), "/model");
  std::string output;
  const int rc = RunPython(
      script, absl::StrCat("MODEL_DIR='", out, "' ", extra_env), &output);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("exit ", rc, ": ", output));
  }
  return LoadModel(out);
}

TEST(ModelPythonTest, DocsExampleWritesLoadableModel) {
  SKIP_WITHOUT_NUMPY();
  const std::string script = DocsExample("");
  ASSERT_FALSE(script.empty()) << "docs/model-format.md has no ```python block";
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model =
      RunDocsExample(script);
  ASSERT_TRUE(model.ok()) << model.status();
  // As written, the example has both tables: a version 2 model.
  const ModelSnapshot& m = **model;
  EXPECT_EQ(m.metadata().format_version, 2);
  EXPECT_GT(m.num_items(), 0);
  EXPECT_GT(m.num_neighbors(), 0);
  ASSERT_TRUE(m.has_complements());
  EXPECT_EQ(m.num_complements(), 4);
  const NeighborList c =
      m.Neighbors(m.FindItem("sku-2"), NeighborTable::kComplements);
  ASSERT_EQ(c.items.size(), 2u);
  EXPECT_EQ(m.item_id(c.items[0]), "sku-3");
  EXPECT_FLOAT_EQ(c.scores[0], 0.5f);
  const NeighborList n = m.Neighbors(m.FindItem("sku-2"));
  ASSERT_EQ(n.items.size(), 1u);
  EXPECT_EQ(m.item_id(n.items[0]), "sku-1");
}

TEST(ModelPythonTest, DocsExampleWithoutComplementsWritesVersion1) {
  SKIP_WITHOUT_NUMPY();
  const std::string script = DocsExample("complements = None");
  ASSERT_FALSE(script.empty())
      << "docs/model-format.md's example has no `complements = ` line";
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model =
      RunDocsExample(script);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->metadata().format_version, 1);
  EXPECT_FALSE((*model)->has_complements());
  EXPECT_GT((*model)->num_neighbors(), 0);
}

TEST(ModelPythonTest, DocsExampleWritesFloat16AndInt8Models) {
  SKIP_WITHOUT_NUMPY();
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> reference =
      RunDocsExample(DocsExample(""));
  ASSERT_TRUE(reference.ok()) << reference.status();
  const ModelSnapshot& f32 = **reference;
  for (const auto& [name, dtype, tol] :
       {std::tuple("float16", FactorDtype::kFloat16, 2e-3),
        std::tuple("int8", FactorDtype::kInt8, 2e-2)}) {
    for (const char* complements : {"", "complements = None"}) {
      absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model =
          RunDocsExample(DocsExample(complements),
                         absl::StrCat("FACTOR_DTYPE=", name));
      ASSERT_TRUE(model.ok()) << name << ": " << model.status();
      const ModelSnapshot& m = **model;
      EXPECT_EQ(m.metadata().format_version, 4);
      EXPECT_EQ(m.factor_dtype(), dtype);
      EXPECT_EQ(m.has_complements(), complements[0] == '\0');
      std::vector<float> row(m.dim());
      for (int32_t r = 0; r < m.num_items(); ++r) {
        DecodeRow(m.ItemMatrix(), r, row.data());
        for (int i = 0; i < m.dim(); ++i) {
          // Standard normal values: within the encodings' error bounds.
          EXPECT_NEAR(row[i], f32.ItemFactors(r)[i], tol) << name;
        }
      }
    }
  }
}

TEST(ModelPythonTest, NumpyReadsWrittenFilesAndWritesIdenticalBytes) {
  SKIP_WITHOUT_NUMPY();
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyModelData(), dir).ok());
  const std::string script = R"py(
import io, os, sys
import numpy as np
d = os.environ["MODEL_DIR"]
expect = {"user_factors.npy": ("<f4", (3, 2)), "item_factors.npy": ("<f4", (4, 2)),
          "neighbors_indptr.npy": ("<i8", (5,)),
          "neighbors_indices.npy": ("<i4", (4,)),
          "neighbors_scores.npy": ("<f4", (4,))}
for name, (dtype, shape) in expect.items():
    raw = open(os.path.join(d, name), "rb").read()
    a = np.load(io.BytesIO(raw), allow_pickle=False)
    assert a.dtype == np.dtype(dtype), (name, a.dtype)
    assert a.shape == shape, (name, a.shape)
    buf = io.BytesIO()
    np.save(buf, a)
    if buf.getvalue() != raw:
        sys.exit("%s: numpy would write %r, we wrote %r"
                 % (name, buf.getvalue()[:128], raw[:128]))
assert np.load(os.path.join(d, "neighbors_indptr.npy")).tolist() == [0, 2, 3, 3, 4]
print("ok")
)py";
  std::string output;
  EXPECT_EQ(RunPython(script, absl::StrCat("MODEL_DIR='", dir, "'"), &output),
            0)
      << output;
}

TEST(ModelPythonTest, NumpyReadsWrittenComplementTableWithIdenticalBytes) {
  SKIP_WITHOUT_NUMPY();
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyTwoTableModelData(), dir).ok());
  const std::string script = R"py(
import io, json, os, sys
import numpy as np
d = os.environ["MODEL_DIR"]
m = json.load(open(os.path.join(d, "manifest.json")))
assert m["format_version"] == 2 and m["num_complements"] == 4, m
expect = {"complements_indptr.npy": ("<i8", [0, 1, 3, 4, 4]),
          "complements_indices.npy": ("<i4", [3, 2, 3, 0])}
for name, (dtype, values) in expect.items():
    raw = open(os.path.join(d, name), "rb").read()
    a = np.load(io.BytesIO(raw), allow_pickle=False)
    assert a.dtype == np.dtype(dtype), (name, a.dtype)
    assert a.tolist() == values, (name, a.tolist())
    buf = io.BytesIO()
    np.save(buf, a)
    if buf.getvalue() != raw:
        sys.exit("%s: numpy would write different bytes" % name)
s = np.load(os.path.join(d, "complements_scores.npy"))
assert s.dtype == np.dtype("<f4") and s.shape == (4,), (s.dtype, s.shape)
print("ok")
)py";
  std::string output;
  EXPECT_EQ(RunPython(script, absl::StrCat("MODEL_DIR='", dir, "'"), &output),
            0)
      << output;
}

TEST(ModelPythonTest, LoadsNumpyVersion2And3Headers) {
  SKIP_WITHOUT_NUMPY();
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyModelData(), dir).ok());
  // Rewrite two arrays with the newer header versions and fix the manifest.
  const std::string script = R"py(
import hashlib, json, os
import numpy as np
from numpy.lib import format as npformat
d = os.environ["MODEL_DIR"]
m = json.load(open(os.path.join(d, "manifest.json")))
for role, version in [("item_factors", (2, 0)), ("user_factors", (3, 0))]:
    path = os.path.join(d, m["files"][role]["path"])
    a = np.load(path)
    with open(path, "wb") as f:
        npformat.write_array(f, a, version=version)
    m["files"][role]["sha256"] = hashlib.sha256(open(path, "rb").read()).hexdigest()
json.dump(m, open(os.path.join(d, "manifest.json"), "w"))
)py";
  std::string output;
  ASSERT_EQ(RunPython(script, absl::StrCat("MODEL_DIR='", dir, "'"), &output),
            0)
      << output;
  EXPECT_EQ(ReadFile(absl::StrCat(dir, "/item_factors.npy"))[6], '\x02');
  EXPECT_EQ(ReadFile(absl::StrCat(dir, "/user_factors.npy"))[6], '\x03');
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->ItemFactors(3)[0], 3.0f);
  EXPECT_EQ((*model)->UserFactors(2)[0], -0.125f);
}

}  // namespace
}  // namespace rerank
