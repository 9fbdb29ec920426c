#include "core/secret_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <sodium.h>

#include "core/crypto.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mando::core {
namespace {

std::string trimmed(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

Result<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorKind::kUnavailable, std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

Result<std::string> read_secret_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return fail(ErrorKind::kNotFound, fmt::format("{} does not exist", path.string()));
    return fail(ErrorKind::kUnavailable,
                fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    return fail(ErrorKind::kPermissionDenied,
                fmt::format("{} may be read by others (mode {:o}): chmod 600 it", path.string(),
                            st.st_mode & 0777));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    return fail(ErrorKind::kUnavailable,
                fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  }
  std::string secret = trimmed(text.str());
  if (secret.empty())
    return fail(ErrorKind::kInvalidArgument, fmt::format("{} is empty", path.string()));
  return secret;
}

Result<std::string> read_or_create_secret_file(const std::filesystem::path& path) {
  auto existing = read_secret_file(path);
  if (existing || existing.error().kind != ErrorKind::kNotFound) return existing;

  std::string raw(32, '\0');
  randombytes_buf(raw.data(), raw.size());
  const std::string secret = to_hex(raw);
  const std::string temp = fmt::format("{}.{}.tmp", path.string(), getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(ErrorKind::kUnavailable,
                fmt::format("cannot create {}: {}", temp, std::strerror(errno)));
  }
  auto written = write_all(fd, secret + "\n");
  if (written && ::fsync(fd) != 0) written = fail(ErrorKind::kUnavailable, std::strerror(errno));
  ::close(fd);
  // link() fails with EEXIST when another process got there first: theirs is the secret.
  if (written && ::link(temp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    written = fail(ErrorKind::kUnavailable, std::strerror(errno));
  }
  ::unlink(temp.c_str());
  if (!written) {
    return fail(ErrorKind::kUnavailable,
                fmt::format("cannot write {}: {}", path.string(), written.error().message));
  }
  return read_secret_file(path);
}

}  // namespace mando::core
