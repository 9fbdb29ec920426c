// How curl's multi interface and Asio drive each other:
//
//  1. send() initiates an asynchronous operation (async_initiate). The initiation stores the
//     caller's completion handler together with an executor that keeps the caller's context busy
//     (outstanding_work.tracked), and posts the request onto the client's strand. Every curl
//     call below runs on that strand: a multi handle is not thread-safe.
//  2. add() builds an easy handle for the request (options, header list, MIME body) and adds it
//     to the multi handle. curl answers by calling the timer callback with 0 ms.
//     With max_connections_per_host, add() first admits the transfer for its host: one over the
//     limit waits in our own FIFO (hosts_) until a transfer to that host ends, and its timeout
//     then counts the wait. curl could queue it too (CURLMOPT_MAX_HOST_CONNECTIONS stays as a
//     backstop), but it revisits its pending transfers on every socket event: with two thousand
//     dispatches waiting for 256 connections that doubled the CPU of each request.
//  3. Timer callback (CURLMOPT_TIMERFUNCTION): curl asks to be woken after N ms (-1: never), and
//     each call replaces the previous request. curl forbids calling
//     curl_multi_socket_action(CURL_SOCKET_TIMEOUT) from inside the callback, so the wake-up
//     always goes through the event loop: 0 ms is a post onto the strand (curl asks for it after
//     every added transfer), anything later a deadline (`wanted_`) kept by one steady_timer.
//     Re-arming that timer costs a timerfd_settime system call whenever it becomes the reactor's
//     earliest timer, which was an eighth of the CPU of a busy dispatcher, so the timer is only
//     moved earlier, never later: when it fires before `wanted_` it is re-armed for `wanted_`.
//     Firing early is harmless, firing late is not: curl does not repeat a request it made.
//  4. Socket callback (CURLMOPT_SOCKETFUNCTION): curl says which sockets to watch and for what
//     (IN, OUT, INOUT, REMOVE). Each socket gets a Socket record attached with
//     curl_multi_assign: a stream_descriptor wrapping curl's fd plus the wanted directions and
//     "wait pending" flags. We async_wait(wait_read / wait_write) for each wanted direction that
//     has no wait in flight; when one fires we call curl_multi_socket_action(fd, direction) and
//     re-arm while curl still wants that direction.
//  5. REMOVE: curl is about to close the fd or no longer needs it. We release() the descriptor
//     (deregisters it from the reactor, cancels pending waits, never closes the fd: curl owns
//     it) and mark the record removed; a wait handler still in flight holds the record through
//     a shared_ptr and sees the flag.
//  6. After every socket_action we drain curl_multi_info_read: each CURLMSG_DONE removes its easy
//     handle, maps the CURLcode to a Result and posts the caller's handler to the caller's
//     executor, so the caller resumes there and never on our strand.
//  7. Shutdown (~HttpClient): see the comment above HttpClient::~HttpClient.

#include "net/http_client.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <curl/curl.h>
#include <fmt/format.h>

#include "core/log.hpp"
#include "net/curl_options.hpp"

