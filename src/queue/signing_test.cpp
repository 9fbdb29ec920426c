#include "queue/signing.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace mando::queue {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

const std::string kKey = "0123456789abcdef0123456789abcdef";
const std::chrono::system_clock::time_point kNow{std::chrono::seconds(1'700'000'000)};

net::Request signed_request(const RequestSigner& signer) {
  net::Request request;
  request.method = "POST";
  request.target = "/tasks/render?size=1024";
  request.body = std::string("{\"seed\":42}\0binary", 18);
  signer.sign(request.method, request.target, request.body, kNow, request.headers);
  return request;
}

TEST(RequestSigner, MatchesAnIndependentlyComputedHmac) {
  // HMAC-SHA256(kKey, "v1\nPOST\n/t\n1700000000\nbody"), computed with
  // `printf 'v1\nPOST\n/t\n1700000000\nbody' | openssl dgst -sha256 -hmac 0123...cdef`.
  auto signer = RequestSigner::from_key(kKey).value();
  net::Headers headers;
  signer.sign("POST", "/t", "body", kNow, headers);
  EXPECT_EQ(headers.get(kTimestampHeader), "1700000000");
  EXPECT_EQ(headers.get(kSignatureHeader),
            "v1=6c8d41a0ecb0348da9b8b04ea78a3cfc1df3ef49253789b088f4c3c5b042a340");
}

TEST(RequestSigner, AcceptsWhatItSigned) {
  auto signer = RequestSigner::from_key(kKey).value();
  EXPECT_TRUE(signer.verify(signed_request(signer), kNow));
  EXPECT_TRUE(signer.verify(signed_request(signer), kNow + 299s));
  EXPECT_TRUE(signer.verify(signed_request(signer), kNow - 299s));  // a clock behind ours
}

TEST(RequestSigner, RefusesAnyChange) {
  auto signer = RequestSigner::from_key(kKey).value();
  auto other = RequestSigner::from_key(kKey + "x").value();
  std::vector<net::Request> bad(6, signed_request(signer));
  bad[0].method = "PUT";
  bad[1].target = "/tasks/render?size=4096";
  bad[2].body.back() ^= 1;
  bad[3].headers.set(kTimestampHeader, "1700000001");
  bad[4].headers.set(kSignatureHeader, "v1=" + std::string(64, '0'));
  bad[5] = signed_request(other);
  for (const auto& request : bad) {
    auto result = signer.verify(request, kNow);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ErrorKind::kUnauthenticated);
  }
}

TEST(RequestSigner, SaysWhatIsWrong) {
  auto signer = RequestSigner::from_key(kKey).value();
  net::Request missing;
  EXPECT_EQ(signer.verify(missing, kNow).error().message,
            "missing X-Mando-Timestamp or X-Mando-Signature header");
  auto stale = signed_request(signer);
  EXPECT_EQ(signer.verify(stale, kNow + 301s).error().message,
            "X-Mando-Timestamp is outside the 300 s window");
  auto garbled = signed_request(signer);
  garbled.headers.set(kTimestampHeader, "soon");
  EXPECT_EQ(signer.verify(garbled, kNow).error().message, "X-Mando-Timestamp must be Unix seconds");
  auto unversioned = signed_request(signer);
  unversioned.headers.set(kSignatureHeader, "abc");
  EXPECT_EQ(signer.verify(unversioned, kNow).error().message,
            "X-Mando-Signature must start with v1=");
}

TEST(RequestSigner, RefusesShortKeys) {
  auto result = RequestSigner::from_key("short");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "[queue] signing_key: must be at least 32 characters, got 5");
}

TEST(RequestSigner, RandomKeysDiffer) {
  auto a = RequestSigner::random();
  auto b = RequestSigner::random();
  EXPECT_TRUE(a.verify(signed_request(a), kNow));
  EXPECT_FALSE(b.verify(signed_request(a), kNow));
}

net::Response call(const net::Handler& handler, net::Request request) {
  asio::io_context ioc;
  auto future = asio::co_spawn(ioc, handler(std::move(request)), asio::use_future);
  ioc.run();
  return future.get();
}

TEST(RequireSignature, UnsignedCallsGet401AndDoNoWork) {
  auto signer = RequestSigner::random();
  int calls = 0;
  auto handler =
      require_signature(signer, [&calls](net::Request) -> asio::awaitable<net::Response> {
        ++calls;
        co_return net::Response::text(200, "done");
      });
  net::Request unsigned_request;
  unsigned_request.method = "POST";
  unsigned_request.target = "/tasks/render";
  EXPECT_EQ(call(handler, unsigned_request).status, 401);
  EXPECT_EQ(calls, 0);

  net::Request request = unsigned_request;
  signer.sign(request.method, request.target, request.body, std::chrono::system_clock::now(),
              request.headers);
  EXPECT_EQ(call(handler, request).status, 200);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace mando::queue
