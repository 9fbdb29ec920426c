#include "transform/test_images.hpp"

#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "transform/bytes.hpp"
#include "transform/vips_image.hpp"
#include <zlib.h>

namespace mando::transform::testing {
namespace {

using detail::Image;
using detail::put_u32le;
using detail::put_u8;

void put_u16le(std::string& out, std::uint16_t v) {
  put_u8(out, static_cast<std::uint8_t>(v));
  put_u8(out, static_cast<std::uint8_t>(v >> 8));
}

void put_u32be(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) put_u8(out, static_cast<std::uint8_t>(v >> shift));
}

}  // namespace

Pixels Pixels::solid(int width, int height, Rgb colour) {
  return halves(width, height, colour, colour);
}

Pixels Pixels::halves(int width, int height, Rgb left, Rgb right) {
  Pixels p{width, height, {}};
  p.rgb.reserve(static_cast<std::size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const Rgb& c = x < width / 2 ? left : right;
      p.rgb.insert(p.rgb.end(), c.begin(), c.end());
    }
  }
  return p;
}

Pixels Pixels::noise(int width, int height, std::uint32_t seed) {
  Pixels p{width, height, {}};
  p.rgb.resize(static_cast<std::size_t>(width) * height * 3);
  std::uint32_t state = seed | 1;
  for (auto& byte : p.rgb) {
    state ^= state << 13;  // xorshift32
    state ^= state >> 17;
    state ^= state << 5;
    byte = static_cast<std::uint8_t>(state);
  }
  return p;
}

std::string encode(const Pixels& pixels, std::string_view saver) {
  Image image(vips_image_new_from_memory(pixels.rgb.data(), pixels.rgb.size(), pixels.width,
                                         pixels.height, 3, VIPS_FORMAT_UCHAR));
  EXPECT_TRUE(image);
  void* buffer = nullptr;
  std::size_t length = 0;
  std::string suffix = ".";
  suffix += saver;
  const int rc = vips_image_write_to_buffer(image.get(), suffix.c_str(), &buffer, &length, nullptr);
  EXPECT_EQ(rc, 0) << vips_error_buffer();
  core::CHandle<void, g_free> owner(buffer);
  return rc == 0 ? std::string(static_cast<const char*>(buffer), length) : std::string();
}

std::string with_exif(std::string_view jpeg, int orientation, bool gps) {
  // A little-endian TIFF structure: IFD0 at 8, the GPS IFD after it, then the GPS rationals.
  std::string tiff = "II*";
  tiff.push_back('\0');
  put_u32le(tiff, 8);
  const std::uint16_t ifd0_entries = gps ? 2 : 1;
  const std::uint32_t gps_ifd = 8 + 2 + 12 * ifd0_entries + 4;
  put_u16le(tiff, ifd0_entries);
  auto entry = [&](std::uint16_t tag, std::uint16_t type, std::uint32_t count,
                   std::uint32_t value) {
    put_u16le(tiff, tag);
    put_u16le(tiff, type);
    put_u32le(tiff, count);
    put_u32le(tiff, value);
  };
  entry(0x0112, 3, 1, static_cast<std::uint32_t>(orientation));  // Orientation, SHORT
  if (gps) entry(0x8825, 4, 1, gps_ifd);                         // GPSInfo IFD pointer, LONG
  put_u32le(tiff, 0);                                            // no IFD1
  if (gps) {
    const std::uint32_t rationals = gps_ifd + 2 + 12 * 4 + 4;
    put_u16le(tiff, 4);
    entry(0x0001, 2, 2, 'N');             // GPSLatitudeRef "N"
    entry(0x0002, 5, 3, rationals);       // GPSLatitude, 3 RATIONALs
    entry(0x0003, 2, 2, 'W');             // GPSLongitudeRef "W"
    entry(0x0004, 5, 3, rationals + 24);  // GPSLongitude
    put_u32le(tiff, 0);
    for (std::uint32_t v : {51u, 30u, 0u, 0u, 7u, 0u}) {
      put_u32le(tiff, v);
      put_u32le(tiff, 1);
    }
  }
  std::string app1 = "Exif";
  app1.append(2, '\0');
  app1 += tiff;
  std::string out(jpeg.substr(0, 2));  // SOI
  out += "\xff\xe1";
  out.push_back(static_cast<char>((app1.size() + 2) >> 8));
  out.push_back(static_cast<char>((app1.size() + 2) & 0xff));
  out += app1;
  out += jpeg.substr(2);
  return out;
}

