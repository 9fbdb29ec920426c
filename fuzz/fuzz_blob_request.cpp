// Fuzzes what /blobs/ reads from a request: the key in the path and the Range, If-None-Match,
// If-Modified-Since and If-Range headers. The input is those five values, one per line. Whatever
// they hold, the answer is one of 200, 206, 304 or 416 for a valid key, and a 206 carries exactly
// the bytes its Content-Range names.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "storage/blob_routes.hpp"
#include "storage/key.hpp"

namespace {

using namespace mando::storage;

void check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::string> lines(std::string_view input, std::size_t count) {
  std::vector<std::string> out;
  while (out.size() + 1 < count) {
    const auto end = input.find('\n');
    if (end == std::string_view::npos) break;
    out.emplace_back(input.substr(0, end));
    input.remove_prefix(end + 1);
  }
  out.emplace_back(input);
  out.resize(count);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto fields = lines(std::string_view(reinterpret_cast<const char*>(data), size), 5);
  const TimePoint now{std::chrono::seconds(1795413630)};
  if (auto ok = validate_key(fields[4]); !ok) {
    check(ok.error().kind == mando::ErrorKind::kInvalidArgument && ok.error().message.size() < 512);
  }
  if (auto when = parse_http_date(fields[2])) check(parse_http_date(http_date(*when)) == when);

  Object object;
  object.bytes = "0123456789abcdef";
  object.info.size = object.bytes.size();
  object.info.etag = "\"e\"";
  object.info.content_type = "image/png";
  object.info.last_modified = now - std::chrono::hours(1);
  mando::net::Request request;
  request.method = "GET";
  request.target = "/blobs/k";
  const char* names[] = {"Range", "If-None-Match", "If-Modified-Since", "If-Range"};
  for (int i = 0; i < 4; ++i) {
    if (!fields[i].empty()) request.headers.add(names[i], fields[i]);
  }
  const auto res = blob_response(request, object, now, now + std::chrono::hours(1), false);
  switch (res.status) {
    case 200:
      check(res.body == object.bytes);
      break;
    case 304:
      check(res.body.empty());
      break;
    case 416:
      check(res.headers.get("Content-Range") == "bytes */16");
      break;
    case 206: {
      const std::string range(res.headers.get("Content-Range").value_or(""));
      unsigned long first = 0, last = 0, total = 0;
      check(std::sscanf(range.c_str(), "bytes %lu-%lu/%lu", &first, &last, &total) == 3);
      check(total == 16 && first <= last && last < 16);
      check(res.body == object.bytes.substr(first, last - first + 1));
      break;
    }
    default:
      check(false);
  }
  return 0;
}