namespace mando::net {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

struct EasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct MultiDeleter {
  void operator()(CURLM* handle) const noexcept { curl_multi_cleanup(handle); }
};
struct MimeDeleter {
  void operator()(curl_mime* mime) const noexcept { curl_mime_free(mime); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;
using detail::SlistPtr;
using MimePtr = std::unique_ptr<curl_mime, MimeDeleter>;

using Completion = asio::any_completion_handler<void(Result<ClientResponse>)>;

void init_curl_once() {
  static std::once_flag once;
  // If curl_global_init fails the exception propagates and the next client tries again.
  std::call_once(once, [] {
    if (CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
      throw std::runtime_error(fmt::format("curl_global_init: {}", curl_easy_strerror(rc)));
    }
  });
}

// The URL as it may appear in errors and logs: without query, fragment and user info, which can
// hold tokens (webhook tokens, signed attachment URLs, basic-auth passwords).
std::string redact_url(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  std::string out(url);
  if (auto scheme_end = out.find("://"); scheme_end != std::string::npos) {
    const std::size_t authority = scheme_end + 3;
    const std::size_t authority_end = std::min(out.find('/', authority), out.size());
    const std::size_t at = out.rfind('@', authority_end == 0 ? 0 : authority_end - 1);
    if (at != std::string::npos && at >= authority) out.erase(authority, at + 1 - authority);
  }
  return out;
}

// "scheme://host:port" of a URL, the unit curl counts connections per; the URL itself when it
// does not parse (configure() refuses it later).
std::string host_of(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return url;
  std::string port(parsed->port());
  if (port.empty()) port = parsed->scheme() == "https" ? "443" : "80";
  return fmt::format("{}://{}:{}", parsed->scheme(), parsed->encoded_host().decode(), port);
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// RFC 9110 token characters, for the method and header names.
bool is_token(std::string_view s) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

class HttpClient::Impl : public std::enable_shared_from_this<HttpClient::Impl> {
 public:
  using Strand = asio::strand<asio::any_io_executor>;

  Impl(const asio::any_io_executor& executor, HttpClientOptions options);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  const Strand& strand() const { return strand_; }

  template <typename CompletionToken>
  auto async_send(ClientRequest request, CompletionToken&& token);

  // Completes every transfer with kUnavailable and releases curl. Runs on the strand (posted by
  // ~HttpClient) or from ~Impl, when no handler of ours can be running any more.
  void shut_down();

 private:
  struct Transfer;
  struct Socket;

  static int on_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int on_timer(CURLM* multi, long timeout_ms, void* userp);
  static std::size_t on_write(char* data, std::size_t size, std::size_t count, void* userp);
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* userp);

  struct Host {
    long active = 0;  // transfers handed to curl
    std::deque<std::unique_ptr<Transfer>> waiting;
  };

  void start(std::unique_ptr<Transfer> transfer);
  void add(std::unique_ptr<Transfer> transfer);
  bool launch(std::unique_ptr<Transfer> transfer);
  void finished(const std::string& host);
  Result<void> configure(Transfer& transfer);
  void watch(const std::shared_ptr<Socket>& socket);
  void on_ready(const std::shared_ptr<Socket>& socket, int direction, error_code ec);
  void arm_timer(std::chrono::steady_clock::time_point deadline);
  void on_timer_fired();
  void on_timeout();
  void socket_action(curl_socket_t fd, int events);
  void drain();
  Result<ClientResponse> outcome(Transfer& transfer, CURLcode code);
  static void complete(Transfer& transfer, Result<ClientResponse> result);

  HttpClientOptions options_;
  Strand strand_;
  asio::steady_timer timer_;
  // What curl asked for last (step 3), and the expiry of the wait in flight on timer_, if any.
  std::optional<std::chrono::steady_clock::time_point> wanted_;
  std::optional<std::chrono::steady_clock::time_point> armed_;
  bool timeout_posted_ = false;
  MultiPtr multi_;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> transfers_;
  std::unordered_map<curl_socket_t, std::shared_ptr<Socket>> sockets_;
  std::unordered_map<std::string, Host> hosts_;  // only with max_connections_per_host
  bool closed_ = false;
};

// One request in flight. Heap-allocated and never moved: curl keeps pointers to it (write and
// header callback data, the error buffer, the POST body).
struct HttpClient::Impl::Transfer {
  // Boost 1.81's any_completion_handler move *assignment* recurses until the stack overflows
  // (it forwards an lvalue to the wrapping constructor; fixed in 1.82), so the handler is only
  // ever move-constructed: here, and when it is handed to asio::append.
  explicit Transfer(Completion h) : handler(std::move(h)) {}

  ClientRequest request;
  std::string what;  // "METHOD url" without query, for messages
  std::string host;  // "scheme://host:port" when admitted per host (step 2), else empty
  std::chrono::steady_clock::time_point queued_at;
  Completion handler;
  asio::any_io_executor handler_work;  // the caller's executor, keeping its context alive
  ClientResponse response;
  bool over_limit = false;
  std::array<char, CURL_ERROR_SIZE> error{};
  SlistPtr header_list;
  SlistPtr resolve_list;  // CURLOPT_RESOLVE pins (ClientRequest::resolve)
  MimePtr mime;
  // Declared last so it is destroyed first, before the buffers and lists it points into.
  EasyPtr easy;
};

struct HttpClient::Impl::Socket : std::enable_shared_from_this<Socket> {
  Socket(const Strand& strand, curl_socket_t socket_fd) : fd(socket_fd), descriptor(strand) {}
  ~Socket() { release(); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Stops watching without closing: the fd belongs to curl.
  void release() {
    if (descriptor.is_open()) descriptor.release();
  }

  curl_socket_t fd;
  asio::posix::stream_descriptor descriptor;
  int what = 0;  // CURL_POLL_* curl currently wants
  bool reading = false;
  bool writing = false;
  bool removed = false;
  bool failed = false;  // a wait reported an error: stop re-arming, curl's timeout ends it
};

HttpClient::Impl::Impl(const asio::any_io_executor& executor, HttpClientOptions options)
    : options_(std::move(options)), strand_(asio::make_strand(executor)), timer_(strand_) {
  init_curl_once();
  multi_.reset(curl_multi_init());
  if (!multi_) throw std::bad_alloc();
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, options_.max_idle_connections);
  if (options_.max_connections_per_host > 0) {
    curl_multi_setopt(multi_.get(), CURLMOPT_MAX_HOST_CONNECTIONS,
                      options_.max_connections_per_host);
  }
}

HttpClient::Impl::~Impl() { shut_down(); }

template <typename CompletionToken>
auto HttpClient::Impl::async_send(ClientRequest request, CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(Result<ClientResponse>)>(
      // A raw pointer, not a shared_ptr: use_awaitable keeps the initiation arguments alive
      // until completion, inside the coroutine frame the completion handler owns, and that
      // handler is owned by a Transfer owned by Impl. A shared_ptr here would be a cycle that
      // only completion breaks: an Impl whose io_context is destroyed first would leak.
      // The caller of send() keeps the client, and so Impl, alive while initiation runs.
      [](auto handler, Impl* self, ClientRequest req) {
        asio::any_io_executor work =
            asio::prefer(asio::get_associated_executor(handler, self->strand_.get_inner_executor()),
                         asio::execution::outstanding_work.tracked);
        auto transfer = std::make_unique<Transfer>(Completion(std::move(handler)));
        transfer->what = fmt::format("{} {}", req.method, redact_url(req.url));
        transfer->request = std::move(req);
        transfer->handler_work = std::move(work);
        self->start(std::move(transfer));
      },
      token, this, std::move(request));
}

void HttpClient::Impl::start(std::unique_ptr<Transfer> transfer) {
  asio::post(strand_, [self = shared_from_this(), t = std::move(transfer)]() mutable {
    self->add(std::move(t));
  });
}

void HttpClient::Impl::complete(Transfer& transfer, Result<ClientResponse> result) {
  // Posting (never dispatching) means the caller resumes on its own executor, outside our strand
  // and outside any curl callback.
  asio::any_io_executor work = std::move(transfer.handler_work);
  asio::post(work, asio::append(std::move(transfer.handler), std::move(result)));
}

void HttpClient::Impl::add(std::unique_ptr<Transfer> transfer) {
  if (closed_) {
    complete(*transfer, fail(ErrorKind::kUnavailable,
                             fmt::format("{}: the HTTP client is shutting down", transfer->what)));
    return;
  }
  if (options_.max_connections_per_host > 0) {
    transfer->host = host_of(transfer->request.url);
    Host& host = hosts_[transfer->host];
    if (host.active >= options_.max_connections_per_host) {
      transfer->queued_at = std::chrono::steady_clock::now();
      host.waiting.push_back(std::move(transfer));
      return;
    }
    ++host.active;
  }
  const std::string host_key = transfer->host;
  if (!launch(std::move(transfer))) finished(host_key);
}

// Step 2, once admitted: the easy handle, into the multi handle. True when curl has the
// transfer (drain() will end it); false when it was completed at once and its slot is free again
// (the caller hands the slot on).
bool HttpClient::Impl::launch(std::unique_ptr<Transfer> transfer) {
  if (auto configured = configure(*transfer); !configured) {
    complete(*transfer, tl::unexpected(std::move(configured.error())));
    return false;
  }
  CURL* easy = transfer->easy.get();
  auto it = transfers_.emplace(easy, std::move(transfer)).first;
  if (CURLMcode mc = curl_multi_add_handle(multi_.get(), easy); mc != CURLM_OK) {
    auto failed = std::move(it->second);
    transfers_.erase(it);
    complete(*failed,
             fail(ErrorKind::kInternal, fmt::format("{}: curl_multi_add_handle: {}", failed->what,
                                                    curl_multi_strerror(mc))));
    return false;
  }
  return true;
}

// A transfer to `host` ended: its slot goes to the first one waiting, whose timeout has been
// running since it was queued.
void HttpClient::Impl::finished(const std::string& host) {
  if (host.empty()) return;
  auto it = hosts_.find(host);
  if (it == hosts_.end()) return;
  Host& h = it->second;
  --h.active;
  while (!closed_ && !h.waiting.empty() && h.active < options_.max_connections_per_host) {
    std::unique_ptr<Transfer> next = std::move(h.waiting.front());
    h.waiting.pop_front();
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - next->queued_at);
    if (waited >= next->request.timeout) {
      complete(*next, fail(ErrorKind::kDeadlineExceeded,
                           fmt::format("{}: timed out after {} ms waiting for a connection",
                                       next->what, next->request.timeout.count())));
      continue;
    }
    next->request.timeout -= waited;
    next->request.connect_timeout = std::min(next->request.connect_timeout, next->request.timeout);
    ++h.active;
    if (!launch(std::move(next))) --h.active;  // ended at once: its slot is free again
  }
  if (h.active == 0 && h.waiting.empty()) hosts_.erase(it);
}

Result<void> HttpClient::Impl::configure(Transfer& t) {
  const ClientRequest& r = t.request;
  auto invalid = [&](std::string_view why) {
    return fail(ErrorKind::kInvalidArgument, fmt::format("{}: {}", t.what, why));
  };
  if (!is_token(r.method)) return invalid("the method is not an HTTP token");
  if (!r.body.empty() && !r.multipart.empty()) return invalid("both body and multipart are set");
  if (r.method == "HEAD" && (!r.body.empty() || !r.multipart.empty())) {
    return invalid("a HEAD request cannot have a body");
  }
  if (r.connect_timeout.count() <= 0 || r.timeout.count() <= 0) {
    return invalid("timeouts must be positive");
  }
  if (has_control_chars(r.url)) return invalid("the URL contains control characters");
  for (const auto& pin : r.resolve) {
    if (has_control_chars(pin)) return invalid("a resolve entry contains control characters");
  }
  for (const auto& [name, value] : r.headers.fields()) {
    if (!is_token(name) || has_control_chars(value)) {
      return invalid(fmt::format("malformed header field '{}'", name));
    }
  }
  for (const auto& part : r.multipart) {
    if (part.name.empty() || has_control_chars(part.name) || has_control_chars(part.filename) ||
        has_control_chars(part.content_type)) {
      return invalid(fmt::format("malformed multipart part '{}'", part.name));
    }
  }

  t.easy.reset(curl_easy_init());
  if (!t.easy) return fail(ErrorKind::kInternal, fmt::format("{}: curl_easy_init failed", t.what));
  CURL* easy = t.easy.get();

  // curl_easy_setopt only fails on out-of-memory or an option this libcurl lacks; remember the
  // first failure instead of checking every call.
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(easy, option, value);
  };

