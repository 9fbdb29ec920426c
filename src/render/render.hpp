#pragma once
// What a worker (or `mando render`) calls: a spec's picture as file bytes, PNG, WebP or
// animated WebP as the spec says. Pure and thread-safe like render_mandala(); run it on the CPU
// pool, never on an I/O thread.

#include <string_view>

#include "core/error.hpp"
#include "render/encode.hpp"
#include "render/spec.hpp"

namespace mando::render {

// How long each animation frame shows: 48 frames make a 2.4 s loop.
inline constexpr int kFrameMs = 50;

Result<Bytes> render_file(const MandalaSpec& spec);

// "png" or "webp", and the MIME type, for naming and serving the bytes.
std::string_view file_extension(const MandalaSpec& spec);
std::string_view mime_type(const MandalaSpec& spec);

}  // namespace mando::render
