#include "storage/local_backend.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <sodium.h>

#include "core/crypto.hpp"
#include "core/log.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mando::storage {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view kMagic = "mando-blob 1\n";
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kHeaderProbe = 4096;
constexpr auto kStaleTemporary = std::chrono::hours(1);
constexpr int kRenameAttempts = 3;  // a concurrent delete may prune the directory in between

Error io_error(std::string_view what, const fs::path& path, int err) {
  return Error{err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kUnavailable,
               fmt::format("{} {}: {}", what, path.string(), std::strerror(err))};
}

// A file descriptor that closes itself.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_;
};

Result<void> write_all(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(io_error("write", path, errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> sync_directory(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return tl::unexpected(io_error("open", dir, errno));
  if (::fsync(fd.get()) != 0) return tl::unexpected(io_error("fsync", dir, errno));
  return {};
}

// mkdir -p that fsyncs the parent of every directory it creates, so a new directory survives a
// power cut along with the file renamed into it.
Result<void> make_directories(const fs::path& dir, const fs::path& root) {
  if (dir == root || dir.empty()) return {};
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return {};
  if (auto ok = make_directories(dir.parent_path(), root); !ok) return ok;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return tl::unexpected(io_error("mkdir", dir, errno));
  }
  return sync_directory(dir.parent_path());
}

std::string etag_of(std::string_view bytes) {
  unsigned char digest[16];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), nullptr, 0);
  return fmt::format(
      "\"{}\"", core::to_hex(std::string_view(reinterpret_cast<char*>(digest), sizeof digest)));
}

std::string header_json(const ObjectInfo& info) {
  json::object metadata;
  for (const auto& [name, value] : info.metadata) metadata[name] = value;
  json::object header{{"content_type", info.content_type},
                      {"size", info.size},
                      {"etag", info.etag},
                      {"last_modified", info.last_modified.time_since_epoch().count()},
                      {"metadata", std::move(metadata)}};
  return json::serialize(header);
}

Result<ObjectInfo> parse_header(std::string_view line, const std::string& key,
                                const fs::path& path) {
  auto corrupt = [&](std::string_view why) {
    return fail(ErrorKind::kInternal, fmt::format("corrupt blob file {}: {}", path.string(), why));
  };
  boost::system::error_code ec;
  json::value parsed = json::parse(line, ec);
  if (ec || !parsed.is_object()) return corrupt("the metadata line is not a JSON object");
  const json::object& header = parsed.as_object();
  const auto* content_type = header.if_contains("content_type");
  const auto* size = header.if_contains("size");
  const auto* etag = header.if_contains("etag");
  const auto* modified = header.if_contains("last_modified");
  const auto* metadata = header.if_contains("metadata");
  if (!content_type || !content_type->is_string() || !size || !size->is_number() || !etag ||
      !etag->is_string() || !modified || !modified->is_int64() || !metadata ||
      !metadata->is_object()) {
    return corrupt("a metadata field is missing or of the wrong type");
  }
  ObjectInfo info;
  info.key = key;
  info.content_type = std::string(content_type->as_string());
  info.size = size->to_number<std::uint64_t>(ec);
  if (ec) return corrupt("size is not a size");
  info.etag = std::string(etag->as_string());
  info.last_modified = TimePoint(std::chrono::seconds(modified->as_int64()));
  for (const auto& [name, value] : metadata->as_object()) {
    if (!value.is_string()) return corrupt("a metadata value is not a string");
    info.metadata.emplace(std::string(name), std::string(value.as_string()));
  }
  return info;
}

Result<ObjectInfo> write_blob(const fs::path& root, const std::string& key,
                              const std::string& bytes, std::string content_type,
                              Metadata metadata) {
  ObjectInfo info;
  info.key = key;
  info.size = bytes.size();
  info.content_type = std::move(content_type);
  info.etag = etag_of(bytes);
  info.last_modified = std::chrono::time_point_cast<std::chrono::seconds>(Clock::now());
  info.metadata = std::move(metadata);

  // Step 1: the whole file under tmp/, synced.
  std::string name(16, '\0');
  randombytes_buf(name.data(), name.size());
  const fs::path temporary = root / "tmp" / core::to_hex(name);
  {
    Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) return tl::unexpected(io_error("create", temporary, errno));
    auto written = write_all(fd.get(), kMagic, temporary);
    if (written) written = write_all(fd.get(), header_json(info) + "\n", temporary);
    if (written) written = write_all(fd.get(), bytes, temporary);
    if (written && ::fsync(fd.get()) != 0)
      written = tl::unexpected(io_error("fsync", temporary, errno));
    if (!written) {
      ::unlink(temporary.c_str());
      return tl::unexpected(written.error());
    }
  }
  // Step 2: rename into place, then sync the directory that now names it.
  const fs::path objects = root / "objects";
  const fs::path target = objects / key;
  for (int attempt = 1;; ++attempt) {
    auto made = make_directories(target.parent_path(), objects);
    if (made && ::rename(temporary.c_str(), target.c_str()) == 0) break;
    const Error error = made ? io_error("rename", target, errno) : made.error();
    if (attempt == kRenameAttempts || (made && errno != ENOENT)) {
      ::unlink(temporary.c_str());
      return tl::unexpected(error);
    }
  }
  if (auto synced = sync_directory(target.parent_path()); !synced) {
    return tl::unexpected(synced.error());
  }
  return info;
}

