#include "training/trainer.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_loader.h"
#include "model/npy.h"

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
  // The demo log has every event type: substitutes and complements.
  EXPECT_TRUE(summary->two_neighbor_tables);
  EXPECT_TRUE(m.has_complements());
  EXPECT_EQ(m.metadata().format_version, 3);
  EXPECT_TRUE(m.has_item_counts());
  EXPECT_EQ(m.num_complements(), summary->complement_entries);
  EXPECT_GT(m.num_complements(), 0);
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
    const NeighborList c = m.Neighbors(i, NeighborTable::kComplements);
    const int64_t c_lo = data->complement_indptr[i];
    ASSERT_EQ(static_cast<int64_t>(c.items.size()),
              data->complement_indptr[i + 1] - c_lo);
    for (size_t k = 0; k < c.items.size(); ++k) {
      EXPECT_EQ(c.items[k], data->complement_indices[c_lo + k]);
      EXPECT_EQ(c.scores[k], data->complement_scores[c_lo + k]);
      EXPECT_EQ(m.item_id(c.items[k])[5], m.item_id(i)[5]);
    }
  }
}

// Ten shoppers view boots and sneakers together but buy boots with socks;
// five others view and buy hats and scarves (so that ALS has more than one
// taste to fit). With `purchases_only`, every event is a purchase.
std::string ViewedTogetherBoughtTogetherLog(bool purchases_only = false) {
  std::string csv = "user_id,item_id,event_type,timestamp\n";
  auto add = [&](const std::string& user, const char* item, const char* type,
                 int minute) {
    absl::StrAppend(
        &csv, user, ",", item, ",", purchases_only ? "purchase" : type,
        ",2011-01-01T10:", minute < 10 ? "0" : "", minute, ":00Z\n");
  };
  for (int u = 0; u < 10; ++u) {
    const std::string user = absl::StrCat("shopper", u);
    add(user, "boots", "view", 1);
    add(user, "sneakers", "click", 2);
    add(user, "boots", "add_to_cart", 3);
    add(user, "socks", "add_to_cart", 4);
    add(user, "boots", "purchase", 5);
    add(user, "socks", "purchase", 5);
  }
  for (int u = 0; u < 5; ++u) {
    const std::string user = absl::StrCat("hatter", u);
    add(user, "hat", "view", 1);
    add(user, "scarf", "wishlist", 2);
    add(user, "hat", "purchase", 3);
    add(user, "scarf", "purchase", 3);
  }
  return csv;
}

// Ids of item `id`'s neighbours in `table`.
std::vector<std::string> NeighborIds(const ModelSnapshot& m,
                                     const std::string& id,
                                     NeighborTable table) {
  std::vector<std::string> ids;
  const int32_t row = m.FindItem(id);
  EXPECT_GE(row, 0) << id;
  if (row < 0) return ids;
  for (int32_t j : m.Neighbors(row, table).items) ids.push_back(m.item_id(j));
  return ids;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

TEST(TrainerTest, UserFactorExportHoldsTheModelsUserRows) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", DemoLog());
  TrainOptions o = SmallOptions(dir);
  o.user_export_dir = dir + "/users";
  const auto summary = RunTraining(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->exported_users, 60);
  EXPECT_THAT(FormatTrainSummary(*summary),
              HasSubstr("60 user factor rows exported to"));
  const auto model = LoadModel(o.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();

  const std::string npy = ReadAll(dir + "/users/user_factors.npy");
  const auto array = CheckNpyArray(npy, "<f4", {60, 4});
  ASSERT_TRUE(array.ok()) << array.status();
  const auto ids = ReadAll(dir + "/users/user_ids.txt");
  const std::vector<std::string> lines =
      absl::StrSplit(ids, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 60u);
  const float* rows = reinterpret_cast<const float*>(array->data);
  for (size_t r = 0; r < lines.size(); ++r) {
    const int32_t row = (*model)->FindUser(lines[r]);
    ASSERT_GE(row, 0) << lines[r];
    EXPECT_EQ(std::memcmp(rows + r * 4, (*model)->UserFactors(row),
                          4 * sizeof(float)),
              0)
        << lines[r];
  }
  const std::string info = ReadAll(dir + "/users/user_export.json");
  EXPECT_THAT(info, HasSubstr("\"model_version\": \"test-1\""));
  EXPECT_THAT(info, HasSubstr("\"dim\": 4"));
  EXPECT_THAT(info, HasSubstr("\"num_users\": 60"));
}

TEST(TrainerTest, ItemsOnlyModelHasNoUsersAndLoads) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", DemoLog());
  TrainOptions o = SmallOptions(dir);
  o.items_only = true;
  o.user_export_dir = dir + "/users";
  const auto summary = RunTraining(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(FormatTrainSummary(*summary), HasSubstr("items only"));
  const auto model = LoadModel(o.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->num_users(), 0);
  EXPECT_EQ((*model)->num_items(), summary->items);
  EXPECT_LT((*model)->FindUser("user1_29"), 0);
  EXPECT_TRUE(
      CheckNpyArray(ReadAll(dir + "/users/user_factors.npy"), "<f4", {60, 4})
          .ok());
}

TEST(TrainerTest, UserExportInsideTheModelDirectoryIsRefused) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", DemoLog());
  TrainOptions o = SmallOptions(dir);
  for (const std::string& inside :
       {o.out_dir, o.out_dir + "/", o.out_dir + "/users"}) {
    o.user_export_dir = inside;
    const auto summary = RunTraining(o);
    EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument)
        << inside;
    EXPECT_THAT(summary.status().message(),
                HasSubstr("inside the model directory"));
  }
  o.user_export_dir = o.out_dir + "-users";  // a sibling is fine
  EXPECT_TRUE(RunTraining(o).ok());
}

