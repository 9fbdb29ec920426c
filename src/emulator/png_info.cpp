#include "emulator/png_info.hpp"

namespace mando::emulator {
namespace {

std::uint32_t be32(std::string_view b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

}  // namespace

std::optional<PngSize> png_size(std::string_view bytes) {
  static constexpr std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);
  // Signature, then the first chunk: length 13, type IHDR, width, height.
  if (bytes.size() < 24 || bytes.substr(0, 8) != kSignature) return std::nullopt;
  if (be32(bytes, 8) != 13 || bytes.substr(12, 4) != "IHDR") return std::nullopt;
  const PngSize size{be32(bytes, 16), be32(bytes, 20)};
  constexpr std::uint32_t kMax = 0x7fffffffu;
  if (size.width == 0 || size.height == 0 || size.width > kMax || size.height > kMax) {
    return std::nullopt;
  }
  return size;
}

}  // namespace mando::emulator
