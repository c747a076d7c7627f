#pragma once

#include <string>

namespace rerank::scoring_internal {

// Formats a number for an error message: integral values without exponent
// ("31536000"), others as the shortest text that parses back to the same
// double ("0.1"), and "nan" / "inf" / "-inf".
std::string FormatNumber(double value);

}  // namespace rerank::scoring_internal
