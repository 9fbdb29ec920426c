#pragma once
// One error type for all of mando. Every fallible call returns Result<T>; library errors
// (curl, sqlite, toml++, boost::json, ...) are converted at the module edge, once.
//
// ErrorKind follows the google.rpc.Code vocabulary because the task queue speaks Cloud Tasks
// and maps kinds to HTTP statuses one-to-one (see http_status()).

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace mando {

enum class ErrorKind {
  kInvalidArgument,     // the caller sent something malformed or out of range
  kNotFound,            // the thing asked for does not exist
  kAlreadyExists,       // a create collided with an existing name
  kUnauthenticated,     // missing or wrong credentials or signature
  kPermissionDenied,    // credentials fine, action not allowed
  kResourceExhausted,   // a size, rate or quota limit was hit
  kFailedPrecondition,  // the system is not in a state where this can run
  kDeadlineExceeded,    // a timeout elapsed
  kUnavailable,         // a peer or resource is temporarily unreachable; retrying may help
  kInternal,            // a bug or an unexpected library failure
};

std::string_view to_string(ErrorKind kind);
// The HTTP status an API answers with for this kind of error.
int http_status(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;

  // "invalid_argument: [server] listen: ..." – for logs and CLI output.
  std::string to_string() const;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Shorthand for `return fail(ErrorKind::kNotFound, "...")` in functions returning Result<T>.
inline tl::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return tl::unexpected<Error>(Error{kind, std::move(message)});
}

}  // namespace mando
