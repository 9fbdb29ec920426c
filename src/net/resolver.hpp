#pragma once
// Name resolution for net::Fetcher, as a seam: the fetcher checks every address a name has
// before it lets curl connect, so it resolves names itself and pins curl to the result. Tests
// plug in a TableResolver and never touch real DNS.
//
// Contract of resolve(): every address the name has, IPv4 and IPv6, in the resolver's order;
// never an empty vector on success. Errors are kUnavailable with the message
// "could not resolve HOST" (short enough to show a user). The host is a name, never an IP
// literal (the fetcher handles those without resolving).

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "core/error.hpp"

namespace mando::net {

class Resolver {
 public:
  virtual ~Resolver();
  virtual boost::asio::awaitable<Result<std::vector<boost::asio::ip::address>>> resolve(
      std::string host) = 0;
};

// getaddrinfo through Asio's resolver (both families; AI_ADDRCONFIG, so a host without IPv6
// gets no IPv6 addresses it could not use anyway). getaddrinfo cannot be cancelled and may take
// tens of seconds to give up, so resolve() stops waiting after `timeout` (kUnavailable); the
// lookup itself finishes on Asio's resolver thread and its result is dropped.
// Thread-safety: resolve() may be called from any number of coroutines at once; each resumes
// on its own executor.
class SystemResolver : public Resolver {
 public:
  explicit SystemResolver(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  boost::asio::awaitable<Result<std::vector<boost::asio::ip::address>>> resolve(
      std::string host) override;

 private:
  std::chrono::milliseconds timeout_;
};

// A fixed table, for tests: host (as the fetcher passes it, lower case) to addresses; any other
// host, or one mapped to no address, is kUnavailable "could not resolve HOST".
// Thread-safety: immutable after construction.
class TableResolver : public Resolver {
 public:
  explicit TableResolver(std::map<std::string, std::vector<boost::asio::ip::address>> table);
  boost::asio::awaitable<Result<std::vector<boost::asio::ip::address>>> resolve(
      std::string host) override;

 private:
  std::map<std::string, std::vector<boost::asio::ip::address>> table_;
};

}  // namespace mando::net
