#pragma once

// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status and absl::StatusOr.
// Debian 12's Abseil (20220623) does not ship absl/status/status_macros.h.

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RERANK_STATUS_CONCAT_INNER_(a, b) a##b
#define RERANK_STATUS_CONCAT_(a, b) RERANK_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function if it is not OK.
#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::absl::Status rerank_status_ = (expr);                \
    if (!rerank_status_.ok()) return rerank_status_;       \
  } while (false)

// ASSIGN_OR_RETURN(auto x, MakeX()); evaluates an absl::StatusOr<T>, returns
// its status if not OK, otherwise moves the value into `lhs`.
#define ASSIGN_OR_RETURN(lhs, rexpr)                                         \
  RERANK_ASSIGN_OR_RETURN_IMPL_(                                             \
      RERANK_STATUS_CONCAT_(rerank_statusor_, __LINE__), lhs, rexpr)

#define RERANK_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()
