#include "transform/framing.hpp"

#include <fmt/format.h>

#include "transform/bytes.hpp"

namespace mando::transform::wire {
namespace {

using detail::ByteReader;
using detail::put_u32le;
using detail::put_u64le;
using detail::put_u8;

constexpr std::size_t kThumbnailFields = 4 + 4 + 1 + 1 + 8 + 4 + 8;

tl::unexpected<Error> malformed(std::string what) {
  return fail(ErrorKind::kInternal, "worker protocol: " + std::move(what));
}

Result<Header> parse_header(const HeaderBytes& bytes, bool request) {
  ByteReader in(std::string_view(bytes.data(), bytes.size()));
  const std::uint8_t version = in.u8();
  const auto type = static_cast<Type>(in.u8());
  const std::uint32_t length = in.u32le();
  if (version != kVersion) return malformed(fmt::format("version {}", version));
  std::uint32_t cap = 0;
  switch (type) {
    case Type::kThumbnail:
    case Type::kSheet:
      cap = request ? kMaxRequestBody : 0;
      break;
    case Type::kImage:
    case Type::kError:
      cap = request ? 0 : kMaxAnswerBody;
      break;
    case Type::kReady:
      if (!request && length == 0) return Header{type, 0};
      break;
  }
  if (cap == 0) return malformed(fmt::format("unexpected frame type {}", static_cast<int>(type)));
  if (length > cap) return malformed(fmt::format("frame of {} bytes", length));
  return Header{type, length};
}

}  // namespace

HeaderBytes encode_header(Type type, std::uint32_t length) {
  std::string out;
  put_u8(out, kVersion);
  put_u8(out, static_cast<std::uint8_t>(type));
  put_u32le(out, length);
  HeaderBytes bytes;
  std::copy(out.begin(), out.end(), bytes.begin());
  return bytes;
}

Result<Header> parse_request_header(const HeaderBytes& bytes) { return parse_header(bytes, true); }
Result<Header> parse_answer_header(const HeaderBytes& bytes) { return parse_header(bytes, false); }

Result<std::string> thumbnail_prefix(const ThumbnailRequest& r) {
  const std::uint64_t body = kThumbnailFields + r.input.size();
  if (body > kMaxRequestBody) return fail(ErrorKind::kInvalidArgument, "the file is too large");
  const auto header = encode_header(Type::kThumbnail, static_cast<std::uint32_t>(body));
  std::string out(header.begin(), header.end());
  put_u32le(out, r.cpu_seconds);
  put_u32le(out, static_cast<std::uint32_t>(r.spec.size));
  put_u8(out, static_cast<std::uint8_t>(r.spec.crop));
  put_u8(out, static_cast<std::uint8_t>(r.spec.format));
  put_u64le(out, r.limits.max_pixels);
  put_u32le(out, static_cast<std::uint32_t>(r.limits.max_frames));
  put_u64le(out, r.limits.max_input_bytes);
  return out;
}

Result<std::string> encode_sheet(const SheetRequest& r) {
  std::uint64_t body = 4 + 4 + 1 + 8 + 4;
  for (const auto& tile : r.tiles) body += 4 + tile.size();
  if (body > kMaxRequestBody) {
    return fail(ErrorKind::kInvalidArgument, "the contact sheet's pictures are too large");
  }
  const auto header = encode_header(Type::kSheet, static_cast<std::uint32_t>(body));
  std::string out(header.begin(), header.end());
  out.reserve(kHeaderSize + body);
  put_u32le(out, r.cpu_seconds);
  put_u32le(out, static_cast<std::uint32_t>(r.spec.tile));
  put_u8(out, static_cast<std::uint8_t>(r.spec.format));
  put_u64le(out, r.spec.max_bytes);
  put_u32le(out, static_cast<std::uint32_t>(r.tiles.size()));
  for (const auto& tile : r.tiles) {
    put_u32le(out, static_cast<std::uint32_t>(tile.size()));
    out += tile;
  }
  return out;
}

namespace {

// The enums travel as their underlying values; a value outside the enum is malformed.
template <typename E>
bool to_enum(std::uint8_t value, E last, E& out) {
  if (value > static_cast<std::uint8_t>(last)) return false;
  out = static_cast<E>(value);
  return true;
}

}  // namespace

Result<ThumbnailRequest> parse_thumbnail(std::string_view body) {
  ByteReader in(body);
  ThumbnailRequest r;
  r.cpu_seconds = in.u32le();
  r.spec.size = static_cast<int>(in.u32le());
  const bool enums =
      to_enum(in.u8(), Crop::kNone, r.spec.crop) & to_enum(in.u8(), Format::kWebp, r.spec.format);
  r.limits.max_pixels = in.u64le();
  const std::uint32_t frames = in.u32le();
  r.limits.max_input_bytes = in.u64le();
  if (!in.ok() || !enums || frames > 0x7fffffff) return malformed("thumbnail request");
  r.limits.max_frames = static_cast<int>(frames);
  r.input = body.substr(kThumbnailFields);
  return r;
}

Result<SheetRequest> parse_sheet(std::string_view body) {
  ByteReader in(body);
  SheetRequest r;
  r.cpu_seconds = in.u32le();
  r.spec.tile = static_cast<int>(in.u32le() & 0x7fffffff);
  const bool format = to_enum(in.u8(), Format::kWebp, r.spec.format);
  r.spec.max_bytes = in.u64le();
  const std::uint32_t count = in.u32le();
  if (!in.ok() || !format || count > static_cast<std::uint32_t>(kMaxSheetTiles)) {
    return malformed("sheet request");
  }
  r.tiles.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint32_t length = in.u32le();
    const std::string_view tile = in.take(length);
    if (!in.ok()) return malformed("sheet request tile");
    r.tiles.emplace_back(tile);
  }
  if (!in.at_end()) return malformed("sheet request trailing bytes");
  return r;
}

std::string encode_error(const Error& error) {
  const std::string_view message = std::string_view(error.message).substr(0, kMaxErrorMessage);
  const auto header = encode_header(Type::kError, static_cast<std::uint32_t>(1 + message.size()));
  std::string out(header.begin(), header.end());
  put_u8(out, static_cast<std::uint8_t>(error.kind));
  out += message;
  return out;
}

Result<Result<std::string>> parse_answer(Type type, std::string body) {
  if (type == Type::kImage) {
    if (body.empty()) return malformed("empty image");
    return Result<std::string>(std::move(body));
  }
  ErrorKind kind;
  if (type != Type::kError || body.empty() || body.size() > 1 + kMaxErrorMessage ||
      !to_enum(static_cast<std::uint8_t>(body[0]), ErrorKind::kInternal, kind)) {
    return malformed("error answer");
  }
  return Result<std::string>(tl::unexpected(Error{kind, body.substr(1)}));
}

}  // namespace mando::transform::wire
