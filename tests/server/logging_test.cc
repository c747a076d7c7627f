#include "server/logging.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/details/log_msg.h"

namespace rerank {
namespace {

std::string Format(spdlog::level::level_enum level, const std::string& text) {
  spdlog::details::log_msg msg("rerankd", level, text);
  spdlog::memory_buf_t buf;
  MakeJsonLogFormatter()->format(msg, buf);
  return std::string(buf.data(), buf.size());
}

TEST(JsonLogFormatterTest, OneLineObjectWithEscapedMessage) {
  const std::string line =
      Format(spdlog::level::warn, "bad \"id\"\n\tpath\\x \x01 done");
  EXPECT_THAT(line, ::testing::MatchesRegex(
                        R"(\{"ts":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z",)"
                        R"("level":"warn","msg":".*"\}
)"));
  EXPECT_THAT(line, ::testing::HasSubstr(
                        R"("msg":"bad \"id\"\n\tpath\\x \u0001 done")"));
  // Exactly one newline: the terminator.
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
}

TEST(JsonLogFormatterTest, LevelNames) {
  EXPECT_THAT(Format(spdlog::level::info, "x"),
              ::testing::HasSubstr(R"("level":"info")"));
  EXPECT_THAT(Format(spdlog::level::err, "x"),
              ::testing::HasSubstr(R"("level":"error")"));
}

TEST(LoggingTest, ParseLogLevel) {
  EXPECT_EQ(*ParseLogLevel("trace"), spdlog::level::trace);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
  EXPECT_FALSE(ParseLogLevel("warning").ok());
}

TEST(LoggingTest, ConfigureLoggingSetsLevel) {
  v1::LoggingConfig config;
  config.set_level("warn");
  config.set_format("json");
  ASSERT_TRUE(ConfigureLogging(config).ok());
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
  config.set_format("xml");
  EXPECT_FALSE(ConfigureLogging(config).ok());
}

}  // namespace
}  // namespace rerank
