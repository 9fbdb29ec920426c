#include "transform/pipeline.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include <fmt/format.h>

#include "core/log.hpp"
#include "transform/probe.hpp"
#include "transform/vips_image.hpp"
#include <webp/mux.h>

namespace mando::transform {
namespace detail {

std::string take_vips_error() {
  std::string text = vips_error_buffer();
  vips_error_clear();
  if (const auto eol = text.find('\n'); eol != std::string::npos) text.resize(eol);
  return text.empty() ? "unknown libvips error" : text;
}

Error decode_error() {
  const std::string reason = take_vips_error();
  if (reason.find("out of memory") != std::string::npos) {
    // libvips' text names its allocator and the size; the caller needs only what happened.
    core::logger("transform")->info("decode failed: {}", reason);
    return Error{ErrorKind::kResourceExhausted, "could not be read (out of memory)"};
  }
  return Error{ErrorKind::kInvalidArgument, fmt::format("could not be read ({})", reason)};
}

namespace {

VipsInteresting interesting(Crop crop) {
  switch (crop) {
    case Crop::kAttention:
      return VIPS_INTERESTING_ATTENTION;
    case Crop::kEntropy:
      return VIPS_INTERESTING_ENTROPY;
    case Crop::kCentre:
      return VIPS_INTERESTING_CENTRE;
    case Crop::kNone:
      return VIPS_INTERESTING_NONE;
  }
  return VIPS_INTERESTING_NONE;
}

// Replaces `image` with the result of a libvips call that wrote `out`; false (with the error in
// libvips' buffer) when the call failed. `out` by reference: it is read after the call that
// wrote it, whatever order the arguments are evaluated in.
bool step(Image& image, int rc, VipsImage*& out) {
  if (rc != 0) return false;
  image.reset(out);
  return true;
}

// To 8-bit sRGB. vips_thumbnail keeps an embedded profile (Display P3 from a phone, Adobe RGB,
// a CMYK press profile) rather than converting, and stripping it afterwards would shift every
// colour, so it is applied here. A profile lcms cannot use is ignored (the pixels are then
// taken as sRGB) rather than refusing the picture.
bool to_srgb(Image& image) {
  VipsImage* out = nullptr;
  if (vips_image_get_typeof(image.get(), VIPS_META_ICC_NAME) != 0) {
    if (!step(image,
              vips_icc_transform(image.get(), &out, "srgb", "embedded", TRUE, "depth", 8, nullptr),
              out)) {
      core::logger("transform")->debug("icc profile ignored: {}", take_vips_error());
    }
  }
  if (image->Type != VIPS_INTERPRETATION_sRGB || image->BandFmt != VIPS_FORMAT_UCHAR) {
    if (!step(image, vips_colourspace(image.get(), &out, VIPS_INTERPRETATION_sRGB, nullptr), out)) {
      return false;
    }
    if (image->BandFmt != VIPS_FORMAT_UCHAR &&
        !step(image, vips_cast_uchar(image.get(), &out, nullptr), out)) {
      return false;
    }
  }
  return true;
}

}  // namespace

namespace {

// The JPEG scale libjpeg should decode at (1, 2, 4 or 8): the largest that still leaves the
// picture at least `side` pixels where it must be (both sides when cropping, the longer one when
// fitting). vips_thumbnail picks one step less, to leave the final resize a factor of two; at
// 12 megapixels to 512 px that means decoding 3 megapixels instead of 0.75, 15 to 30% more CPU
// per picture (bench/transform_bench: BM_VipsThumbnailBuffer against BM_Thumbnail). libjpeg's
// scaled IDCT is a proper low-pass (it drops the high-frequency coefficients), so the extra
// headroom buys little at these sizes.
int jpeg_shrink(const ImageHeader& header, int side, Crop crop) {
  const std::uint32_t edge = crop == Crop::kNone ? std::max(header.width, header.height)
                                                 : std::min(header.width, header.height);
  for (int shrink : {8, 4, 2}) {
    if (edge >= static_cast<std::uint32_t>(shrink) * side) return shrink;
  }
  return 1;
}

// libvips reads the buffer in place (it wraps it in a blob without copying); the const_casts
// are for its C signatures. GIF and WebP animations load their first frame only (the loaders'
// default n=1).
int load_and_fit(std::string_view input, const ImageHeader& header, int side, Crop crop,
                 VipsImage** out) {
  auto* data = const_cast<char*>(input.data());
  if (header.type == ImageType::kJpeg) {
    VipsImage* loaded = nullptr;
    if (vips_jpegload_buffer(data, input.size(), &loaded, "shrink", jpeg_shrink(header, side, crop),
                             "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_ERROR,
                             nullptr) != 0) {
      return -1;
    }
    Image owner(loaded);
    return vips_thumbnail_image(loaded, out, side, "height", side, "crop", interesting(crop),
                                nullptr);
  }
  // PNG and GIF have no shrink-on-load; WebP's is libwebp decoding at the target scale. The
  // loader is chosen by libvips' sniffing, which for the types probe() admits can only pick the
  // three unblocked ones. fail_on goes in the loader's option string: libvips 8.14's
  // thumbnail_buffer does not hand its own fail_on property to the loader.
  return vips_thumbnail_buffer(data, input.size(), out, side, "height", side, "crop",
                               interesting(crop), "option_string", "[fail_on=error]", nullptr);
}

}  // namespace

Result<Image> load_fitted(std::string_view input, int side, Crop crop, const DecodeLimits& limits) {
  auto header = probe(input, limits);
  if (!header) return tl::unexpected(header.error());
  VipsImage* out = nullptr;
  if (load_and_fit(input, *header, side, crop, &out) != 0) return tl::unexpected(decode_error());
  Image image(out);
  if (!to_srgb(image)) return tl::unexpected(decode_error());
  return image;
}

namespace {

// A copy of `image` without any metadata field: EXIF (GPS), XMP, IPTC, ICC, comments. Savers are
// also told to strip, but libvips 8.14's webpsave writes EXIF regardless.
Result<Image> without_metadata(VipsImage* image, Format format) {
  VipsImage* out = nullptr;
  Image copy;
  if (format == Format::kJpeg && vips_image_hasalpha(image)) {
    VipsArrayDouble* white = vips_array_double_newv(3, 255.0, 255.0, 255.0);
    const int rc = vips_flatten(image, &out, "background", white, nullptr);
    vips_area_unref(VIPS_AREA(white));
    if (rc != 0) return tl::unexpected(decode_error());
  } else if (vips_copy(image, &out, nullptr) != 0) {
    return tl::unexpected(decode_error());
  }
  copy.reset(out);
  core::CHandle<char*, g_strfreev> names(vips_image_get_fields(copy.get()));
  for (char** name = names.get(); *name != nullptr; ++name) {
    // vips-* fields are libvips' own processing hints (vips-loader, vips-sequential); the
    // header's built-in fields (width, bands, ...) cannot be removed and are left alone.
    if (!std::string_view(*name).starts_with("vips-")) vips_image_remove(copy.get(), *name);
  }
  return copy;
}

// libvips 8.14's webpsave writes an EXIF chunk (orientation, resolution) even with strip=TRUE
// and no metadata on the image; libwebpmux takes it out of the encoded file.
Result<std::string> strip_webp_metadata(std::string webp) {
  const WebPData data{reinterpret_cast<const std::uint8_t*>(webp.data()), webp.size()};
  core::CHandle<WebPMux, WebPMuxDelete> mux(WebPMuxCreate(&data, 0));
  if (!mux) return fail(ErrorKind::kInternal, "webp: the encoded file does not parse");
  bool removed = false;
  for (const char* chunk : {"EXIF", "XMP ", "ICCP"}) {
    removed |= WebPMuxDeleteChunk(mux.get(), chunk) == WEBP_MUX_OK;
  }
  if (!removed) return webp;
  WebPData assembled;
  WebPDataInit(&assembled);
  core::CHandle<WebPData, WebPDataClear> owner(&assembled);
  if (WebPMuxAssemble(mux.get(), &assembled) != WEBP_MUX_OK) {
    return fail(ErrorKind::kInternal, "webp: cannot rewrite the encoded file");
  }
  return std::string(reinterpret_cast<const char*>(assembled.bytes), assembled.size);
}

}  // namespace

Result<std::string> encode(VipsImage* source, Format format, int quality) {
  auto stripped = without_metadata(source, format);
  if (!stripped) return tl::unexpected(stripped.error());
  VipsImage* image = stripped->get();
  void* buffer = nullptr;
  std::size_t length = 0;
  int rc = -1;
  // strip=TRUE on top of without_metadata(), for savers that add chunks of their own.
  switch (format) {
    case Format::kJpeg:
      // Baseline, not progressive: a progressive file makes every viewer keep a coefficient
      // buffer and decode in several passes, which buys nothing for a small picture that is
      // fetched whole. optimize_coding: Huffman tables for this picture, a few percent smaller.
      rc = vips_jpegsave_buffer(image, &buffer, &length, "Q", quality, "strip", TRUE,
                                "optimize_coding", TRUE, "interlace", FALSE, nullptr);
      break;
    case Format::kPng:
      rc = vips_pngsave_buffer(image, &buffer, &length, "strip", TRUE, nullptr);
      break;
    case Format::kWebp:
      rc = vips_webpsave_buffer(image, &buffer, &length, "Q", quality, "strip", TRUE, nullptr);
      break;
  }
  // Pixels are decoded while they are encoded, so a truncated input fails here.
  if (rc != 0) return tl::unexpected(decode_error());
  core::CHandle<void, g_free> owner(buffer);
  std::string bytes(static_cast<const char*>(buffer), length);
  if (format == Format::kWebp) return strip_webp_metadata(std::move(bytes));
  return bytes;
}

}  // namespace detail

namespace {

// libvips' warnings (a corrupt tile, an ignored profile) describe hostile or broken input, which
// is routine: they go to the transform logger at debug level, not to stderr.
void log_vips_message(const gchar* /*domain*/, GLogLevelFlags level, const gchar* message,
                      gpointer /*data*/) {
  const bool serious = (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) != 0;
  core::logger("transform")
      ->log(serious ? spdlog::level::err : spdlog::level::debug, "vips: {}", message);
}

void start_vips() {
  // libvips loads its optional modules (HEIF, PDF through poppler, ImageMagick, OpenSlide,
  // JPEG XL) from $VIPSHOME/lib when VIPSHOME is set. Pointing it at a directory that does not
  // exist keeps those decoders, and the libraries they pull in, out of the process entirely;
  // blocking them below would be a second line only.
  ::setenv("VIPSHOME", "/nonexistent/mando-no-vips-modules", 1);
  // Above this size libvips decodes random-access images to a temporary file; in a worker the
  // address-space limit bounds memory instead, and nothing is written to disk.
  ::setenv("VIPS_DISC_THRESHOLD", "16g", 1);
  if (VIPS_INIT("mando") != 0) {
    core::logger("transform")->critical("libvips failed to start: {}", vips_error_buffer());
    std::abort();
  }
  g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_MASK), log_vips_message,
                    nullptr);
  vips_concurrency_set(1);
  vips_cache_set_max(0);
  vips_cache_set_max_mem(0);
  vips_cache_set_max_files(0);
  vips_block_untrusted_set(TRUE);
  vips_operation_block_set("VipsForeignLoad", TRUE);
  for (const char* loader : {"VipsForeignLoadJpegBuffer", "VipsForeignLoadPngBuffer",
                             "VipsForeignLoadWebpBuffer", "VipsForeignLoadNsgifBuffer"}) {
    vips_operation_block_set(loader, FALSE);
  }
}

}  // namespace

void init_vips() {
  static std::once_flag once;
  std::call_once(once, start_vips);
}

Result<std::string> thumbnail(std::string_view input, const TransformSpec& spec,
                              const DecodeLimits& limits) {
  if (auto ok = validate(spec); !ok) return tl::unexpected(ok.error());
  if (auto ok = validate(limits); !ok) return tl::unexpected(ok.error());
  auto image = detail::load_fitted(input, spec.size, spec.crop, limits);
  if (!image) return tl::unexpected(image.error());
  return detail::encode(image->get(), spec.format, detail::kDefaultQuality);
}

}  // namespace mando::transform
