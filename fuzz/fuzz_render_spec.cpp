// Fuzzes the spec parser: any text either parses to a valid spec whose canonical text reads
// back to an equal spec, or is refused with one short line naming what was wrong. Valid specs
// are also drawn, shrunk to 64 px, so odd option combinations reach the renderer.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "render/mandala.hpp"
#include "render/spec.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mando::render;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = parse_spec(text);
  if (!spec) {
    const auto& error = spec.error();
    check(error.kind == mando::ErrorKind::kInvalidArgument);
    check(!error.message.empty() && error.message.size() <= 2 * size + 1024);
    return 0;
  }
  check(validate(*spec).has_value());
  const std::string canonical = format_spec(*spec);
  auto again = parse_spec(canonical);
  check(again.has_value() && *again == *spec && format_spec(*again) == canonical);

  MandalaSpec small = *spec;
  small.size = 64;
  small.rows = small.cols = 1;
  small.frames = 0;
  small.format = Format::kPng;
  small.lossy = false;
  auto image = render_mandala(small);
  check(image.has_value() && image->width == 64);
  return 0;
}
