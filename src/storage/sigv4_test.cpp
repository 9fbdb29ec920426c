// SigV4 against published vectors only: every expected canonical request, string to sign and
// signature below is copied from a stored copy of AWS's material, named above each test.
//  - "aws-sig-v4-test-suite" (AWS General Reference, Signature Version 4 Test Suite), as vendored
//    in bazelbuild/bazel third_party/aws-sig-v4-test-suite/<case>/<case>.{req,creq,sts,authz}
//    and repeated by the test suites of awslabs' SDKs (aws-sdk-rust aws-sigv4, aws-sdk-js
//    signature-v4 suite.fixture.js): credentials AKIDEXAMPLE, 20150830T123600Z, us-east-1,
//    service "service".
//  - the S3 API reference, "Signature Calculations for the Authorization Header: Transferring
//    Payload in a Single Chunk" (sig-v4-header-based-auth.html, examples GET Object, PUT Object,
//    GET Bucket Lifecycle, Get Bucket (List Objects)) and "Authenticating Requests: Using Query
//    Parameters" (sigv4-query-string-auth.html, the presigned GET example): credentials
//    AKIAIOSFODNN7EXAMPLE, 20130524T000000Z, us-east-1, service "s3".

#include "storage/sigv4.hpp"

#include <gtest/gtest.h>

