#include "storage/blob_routes.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "storage/key.hpp"

namespace mando::storage {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kPrefix = "/blobs/";
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t value = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// If-None-Match: "*" or a list of entity tags; weak comparison (RFC 9110 §13.1.2).
bool etag_matches(std::string_view header, std::string_view etag) {
  auto opaque = [](std::string_view tag) {
    tag = trim(tag);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    return tag;
  };
  if (trim(header) == "*") return true;
  std::size_t start = 0;
  while (start <= header.size()) {
    const std::size_t comma = std::min(header.find(',', start), header.size());
    if (opaque(header.substr(start, comma - start)) == opaque(etag)) return true;
    start = comma + 1;
  }
  return false;
}

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

enum class RangeVerdict { kWhole, kPartial, kUnsatisfiable };

// One range of "bytes=..." against a body of `size` bytes; anything unusual serves the whole.
RangeVerdict parse_range(std::string_view header, std::uint64_t size, ByteRange& out) {
  header = trim(header);
  if (!header.starts_with("bytes=")) return RangeVerdict::kWhole;
  const std::string_view spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return RangeVerdict::kWhole;
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeVerdict::kWhole;
  const auto first = number(trim(spec.substr(0, dash)));
  const auto last = number(trim(spec.substr(dash + 1)));
  if (!first) {  // suffix: the last N bytes
    if (!last) return RangeVerdict::kWhole;
    if (*last == 0 || size == 0) return RangeVerdict::kUnsatisfiable;
    out = {size - std::min(*last, size), size - 1};
    return RangeVerdict::kPartial;
  }
  if (last && *last < *first) return RangeVerdict::kWhole;  // invalid: ignored
  if (*first >= size) return RangeVerdict::kUnsatisfiable;
  out = {*first, last ? std::min(*last, size - 1) : size - 1};
  return RangeVerdict::kPartial;
}

asio::awaitable<net::Response> serve(BlobStore* store, const UrlSigner* signer,
                                     net::Request request) {
  const std::string_view path = request.path();
  const std::string key(path.substr(kPrefix.size()));
  const TimePoint now = store->now();
  if (signer != nullptr) {
    if (auto ok = signer->verify(path, request.query_param("expires"),
                                 request.query_param("signature"), now);
        !ok) {
      co_return net::Response::json_error(403, ok.error().message);
    }
  }
  if (!validate_key(key)) co_return net::Response::json_error(404, "no such blob");
  auto object = co_await store->get(key);
  if (!object) {
    if (object.error().kind == ErrorKind::kNotFound) {
      co_return net::Response::json_error(404, "no such blob");
    }
    co_return net::Response::json_error(503, "the blob store is unavailable");
  }
  const TimePoint expires = BlobStore::expiry_of(object->info).value_or(now);
  co_return blob_response(request, std::move(*object), now, expires, signer != nullptr);
}

}  // namespace

net::Response blob_response(const net::Request& request, Object object, TimePoint now,
                            TimePoint expires, bool signed_urls) {
  const ObjectInfo& info = object.info;
  net::Response res;
  const auto max_age = std::max<std::int64_t>(0, (expires - now).count());
  res.headers.set("ETag", info.etag);
  res.headers.set("Last-Modified", http_date(info.last_modified));
  res.headers.set("Cache-Control",
                  fmt::format("{}, max-age={}", signed_urls ? "private" : "public", max_age));

  // Conditional requests first: If-None-Match wins over If-Modified-Since.
  if (auto none_match = request.headers.get("If-None-Match")) {
    if (etag_matches(*none_match, info.etag)) {
      res.status = 304;
      return res;
    }
  } else if (auto since = request.headers.get("If-Modified-Since")) {
    if (auto when = parse_http_date(trim(*since)); when && info.last_modified <= *when) {
      res.status = 304;
      return res;
    }
  }

  res.headers.set("Content-Type", info.content_type);
  res.headers.set("Accept-Ranges", "bytes");
  res.headers.set("X-Content-Type-Options", "nosniff");
  const std::uint64_t size = object.bytes.size();
  auto range = request.headers.get("Range");
  if (auto if_range = request.headers.get("If-Range"); range && if_range) {
    const std::string_view condition = trim(*if_range);
    const bool same = condition.starts_with('"')
                          ? condition == info.etag
                          : parse_http_date(condition) == std::optional(info.last_modified);
    if (!same) range.reset();
  }
  ByteRange bytes;
  switch (range ? parse_range(*range, size, bytes) : RangeVerdict::kWhole) {
    case RangeVerdict::kWhole:
      res.body = std::move(object.bytes);
      return res;
    case RangeVerdict::kUnsatisfiable:
      res = net::Response::json_error(416, "the range starts past the end of the blob");
      res.headers.set("Content-Range", fmt::format("bytes */{}", size));
      return res;
    case RangeVerdict::kPartial:
      break;
  }
  res.status = 206;
  res.headers.set("Content-Range", fmt::format("bytes {}-{}/{}", bytes.first, bytes.last, size));
  res.body = object.bytes.substr(bytes.first, bytes.last - bytes.first + 1);
  return res;
}

void add_blob_routes(net::Router& router, BlobStore& store, const UrlSigner* signer) {
  router.add("GET", "/blobs/*", [&store, signer](net::Request request) {
    return serve(&store, signer, std::move(request));
  });
}

}  // namespace mando::storage