  set(CURLOPT_URL, r.url.c_str());
  set(CURLOPT_ERRORBUFFER, t.error.data());
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (r.max_redirects > 0) {
    set(CURLOPT_FOLLOWLOCATION, 1L);
    set(CURLOPT_MAXREDIRS, static_cast<long>(r.max_redirects));
  } else {
    set(CURLOPT_FOLLOWLOCATION, 0L);
  }
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout.count()));
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) set(CURLOPT_CAINFO, options_.ca_file.c_str());
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  // A HEAD response announces a body it does not send; only real bodies are capped. The write
  // callback enforces the cap as well: curl 7.88 checks MAXFILESIZE against Content-Length only,
  // not against chunked or close-delimited bodies.
  if (r.method != "HEAD") {
    const auto cap = static_cast<curl_off_t>(
        std::min<std::size_t>(r.max_response_bytes, std::numeric_limits<curl_off_t>::max()));
    set(CURLOPT_MAXFILESIZE_LARGE, cap);
  }
  set(CURLOPT_WRITEFUNCTION, &Impl::on_write);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
  set(CURLOPT_HEADERFUNCTION, &Impl::on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
  if (!r.headers.contains("User-Agent") && !options_.user_agent.empty()) {
    set(CURLOPT_USERAGENT, options_.user_agent.c_str());
  }

  const bool has_multipart = !r.multipart.empty();
  const bool has_fields = !has_multipart && (!r.body.empty() || r.method == "POST" ||
                                             r.method == "PUT" || r.method == "PATCH");
  if (r.method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else if (has_multipart) {
    t.mime.reset(curl_mime_init(easy));
    if (!t.mime) {
      return fail(ErrorKind::kInternal, fmt::format("{}: curl_mime_init failed", t.what));
    }
    for (const auto& part : r.multipart) {
      curl_mimepart* p = curl_mime_addpart(t.mime.get());
      if (p == nullptr) {
        return fail(ErrorKind::kInternal, fmt::format("{}: curl_mime_addpart failed", t.what));
      }
      CURLcode mc = curl_mime_name(p, part.name.c_str());
      if (mc == CURLE_OK) mc = curl_mime_data(p, part.data.data(), part.data.size());
      if (mc == CURLE_OK && !part.filename.empty()) {
        mc = curl_mime_filename(p, part.filename.c_str());
      }
      if (mc == CURLE_OK && !part.content_type.empty()) {
        mc = curl_mime_type(p, part.content_type.c_str());
      }
      if (mc != CURLE_OK) {
        return fail(ErrorKind::kInternal, fmt::format("{}: multipart part '{}': {}", t.what,
                                                      part.name, curl_easy_strerror(mc)));
      }
    }
    set(CURLOPT_MIMEPOST, t.mime.get());
    if (r.method != "POST") set(CURLOPT_CUSTOMREQUEST, r.method.c_str());
  } else if (has_fields) {
    // POSTFIELDS does not copy: the body lives in t.request until the easy handle is gone. The
    // explicit size lets the body hold NUL bytes. POST/PUT/PATCH always send Content-Length,
    // even 0 (some servers answer 411 otherwise).
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    set(CURLOPT_POSTFIELDS, r.body.data());
    if (r.method != "POST") set(CURLOPT_CUSTOMREQUEST, r.method.c_str());
  } else if (r.method == "GET") {
    set(CURLOPT_HTTPGET, 1L);
  } else {
    set(CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }

  SlistPtr list;
  auto append = [&](const std::string& line) { return detail::append_line(list, line); };
  bool appended = true;
  for (const auto& [name, value] : r.headers.fields()) {
    // "Name;" is curl's spelling of a header with an empty value ("Name:" would remove it).
    appended = appended && append(value.empty() ? name + ";" : fmt::format("{}: {}", name, value));
  }
  // curl would wait up to a second for "100 Continue" before sending bodies over 1 KiB.
  if (!r.headers.contains("Expect")) appended = appended && append("Expect:");
  // curl labels POSTFIELDS bodies application/x-www-form-urlencoded unless told otherwise; the
  // caller names the type or there is none.
  if (has_fields && !r.headers.contains("Content-Type")) {
    appended = appended && append("Content-Type:");
  }
  if (!appended)
    return fail(ErrorKind::kInternal, fmt::format("{}: curl_slist_append failed", t.what));
  t.header_list = std::move(list);
  set(CURLOPT_HTTPHEADER, t.header_list.get());
  if (rc == CURLE_OK) rc = detail::set_untrusted_options(easy, r, t.resolve_list);

  if (rc != CURLE_OK) {
    return fail(ErrorKind::kInternal,
                fmt::format("{}: curl_easy_setopt: {}", t.what, curl_easy_strerror(rc)));
  }
  return {};
}

std::size_t HttpClient::Impl::on_write(char* data, std::size_t size, std::size_t count,
                                       void* userp) {
  auto& t = *static_cast<Transfer*>(userp);
  const std::size_t n = size * count;
  if (t.response.body.size() + n > t.request.max_response_bytes) {
    t.over_limit = true;
    return CURL_WRITEFUNC_ERROR;
  }
  t.response.body.append(data, n);
  return n;
}

std::size_t HttpClient::Impl::on_header(char* data, std::size_t size, std::size_t count,
                                        void* userp) {
  auto& t = *static_cast<Transfer*>(userp);
  const std::size_t n = size * count;
  const std::string_view line = trim(std::string_view(data, n));
  if (line.starts_with("HTTP/")) {
    // A new status line: an interim (1xx) or redirect response came before. Only the final
    // response's fields are kept.
    t.response.headers = Headers{};
    t.response.body.clear();
    return n;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;  // blank line or obs-fold
  t.response.headers.add(line.substr(0, colon), trim(line.substr(colon + 1)));
  return n;
}

int HttpClient::Impl::on_socket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto& self = *static_cast<Impl*>(userp);
  auto* known = static_cast<Socket*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    if (known != nullptr) {
      known->removed = true;
      known->release();
    }
    if (auto it = self.sockets_.find(fd); it != self.sockets_.end() && it->second.get() == known) {
      self.sockets_.erase(it);
    }
    return 0;
  }

  std::shared_ptr<Socket> socket;
  if (known != nullptr) {
    socket = known->shared_from_this();
  } else {
    socket = std::make_shared<Socket>(self.strand_, fd);
    error_code ec;
    socket->descriptor.assign(fd, ec);
    if (ec) {
      core::logger("net")->warn("event=curl_socket_watch_failed fd={} error=\"{}\"", fd,
                                ec.message());
      return -1;  // curl fails the transfers using this socket
    }
    if (curl_multi_assign(self.multi_.get(), fd, socket.get()) != CURLM_OK) return -1;
    if (auto it = self.sockets_.find(fd); it != self.sockets_.end()) {
      // curl closed this fd number without telling us and reused it; forget the stale record.
      it->second->removed = true;
      it->second->release();
    }
    self.sockets_[fd] = socket;
  }
  socket->what = what;
  if (!self.closed_) self.watch(socket);
  return 0;
}

void HttpClient::Impl::watch(const std::shared_ptr<Socket>& socket) {
  if (socket->failed || socket->removed) return;
  auto arm = [&](bool& pending, asio::posix::descriptor_base::wait_type type, int direction) {
    if (pending) return;
    pending = true;
    socket->descriptor.async_wait(
        type,
        asio::bind_executor(strand_, [self = shared_from_this(), socket, direction](error_code ec) {
          self->on_ready(socket, direction, ec);
        }));
  };
  if (socket->what & CURL_POLL_IN) {
    arm(socket->reading, asio::posix::descriptor_base::wait_read, CURL_CSELECT_IN);
  }
  if (socket->what & CURL_POLL_OUT) {
    arm(socket->writing, asio::posix::descriptor_base::wait_write, CURL_CSELECT_OUT);
  }
}

void HttpClient::Impl::on_ready(const std::shared_ptr<Socket>& socket, int direction,
                                error_code ec) {
  const bool in = direction == CURL_CSELECT_IN;
  (in ? socket->reading : socket->writing) = false;
  if (closed_ || socket->removed || ec == asio::error::operation_aborted) return;
  // curl may have switched direction (e.g. from OUT to IN) while this wait was pending.
  if ((socket->what & (in ? CURL_POLL_IN : CURL_POLL_OUT)) == 0) return;
  if (ec) {
    socket->failed = true;
    core::logger("net")->debug("event=curl_socket_wait_failed fd={} error=\"{}\"", socket->fd,
                               ec.message());
  }
  socket_action(socket->fd, ec ? CURL_CSELECT_ERR : direction);
  if (!closed_) watch(socket);
}

int HttpClient::Impl::on_timer(CURLM*, long timeout_ms, void* userp) {
  auto& self = *static_cast<Impl*>(userp);
  self.wanted_.reset();
  if (self.closed_) return 0;
  if (timeout_ms < 0) {
    // Nothing to wait for: drop the wait in flight too, or it would keep the io_context busy
    // (cancelling costs no system call; moving the timer does).
    if (self.armed_) {
      self.armed_.reset();
      self.timer_.cancel();
    }
    return 0;
  }
  if (timeout_ms == 0) {
    if (!self.timeout_posted_) {
      self.timeout_posted_ = true;
      asio::post(self.strand_, [weak = self.weak_from_this()] {
        if (auto impl = weak.lock()) {
          impl->timeout_posted_ = false;
          impl->on_timeout();
        }
      });
    }
    return 0;
  }
  self.wanted_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  if (!self.armed_ || *self.wanted_ < *self.armed_) self.arm_timer(*self.wanted_);
  return 0;
}

void HttpClient::Impl::arm_timer(std::chrono::steady_clock::time_point deadline) {
  // expires_at cancels the wait in flight; its handler sees operation_aborted.
  armed_ = deadline;
  timer_.expires_at(deadline);
  timer_.async_wait(asio::bind_executor(strand_, [weak = weak_from_this()](error_code ec) {
    if (ec) return;
    if (auto impl = weak.lock()) impl->on_timer_fired();
  }));
}

void HttpClient::Impl::on_timer_fired() {
  armed_.reset();
  if (closed_ || !wanted_) return;
  if (*wanted_ > std::chrono::steady_clock::now()) {
    arm_timer(*wanted_);  // fired early: curl moved its deadline later meanwhile
    return;
  }
  wanted_.reset();
  on_timeout();
}

void HttpClient::Impl::on_timeout() {
  if (closed_) return;
  socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void HttpClient::Impl::socket_action(curl_socket_t fd, int events) {
  int running = 0;
  if (CURLMcode mc = curl_multi_socket_action(multi_.get(), fd, events, &running); mc != CURLM_OK) {
    core::logger("net")->warn("event=curl_multi_socket_action_failed error=\"{}\"",
                              curl_multi_strerror(mc));
  }
  drain();
}

void HttpClient::Impl::drain() {
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &queued)) {
    if (msg->msg != CURLMSG_DONE) continue;
    // msg does not survive curl_multi_remove_handle: copy what we need first.
    CURL* easy = msg->easy_handle;
    const CURLcode code = msg->data.result;
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) continue;
    std::unique_ptr<Transfer> transfer = std::move(it->second);
    transfers_.erase(it);
    curl_multi_remove_handle(multi_.get(), easy);
    complete(*transfer, outcome(*transfer, code));
    finished(transfer->host);
  }
}

