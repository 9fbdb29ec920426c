#include "net/io_loops.hpp"

#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "net/http_server.hpp"
#include "support/raw_http.hpp"

namespace mando::net {
namespace {

namespace asio = boost::asio;
using mando::testing::RawConnection;
using namespace std::chrono_literals;

std::thread::id thread_of(asio::io_context::executor_type ex) {
  std::promise<std::thread::id> id;
  asio::post(ex, [&] { id.set_value(std::this_thread::get_id()); });
  return id.get_future().get();
}

TEST(IoLoopsTest, NextCyclesThroughLoopsEachOnAThreadOfItsOwn) {
  IoLoops loops(3);
  ASSERT_EQ(loops.size(), 3u);
  std::vector<std::thread::id> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(thread_of(loops.next()));
  const std::set<std::thread::id> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), 3u);
  EXPECT_FALSE(distinct.contains(std::this_thread::get_id()));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ids[i], ids[i + 3]) << "round robin, loop " << i;
}

TEST(IoLoopsTest, ZeroMeansOneLoopAndStopIsIdempotent) {
  IoLoops loops(0);
  EXPECT_EQ(loops.size(), 1u);
  EXPECT_NE(thread_of(loops.next()), std::this_thread::get_id());
  loops.stop();
  loops.stop();  // and once more in the destructor
}

// Each connection of a server given loops lives on one loop thread, never on the io_context's
// own thread, and the connections spread over the loops; shutdown still closes them.
TEST(IoLoopsTest, ServerKeepsEachConnectionOnOneLoop) {
  core::MetricsRegistry metrics;
  IoLoops loops(2);  // before ioc, as io_loops.hpp says
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  Router router;
  router.add("GET", "/thread", [](Request) -> asio::awaitable<Response> {
    std::ostringstream id;
    id << std::this_thread::get_id();
    co_return Response::text(200, id.str());
  });
  HttpServer server(ioc, std::move(router), {}, metrics, &loops);
  auto bound = server.listen("127.0.0.1:0");
  ASSERT_TRUE(bound) << bound.error().message;
  server.start();
  std::thread runner([&] { ioc.run(); });
  std::ostringstream ioc_id;
  ioc_id << runner.get_id();

  std::set<std::string> threads;
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (int c = 0; c < 4; ++c) {
    connections.push_back(std::make_unique<RawConnection>(bound->port));
    std::set<std::string> seen;
    for (int r = 0; r < 3; ++r) {
      connections.back()->send("GET /thread HTTP/1.1\r\nHost: x\r\n\r\n");
      auto res = connections.back()->read_response();
      ASSERT_TRUE(res);
      ASSERT_EQ(res->status, 200);
      seen.insert(res->body);
    }
    EXPECT_EQ(seen.size(), 1u) << "connection " << c << " moved between threads";
    EXPECT_NE(*seen.begin(), ioc_id.str());
    threads.insert(*seen.begin());
  }
  EXPECT_EQ(threads.size(), 2u);

  asio::co_spawn(ioc, server.shutdown(1s), asio::use_future).get();
  for (auto& c : connections) EXPECT_TRUE(c->wait_closed());
  work.reset();
  ioc.stop();
  runner.join();
  loops.stop();
}

}  // namespace
}  // namespace mando::net
