#include "storage/blob_routes.hpp"

#include <gtest/gtest.h>

#include "storage/local_store_fixture.hpp"

namespace mando::storage {
namespace {

using namespace std::chrono_literals;

const TimePoint kNow{std::chrono::seconds(1795413630)};  // 2026-11-23T06:00:30Z

Object object(std::string bytes) {
  Object o;
  o.bytes = std::move(bytes);
  o.info.key = "k.png";
  o.info.size = o.bytes.size();
  o.info.content_type = "image/png";
  o.info.etag = "\"abc\"";
  o.info.last_modified = kNow - 1h;
  return o;
}

net::Response respond(std::vector<std::pair<std::string, std::string>> headers,
                      std::string bytes = "0123456789") {
  net::Request request;
  request.method = "GET";
  request.target = "/blobs/k.png";
  for (auto& [name, value] : headers) request.headers.add(name, value);
  return blob_response(request, object(std::move(bytes)), kNow, kNow + 2h, false);
}

TEST(BlobResponseTest, AWholeBlobCarriesItsValidatorsAndCachesUntilItExpires) {
  auto res = respond({});
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "0123456789");
  EXPECT_EQ(res.headers.get("Content-Type"), "image/png");
  EXPECT_EQ(res.headers.get("ETag"), "\"abc\"");
  EXPECT_EQ(res.headers.get("Last-Modified"), "Mon, 23 Nov 2026 05:00:30 GMT");
  EXPECT_EQ(res.headers.get("Cache-Control"), "public, max-age=7200");
  EXPECT_EQ(res.headers.get("Accept-Ranges"), "bytes");
}

TEST(BlobResponseTest, ConditionalRequestsGet304) {
  EXPECT_EQ(respond({{"If-None-Match", "\"abc\""}}).status, 304);
  EXPECT_EQ(respond({{"If-None-Match", "\"x\", W/\"abc\""}}).status, 304);
  EXPECT_EQ(respond({{"If-None-Match", "*"}}).status, 304);
  EXPECT_EQ(respond({{"If-None-Match", "\"x\""}}).status, 200);
  EXPECT_EQ(respond({{"If-Modified-Since", "Mon, 23 Nov 2026 05:00:30 GMT"}}).status, 304);
  EXPECT_EQ(respond({{"If-Modified-Since", "Mon, 23 Nov 2026 05:00:29 GMT"}}).status, 200);
  EXPECT_EQ(respond({{"If-Modified-Since", "yesterday"}}).status, 200);
  // If-None-Match wins: a stale ETag is a 200 whatever the date says.
  EXPECT_EQ(
      respond({{"If-None-Match", "\"x\""}, {"If-Modified-Since", "Mon, 23 Nov 2026 06:00:00 GMT"}})
          .status,
      200);
  auto not_modified = respond({{"If-None-Match", "\"abc\""}});
  EXPECT_TRUE(not_modified.body.empty());
  EXPECT_EQ(not_modified.headers.get("ETag"), "\"abc\"");
}

TEST(BlobResponseTest, OneByteRangeGets206) {
  struct Case {
    std::string range;
    std::string body;
    std::string content_range;
  };
  for (const Case& c :
       {Case{"bytes=0-3", "0123", "bytes 0-3/10"}, Case{"bytes=7-", "789", "bytes 7-9/10"},
        Case{"bytes=-2", "89", "bytes 8-9/10"}, Case{"bytes=5-100", "56789", "bytes 5-9/10"},
        Case{"bytes=-100", "0123456789", "bytes 0-9/10"}}) {
    auto res = respond({{"Range", c.range}});
    EXPECT_EQ(res.status, 206) << c.range;
    EXPECT_EQ(res.body, c.body) << c.range;
    EXPECT_EQ(res.headers.get("Content-Range"), c.content_range) << c.range;
  }
}

TEST(BlobResponseTest, UnsatisfiableOddAndStaleRanges) {
  auto past = respond({{"Range", "bytes=10-"}});
  EXPECT_EQ(past.status, 416);
  EXPECT_EQ(past.headers.get("Content-Range"), "bytes */10");
  EXPECT_EQ(respond({{"Range", "bytes=-0"}}).status, 416);
  for (std::string odd : {"bytes=0-1,4-5", "bytes=5-2", "items=0-1", "bytes=x-y"}) {
    EXPECT_EQ(respond({{"Range", odd}}).status, 200) << odd;
  }
  EXPECT_EQ(respond({{"Range", "bytes=0-1"}, {"If-Range", "\"abc\""}}).status, 206);
  EXPECT_EQ(respond({{"Range", "bytes=0-1"}, {"If-Range", "\"old\""}}).status, 200);
  EXPECT_EQ(respond({{"Range", "bytes=0-1"}, {"If-Range", "Mon, 23 Nov 2026 05:00:30 GMT"}}).status,
            206);
}

TEST(HttpDateTest, FormatsAndParsesImfFixdate) {
  EXPECT_EQ(http_date(TimePoint(784111777s)), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), TimePoint(784111777s));
  EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT"));
  // Far past what nanoseconds since 1970 can hold (a fuzz finding): still exact.
  const auto far = parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT");
  ASSERT_TRUE(far);
  EXPECT_EQ(http_date(*far), "Fri, 31 Dec 9999 23:59:59 GMT");
  EXPECT_EQ(format_time(*far), "9999-12-31T23:59:59Z");
}

// The route end to end, over a real LocalBackend.
class BlobRoutesTest : public LocalStoreFixture {
 protected:
  net::Response get(const std::string& target, const net::Router& router) {
    net::Request request;
    request.method = "GET";
    request.target = target;
    auto match = router.match("GET", request.path());
    EXPECT_NE(match.handler, nullptr) << target;
    return run((*match.handler)(std::move(request)));
  }
};

TEST_F(BlobRoutesTest, ServesLiveBlobsAndHidesExpiredOnesAndBadKeys) {
  net::Router router;
  add_blob_routes(router, *store_, nullptr);
  ASSERT_TRUE(put("m/a.png", "PNG", 1min));
  auto res = get("/blobs/m/a.png", router);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "PNG");
  EXPECT_EQ(res.headers.get("Cache-Control"), "public, max-age=60");
  EXPECT_EQ(get("/blobs/m/b.png", router).status, 404);
  EXPECT_EQ(get("/blobs/../blobs/m/a.png", router).status, 404);
  EXPECT_EQ(get("/blobs/_expiry/20261123T0601/m/a.png", router).status, 404);
  advance(1min);
  EXPECT_EQ(get("/blobs/m/a.png", router).status, 404);
}

TEST_F(BlobRoutesTest, SignedUrlsAreRequiredWhenSigningIsOn) {
  open(UrlSigner::from_key(std::string(32, 's')).value());
  net::Router router;
  add_blob_routes(router, *store_, &*backend_->signer());
  auto ref = put("a.png", "PNG", 1h);
  ASSERT_TRUE(ref);
  const std::string target = ref->url.substr(std::string("http://127.0.0.1:8080").size());
  auto ok = get(target, router);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.headers.get("Cache-Control"), "private, max-age=3600");
  EXPECT_EQ(get("/blobs/a.png", router).status, 403);
  std::string tampered = target;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(get(tampered, router).status, 403);
}

}  // namespace
}  // namespace mando::storage