Result<ClientResponse> HttpClient::Impl::outcome(Transfer& t, CURLcode code) {
  std::string_view detail = trim(t.error.data());
  if (detail.empty()) detail = curl_easy_strerror(code);
  switch (code) {
    case CURLE_OK: {
      long status = 0;
      curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &status);
      t.response.status = static_cast<int>(status);
      return std::move(t.response);
    }
    case CURLE_OPERATION_TIMEDOUT: {
      // Pretransfer time is set once the connection is up (new or reused) and the request is
      // about to be sent.
      curl_off_t pretransfer = 0;
      curl_easy_getinfo(t.easy.get(), CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
      const bool connected = pretransfer > 0;
      const auto limit =
          connected ? t.request.timeout : std::min(t.request.connect_timeout, t.request.timeout);
      return fail(ErrorKind::kDeadlineExceeded,
                  fmt::format("{}: timed out after {} ms {} ({})", t.what, limit.count(),
                              connected ? "fetching" : "connecting", detail));
    }
    case CURLE_WRITE_ERROR:
      if (!t.over_limit) break;
      [[fallthrough]];
    case CURLE_FILESIZE_EXCEEDED:
      return fail(ErrorKind::kResourceExhausted,
                  fmt::format("{}: the response body exceeds the limit of {} bytes", t.what,
                              t.request.max_response_bytes));
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return fail(ErrorKind::kInvalidArgument, fmt::format("{}: {}", t.what, detail));
    default:
      break;
  }
  return fail(ErrorKind::kUnavailable, fmt::format("{}: {}", t.what, detail));
}

