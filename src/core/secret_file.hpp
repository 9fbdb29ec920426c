#pragma once
// A secret kept in a file of its own, readable by its owner only (mode 0600): the queue API's
// bearer token that `mando serve` generates at first start in its data_dir, and that the CLI
// and the other roles on the same machine read back from there.
//
// A file that others may read (any group or other permission bit) is refused, as ssh refuses
// such a key: a token that every local user can read is no credential. Creation is atomic:
// the secret is written to a temporary file and linked into place, so a second process that
// races the first reads the winner's secret instead of overwriting it.

#include <filesystem>
#include <string>

#include "core/error.hpp"

namespace mando::core {

// The secret in `path`, surrounding whitespace trimmed. kNotFound when the file does not exist,
// kPermissionDenied when others may read it, kInvalidArgument when it is empty, kUnavailable
// when it cannot be read.
Result<std::string> read_secret_file(const std::filesystem::path& path);

// read_secret_file(), or, when the file does not exist, a new secret of 32 random bytes as 64
// hex digits written to `path` with mode 0600 (its directory must exist).
Result<std::string> read_or_create_secret_file(const std::filesystem::path& path);

}  // namespace mando::core