// Reads the header, and the bytes too when `with_bytes`.
Result<Object> read_blob(const fs::path& root, const std::string& key, bool with_bytes) {
  const fs::path path = root / "objects" / key;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return tl::unexpected(io_error("open", path, errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return tl::unexpected(io_error("stat", path, errno));
  if (!S_ISREG(st.st_mode)) return fail(ErrorKind::kNotFound, fmt::format("no blob {}", key));
  const auto file_size = static_cast<std::size_t>(st.st_size);
  // Without the bytes, read only as far as the metadata line: 4 KiB holds it but for blobs with
  // much user metadata, so listing and cleanup do not read 64 KiB of every large blob.
  const std::size_t header_cap = std::min(file_size, kMagic.size() + kMaxHeaderBytes);
  std::string data(with_bytes ? file_size : std::min(header_cap, kHeaderProbe), '\0');
  std::size_t got = 0;
  for (;;) {
    while (got < data.size()) {
      const ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return tl::unexpected(io_error("read", path, errno));
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    if (got < data.size() || data.size() == header_cap || with_bytes ||
        data.find('\n', kMagic.size()) != std::string::npos) {
      break;
    }
    data.resize(std::min(header_cap, data.size() * 4));
  }
  data.resize(got);
  auto corrupt = [&](std::string_view why) {
    return fail(ErrorKind::kInternal, fmt::format("corrupt blob file {}: {}", path.string(), why));
  };
  if (!std::string_view(data).starts_with(kMagic)) return corrupt("no mando-blob header");
  const std::size_t end = data.find('\n', kMagic.size());
  if (end == std::string::npos) return corrupt("the metadata line does not end");
  auto info =
      parse_header(std::string_view(data).substr(kMagic.size(), end - kMagic.size()), key, path);
  if (!info) return tl::unexpected(info.error());
  if (file_size - (end + 1) != info->size) return corrupt("the size does not match the metadata");
  Object object{std::move(*info), {}};
  if (with_bytes) object.bytes = data.substr(end + 1);
  return object;
}

// Unlinks the blob (a missing one is fine) and prunes the directories it leaves empty.
Result<void> delete_blob(const fs::path& root, const std::string& key) {
  const fs::path objects = root / "objects";
  const fs::path path = objects / key;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return tl::unexpected(io_error("delete", path, errno));
  }
  for (fs::path dir = path.parent_path(); dir != objects && dir.has_relative_path();
       dir = dir.parent_path()) {
    if (::rmdir(dir.c_str()) != 0) break;  // not empty (or gone): its parents are not empty
  }
  return {};
}

Result<Listing> list_blobs(const fs::path& root, const ListOptions& options) {
  const fs::path objects = root / "objects";
  // The directory the prefix points into, and what names in it must start with.
  const std::size_t slash = options.prefix.rfind('/');
  const std::string dir_part =
      slash == std::string::npos ? "" : options.prefix.substr(0, slash + 1);
  const fs::path start = dir_part.empty() ? objects : objects / dir_part;
  std::vector<std::pair<std::string, bool>> entries;  // key or prefix, is_prefix
  std::error_code ec;
  if (!fs::is_directory(start, ec)) return Listing{};
  auto relative = [&](const fs::path& p) { return p.lexically_relative(objects).generic_string(); };
  if (options.delimiter == "/") {
    for (const auto& entry : fs::directory_iterator(start, ec)) {
      std::string key = relative(entry.path());
      if (!key.starts_with(options.prefix)) continue;
      const bool dir = entry.is_directory(ec);
      entries.emplace_back(dir ? key + "/" : key, dir);
    }
  } else {
    for (auto it = fs::recursive_directory_iterator(start, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string key = relative(it->path());
      if (key.starts_with(options.prefix)) entries.emplace_back(std::move(key), false);
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return fail(ErrorKind::kUnavailable, fmt::format("list {}: {}", start.string(), ec.message()));
  }
  std::sort(entries.begin(), entries.end());
  Listing listing;
  const auto max = static_cast<std::size_t>(std::clamp(options.max_keys, 1, 1000));
  std::size_t taken = 0;
  std::string last;  // the last name returned: the next page starts after it
  for (auto& [name, is_prefix] : entries) {
    if (!options.token.empty() && name <= options.token) continue;
    if (taken == max) {
      listing.next_token = last;
      break;
    }
    ++taken;
    last = name;
    if (is_prefix) {
      listing.prefixes.push_back(std::move(name));
    } else {
      // The size of the blob, not of its file: read the metadata line.
      auto object = read_blob(root, name, false);
      ObjectInfo info = object ? std::move(object->info) : ObjectInfo{};
      info.key = std::move(name);
      listing.objects.push_back(std::move(info));
    }
  }
  return listing;
}

// Temporary files an hour old were left by a crash (younger ones may be a put in progress in
// another process sharing the directory).
void remove_stale_temporaries(const fs::path& tmp) {
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - kStaleTemporary;
  for (const auto& entry : fs::directory_iterator(tmp, ec)) {
    if (entry.last_write_time(ec) < cutoff && !ec) {
      fs::remove(entry.path(), ec);
      core::logger("storage")->info("removed stale temporary blob file {}", entry.path().string());
    }
  }
}

}  // namespace

Result<std::unique_ptr<LocalBackend>> LocalBackend::open(LocalBackendOptions options,
                                                         core::CpuPool& pool) {
  if (sodium_init() < 0) return fail(ErrorKind::kInternal, "libsodium failed to initialise");
  std::error_code ec;
  for (const char* dir : {"objects", "tmp"}) {
    fs::create_directories(options.root / dir, ec);
    if (ec) {
      return fail(
          ErrorKind::kUnavailable,
          fmt::format("blob directory {}: {}", (options.root / dir).string(), ec.message()));
    }
  }
  remove_stale_temporaries(options.root / "tmp");
  std::string base = std::move(options.public_base_url);
  auto backend = std::unique_ptr<LocalBackend>(new LocalBackend(std::move(options), pool));
  backend->set_public_base_url(std::move(base));
  return backend;
}

void LocalBackend::set_public_base_url(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  options_.public_base_url = std::move(url);
}

asio::awaitable<Result<ObjectInfo>> LocalBackend::put(std::string key, std::string bytes,
                                                      std::string content_type, Metadata metadata) {
  auto job = [root = options_.root, key = std::move(key), bytes = std::move(bytes),
              content_type = std::move(content_type), metadata = std::move(metadata)]() mutable {
    return write_blob(root, key, bytes, std::move(content_type), std::move(metadata));
  };
  co_return co_await pool_.run(std::move(job));
}

asio::awaitable<Result<Object>> LocalBackend::get(std::string key) {
  auto job = [root = options_.root, key = std::move(key)] { return read_blob(root, key, true); };
  co_return co_await pool_.run(std::move(job));
}

asio::awaitable<Result<ObjectInfo>> LocalBackend::head(std::string key) {
  auto job = [root = options_.root, key = std::move(key)]() -> Result<ObjectInfo> {
    auto object = read_blob(root, key, false);
    if (!object) return tl::unexpected(object.error());
    return std::move(object->info);
  };
  co_return co_await pool_.run(std::move(job));
}

asio::awaitable<Result<DeleteOutcome>> LocalBackend::remove(std::vector<std::string> keys) {
  auto job = [root = options_.root, keys = std::move(keys)]() -> Result<DeleteOutcome> {
    DeleteOutcome outcome;
    for (const auto& key : keys) {
      if (auto ok = delete_blob(root, key); ok) {
        outcome.deleted.push_back(key);
      } else {
        outcome.failed.emplace_back(key, ok.error());
      }
    }
    return outcome;
  };
  co_return co_await pool_.run(std::move(job));
}

asio::awaitable<Result<Listing>> LocalBackend::list(ListOptions options) {
  auto job = [root = options_.root, options = std::move(options)] {
    return list_blobs(root, options);
  };
  co_return co_await pool_.run(std::move(job));
}

Result<std::string> LocalBackend::url(const std::string& key, TimePoint expires) const {
  const std::string path = "/blobs/" + key;
  if (!options_.signer) return options_.public_base_url + path;
  return fmt::format("{}{}?{}", options_.public_base_url, path,
                     options_.signer->query(path, expires));
}

}  // namespace mando::storage