TEST(TrainerTest, SubstitutesAreCoViewedAndComplementsCoBought) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", ViewedTogetherBoughtTogetherLog());
  const auto summary = RunTraining(SmallOptions(dir));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(summary->two_neighbor_tables);
  EXPECT_THAT(FormatTrainSummary(*summary),
              HasSubstr("neighbour tables: two (substitutes from "
                        "view/click/wishlist events, complements from "
                        "add_to_cart/purchase events)"));
  const auto model = LoadModel(dir + "/model");
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelSnapshot& m = **model;
  EXPECT_EQ(m.metadata().format_version, 3);
  ASSERT_TRUE(m.has_complements());
  using ::testing::ElementsAre;
  EXPECT_THAT(NeighborIds(m, "boots", NeighborTable::kSubstitutes),
              ElementsAre("sneakers"));
  EXPECT_THAT(NeighborIds(m, "boots", NeighborTable::kComplements),
              ElementsAre("socks"));
  EXPECT_THAT(NeighborIds(m, "sneakers", NeighborTable::kSubstitutes),
              ElementsAre("boots"));
  EXPECT_THAT(NeighborIds(m, "sneakers", NeighborTable::kComplements),
              ::testing::IsEmpty());
  EXPECT_THAT(NeighborIds(m, "socks", NeighborTable::kSubstitutes),
              ::testing::IsEmpty());
  EXPECT_THAT(NeighborIds(m, "hat", NeighborTable::kSubstitutes),
              ElementsAre("scarf"));
  EXPECT_THAT(NeighborIds(m, "hat", NeighborTable::kComplements),
              ElementsAre("scarf"));
}

TEST(TrainerTest, OneTableForcedByOptionMixesAllEvents) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", ViewedTogetherBoughtTogetherLog());
  TrainOptions o = SmallOptions(dir);
  o.neighbor_tables = NeighborTables::kOne;
  const auto summary = RunTraining(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_FALSE(summary->two_neighbor_tables);
  EXPECT_EQ(summary->complement_entries, 0);
  EXPECT_THAT(FormatTrainSummary(*summary),
              HasSubstr("neighbour tables: one (neighbor_tables=one)"));
  const auto model = LoadModel(o.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->metadata().format_version, 3);
  EXPECT_FALSE((*model)->has_complements());
  // One table from all events: boots' neighbours are sneakers and socks, and
  // serve as complements too.
  EXPECT_THAT(NeighborIds(**model, "boots", NeighborTable::kSubstitutes),
              ::testing::UnorderedElementsAre("sneakers", "socks"));
  EXPECT_EQ(NeighborIds(**model, "boots", NeighborTable::kComplements),
            NeighborIds(**model, "boots", NeighborTable::kSubstitutes));
}