namespace {

void png_chunk(std::string& out, std::string_view type, std::string_view data) {
  put_u32be(out, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type) + std::string(data);
  out += body;
  put_u32be(out, static_cast<std::uint32_t>(
                     crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

}  // namespace

std::string png_bomb(std::uint32_t width, std::uint32_t height, bool interlaced) {
  std::string out = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put_u32be(ihdr, width);
  put_u32be(ihdr, height);
  for (std::uint8_t v : {8, 2, 0, 0, interlaced ? 1 : 0}) put_u8(ihdr, v);  // RGB, deflate
  png_chunk(out, "IHDR", ihdr);
  // One filtered row of zeros, deflated: far less data than the header promises.
  const std::string row(1 + 3 * std::min<std::uint32_t>(width, 64), '\0');
  uLongf length = compressBound(row.size());
  std::string idat(length, '\0');
  compress(reinterpret_cast<Bytef*>(idat.data()), &length,
           reinterpret_cast<const Bytef*>(row.data()), row.size());
  idat.resize(length);
  png_chunk(out, "IDAT", idat);
  png_chunk(out, "IEND", "");
  return out;
}

std::string animated_gif(int frames, Rgb first, Rgb later) {
  constexpr int kSide = 16;
  std::string out = "GIF89a";
  put_u16le(out, kSide);
  put_u16le(out, kSide);
  put_u8(out, 0x80);  // global colour table of 2 entries
  put_u8(out, 0);
  put_u8(out, 0);
  out.append(first.begin(), first.end());
  out.append(later.begin(), later.end());
  // Every pixel as its own LZW code after a clear code (codes of 3 bits with a minimum code size
  // of 2): the decoder's table never grows, so this trivial encoder is exact.
  std::string lzw;
  std::uint32_t bits = 0;
  int count = 0;
  auto code = [&](std::uint32_t c) {
    bits |= c << count;
    count += 3;
    while (count >= 8) {
      lzw.push_back(static_cast<char>(bits & 0xff));
      bits >>= 8;
      count -= 8;
    }
  };
  auto image_data = [&](std::uint32_t index) {
    lzw.clear();
    bits = 0;
    count = 0;
    for (int i = 0; i < kSide * kSide; ++i) {
      code(4);  // clear
      code(index);
    }
    code(5);  // end of information
    if (count > 0) lzw.push_back(static_cast<char>(bits & 0xff));
    std::string blocks;
    for (std::size_t at = 0; at < lzw.size(); at += 255) {
      const std::string_view part = std::string_view(lzw).substr(at, 255);
      put_u8(blocks, static_cast<std::uint8_t>(part.size()));
      blocks += part;
    }
    put_u8(blocks, 0);
    return blocks;
  };
  const std::string first_data = image_data(0), later_data = image_data(1);
  for (int f = 0; f < frames; ++f) {
    out += "\x21\xf9\x04";  // graphic control: no disposal, 10 ms delay, no transparency
    for (std::uint8_t v : {0, 1, 0, 0, 0}) put_u8(out, v);
    put_u8(out, 0x2c);
    for (std::uint16_t v : {0, 0, kSide, kSide}) put_u16le(out, v);
    put_u8(out, 0);  // no local colour table
    put_u8(out, 2);  // LZW minimum code size
    out += f == 0 ? first_data : later_data;
  }
  put_u8(out, 0x3b);
  return out;
}

std::vector<double> Decoded::at(int x, int y) const {
  Image image(vips_image_new_from_buffer(bytes.data(), bytes.size(), "", nullptr));
  double* values = nullptr;
  int n = 0;
  if (!image || vips_getpoint(image.get(), &values, &n, x, y, nullptr) != 0) {
    ADD_FAILURE() << "getpoint " << x << "," << y << ": " << vips_error_buffer();
    vips_error_clear();
    return {};
  }
  std::vector<double> out(values, values + n);
  g_free(values);
  return out;
}

bool Decoded::has_field(std::string_view prefix) const {
  return std::any_of(fields.begin(), fields.end(),
                     [&](const std::string& f) { return std::string_view(f).starts_with(prefix); });
}

Decoded decode(const std::string& bytes) {
  Decoded out;
  out.bytes = bytes;
  const char* loader = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  Image image(vips_image_new_from_buffer(bytes.data(), bytes.size(), "", nullptr));
  if (loader == nullptr || !image) {
    vips_error_clear();
    return out;
  }
  out.ok = true;
  out.loader = loader;
  out.width = image->Xsize;
  out.height = image->Ysize;
  out.bands = image->Bands;
  char** names = vips_image_get_fields(image.get());
  for (char** n = names; *n != nullptr; ++n) out.fields.emplace_back(*n);
  g_strfreev(names);
  return out;
}

double distance(const std::vector<double>& pixel, Rgb colour) {
  if (pixel.size() < 3) return 255;
  double worst = 0;
  for (int i = 0; i < 3; ++i) worst = std::max(worst, std::abs(pixel[i] - colour[i]));
  return worst;
}

SheetGrid::SheetGrid(int sheet_width, std::size_t n, int tile_side)
    : columns(static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))))),
      tile(tile_side),
      gap((sheet_width - columns * tile_side) / (columns + 1)) {}

}  // namespace mando::transform::testing
