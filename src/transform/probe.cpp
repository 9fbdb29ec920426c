#include "transform/probe.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "transform/bytes.hpp"
#include <webp/decode.h>

namespace mando::transform {
namespace {

// The headers are walked by hand: libjpeg, libpng and libvips read a header only as the first
// step of a decoder that then allocates for it, and no library walks GIF blocks without
// decoding them. WebP's header is libwebp's (WebPGetFeatures). Every read is bounds-checked;
// a header that runs past the end of the file is "could not be read".
using Reader = detail::ByteReader;

tl::unexpected<Error> invalid(std::string message) {
  return fail(ErrorKind::kInvalidArgument, std::move(message));
}

tl::unexpected<Error> unreadable(std::string_view why) {
  return invalid(fmt::format("could not be read ({})", why));
}

constexpr std::string_view kSupported = "JPEG, PNG, WebP or GIF only";

bool starts_with(std::string_view bytes, std::string_view magic, std::size_t offset = 0) {
  return bytes.size() >= offset + magic.size() && bytes.substr(offset, magic.size()) == magic;
}

using namespace std::string_view_literals;

// Types mando recognises in order to say what they are, and refuses: each has a decoder in
// libvips (or a module it can load) with a history of vulnerabilities, or is not a picture.
struct Refused {
  std::string_view magic;
  std::size_t offset;
  std::string_view what;
};
constexpr std::array kRefused{
    Refused{"II*\0"sv, 0, "TIFF images"},
    Refused{"MM\0*"sv, 0, "TIFF images"},
    Refused{"II+\0"sv, 0, "TIFF images"},
    Refused{"MM\0+"sv, 0, "TIFF images"},
    Refused{"%PDF"sv, 0, "PDF documents"},
    Refused{"BM"sv, 0, "BMP images"},
    Refused{"8BPS"sv, 0, "Photoshop documents"},
    Refused{"\xff\x0a"sv, 0, "JPEG XL images"},
    Refused{"\0\0\0\x0cJXL \x0d\x0a\x87\x0a"sv, 0, "JPEG XL images"},
    Refused{"\0\0\0\x0cjP  \x0d\x0a\x87\x0a"sv, 0, "JPEG 2000 images"},
    Refused{"\xff\x4f\xff\x51"sv, 0, "JPEG 2000 images"},
    Refused{"ftypavif"sv, 4, "AVIF images"},
    Refused{"ftypavis"sv, 4, "AVIF images"},
    Refused{"ftyp"sv, 4, "HEIF images or videos"},
};

// An SVG is text: optional byte order mark and white space, then markup naming <svg early on.
bool looks_like_svg(std::string_view bytes) {
  if (starts_with(bytes, "\xef\xbb\xbf")) bytes.remove_prefix(3);
  const auto start = bytes.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || bytes[start] != '<') return false;
  return bytes.substr(start, 4096).find("<svg") != std::string_view::npos;
}

tl::unexpected<Error> refuse_unsupported(std::string_view bytes) {
  for (const auto& r : kRefused) {
    if (starts_with(bytes, r.magic, r.offset)) {
      return invalid(fmt::format("{} are not supported ({})", r.what, kSupported));
    }
  }
  if (looks_like_svg(bytes)) {
    return invalid(fmt::format("SVG images are not supported ({})", kSupported));
  }
  return invalid(fmt::format("not a supported image type ({})", kSupported));
}

// JPEG: markers from SOI up to the first start-of-frame, whose segment holds the size.
Result<ImageHeader> read_jpeg(std::string_view bytes) {
  Reader in(bytes, 2);
  while (in.has(2)) {
    if (in.u8() != 0xff) return unreadable("malformed JPEG marker");
    std::uint8_t marker = in.u8();
    while (marker == 0xff && in.has(1)) marker = in.u8();  // fill bytes
    const bool standalone = marker == 0x01 || marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7);
    if (standalone) continue;
    if (marker == 0xd9 || marker == 0xda) break;  // end of image or scan data before any frame
    const std::uint16_t length = in.u16be();
    if (length < 2) return unreadable("malformed JPEG segment");
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
    const bool frame =
        marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (frame) {
      if (length < 7 || !in.has(5)) break;
      in.skip(1);  // sample precision
      const std::uint32_t height = in.u16be();
      const std::uint32_t width = in.u16be();
      // A height of 0 is defined later by a DNL marker, which libjpeg does not support.
      if (width == 0 || height == 0) return unreadable("JPEG without a declared size");
      return ImageHeader{ImageType::kJpeg, width, height, 1};
    }
    in.skip(length - 2);
  }
  return unreadable("no JPEG frame header");
}

Result<ImageHeader> read_png(std::string_view bytes) {
  Reader in(bytes, 8);
  const std::uint32_t length = in.u32be();
  if (in.take(4) != "IHDR" || length != 13) return unreadable("PNG without an IHDR header");
  const std::uint32_t width = in.u32be();
  const std::uint32_t height = in.u32be();
  if (!in.has(5)) return unreadable("truncated PNG header");
  constexpr std::uint32_t kPngMax = 0x7fffffff;
  if (width == 0 || height == 0 || width > kPngMax || height > kPngMax) {
    return unreadable("PNG with an invalid size");
  }
  return ImageHeader{ImageType::kPng, width, height, 1};
}

