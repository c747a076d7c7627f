#pragma once

// Message equality for the fuzz targets' JSON round trips: field by field,
// NaN equal to NaN (the JSON mapping writes NaN as "NaN" and reads it back,
// but NaN != NaN under plain MessageDifferencer::Equals).

#include "google/protobuf/message.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"

namespace rerank::fuzz {

inline bool SameMessage(const google::protobuf::Message& a,
                        const google::protobuf::Message& b) {
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  return differencer.Compare(a, b);
}

}  // namespace rerank::fuzz
