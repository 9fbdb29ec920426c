#pragma once
// The pixel size of a PNG, read from its IHDR chunk (PNG spec §11.2.2): Discord reports width
// and height for image attachments, and the emulator must too. Reading 24 bytes does not need
// libspng; nothing is decoded.

#include <cstdint>
#include <optional>
#include <string_view>

namespace mando::emulator {

struct PngSize {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
};

// nullopt unless `bytes` starts with the PNG signature and a well-formed IHDR chunk whose width
// and height are 1..2^31-1.
std::optional<PngSize> png_size(std::string_view bytes);

}  // namespace mando::emulator