void HttpClient::Impl::shut_down() {
  if (closed_) return;
  // From here on the curl callbacks only release sockets: no new waits, no timer.
  closed_ = true;
  auto transfers = std::move(transfers_);
  transfers_.clear();
  if (!transfers.empty()) {
    core::logger("net")->debug("event=http_client_shutdown aborted_transfers={}", transfers.size());
  }
  for (auto& [easy, transfer] : transfers) {
    curl_multi_remove_handle(multi_.get(), easy);
    complete(*transfer, fail(ErrorKind::kUnavailable,
                             fmt::format("{}: the HTTP client was shut down", transfer->what)));
  }
  transfers.clear();
  for (auto& [name, host] : hosts_) {
    for (auto& transfer : host.waiting) {
      complete(*transfer, fail(ErrorKind::kUnavailable,
                               fmt::format("{}: the HTTP client was shut down", transfer->what)));
    }
  }
  hosts_.clear();
  // Deregister every fd from the reactor while curl still has it open; curl_multi_cleanup then
  // closes the cached connections (its REMOVE callbacks find the records already released).
  for (auto& [fd, socket] : sockets_) {
    socket->removed = true;
    socket->release();
  }
  multi_.reset();
  sockets_.clear();
  timer_.cancel();
}

HttpClient::HttpClient(boost::asio::any_io_executor executor, HttpClientOptions options)
    : impl_(std::make_shared<Impl>(executor, std::move(options))) {}

