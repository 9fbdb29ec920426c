#pragma once
// The libvips pipeline: one untrusted picture to a small square, and many squares to one
// numbered contact sheet. These functions decode hostile input, so mando runs them only inside
// the isolated worker processes of pool.hpp (and the tests run them directly); the bot calls
// WorkerPool, never these.
//
// Safety, in the order an input meets it:
//   1. probe() (probe.hpp): the type from magic bytes, and the declared size and frame count,
//      checked against DecodeLimits before libvips sees a byte.
//   2. init_vips() blocks every libvips loader but the four buffer loaders for JPEG, PNG, WebP
//      and GIF, and every operation libvips marks untrusted; its optional modules (HEIF, PDF,
//      ImageMagick, OpenSlide, JPEG XL) are never loaded.
//   3. Decoding fails on the first error (VIPS_FAIL_ON_ERROR): a truncated JPEG is "could not be
//      read", not a grey-bottomed picture.
//   4. The output is re-encoded from pixels in sRGB with every metadata field stripped: no EXIF
//      (GPS), XMP, IPTC or ICC profile survives.
// Memory and time are bounded by the worker process itself (pool.hpp).
//
// Thread-safety: call init_vips() first; then any thread may call the others, but libvips keeps
// one error buffer per process, so workers run one job at a time.

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "transform/spec.hpp"

namespace mando::transform {

// Starts libvips for this process, once (later calls do nothing): one thread per operation, no
// operation cache (every job is a different file), the loader blocks above. Aborts the process
// when libvips cannot start: nothing could be decoded.
void init_vips();

// Decodes `input` (JPEG, PNG, WebP, or a GIF's first frame), applies its EXIF orientation,
// resizes (a JPEG is decoded at 1/2, 1/4 or 1/8 scale when that still covers the square) and
// crops to spec.size x spec.size (Crop::kNone: fits inside),
// and encodes it as spec.format. Errors:
//   kInvalidArgument  a refused or malformed input: probe()'s messages, or
//                     "could not be read (<libvips' reason>)" when decoding fails;
//   kResourceExhausted  "could not be read (out of memory)";
//   kInternal         libwebpmux could not rewrite the WebP libvips wrote (not expected).
Result<std::string> thumbnail(std::string_view input, const TransformSpec& spec,
                              const DecodeLimits& limits);

// Lays out `tiles` (this pipeline's outputs, in the user's order) in a grid of ceil(sqrt(n))
// columns, each cell numbered 1..n in its top-left corner, and encodes it as spec.format in at
// most spec.max_bytes. An empty string, or a tile that does not decode, is a failed input: its
// cell is grey with its number, so numbers stay those of the user's inputs. Errors:
// kInvalidArgument (no tiles, more than kMaxSheetTiles, a bad spec), kResourceExhausted (the
// sheet does not fit in max_bytes even with the smallest tiles).
Result<std::string> contact_sheet(const std::vector<std::string>& tiles, const SheetSpec& spec);

}  // namespace mando::transform
