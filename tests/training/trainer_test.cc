#include "training/trainer.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_loader.h"

namespace rerank {
namespace {

using ::testing::HasSubstr;

std::string MakeTempDir() {
  std::string tmpl = absl::StrCat(::testing::TempDir(), "/rerank_train_XXXXXX");
  EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// Two clusters of shoppers over two groups of products, with a few bad lines.
std::string DemoLog() {
  std::mt19937_64 rng(3);
  std::string csv = "user_id,item_id,event_type,timestamp,weight\n";
  const char* types[] = {"view", "click", "add_to_cart", "purchase"};
  for (int c = 0; c < 2; ++c) {
    for (int u = 0; u < 30; ++u) {
      for (int k = 0; k < 6; ++k) {
        const int item = static_cast<int>(rng() % 12);
        absl::StrAppend(&csv, "user", c, "_", u, ",\"item ", c, ",", item,
                        "\",", types[rng() % 4], ",2011-01-0", 1 + k,
                        "T10:00:00Z,", 1 + rng() % 3, "\n");
      }
    }
  }
  return csv;
}

TrainOptions SmallOptions(const std::string& dir) {
  TrainOptions o;
  o.log_path = dir + "/log.csv";
  o.out_dir = dir + "/model";
  o.model_version = "test-1";
  o.als.factors = 4;
  o.als.iterations = 5;
  o.als.threads = 2;
  o.neighbors.num_neighbors = 5;
  o.neighbors.min_support = 2;
  o.neighbors.threads = 2;
  return o;
}

TEST(TrainerTest, WritesAModelThatLoadModelAccepts) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", DemoLog());
  WriteFile(dir + "/cats.csv",
            "item_id,category\n\"item 0,1\",mugs\n\"item 1,1\",lanterns\n"
            "not-in-log,other\n");
  TrainOptions o = SmallOptions(dir);
  o.item_categories_path = dir + "/cats.csv";
  const auto summary = RunTraining(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->model_version, "test-1");
  EXPECT_EQ(summary->users, 60);
  EXPECT_EQ(summary->log_records, 360);
  EXPECT_EQ(summary->events, 360);
  EXPECT_EQ(summary->categorized_items, 2);
  EXPECT_EQ(summary->unknown_category_items, 1);
  EXPECT_GT(summary->neighbor_entries, 0);
  EXPECT_GT(summary->total_seconds, 0);

  const auto model = LoadModel(o.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelSnapshot& m = **model;
  EXPECT_EQ(m.version(), "test-1");
  EXPECT_EQ(m.dim(), 4);
  EXPECT_EQ(m.num_users(), summary->users);
  EXPECT_EQ(m.num_items(), summary->items);
  EXPECT_EQ(m.num_neighbors(), summary->neighbor_entries);
  EXPECT_TRUE(m.has_categories());
  const int32_t item = m.FindItem("item 0,1");
  ASSERT_GE(item, 0);
  EXPECT_EQ(m.ItemCategory(item), "mugs");
  EXPECT_GE(m.FindUser("user1_29"), 0);

  // The loaded model holds exactly what TrainModelData computes in memory.
  const auto log = ReadInteractionLog(o.log_path);
  ASSERT_TRUE(log.ok());
  const auto matrix = BuildInteractionMatrix(log->interactions);
  ASSERT_TRUE(matrix.ok());
  const auto data = TrainModelData(*matrix, o, nullptr, nullptr);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(data->item_categories.empty());
  for (int32_t u = 0; u < m.num_users(); ++u) {
    EXPECT_EQ(m.user_id(u), data->user_ids[u]);
    for (int f = 0; f < m.dim(); ++f) {
      ASSERT_EQ(m.UserFactors(u)[f], data->user_factors[u * m.dim() + f]);
    }
  }
  for (int32_t i = 0; i < m.num_items(); ++i) {
    const NeighborList n = m.Neighbors(i);
    const int64_t lo = data->neighbor_indptr[i];
    ASSERT_EQ(static_cast<int64_t>(n.items.size()),
              data->neighbor_indptr[i + 1] - lo);
    for (size_t k = 0; k < n.items.size(); ++k) {
      EXPECT_EQ(n.items[k], data->neighbor_indices[lo + k]);
      EXPECT_EQ(n.scores[k], data->neighbor_scores[lo + k]);
      // Neighbours of a cluster-0 item are cluster-0 items.
      EXPECT_EQ(m.item_id(n.items[k])[5], m.item_id(i)[5]);
    }
  }
}

TEST(TrainerTest, BadLinesFailOrAreSkippedAndCounted) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", DemoLog() + "user9,item,buy,1,1\n,x,view,1,1\n");
  TrainOptions o = SmallOptions(dir);
  auto summary = RunTraining(o);
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().message(),
            absl::StrCat(dir, "/log.csv:362: unknown event_type 'buy'"));
  o.log.skip_bad_lines = true;
  summary = RunTraining(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->skipped_lines, 2);
  EXPECT_EQ(summary->log_records, 362);
  EXPECT_EQ(summary->bad_lines.size(), 2u);
  EXPECT_THAT(FormatTrainSummary(*summary), HasSubstr("2 bad lines skipped"));
}

TEST(TrainerTest, DefaultVersionIsTheUtcTime) {
  EXPECT_EQ(DefaultModelVersion(absl::FromUnixSeconds(1294222920)),
            "20110105T102200Z");
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", DemoLog());
  TrainOptions o = SmallOptions(dir);
  o.model_version.clear();
  const auto summary = RunTraining(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->model_version.size(), 16u);
  EXPECT_EQ(summary->model_version.back(), 'Z');
}

TEST(TrainerTest, MissingInputsAreErrors) {
  const std::string dir = MakeTempDir();
  TrainOptions o = SmallOptions(dir);
  auto summary = RunTraining(o);
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kNotFound);
  WriteFile(dir + "/log.csv", DemoLog());
  o.item_categories_path = dir + "/none.csv";
  summary = RunTraining(o);
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kNotFound);
  o.item_categories_path.clear();
  o.als.factors = 0;
  EXPECT_FALSE(RunTraining(o).ok());
  o.als.factors = 4;
  o.neighbors.min_support = 0;
  summary = RunTraining(o);
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().message(), "min_support must be >= 1, got 0");
}

