#include "core/error.hpp"

#include <fmt/format.h>

namespace mando {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return "invalid_argument";
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kAlreadyExists:
      return "already_exists";
    case ErrorKind::kUnauthenticated:
      return "unauthenticated";
    case ErrorKind::kPermissionDenied:
      return "permission_denied";
    case ErrorKind::kResourceExhausted:
      return "resource_exhausted";
    case ErrorKind::kFailedPrecondition:
      return "failed_precondition";
    case ErrorKind::kDeadlineExceeded:
      return "deadline_exceeded";
    case ErrorKind::kUnavailable:
      return "unavailable";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "internal";
}

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return 400;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kAlreadyExists:
      return 409;
    case ErrorKind::kUnauthenticated:
      return 401;
    case ErrorKind::kPermissionDenied:
      return 403;
    case ErrorKind::kResourceExhausted:
      return 429;
    case ErrorKind::kFailedPrecondition:
      return 400;
    case ErrorKind::kDeadlineExceeded:
      return 504;
    case ErrorKind::kUnavailable:
      return 503;
    case ErrorKind::kInternal:
      return 500;
  }
  return 500;
}

std::string Error::to_string() const {
  return fmt::format("{}: {}", mando::to_string(kind), message);
}

}  // namespace mando
