#include "discord/wakeup.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mando::discord {

namespace asio = boost::asio;

struct Wakeup::Channel {
  explicit Channel(asio::any_io_executor executor) : channel(std::move(executor), 1) {}
  asio::experimental::concurrent_channel<void(boost::system::error_code)> channel;
};

Wakeup::Wakeup(asio::any_io_executor executor)
    : channel_(std::make_unique<Channel>(std::move(executor))) {}

Wakeup::~Wakeup() = default;

// A second set() finds the one slot full and is dropped: the event is set either way.
void Wakeup::set() { channel_->channel.try_send(boost::system::error_code{}); }

asio::awaitable<void> Wakeup::wait() {
  // The only error is the channel's destruction, which the shared owner rules out.
  co_await channel_->channel.async_receive(asio::as_tuple(asio::use_awaitable));
}

}  // namespace mando::discord