// The bundled demo data trains into a loadable model and carries its
// licence attribution.
TEST(TrainerTest, BundledOnlineRetailSampleTrains) {
  const std::string data =
      absl::StrCat(RERANK_SOURCE_DIR, "/data/online-retail");
  std::ifstream readme_file(data + "/README.md");
  std::stringstream readme;
  readme << readme_file.rdbuf();
  EXPECT_THAT(readme.str(),
              HasSubstr("\"Online Retail\" data set, Daqing Chen, UCI Machine "
                        "Learning Repository (2015),\n"
                        "https://doi.org/10.24432/C5BW33"));
  EXPECT_THAT(readme.str(), HasSubstr("CC BY 4.0"));

  const std::string dir = MakeTempDir();
  TrainOptions o;
  o.log_path = data + "/interactions.csv.gz";
  o.item_categories_path = data + "/item_categories.csv";
  o.out_dir = dir + "/model";
  o.model_version = "online-retail-test";
  o.als.iterations = 3;
  o.als.threads = 2;
  o.neighbors.threads = 2;
  const auto summary = RunTraining(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->skipped_lines, 0);
  EXPECT_EQ(summary->users, 2162);
  EXPECT_EQ(summary->items, 3462);
  EXPECT_EQ(summary->unknown_category_items, 0);
  EXPECT_GT(summary->categorized_items, 2000);
  const auto model = LoadModel(o.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  // The white hanging heart T-light holder's nearest neighbour is its red
  // twin.
  const int32_t white = (*model)->FindItem("85123A");
  ASSERT_GE(white, 0);
  EXPECT_EQ((*model)->ItemCategory(white), "holder");
  const NeighborList n = (*model)->Neighbors(white);
  ASSERT_FALSE(n.items.empty());
  EXPECT_EQ((*model)->item_id(n.items[0]), "21733");
}

#ifdef RERANK_TRAIN_BINARY
// Runs `command`, returns its exit status and fills `output` (stdout only).
int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), pipe)) > 0) {
    output->append(buf, got);
  }
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(TrainerTest, CommandLineToolTrainsAndReports) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", DemoLog() + "user9,item,buy,1,1\n");
  const std::string base = absl::StrCat(
      RERANK_TRAIN_BINARY, " --log=", dir, "/log.csv --out=", dir,
      "/model --factors=4 --iterations=3 --neighbors=5 --threads=2 "
      "--model_version=cli-1");
  std::string out;
  EXPECT_EQ(RunCommand(base + " 2>" + dir + "/err.txt", &out), 1);
  std::ifstream err_file(dir + "/err.txt");
  std::stringstream err;
  err << err_file.rdbuf();
  EXPECT_THAT(err.str(), HasSubstr("log.csv:362: unknown event_type 'buy'"));

  out.clear();
  ASSERT_EQ(RunCommand(base + " --skip_bad_lines 2>/dev/null", &out), 0);
  EXPECT_THAT(out, HasSubstr("model cli-1 written to"));
  EXPECT_THAT(out, HasSubstr("1 bad lines skipped"));
  EXPECT_THAT(out, HasSubstr("60 users"));
  const auto model = LoadModel(dir + "/model");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->version(), "cli-1");

  out.clear();
  EXPECT_EQ(RunCommand(base + " --neighbors_from=magic 2>/dev/null", &out), 2);
}
#endif

}  // namespace
}  // namespace rerank