// The shutdown rule. curl may only be touched on the strand, and a strand handler of ours may be
// running on another thread right now, so the destructor never calls curl itself: it posts
// shut_down() onto the strand and returns without waiting (waiting could deadlock when the
// destructor runs on the io_context's only thread). If the io_context runs, shut_down() completes
// every outstanding transfer with kUnavailable, releases the sockets, cancels the timer and
// frees the multi handle; the Impl dies with the last handler that references it.
// If the io_context never runs again, the posted handler (and every pending wait, each holding a
// shared_ptr to Impl) is destroyed with the io_context or when it is restarted and stopped;
// ~Impl then performs the same cleanup synchronously. That is safe: ~Impl runs only once no
// handler of ours exists, so nothing else can be inside curl. Consequence for owners: destroy the
// client before its io_context (as with every Asio I/O object), and never rely on completions
// arriving before the io_context runs again.
HttpClient::~HttpClient() {
  if (!impl_) return;
  Impl::Strand strand = impl_->strand();
  asio::post(strand, [impl = std::move(impl_)] { impl->shut_down(); });
}

boost::asio::awaitable<Result<ClientResponse>> HttpClient::send(ClientRequest request) {
  // No shared_ptr<Impl> in this frame (see async_send): the client outlives the call.
  co_return co_await impl_->async_send(std::move(request), boost::asio::use_awaitable);
}

}  // namespace mando::net