// RIFF chunks after "WEBP": an animation holds one ANMF chunk per frame.
int count_webp_frames(std::string_view bytes, int stop_after) {
  Reader in(bytes, 12);
  int frames = 0;
  while (in.has(8) && frames <= stop_after) {
    const std::string_view fourcc = in.take(4);
    const std::uint32_t size = in.u32le();
    if (fourcc == "ANMF") ++frames;
    in.skip(std::size_t{size} + (size & 1));
  }
  return frames;
}

Result<ImageHeader> read_webp(std::string_view bytes, const DecodeLimits& limits) {
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                      &features) != VP8_STATUS_OK ||
      features.width <= 0 || features.height <= 0) {
    return unreadable("malformed WebP header");
  }
  const int frames = features.has_animation ? count_webp_frames(bytes, limits.max_frames) : 1;
  if (frames == 0) return unreadable("WebP animation without frames");
  return ImageHeader{ImageType::kWebp, static_cast<std::uint32_t>(features.width),
                     static_cast<std::uint32_t>(features.height), frames};
}

// Skips a chain of GIF data sub-blocks (a length byte, that many bytes, ..., a zero length).
bool skip_sub_blocks(Reader& in) {
  while (in.has(1)) {
    const std::uint8_t n = in.u8();
    if (n == 0) return true;
    in.skip(n);
  }
  return false;
}

// GIF: the block structure after the logical screen, without decoding any LZW data. A GIF may
// end without its trailer or with junk after the last frame (both common); the frames found
// until then are what libnsgif decodes too.
Result<ImageHeader> read_gif(std::string_view bytes, const DecodeLimits& limits) {
  Reader in(bytes, 6);
  std::uint32_t width = in.u16le();
  std::uint32_t height = in.u16le();
  const std::uint8_t flags = in.u8();
  in.skip(2);                                          // background colour, aspect ratio
  if (flags & 0x80) in.skip(3u << ((flags & 7) + 1));  // global colour table
  int frames = 0;
  while (in.has(1)) {
    const std::uint8_t block = in.u8();
    if (block == 0x21) {  // extension: label, then sub-blocks
      in.skip(1);
      if (!skip_sub_blocks(in)) break;
    } else if (block == 0x2c) {  // image descriptor
      const std::uint32_t left = in.u16le(), top = in.u16le();
      const std::uint32_t w = in.u16le(), h = in.u16le();
      const std::uint8_t image_flags = in.u8();
      if (image_flags & 0x80) in.skip(3u << ((image_flags & 7) + 1));  // local colour table
      in.skip(1);                                                      // LZW minimum code size
      if (!in.has(1)) break;
      width = std::max(width, left + w);
      height = std::max(height, top + h);
      if (++frames > limits.max_frames) {
        return invalid(fmt::format("the animation has more than {} frames", limits.max_frames));
      }
      if (!skip_sub_blocks(in)) break;
    } else {
      break;  // trailer (0x3b) or junk
    }
  }
  if (frames == 0) return unreadable("GIF without frames");
  if (width == 0 || height == 0) return unreadable("GIF with an empty screen");
  return ImageHeader{ImageType::kGif, width, height, frames};
}

std::string format_mib(std::uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

}  // namespace

std::string_view to_string(ImageType type) {
  switch (type) {
    case ImageType::kJpeg:
      return "JPEG";
    case ImageType::kPng:
      return "PNG";
    case ImageType::kWebp:
      return "WebP";
    case ImageType::kGif:
      return "GIF";
  }
  return "JPEG";
}

Result<void> check_input_size(std::size_t size, const DecodeLimits& limits) {
  if (size == 0) return invalid("the file is empty");
  if (size > limits.max_input_bytes) {
    return invalid(fmt::format("the file is {}, larger than {}", format_mib(size),
                               format_mib(limits.max_input_bytes)));
  }
  return {};
}

Result<ImageHeader> probe(std::string_view bytes, const DecodeLimits& limits) {
  if (auto ok = check_input_size(bytes.size(), limits); !ok) return tl::unexpected(ok.error());
  Result<ImageHeader> header;
  if (starts_with(bytes, "\xff\xd8\xff")) {
    header = read_jpeg(bytes);
  } else if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) {
    header = read_png(bytes);
  } else if (starts_with(bytes, "RIFF") && starts_with(bytes, "WEBP", 8)) {
    header = read_webp(bytes, limits);
  } else if (starts_with(bytes, "GIF87a") || starts_with(bytes, "GIF89a")) {
    header = read_gif(bytes, limits);
  } else {
    return refuse_unsupported(bytes);
  }
  if (!header) return header;
  const std::uint64_t pixels = std::uint64_t{header->width} * header->height;
  if (pixels > limits.max_pixels) {
    return invalid(fmt::format("larger than {:g} megapixels ({} × {})",
                               static_cast<double>(limits.max_pixels) / 1e6, header->width,
                               header->height));
  }
  if (header->frames > limits.max_frames) {
    return invalid(fmt::format("the animation has more than {} frames", limits.max_frames));
  }
  return header;
}

}  // namespace mando::transform
