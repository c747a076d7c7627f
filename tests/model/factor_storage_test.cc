#include "model/factor_storage.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::testing::HasSubstr;
namespace fk = factor_kernels;

uint32_t Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

TEST(HalfTest, EveryFiniteHalfRoundTripsThroughFloat) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const uint16_t half = static_cast<uint16_t>(h);
    if (HalfIsNonFinite(half)) {
      EXPECT_FALSE(std::isfinite(HalfToFloat(half))) << h;
      continue;
    }
    EXPECT_EQ(FloatToHalf(HalfToFloat(half)), half) << h;
  }
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
}

TEST(HalfTest, RoundsToNearestEvenAndOverflowsToInf) {
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties go to even (1).
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9: up.
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-1e10f), 0xfc00);
  EXPECT_TRUE(
      HalfIsNonFinite(FloatToHalf(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(
      HalfToFloat(FloatToHalf(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(HalfTest, PortableConversionMatchesF16c) {
  if (!fk::HasAvx2F16c()) GTEST_SKIP() << "no F16C on this CPU";
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> any_bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t bits = any_bits(rng);
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    if (std::isnan(f)) continue;  // payloads may differ; NaN-ness is tested
    ASSERT_EQ(FloatToHalf(f), fk::FloatToHalfF16c(f)) << f << " " << bits;
  }
  for (float f : {0.0f, -0.0f, 1e-8f, 6.1e-5f, 3.14159f, 65504.0f, 70000.0f}) {
    EXPECT_EQ(FloatToHalf(f), fk::FloatToHalfF16c(f)) << f;
  }
}

// A matrix of `rows` x `dim` random values in [-1, 1], stored as `dtype`.
struct Stored {
  std::vector<float> values;
  std::vector<uint16_t> halves;
  std::vector<int8_t> levels;
  std::vector<float> scales;
  FactorMatrix matrix;
};

Stored Make(FactorDtype dtype, int rows, int dim, uint32_t seed) {
  Stored s;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  s.values.resize(static_cast<size_t>(rows) * dim);
  for (float& v : s.values) v = u(rng);
  s.matrix.dtype = dtype;
  s.matrix.dim = dim;
  switch (dtype) {
    case FactorDtype::kFloat32:
      s.matrix.data = s.values.data();
      break;
    case FactorDtype::kFloat16:
      s.halves = *EncodeFloat16(s.values, dim, "m.npy");
      s.matrix.data = s.halves.data();
      break;
    case FactorDtype::kInt8:
      EXPECT_TRUE(
          EncodeInt8(s.values, dim, "m.npy", &s.levels, &s.scales).ok());
      s.matrix.data = s.levels.data();
      s.matrix.scales = s.scales.data();
      break;
  }
  return s;
}

class FactorKernelsTest
    : public ::testing::TestWithParam<std::tuple<FactorDtype, int>> {};

// The AVX2 and portable paths agree (up to float summation order), and both
// agree with the decoded row in double.
TEST_P(FactorKernelsTest, Avx2AndPortablePathsAgree) {
  if (!fk::HasAvx2F16c()) GTEST_SKIP() << "no AVX2+F16C on this CPU";
  const auto [dtype, dim] = GetParam();
  Stored s = Make(dtype, 9, dim, 11);
  std::vector<float> x(dim), decoded_portable(dim), decoded_avx(dim);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (float& v : x) v = u(rng);
  for (int64_t r = 0; r < 9; ++r) {
    fk::DecodePortable(s.matrix, r, decoded_portable.data());
    fk::DecodeAvx2(s.matrix, r, decoded_avx.data());
    for (int i = 0; i < dim; ++i) {
      // Decoding is exact in both (int8: one multiply).
      ASSERT_EQ(Bits(decoded_portable[i]), Bits(decoded_avx[i])) << r << i;
    }
    double want = 0;
    double magnitude = 0;
    for (int i = 0; i < dim; ++i) {
      want += static_cast<double>(decoded_portable[i]) * x[i];
      magnitude += std::fabs(static_cast<double>(decoded_portable[i]) * x[i]);
    }
    const double tol = 1e-6 * magnitude + 1e-7;
    EXPECT_NEAR(fk::DotPortable(s.matrix, r, x.data()), want, tol);
    EXPECT_NEAR(fk::DotAvx2(s.matrix, r, x.data()), want, tol);
    EXPECT_NEAR(DotRow(s.matrix, r, x.data()), want, tol);

    std::vector<float> acc_portable(x), acc_avx(x);
    fk::AddScaledPortable(s.matrix, r, 0.75f, acc_portable.data());
    fk::AddScaledAvx2(s.matrix, r, 0.75f, acc_avx.data());
    for (int i = 0; i < dim; ++i) {
      const double expect = x[i] + 0.75 * decoded_portable[i];
      EXPECT_NEAR(acc_portable[i], expect, 1e-6);
      EXPECT_NEAR(acc_avx[i], expect, 1e-6);
    }
  }
}

// The stored rows stay close to the float32 values they encode: float16 to
// 2^-11 relative, int8 to half a level (max |v| / 254) per element.
TEST_P(FactorKernelsTest, EncodingErrorIsBounded) {
  const auto [dtype, dim] = GetParam();
  Stored s = Make(dtype, 9, dim, 5);
  std::vector<float> decoded(dim);
  for (int64_t r = 0; r < 9; ++r) {
    DecodeRow(s.matrix, r, decoded.data());
    float max_abs = 0;
    for (int i = 0; i < dim; ++i) {
      max_abs = std::max(max_abs, std::fabs(s.values[r * dim + i]));
    }
    for (int i = 0; i < dim; ++i) {
      const float v = s.values[r * dim + i];
      const float bound = dtype == FactorDtype::kFloat16
                              ? std::fabs(v) * std::ldexp(1.0f, -11) + 6e-8f
                          : dtype == FactorDtype::kInt8
                              ? max_abs / 254.0f * 1.0001f
                              : 0.0f;
      EXPECT_LE(std::fabs(decoded[i] - v), bound) << r << " " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    DtypesAndDims, FactorKernelsTest,
    ::testing::Combine(::testing::Values(FactorDtype::kFloat32,
                                         FactorDtype::kFloat16,
                                         FactorDtype::kInt8),
                       // Below, at and between the 8- and 16-wide steps.
                       ::testing::Values(1, 7, 8, 16, 23, 64, 100)));

TEST(EncodeTest, Int8ZeroRowHasZeroScaleAndLevels) {
  std::vector<int8_t> q;
  std::vector<float> scales;
  ASSERT_TRUE(
      EncodeInt8({0, 0, 1, -0.25f}, 2, "item_factors.npy", &q, &scales).ok());
  EXPECT_THAT(scales, ::testing::ElementsAre(0.0f, 1.0f / 127.0f));
  EXPECT_THAT(q, ::testing::ElementsAre(0, 0, 127, -32));  // -31.75
}

TEST(EncodeTest, NonFiniteAndOutOfRangeValuesAreRefusedNamingTheCell) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto half = EncodeFloat16({1, 2, 3, 7e4f}, 2, "item_factors.npy");
  EXPECT_EQ(half.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(half.status().message(),
              HasSubstr("item_factors.npy: row 1 column 1 is 70000, beyond "
                        "float16's range"));
  half = EncodeFloat16({nan}, 1, "user_factors.npy");
  EXPECT_THAT(half.status().message(),
              HasSubstr("user_factors.npy: row 0 column 0 is nan, not finite"));
  std::vector<int8_t> q;
  std::vector<float> scales;
  const absl::Status s =
      EncodeInt8({1, 2, std::numeric_limits<float>::infinity(), 0}, 2, "u.npy",
                 &q, &scales);
  EXPECT_THAT(s.message(), HasSubstr("u.npy: row 1 column 0 is inf"));
}

TEST(FactorDtypeTest, NamesParseBackAndUnknownIsRefused) {
  for (FactorDtype d :
       {FactorDtype::kFloat32, FactorDtype::kFloat16, FactorDtype::kInt8}) {
    EXPECT_EQ(*ParseFactorDtype(FactorDtypeName(d)), d);
  }
  EXPECT_EQ(FactorElementBytes(FactorDtype::kFloat16), 2);
  EXPECT_EQ(FactorNpyDescr(FactorDtype::kInt8), "|i1");
  EXPECT_THAT(ParseFactorDtype("bf16").status().message(),
              HasSubstr("'bf16' is not one of float32, float16, int8"));
}

}  // namespace
}  // namespace rerank
