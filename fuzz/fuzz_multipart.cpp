// Fuzzes the emulator's multipart/form-data parser. The input's first line is the Content-Type
// value, the rest is the body. Whatever the bytes, the parser answers parts or a short
// kInvalidArgument error; parts it accepts carry a name, respect the limits, and hold data that
// really is a slice of the body.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "emulator/multipart.hpp"
#include "emulator/png_info.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string_view content_type = input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  mando::emulator::MultipartLimits limits;
  limits.max_parts = 16;
  limits.max_part_header_bytes = 1024;
  auto parts = mando::emulator::parse_form_data(content_type, body, limits);
  if (!parts) {
    check(parts.error().kind == mando::ErrorKind::kInvalidArgument &&
          parts.error().message.size() < 256);
  } else {
    check(parts->size() <= limits.max_parts);
    for (const auto& part : *parts) {
      check(!part.name.empty());
      check(part.data.empty() || body.find(part.data) != std::string_view::npos);
    }
  }
  if (auto png = mando::emulator::png_size(body)) check(png->width > 0 && png->height > 0);
  return 0;
}
