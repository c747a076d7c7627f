#pragma once

#include <optional>

#include "absl/strings/string_view.h"

namespace rerank {

// Parses an event timestamp into Unix seconds. Accepted forms:
//
//   1294222920            Unix seconds
//   1294222920.25         Unix seconds with a fraction
//   2011-01-05            midnight
//   2011-01-05T10:22      'T' or ' ' between date and time; seconds optional
//   2011-01-05 10:22:00.5 fractional seconds
//   ...Z / ...+01:00 / ...-0530 / ...+01   zone designators
//
// A time without a zone designator is taken as UTC: logs are expected to be
// written in UTC, and guessing the local zone of the machine that trains
// would make the model depend on where it was built.
// Returns nullopt for anything else (including out-of-range fields such as
// month 13 or Feb 30).
std::optional<double> ParseTimestamp(absl::string_view text);

}  // namespace rerank
