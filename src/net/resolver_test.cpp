#include "net/resolver.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "support/run_awaitable.hpp"

namespace mando::net {
namespace {

namespace ip = boost::asio::ip;

// Numeric hosts only: getaddrinfo answers them without asking DNS.
TEST(SystemResolver, AnswersThroughGetaddrinfo) {
  boost::asio::io_context ioc;
  SystemResolver resolver;
  auto v4 = testing::run_awaitable(ioc, resolver.resolve("127.0.0.1"));
  ASSERT_TRUE(v4) << v4.error().message;
  EXPECT_EQ(*v4, std::vector<ip::address>{ip::make_address("127.0.0.1")});
  // inet_aton's forms too: the reason UrlPolicy reads them as addresses itself.
  auto short_form = testing::run_awaitable(ioc, resolver.resolve("127.1"));
  ASSERT_TRUE(short_form) << short_form.error().message;
  EXPECT_EQ(*short_form, std::vector<ip::address>{ip::make_address("127.0.0.1")});
}

TEST(TableResolver, AnswersItsTableAndNothingElse) {
  boost::asio::io_context ioc;
  TableResolver resolver({{"a.test", {ip::make_address("10.0.0.1"), ip::make_address("fd00::1")}},
                          {"empty.test", {}}});
  auto a = testing::run_awaitable(ioc, resolver.resolve("a.test"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size(), 2u);
  for (const char* host : {"b.test", "empty.test"}) {
    auto missing = testing::run_awaitable(ioc, resolver.resolve(host));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, ErrorKind::kUnavailable);
    EXPECT_EQ(missing.error().message, std::string("could not resolve ") + host);
  }
}

}  // namespace
}  // namespace mando::net
