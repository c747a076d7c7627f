#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace rerank {

// The one place where an absl::Status becomes a grpc::Status: RPC handlers
// call it once, at the edge. Every absl code maps to the gRPC code of the
// same meaning and the message is passed through unchanged (it names the
// field or limit, which is what a client needs to fix its request).
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace rerank