TEST(TrainerTest, PurchaseOnlyLogWritesOneTableAndSaysWhy) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", ViewedTogetherBoughtTogetherLog(true));
  TrainOptions o = SmallOptions(dir);
  const auto summary = RunTraining(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_FALSE(summary->two_neighbor_tables);
  EXPECT_EQ(summary->neighbor_tables_reason,
            "log has no view/click/wishlist events");
  EXPECT_THAT(FormatTrainSummary(*summary),
              HasSubstr("neighbour tables: one (log has no "
                        "view/click/wishlist events)"));
  const auto model = LoadModel(o.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->metadata().format_version, 3);
  EXPECT_FALSE((*model)->has_complements());

  // Forcing two tables is an error that says why, before any training.
  o.neighbor_tables = NeighborTables::kTwo;
  const auto forced = RunTraining(o);
  ASSERT_FALSE(forced.ok());
  EXPECT_EQ(forced.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(forced.status().message(),
            "neighbor_tables=two: log has no view/click/wishlist events");
}

TEST(TrainerTest, ViewOnlyLogWritesOneTable) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv",
            "user_id,item_id,event_type,timestamp\n"
            "u1,a,view,1\nu1,b,view,2\nu2,a,click,3\nu2,b,wishlist,4\n");
  const auto summary = RunTraining(SmallOptions(dir));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_FALSE(summary->two_neighbor_tables);
  EXPECT_EQ(summary->neighbor_tables_reason,
            "log has no add_to_cart/purchase events");
}

TEST(TrainerTest, IgnoredEventTypesDoNotCountForTheTableChoice) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", ViewedTogetherBoughtTogetherLog());
  TrainOptions o = SmallOptions(dir);
  o.event_weights.view = 0;
  o.event_weights.click = 0;
  o.event_weights.wishlist = 0;
  const auto summary = RunTraining(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_FALSE(summary->two_neighbor_tables);
  EXPECT_EQ(summary->neighbor_tables_reason,
            "log has no view/click/wishlist events");
}

TEST(TrainerTest, FactorNeighboursGiveOneTable) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/log.csv", ViewedTogetherBoughtTogetherLog());
  TrainOptions o = SmallOptions(dir);
  o.neighbors.source = NeighborSource::kFactors;
  const auto summary = RunTraining(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_FALSE(summary->two_neighbor_tables);
  EXPECT_THAT(summary->neighbor_tables_reason,
              HasSubstr("factor neighbours do not depend on event types"));
  o.neighbor_tables = NeighborTables::kTwo;
  EXPECT_EQ(RunTraining(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TrainerTest, ParsesNeighborTables) {
  EXPECT_EQ(ParseNeighborTables("auto").value(), NeighborTables::kAuto);
  EXPECT_EQ(ParseNeighborTables("one").value(), NeighborTables::kOne);
  EXPECT_EQ(ParseNeighborTables("two").value(), NeighborTables::kTwo);
  EXPECT_EQ(NeighborTablesName(NeighborTables::kTwo), "two");
  EXPECT_EQ(ParseNeighborTables("2").status().message(),
            "unknown neighbour tables '2' (expected auto, one or two)");
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
  // Purchases only: one table, as before this log had event types to split.
  EXPECT_FALSE(summary->two_neighbor_tables);
  EXPECT_EQ(summary->neighbor_tables_reason,
            "log has no view/click/wishlist events");
  const auto model = LoadModel(o.out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->metadata().format_version, 3);
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
  EXPECT_THAT(out, HasSubstr("neighbour tables: two"));
  const auto model = LoadModel(dir + "/model");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->version(), "cli-1");

  out.clear();
  EXPECT_EQ(RunCommand(base + " --neighbors_from=magic 2>/dev/null", &out), 2);

  out.clear();
  ASSERT_EQ(RunCommand(base + " --skip_bad_lines --neighbor_tables=one "
                              "2>/dev/null",
                       &out),
            0);
  EXPECT_THAT(out, HasSubstr("neighbour tables: one (neighbor_tables=one)"));
  const auto one = LoadModel(dir + "/model");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_FALSE((*one)->has_complements());
  EXPECT_EQ(RunCommand(base + " --neighbor_tables=three 2>/dev/null", &out), 2);
}
#endif

}  // namespace
}  // namespace rerank
