// Runs scripts/convert_online_retail.py on a small hand-made extract and
// checks its output line by line.

#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "training/interaction_log.h"

namespace rerank {
namespace {

constexpr char kSource[] =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"
    "CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,"
    "2.55,17850.0,United Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,"
    "United Kingdom\n"
    // Same product twice in one invoice: merged into one event.
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,2,2010-12-01 08:26:00,"
    "2.55,17850.0,United Kingdom\n"
    // Not a product.
    "536366,POST,POSTAGE,1,2010-12-01 08:28:00,18,17850.0,United Kingdom\n"
    // No customer.
    "536367,22423,\"REGENCY CAKESTAND, 3 TIER\",1,2010-12-01 09:00:00,12.75,,"
    "United Kingdom\n"
    // Lower-case suffix: upper-cased.
    "536368,84029g,\"KNITTED UNION FLAG HOT WATER BOTTLE\",3,"
    "2010-12-02 10:00:00,3.39,13047.0,United Kingdom\n"
    "536369,71053,WHITE METAL LANTERN,4,2010-12-03 10:00:00,3.39,17850.0,"
    "United Kingdom\n"
    // Cancels all of 536369 (most recent first) and 1 of 536365's 6.
    "C536370,71053,WHITE METAL LANTERN,-5,2010-12-04 10:00:00,3.39,17850.0,"
    "United Kingdom\n"
    // Nothing earlier to cancel: ignored.
    "C536371,22000,SOMETHING,-1,2010-12-04 11:00:00,1,13047.0,United Kingdom\n"
    // A later purchase is not touched by an earlier cancellation.
    "536372,22000,SOMETHING,1,2010-12-05 11:00:00,1,13047.0,United Kingdom\n"
    // Stock adjustment without a C invoice.
    "536373,21000,DAMAGED,-5,2010-12-05 10:00:00,0,13047.0,United Kingdom\n"
    // Earliest event, listed last: the output is sorted by time.
    "536374,71053,WHITE METAL LANTERN,1,2010-12-01 07:00:00,3.39,12345.0,"
    "United Kingdom\n";

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ConvertOnlineRetailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        absl::StrCat(::testing::TempDir(), "/convert_retail_XXXXXX");
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/retail.csv", std::ios::binary) << kSource;
  }

  // Runs the converter with `flags`; returns its exit code.
  int Convert(const std::string& flags) {
    const std::string command =
        absl::StrCat("/usr/bin/python3 ", RERANK_SOURCE_DIR,
                     "/scripts/convert_online_retail.py --input ", dir_,
                     "/retail.csv ", flags, " 2>", dir_, "/stderr.txt");
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string dir_;
};

TEST_F(ConvertOnlineRetailTest, AppliesTheDocumentedRules) {
  ASSERT_EQ(
      Convert(absl::StrCat("--output ", dir_, "/log.csv --categories_out ",
                           dir_, "/cats.csv --min_category_items 1")),
      0)
      << ReadText(dir_ + "/stderr.txt");
  EXPECT_EQ(ReadText(dir_ + "/log.csv"),
            "user_id,item_id,event_type,timestamp\n"
            "12345,71053,purchase,2010-12-01T07:00:00\n"
            "17850,85123A,purchase,2010-12-01T08:26:00\n"
            "17850,71053,purchase,2010-12-01T08:26:00\n"
            "13047,84029G,purchase,2010-12-02T10:00:00\n"
            "13047,22000,purchase,2010-12-05T11:00:00\n");
  EXPECT_EQ(ReadText(dir_ + "/cats.csv"),
            "item_id,category\n"
            "22000,something\n"
            "71053,lantern\n"
            "84029G,bottle\n"
            "85123A,holder\n");
  // rerank-train's reader accepts it.
  const auto log = ReadInteractionLog(dir_ + "/log.csv");
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(log->interactions.size(), 5u);
}

TEST_F(ConvertOnlineRetailTest, SamplesWholeCustomersAndDateRanges) {
  ASSERT_EQ(Convert(absl::StrCat("--output ", dir_,
                                 "/sample.csv.gz --max_users 1 --seed 3")),
            0)
      << ReadText(dir_ + "/stderr.txt");
  const auto sample = ReadInteractionLog(dir_ + "/sample.csv.gz");
  ASSERT_TRUE(sample.ok()) << sample.status();
  ASSERT_FALSE(sample->interactions.empty());
  std::set<std::string> users;
  for (const auto& x : sample->interactions) users.insert(x.user_id);
  EXPECT_EQ(users.size(), 1u);

  ASSERT_EQ(Convert(absl::StrCat("--output ", dir_,
                                 "/range.csv --start_date 2010-12-02 "
                                 "--end_date 2010-12-05")),
            0);
  EXPECT_EQ(ReadText(dir_ + "/range.csv"),
            "user_id,item_id,event_type,timestamp\n"
            "13047,84029G,purchase,2010-12-02T10:00:00\n");
  EXPECT_NE(
      Convert(absl::StrCat("--output ", dir_, "/x.csv --start_date yesterday")),
      0);
}

}  // namespace
}  // namespace rerank
