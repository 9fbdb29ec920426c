#include "core/file_lock.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace mando::core {
namespace {

// The pid a holder wrote into the file, or "" when there is none to read.
std::string holder_of(int fd) {
  char buffer[32] = {};
  const ssize_t n = pread(fd, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return "";
  std::string pid(buffer, static_cast<std::size_t>(n));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

}  // namespace

Result<FileLock> FileLock::acquire(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return fail(ErrorKind::kUnavailable, fmt::format("cannot open the lock file {}: {}",
                                                     path.string(), std::strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const std::string holder = error == EWOULDBLOCK ? holder_of(fd) : "";
    ::close(fd);
    if (error != EWOULDBLOCK) {
      return fail(ErrorKind::kUnavailable,
                  fmt::format("cannot lock {}: {}", path.string(), std::strerror(error)));
    }
    return fail(ErrorKind::kFailedPrecondition,
                fmt::format("{} is locked by another process{}", path.string(),
                            holder.empty() ? "" : fmt::format(" (pid {})", holder)));
  }
  // Ours now: say who holds it. A failure to write only costs the pid in a later message.
  const std::string pid = fmt::format("{}\n", getpid());
  if (ftruncate(fd, 0) == 0) {
    [[maybe_unused]] const ssize_t written = pwrite(fd, pid.data(), pid.size(), 0);
  }
  return FileLock(fd);
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
}

}  // namespace mando::core
