#include "emulator/multipart.hpp"

#include <gtest/gtest.h>

#include "emulator/png_info.hpp"

namespace mando::emulator {
namespace {

TEST(MultipartTest, BoundaryFromContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc123").value(), "abc123");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;boundary=\"a b:c\"").value(), "a b:c");
  EXPECT_FALSE(multipart_boundary("application/json"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"\""));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"unterminated"));
}

TEST(MultipartTest, ParsesPayloadAndFiles) {
  const std::string body =
      std::string(
          "--XyZ\r\n"
          "Content-Disposition: form-data; name=\"payload_json\"\r\n"
          "Content-Type: application/json\r\n\r\n"
          "{\"content\":\"hi\"}\r\n"
          "--XyZ\r\n"
          "Content-Disposition: form-data; name=\"files[0]\"; filename=\"a \\\"b\\\".png\"\r\n"
          "Content-Type: image/png\r\n\r\n") +
      std::string("bin\r\n--X\0ary\r\n", 14) + "--XyZ--\r\nepilogue";
  auto parts = parse_form_data("multipart/form-data; boundary=XyZ", body);
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "payload_json");
  EXPECT_FALSE((*parts)[0].filename);
  EXPECT_EQ((*parts)[0].data, "{\"content\":\"hi\"}");
  EXPECT_EQ((*parts)[1].name, "files[0]");
  EXPECT_EQ((*parts)[1].filename.value(), "a \"b\".png");
  EXPECT_EQ((*parts)[1].content_type, "image/png");
  EXPECT_EQ((*parts)[1].data, std::string("bin\r\n--X\0ary", 12));
}

TEST(MultipartTest, PreambleIsSkipped) {
  auto parts = parse_multipart(
      "preamble\r\n--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--b--", "b");
  ASSERT_TRUE(parts) << parts.error().message;
  EXPECT_EQ(parts->at(0).data, "v");
}

TEST(MultipartTest, RefusesMalformedBodies) {
  const char* bad[] = {
      "",                                                                  // nothing
      "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv",            // truncated
      "--b\r\nContent-Disposition: form-data; name=x\r\nv\r\n--b--",       // no blank line
      "--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--",                 // no disposition
      "--b\r\nContent-Disposition: attachment; name=x\r\n\r\nv\r\n--b--",  // not form-data
      "--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--",           // no name
      "--b\r\nContent-Disposition: form-data; name=x\r\n folded\r\n\r\nv\r\n--b--",
      "--bX\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--b--",  // junk after boundary
  };
  for (const char* body : bad) {
    auto parts = parse_multipart(body, "b");
    EXPECT_FALSE(parts) << body;
    if (!parts) {
      EXPECT_EQ(parts.error().kind, ErrorKind::kInvalidArgument);
    }
  }
}

TEST(MultipartTest, LimitsAreEnforced) {
  std::string body;
  for (int i = 0; i < 3; ++i) body += "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n";
  body += "--b--";
  MultipartLimits limits;
  limits.max_parts = 2;
  EXPECT_FALSE(parse_multipart(body, "b", limits));
  limits.max_parts = 3;
  EXPECT_TRUE(parse_multipart(body, "b", limits));
  limits.max_part_header_bytes = 10;
  EXPECT_FALSE(parse_multipart(body, "b", limits));
}

TEST(PngInfoTest, ReadsIhdr) {
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x04\0\0\0\x02\x01", 24);
  auto size = png_size(png);
  ASSERT_TRUE(size);
  EXPECT_EQ(size->width, 1024u);
  EXPECT_EQ(size->height, 513u);
  EXPECT_FALSE(png_size(png.substr(0, 23)));
  png[12] = 'X';
  EXPECT_FALSE(png_size(png));
  EXPECT_FALSE(png_size("GIF89a"));
}

}  // namespace
}  // namespace mando::emulator
