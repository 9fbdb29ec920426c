#include "render/render.hpp"

#include "render/mandala.hpp"

namespace mando::render {

Result<Bytes> render_file(const MandalaSpec& spec) {
  const WebpOptions webp{.lossy = spec.lossy, .quality = spec.quality};
  if (spec.frames == 0) {
    auto image = render_mandala(spec);
    if (!image) return tl::unexpected(image.error());
    return spec.format == Format::kPng ? encode_png(*image) : encode_webp(*image, webp);
  }
  if (auto valid = validate(spec); !valid) return tl::unexpected(valid.error());
  auto encoder = AnimationEncoder::create(spec.size, spec.size, kFrameMs, webp);
  if (!encoder) return tl::unexpected(encoder.error());
  for (int frame = 0; frame < spec.frames; ++frame) {
    auto image = render_mandala(spec, frame);
    if (!image) return tl::unexpected(image.error());
    if (auto added = encoder->add(*image); !added) return tl::unexpected(added.error());
  }
  return encoder->finish();
}

std::string_view file_extension(const MandalaSpec& spec) {
  return spec.format == Format::kPng ? "png" : "webp";
}

std::string_view mime_type(const MandalaSpec& spec) {
  return spec.format == Format::kPng ? "image/png" : "image/webp";
}

}  // namespace mando::render
