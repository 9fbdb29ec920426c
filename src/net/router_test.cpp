#include "net/router.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace mando::net {
namespace {

Handler answer(int status) {
  return [status](Request) -> boost::asio::awaitable<Response> {
    co_return Response::text(status, "");
  };
}

TEST(Router, ExactBeatsPrefixAndLongerPrefixBeatsShorter) {
  Router r;
  r.add("GET", "/blobs/*", answer(1));
  r.add("GET", "/blobs/special/*", answer(2));
  r.add("GET", "/blobs/exact", answer(3));
  EXPECT_EQ(r.match("GET", "/blobs/a/b").route, "/blobs/*");
  EXPECT_EQ(r.match("GET", "/blobs/special/x").route, "/blobs/special/*");
  EXPECT_EQ(r.match("GET", "/blobs/exact").route, "/blobs/exact");
  EXPECT_EQ(r.match("GET", "/blobs/").status, 404);  // a prefix needs something after it
  EXPECT_EQ(r.match("GET", "/blobs").status, 404);
}

TEST(Router, UnknownPathIs404WithUnmatchedRoute) {
  Router r;
  r.add("GET", "/healthz", answer(200));
  auto m = r.match("GET", "/nope");
  EXPECT_EQ(m.status, 404);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.route, "unmatched");
}

TEST(Router, WrongMethodIs405WithAllow) {
  Router r;
  r.add("POST", "/interactions", answer(200));
  r.add("PUT", "/interactions", answer(200));
  auto m = r.match("GET", "/interactions");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.allow, "POST, PUT");
  EXPECT_EQ(m.route, "/interactions");
}

TEST(Router, HeadFallsBackToGet) {
  Router r;
  r.add("GET", "/metrics", answer(200));
  auto m = r.match("HEAD", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.handler, nullptr);
  EXPECT_EQ(r.match("POST", "/metrics").allow, "GET, HEAD");
}

Response call(const Router& r, Request request) {
  boost::asio::io_context ioc;
  const auto m = r.match(request.method, request.path());
  auto future =
      boost::asio::co_spawn(ioc, (*m.handler)(std::move(request)), boost::asio::use_future);
  ioc.run();
  return future.get();
}

Request get(std::string target) {
  Request request;
  request.method = "GET";
  request.target = std::move(target);
  return request;
}

TEST(Router, AGuardRunsBeforeEveryHandler) {
  Router r([](const Request& request) -> std::optional<Response> {
    if (request.headers.get("X-Deny")) return Response::text(403, "no");
    return std::nullopt;
  });
  r.add("GET", "/metrics", answer(200));
  r.add("GET", "/v2/*", answer(201));
  EXPECT_EQ(call(r, get("/metrics")).status, 200);
  auto denied = get("/v2/projects");
  denied.headers.set("X-Deny", "1");
  EXPECT_EQ(call(r, std::move(denied)).status, 403);
}

TEST(RefuseProxied, EveryForwardingHeaderIsRefusedAndPlainRequestsPass) {
  EXPECT_FALSE(refuse_proxied(get("/metrics")));
  for (const char* name : {"Forwarded", "X-Forwarded-For", "x-forwarded-host", "X-Forwarded-Proto",
                           "X-Real-IP", "Via"}) {
    auto request = get("/metrics");
    request.headers.set(name, "203.0.113.7");
    auto refused = refuse_proxied(request);
    ASSERT_TRUE(refused) << name;
    EXPECT_EQ(refused->status, 403) << name;
  }
}

TEST(RouterDeathTest, DuplicateRegistrationAborts) {
  Router r;
  r.add("GET", "/x", answer(200));
  EXPECT_DEATH(r.add("GET", "/x", answer(200)), "registered twice");
}

TEST(Request, QueryParamsAreDecodedAndAbsentOnesAreNullopt) {
  Request request;
  request.target = "/v2/x?pageSize=3&filter=state%3AFAILED&empty=";
  EXPECT_EQ(request.query_param("pageSize"), "3");
  EXPECT_EQ(request.query_param("filter"), "state:FAILED");
  EXPECT_EQ(request.query_param("empty"), "");
  EXPECT_EQ(request.query_param("missing"), std::nullopt);
  request.target = "/v2/x";  // no query at all
  EXPECT_EQ(request.query_param("pageSize"), std::nullopt);
}

TEST(Headers, NamesCompareCaseInsensitivelyInAsciiOnly) {
  Headers headers;
  headers.add("X-Signature-Ed25519", "ab");
  EXPECT_EQ(headers.get("x-signature-ed25519"), "ab");
  EXPECT_EQ(headers.get("X-SIGNATURE-ED25519"), "ab");
  EXPECT_FALSE(headers.contains("X-Signature-Ed2551"));
  EXPECT_TRUE(iequals("Content-Type", "content-type"));
  EXPECT_FALSE(iequals("\xC4", "\xE4"));  // Latin-1 Ä and ä: not folded, whatever the locale
  EXPECT_FALSE(iequals("[", "{"));        // 0x5B and 0x7B differ by 32 but are not letters
}

TEST(ErrorKindForStatusTest, MapsThePeersErrorStatuses) {
  EXPECT_EQ(error_kind_for_status(400), ErrorKind::kInvalidArgument);
  EXPECT_EQ(error_kind_for_status(401), ErrorKind::kUnauthenticated);
  EXPECT_EQ(error_kind_for_status(403), ErrorKind::kPermissionDenied);
  EXPECT_EQ(error_kind_for_status(404), ErrorKind::kNotFound);
  EXPECT_EQ(error_kind_for_status(429), ErrorKind::kResourceExhausted);
  EXPECT_EQ(error_kind_for_status(503), ErrorKind::kUnavailable);
  EXPECT_EQ(error_kind_for_status(418), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace mando::net
