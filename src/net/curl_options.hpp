#pragma once
// Internal to the HTTP client: the libcurl side of the ClientRequest fields for destinations
// strangers name (resolve, allow_connect, use_env_proxy, low_speed_*), kept out of
// http_client.cpp, and the curl_slist owner both use.

#include <memory>
#include <string>

#include <curl/curl.h>

#include "net/http_client.hpp"

namespace mando::net::detail {

struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// Appends one line; false when curl is out of memory (the list is unchanged).
bool append_line(SlistPtr& list, const std::string& line);

// Sets the options those fields ask for on `easy` and leaves every other option alone (a
// request that sets none of them changes nothing). `pins` receives the CURLOPT_RESOLVE list,
// which must live as long as `easy`; `request` must too (curl keeps a pointer to
// request.allow_connect). Returns the first failure of curl_easy_setopt or CURLE_OUT_OF_MEMORY.
CURLcode set_untrusted_options(CURL* easy, const ClientRequest& request, SlistPtr& pins);

}  // namespace mando::net::detail
