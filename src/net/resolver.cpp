#include "net/resolver.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

namespace mando::net {
namespace {

namespace asio = boost::asio;
using Addresses = std::vector<asio::ip::address>;

tl::unexpected<Error> unresolved(const std::string& host) {
  return fail(ErrorKind::kUnavailable, fmt::format("could not resolve {}", host));
}

// One lookup racing its timeout. Whichever of the two handlers comes first writes the result
// and sends the wake-up; the other finds the result taken. The handlers share this state, so
// neither depends on the waiting coroutine still being there.
struct Lookup {
  explicit Lookup(const asio::any_io_executor& executor)
      : resolver(executor), timer(executor), done(executor, 1) {}

  asio::ip::tcp::resolver resolver;
  asio::steady_timer timer;
  asio::experimental::concurrent_channel<void(boost::system::error_code)> done;
  std::mutex mutex;
  std::optional<Result<Addresses>> result;

  void finish(Result<Addresses> r) {
    std::lock_guard lock(mutex);
    if (result) return;
    result = std::move(r);
    done.try_send(boost::system::error_code{});
  }
};

}  // namespace

Resolver::~Resolver() = default;

SystemResolver::SystemResolver(std::chrono::milliseconds timeout) : timeout_(timeout) {}

asio::awaitable<Result<Addresses>> SystemResolver::resolve(std::string host) {
  auto lookup = std::make_shared<Lookup>(co_await asio::this_coro::executor);
  auto on_resolved = [lookup, host](boost::system::error_code ec,
                                    const asio::ip::tcp::resolver::results_type& results) {
    Addresses out;
    if (!ec) {
      for (const auto& entry : results) {
        const auto a = entry.endpoint().address();
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
      }
    }
    lookup->finish(out.empty() ? Result<Addresses>(unresolved(host)) : std::move(out));
  };
  auto on_timeout = [lookup, host](boost::system::error_code ec) {
    if (!ec) lookup->finish(unresolved(host));
  };
  // "0" and numeric_service: getaddrinfo gets a port it need not look up; only addresses count.
  lookup->resolver.async_resolve(
      host, "0",
      asio::ip::resolver_base::address_configured | asio::ip::resolver_base::numeric_service,
      std::move(on_resolved));
  lookup->timer.expires_after(timeout_);
  lookup->timer.async_wait(std::move(on_timeout));
  co_await lookup->done.async_receive(asio::as_tuple(asio::use_awaitable));
  // The losing handler: a cancelled timer completes at once; a lookup past its timeout keeps
  // only `lookup` alive until getaddrinfo returns.
  lookup->timer.cancel();
  std::lock_guard lock(lookup->mutex);
  co_return std::move(*lookup->result);
}

TableResolver::TableResolver(std::map<std::string, std::vector<asio::ip::address>> table)
    : table_(std::move(table)) {}

asio::awaitable<Result<Addresses>> TableResolver::resolve(std::string host) {
  auto it = table_.find(host);
  if (it == table_.end() || it->second.empty()) co_return unresolved(host);
  co_return it->second;
}

}  // namespace mando::net
