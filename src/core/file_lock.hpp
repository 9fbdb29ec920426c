#pragma once
// An exclusive advisory lock on a file (flock(2)), held for the owner's life: the way one
// process claims a resource that two must never drive at once (the SQLite queue store of a
// dispatcher). The lock file holds the owner's pid, so the refusal can say who has it.
//
// flock locks belong to the open file description: a second acquire() fails even within the
// same process, and the kernel drops the lock when the process dies (kill -9 included), so a
// crash never leaves a stale lock behind. Not thread-safe; move-only.

#include <filesystem>

#include "core/error.hpp"

namespace mando::core {

class FileLock {
 public:
  // Creates `path` when missing (mode 0644) and locks it without waiting. kFailedPrecondition
  // when another open file holds the lock (the message names its pid when known), kUnavailable
  // when the file cannot be opened.
  static Result<FileLock> acquire(const std::filesystem::path& path);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace mando::core
