#include "transform/framing.hpp"

#include <gtest/gtest.h>

namespace mando::transform::wire {
namespace {

HeaderBytes header_of(std::string_view frame) {
  HeaderBytes bytes{};
  std::copy_n(frame.begin(), kHeaderSize, bytes.begin());
  return bytes;
}

TEST(TransformFraming, ThumbnailRequestRoundTrips) {
  ThumbnailRequest request;
  request.cpu_seconds = 30;
  request.spec = TransformSpec{300, Crop::kEntropy, Format::kWebp};
  request.limits = DecodeLimits{1234, 56, 789};
  const std::string input = "\xff\xd8\xff and the rest";
  request.input = input;
  auto prefix = thumbnail_prefix(request);
  ASSERT_TRUE(prefix);
  const std::string frame = *prefix + input;
  auto header = parse_request_header(header_of(frame));
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_EQ(header->type, Type::kThumbnail);
  ASSERT_EQ(header->length, frame.size() - kHeaderSize);
  auto parsed = parse_thumbnail(std::string_view(frame).substr(kHeaderSize));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->cpu_seconds, 30u);
  EXPECT_EQ(parsed->spec.size, 300);
  EXPECT_EQ(parsed->spec.crop, Crop::kEntropy);
  EXPECT_EQ(parsed->spec.format, Format::kWebp);
  EXPECT_EQ(parsed->limits.max_pixels, 1234u);
  EXPECT_EQ(parsed->limits.max_frames, 56);
  EXPECT_EQ(parsed->limits.max_input_bytes, 789u);
  EXPECT_EQ(parsed->input, input);
}

TEST(TransformFraming, SheetRequestRoundTripsEmptyTilesIncluded) {
  SheetRequest request;
  request.cpu_seconds = 5;
  request.spec = SheetSpec{128, Format::kPng, 1 << 20};
  request.tiles = {"one", "", std::string(1000, 'x')};
  auto frame = encode_sheet(request);
  ASSERT_TRUE(frame);
  auto header = parse_request_header(header_of(*frame));
  ASSERT_TRUE(header);
  EXPECT_EQ(header->type, Type::kSheet);
  auto parsed = parse_sheet(std::string_view(*frame).substr(kHeaderSize));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->spec.tile, 128);
  EXPECT_EQ(parsed->spec.format, Format::kPng);
  EXPECT_EQ(parsed->spec.max_bytes, 1u << 20);
  EXPECT_EQ(parsed->tiles, request.tiles);
  // Cut anywhere, or with a byte too many, it is malformed.
  const std::string_view body = std::string_view(*frame).substr(kHeaderSize);
  for (std::size_t cut : {body.size() - 1, body.size() - 1000, std::size_t{10}}) {
    EXPECT_FALSE(parse_sheet(body.substr(0, cut))) << cut;
  }
  EXPECT_FALSE(parse_sheet(std::string(body) + "!"));
}

TEST(TransformFraming, ErrorsKeepTheirKindAndMessage) {
  const std::string frame = encode_error(Error{ErrorKind::kResourceExhausted, "too big"});
  auto header = parse_answer_header(header_of(frame));
  ASSERT_TRUE(header);
  EXPECT_EQ(header->type, Type::kError);
  auto answer = parse_answer(header->type, frame.substr(kHeaderSize));
  ASSERT_TRUE(answer);
  ASSERT_FALSE(*answer);
  EXPECT_EQ(answer->error().kind, ErrorKind::kResourceExhausted);
  EXPECT_EQ(answer->error().message, "too big");

  auto image = parse_answer(Type::kImage, "bytes");
  ASSERT_TRUE(image && *image);
  EXPECT_EQ(**image, "bytes");
  // A long message is cut, not refused.
  const std::string long_frame = encode_error(Error{ErrorKind::kInternal, std::string(10000, 'm')});
  EXPECT_TRUE(parse_answer(Type::kError, long_frame.substr(kHeaderSize)));
}

TEST(TransformFraming, MalformedFramesAreRefused) {
  // Each side accepts only the other side's frame types.
  EXPECT_FALSE(parse_request_header(encode_header(Type::kImage, 1)));
  EXPECT_FALSE(parse_answer_header(encode_header(Type::kThumbnail, 1)));
  EXPECT_TRUE(parse_answer_header(encode_header(Type::kReady, 0)));
  EXPECT_FALSE(parse_answer_header(encode_header(Type::kReady, 1)));
  EXPECT_FALSE(parse_request_header(encode_header(static_cast<Type>(99), 1)));
  // Caps apply before anything is allocated.
  EXPECT_TRUE(parse_request_header(encode_header(Type::kThumbnail, kMaxRequestBody)));
  EXPECT_FALSE(parse_request_header(encode_header(Type::kThumbnail, kMaxRequestBody + 1)));
  EXPECT_FALSE(parse_answer_header(encode_header(Type::kImage, kMaxAnswerBody + 1)));
  auto wrong_version = encode_header(Type::kSheet, 1);
  wrong_version[0] = 2;
  auto refused = parse_request_header(wrong_version);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "worker protocol: version 2");
  // Bodies: unknown enum values, an error kind out of range, empty answers.
  ThumbnailRequest request;
  request.input = "x";
  std::string body = thumbnail_prefix(request)->substr(kHeaderSize) + "x";
  body[8] = 7;  // crop
  EXPECT_FALSE(parse_thumbnail(body));
  EXPECT_FALSE(parse_thumbnail(body.substr(0, 10)));
  EXPECT_FALSE(parse_answer(Type::kError, std::string(1, '\x7f') + "msg"));
  EXPECT_FALSE(parse_answer(Type::kError, ""));
  EXPECT_FALSE(parse_answer(Type::kImage, ""));
}

}  // namespace
}  // namespace mando::transform::wire
