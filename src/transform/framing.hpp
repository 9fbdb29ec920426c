#pragma once
// The worker protocol: how WorkerPool (pool.hpp) and worker_main (worker.hpp) talk over a
// socketpair. Both ends parse defensively: the pool does not trust a worker that may be running
// an exploited decoder, and a worker checks its requests although they come from mando.
//
//   frame  = version (1 byte, kVersion) | type (1 byte) | length (u32, little-endian) | body
//
//   1. A worker that has started and sandboxed itself sends kReady (empty body) once.
//   2. The pool sends one request, kThumbnail or kSheet; the worker answers with exactly one
//      kImage (the encoded bytes) or kError (kind byte, then the message), then waits for the
//      next request. One request at a time: a frame never interleaves with another.
//   3. The pool closing its end is the worker's signal to exit (status 0).
// A frame with another version, an unknown type or a length over its cap ends the conversation:
// the reader stops reading (the pool kills the worker; a worker exits with status 3).
//
// Request bodies (integers little-endian):
//   kThumbnail  cpu_seconds u32 | size u32 | crop u8 | format u8 | max_pixels u64
//               | max_frames u32 | max_input_bytes u64 | input bytes (the rest)
//   kSheet      cpu_seconds u32 | tile u32 | format u8 | max_bytes u64 | count u32
//               | count x (length u32 | tile bytes)

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "transform/spec.hpp"

namespace mando::transform::wire {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 6;

enum class Type : std::uint8_t {
  kThumbnail = 1,
  kSheet = 2,
  kReady = 0x10,
  kImage = 0x11,
  kError = 0x12,
};

// Caps on a body, before it is allocated. A request holds one input (DecodeLimits caps it at
// far less) or a sheet's tiles; an answer holds one encoded picture of at most 2048 x 2048 or
// one sheet, bounded by SheetSpec::max_bytes.
inline constexpr std::uint32_t kMaxRequestBody = 256u << 20;
inline constexpr std::uint32_t kMaxAnswerBody = 64u << 20;
inline constexpr std::size_t kMaxErrorMessage = 4096;

struct Header {
  Type type = Type::kReady;
  std::uint32_t length = 0;
};

using HeaderBytes = std::array<char, kHeaderSize>;

HeaderBytes encode_header(Type type, std::uint32_t length);
// A header a worker may receive (kThumbnail, kSheet) or the pool may receive (kReady with an
// empty body, kImage, kError); anything else is kInternal naming what was wrong.
Result<Header> parse_request_header(const HeaderBytes& bytes);
Result<Header> parse_answer_header(const HeaderBytes& bytes);

struct ThumbnailRequest {
  std::uint32_t cpu_seconds = 0;
  TransformSpec spec;
  DecodeLimits limits;
  std::string_view input;  // into the body it was parsed from
};

struct SheetRequest {
  std::uint32_t cpu_seconds = 0;
  SheetSpec spec;
  std::vector<std::string> tiles;
};

// The kThumbnail frame's header and fixed fields; the input follows, sent from the caller's own
// buffer so that a 25 MiB upload is not copied to be framed. Fails when the frame would exceed
// kMaxRequestBody.
Result<std::string> thumbnail_prefix(const ThumbnailRequest& request);
// The whole kSheet frame.
Result<std::string> encode_sheet(const SheetRequest& request);

Result<ThumbnailRequest> parse_thumbnail(std::string_view body);
Result<SheetRequest> parse_sheet(std::string_view body);

// The kError frame (the message cut at kMaxErrorMessage bytes).
std::string encode_error(const Error& error);
// An answer's body as what the job produced: the image, or the pipeline's Error with its kind
// and message. The outer Result fails (kInternal) when the body is malformed.
Result<Result<std::string>> parse_answer(Type type, std::string body);

}  // namespace mando::transform::wire
