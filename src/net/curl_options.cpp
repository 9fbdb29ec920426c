#include "net/curl_options.hpp"

#include <sys/socket.h>

namespace mando::net::detail {
namespace {

using ConnectCheck = std::function<bool(const sockaddr*, socklen_t)>;

// CURLOPT_OPENSOCKETFUNCTION: curl calls it for each address it is about to try, after its own
// resolution or CURLOPT_RESOLVE, so nothing reaches connect() without this check.
curl_socket_t open_checked_socket(void* clientp, curlsocktype, curl_sockaddr* address) {
  const auto& allow = *static_cast<const ConnectCheck*>(clientp);
  if (!allow(&address->addr, address->addrlen)) return CURL_SOCKET_BAD;
  // What curl's default does, plus SOCK_CLOEXEC: the socket must not leak into the worker
  // processes mando starts.
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

}  // namespace

bool append_line(SlistPtr& list, const std::string& line) {
  curl_slist* head = curl_slist_append(list.get(), line.c_str());
  if (head == nullptr) return false;
  (void)list.release();  // curl_slist_append returned the same list with one more node
  list.reset(head);
  return true;
}

CURLcode set_untrusted_options(CURL* easy, const ClientRequest& r, SlistPtr& pins) {
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(easy, option, value);
  };
  if (!r.use_env_proxy) {
    // An empty CURLOPT_PROXY switches the environment's proxy variables off; NOPROXY "*" makes
    // sure nothing is proxied should a later option name one.
    set(CURLOPT_PROXY, "");
    set(CURLOPT_NOPROXY, "*");
  }
  if (r.low_speed_bytes > 0) {
    set(CURLOPT_LOW_SPEED_LIMIT, r.low_speed_bytes);
    set(CURLOPT_LOW_SPEED_TIME, static_cast<long>(r.low_speed_time.count()));
  }
  if (r.allow_connect) {
    set(CURLOPT_OPENSOCKETFUNCTION, &open_checked_socket);
    set(CURLOPT_OPENSOCKETDATA, const_cast<void*>(static_cast<const void*>(&r.allow_connect)));
  }
  if (!r.resolve.empty()) {
    for (const std::string& entry : r.resolve) {
      if (!append_line(pins, entry)) return CURLE_OUT_OF_MEMORY;
    }
    set(CURLOPT_RESOLVE, pins.get());
  }
  return rc;
}

}  // namespace mando::net::detail