namespace mando::storage::sigv4 {
namespace {

using namespace std::chrono;

TimePoint at(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return time_point_cast<seconds>(sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} +
                                  seconds{s});
}

const Credentials kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const Scope kSuiteScope{"us-east-1", "service"};
const TimePoint kSuiteTime = at(2015, 8, 30, 12, 36, 0);

const Credentials kS3Docs{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const Scope kS3Scope{"us-east-1", "s3"};
const TimePoint kS3Time = at(2013, 5, 24, 0, 0, 0);
constexpr std::string_view kS3Host = "examplebucket.s3.amazonaws.com";

// The lines after the query of the S3 docs' bucket-level GET examples (lifecycle, List
// Objects): their canonical requests differ only in the query.
const std::string kS3DocsBucketGetTail =
    "host:examplebucket.s3.amazonaws.com\n"
    "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    "x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

Request suite_get(Params query) {
  return Request{"GET",
                 "/",
                 std::move(query),
                 {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                 std::string(kEmptyPayloadHash)};
}

Request s3_docs_request(std::string method, std::string path, Params query, Params extra,
                        std::string payload_hash) {
  Params headers{{"Host", std::string(kS3Host)},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-content-sha256", payload_hash}};
  headers.insert(headers.end(), extra.begin(), extra.end());
  return Request{std::move(method), std::move(path), std::move(query), std::move(headers),
                 std::move(payload_hash)};
}

TEST(Sigv4Test, DatesAndHashesHaveTheWireFormat) {
  EXPECT_EQ(amz_date(kSuiteTime), "20150830T123600Z");
  EXPECT_EQ(date_stamp(kSuiteTime), "20150830");
  EXPECT_EQ(sha256_hex(""), kEmptyPayloadHash);
}

TEST(Sigv4Test, UriEncodeKeepsUnreservedAndEncodesTheRestUpperCase) {
  EXPECT_EQ(uri_encode("a-b_c.d~e/f", true), "a-b_c.d~e/f");
  EXPECT_EQ(uri_encode("a/b c+$", false), "a%2Fb%20c%2B%24");
  EXPECT_EQ(uri_encode("\xe1\x88\xb4", true), "%E1%88%B4");
}

// aws-sig-v4-test-suite get-vanilla (.creq/.sts/.authz).
TEST(Sigv4Test, SuiteGetVanilla) {
  const auto s = sign(kSuite, kSuiteScope, suite_get({}), kSuiteTime);
  EXPECT_EQ(s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

// aws-sig-v4-test-suite get-vanilla-query-order-key-case: GET /?Param2=value2&Param1=value1.
TEST(Sigv4Test, SuiteGetVanillaQueryOrderKeyCase) {
  const auto s = sign(kSuite, kSuiteScope, suite_get({{"Param2", "value2"}, {"Param1", "value1"}}),
                      kSuiteTime);
  EXPECT_EQ(s.canonical_request,
            "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
  EXPECT_EQ(s.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

// aws-sig-v4-test-suite get-vanilla-query-order-key: GET /?Param1=value2&Param1=Value1; equal
// names sort by value, byte-wise ('V' < 'v').
TEST(Sigv4Test, SuiteGetVanillaQueryOrderKey) {
  const auto s = sign(kSuite, kSuiteScope, suite_get({{"Param1", "value2"}, {"Param1", "Value1"}}),
                      kSuiteTime);
  EXPECT_EQ(s.canonical_request,
            "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1");
}

// aws-sig-v4-test-suite post-x-www-form-urlencoded: a signed header besides host and the date,
// and a payload hash of the body "Param1=value1".
TEST(Sigv4Test, SuitePostXWwwFormUrlencoded) {
  Request request{"POST",
                  "/",
                  {},
                  {{"Content-Type", "application/x-www-form-urlencoded"},
                   {"Host", "example.amazonaws.com"},
                   {"X-Amz-Date", "20150830T123600Z"}},
                  sha256_hex("Param1=value1")};
  const auto s = sign(kSuite, kSuiteScope, request, kSuiteTime);
  EXPECT_EQ(s.canonical_request,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
            "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "content-type;host;x-amz-date\n"
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

// S3 docs, "Example: GET Object": the first 10 bytes of test.txt.
TEST(Sigv4Test, S3DocsGetObjectWithRange) {
  const auto s = sign(kS3Docs, kS3Scope,
                      s3_docs_request("GET", "/test.txt", {}, {{"Range", "bytes=0-9"}},
                                      std::string(kEmptyPayloadHash)),
                      kS3Time);
  EXPECT_EQ(s.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// S3 docs, "Example: PUT Object": key test$file.text, body "Welcome to Amazon S3.".
TEST(Sigv4Test, S3DocsPutObject) {
  const std::string payload = sha256_hex("Welcome to Amazon S3.");
  ASSERT_EQ(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const auto s = sign(kS3Docs, kS3Scope,
                      s3_docs_request("PUT", "/" + uri_encode("test$file.text", true), {},
                                      {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                                       {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                                      payload),
                      kS3Time);
  EXPECT_EQ(s.canonical_request,
            "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:"
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
            "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  EXPECT_EQ(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

// S3 docs, "Example: GET Bucket Lifecycle" (a query parameter without a value) and "Example: Get
// Bucket (List Objects)" (?max-keys=2&prefix=J, given out of order here).
TEST(Sigv4Test, S3DocsBucketGets) {
  struct Case {
    Params query;
    std::string canonical_query;
    std::string canonical_hash;
    std::string signature;
  };
  const Case cases[] = {
      {{{"lifecycle", ""}},
       "lifecycle=",
       "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
       "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
      {{{"prefix", "J"}, {"max-keys", "2"}},
       "max-keys=2&prefix=J",
       "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
       "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.canonical_query);
    const auto s =
        sign(kS3Docs, kS3Scope,
             s3_docs_request("GET", "/", c.query, {}, std::string(kEmptyPayloadHash)), kS3Time);
    EXPECT_EQ(s.canonical_request, "GET\n/\n" + c.canonical_query + "\n" + kS3DocsBucketGetTail);
    EXPECT_EQ(s.string_to_sign,
              "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n" +
                  c.canonical_hash);
    EXPECT_EQ(s.signature, c.signature);
  }
}

// S3 docs, query-string authentication example: GET test.txt for 86400 s.
TEST(Sigv4Test, S3DocsPresignedGet) {
  Request request{"GET", "/test.txt", {}, {{"Host", std::string(kS3Host)}}, ""};
  const auto p = presign(kS3Docs, kS3Scope, request, kS3Time, 86400);
  const std::string query =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256"
      "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
      "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host";
  EXPECT_EQ(p.canonical_request, "GET\n/test.txt\n" + query +
                                     "\nhost:examplebucket.s3.amazonaws.com\n\nhost\n"
                                     "UNSIGNED-PAYLOAD");
  EXPECT_EQ(p.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
  EXPECT_EQ(p.signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  EXPECT_EQ(p.query, query + "&X-Amz-Signature=" + p.signature);
}

// Not a published vector: the session token is part of what a presigned URL signs, so the same
// request with and without one must differ, and the token must be in the query once, encoded.
TEST(Sigv4Test, PresignSignsTheSessionToken) {
  Request request{"GET", "/test.txt", {}, {{"Host", std::string(kS3Host)}}, ""};
  Credentials temporary = kS3Docs;
  temporary.session_token = "token/with+chars=";
  const auto with = presign(temporary, kS3Scope, request, kS3Time, 60);
  const auto without = presign(kS3Docs, kS3Scope, request, kS3Time, 60);
  EXPECT_NE(with.signature, without.signature);
  EXPECT_NE(with.canonical_request.find("X-Amz-Security-Token=token%2Fwith%2Bchars%3D"),
            std::string::npos);
  EXPECT_NE(with.query.find("X-Amz-Security-Token=token%2Fwith%2Bchars%3D&X-Amz-SignedHeaders"),
            std::string::npos);
}

TEST(Sigv4Test, HeaderValuesAreTrimmedAndDuplicatesJoined) {
  Request request{"GET", "/", {}, {{"My-Header1", "  a   b  "}, {"my-header1", "c"}}, ""};
  const auto s = sign(kSuite, kSuiteScope, request, kSuiteTime);
  EXPECT_EQ(s.signed_headers, "my-header1");
  EXPECT_NE(s.canonical_request.find("\nmy-header1:a b,c\n"), std::string::npos);
}

}  // namespace
}  // namespace mando::storage::sigv4
