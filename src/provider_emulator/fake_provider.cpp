#include "provider_emulator/fake_provider.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "core/crypto.hpp"
#include "core/log.hpp"
#include "discord/signature.hpp"
#include "imagine/fal.hpp"
#include "imagine/fal_webhooks.hpp"
#include "imagine/standard_webhooks.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "provider_emulator/fake_wire.hpp"
#include "render/render.hpp"

namespace mando::provider_emulator {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr int kWebhookAttempts = 3;
constexpr std::chrono::minutes kSlow{1};
constexpr std::chrono::seconds kLate{15};
constexpr std::string_view kFalUser = "fake-fal-user";
constexpr std::string_view kSafetyMessage =
    "NSFW content detected. Try running it again, or try a different prompt.";

struct Prediction {
  bool fal = false;  // submitted through the fal-style queue API (else Replicate-style)
  std::string id;
  std::string version;
  json::object input;
  std::string prompt;
  int count = 1;
  bool video = false;
  std::string status = "starting";
  std::string logs;
  std::vector<std::string> outputs;  // URLs
  std::string error;
  std::string webhook;
  std::set<std::string, std::less<>> events;  // empty: every event
  std::chrono::steady_clock::time_point cancel_at = std::chrono::steady_clock::time_point::max();
  std::vector<std::string> held;  // webhook bodies held back to be shuffled
  FakeTimeline timeline;
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Files {
  std::vector<std::string> data;
  std::string content_type;
  std::chrono::steady_clock::time_point made;
};

net::Response problem(int status, std::string_view detail) {
  return net::Response::json(
      status,
      json::serialize(json::object{{"title", detail}, {"detail", detail}, {"status", status}}));
}

}  // namespace

class FakeProvider::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& ioc, FakeProviderOptions options)
      : ioc_(ioc),
        options_(std::move(options)),
        faults_(options_.faults),
        generation_ms_(options_.generation.count()),
        hooks_(*imagine::StandardWebhooks::create({options_.webhook_secret})),
        client_(ioc.get_executor()) {}

  void install(net::Router& router) {
    auto self = shared_from_this();
    router.add("POST", "/v1/predictions",
               [self](net::Request r) { return self->create(std::move(r), ""); });
    router.add("POST", "/v1/models/*", [self](net::Request r) {
      auto path = r.path().substr(std::string_view("/v1/models/").size());
      if (!path.ends_with("/predictions")) return ready(problem(404, "not found"));
      return self->create(std::move(r), std::string(path.substr(0, path.size() - 12)));
    });
    router.add("GET", "/v1/predictions/*",
               [self](net::Request r) { return self->get(std::move(r)); });
    router.add("POST", "/v1/predictions/*",
               [self](net::Request r) { return self->cancel(std::move(r)); });
    router.add("GET", "/files/*", [self](net::Request r) { return self->file(std::move(r)); });
    router.add("POST", "/fal/*", [self](net::Request r) { return self->fal_create(std::move(r)); });
    router.add("GET", "/fal/*", [self](net::Request r) { return self->fal_get(std::move(r)); });
    router.add("PUT", "/fal/*", [self](net::Request r) { return self->fal_cancel(std::move(r)); });
    router.add("POST", "/openai/v1/images/generations",
               [self](net::Request r) { return self->openai_generate(std::move(r)); });
    router.add("POST", "/_fake/faults", [self](net::Request r) {
      std::lock_guard lock(self->mutex_);
      auto faults = parse_faults(r.body, self->faults_);
      if (!faults) return ready(net::Response::json_error(400, faults.error().message));
      self->faults_ = *faults;
      return ready(net::Response::json(200, json::serialize(to_json(self->faults_))));
    });
    router.add("GET", "/_fake/stats", [self](net::Request) {
      const FakeStats s = self->stats();
      return ready(net::Response::json(
          200, json::serialize(json::object{{"submitted", s.submitted},
                                            {"refused", s.refused},
                                            {"polls", s.polls},
                                            {"canceled", s.canceled},
                                            {"webhooks_sent", s.webhooks_sent},
                                            {"webhooks_failed", s.webhooks_failed},
                                            {"running", s.running}})));
    });
  }

  void set_faults(Faults faults) {
    std::lock_guard lock(mutex_);
    faults_ = faults;
  }

  void set_generation(std::chrono::milliseconds generation) { generation_ms_ = generation.count(); }

  std::vector<FakeTimeline> timelines() const {
    std::lock_guard lock(mutex_);
    std::vector<FakeTimeline> out;
    for (const auto& [id, p] : predictions_) {
      out.push_back(p.timeline);
      out.back().prompt = p.prompt;
      out.back().version = p.version;
      for (std::string_view key : {"image", "image_url"}) {
        if (const auto* v = p.input.if_contains(key); v != nullptr && v->is_string()) {
          out.back().image = std::string(v->as_string());
        }
      }
    }
    return out;
  }

  FakeStats stats() const {
    std::lock_guard lock(mutex_);
    FakeStats s = stats_;
    s.running = std::ranges::count_if(predictions_,
                                      [](const auto& p) { return !terminal(p.second.status); });
    return s;
  }

  // Ends every wait at once: generation steps, webhook retries, synchronous calls.
  void stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (auto* timer : timers_) timer->cancel();
  }

  std::string url;

 private:
  static asio::awaitable<net::Response> ready(net::Response response) { co_return response; }

  // Waits `duration` unless the fake stops; false when it stopped (now or meanwhile).
  asio::awaitable<bool> wait(std::chrono::milliseconds duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    {
      std::lock_guard lock(mutex_);
      if (stopped_) co_return false;
      timers_.insert(&timer);
    }
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(mutex_);
    timers_.erase(&timer);
    co_return !stopped_;
  }

  // `scheme`: "Bearer " (Replicate, OpenAI) or "Key " (fal).
  bool authorized(const net::Request& r, std::string_view scheme = "Bearer ") const {
    return r.headers.get("authorization") == std::string(scheme) + options_.api_token;
  }

  // What every submit goes through first: the token, then the injected faults. A response to
  // answer instead, or nullopt; call with mutex_ held.
  std::optional<net::Response> refuse_submit(const net::Request& r, std::string_view scheme) {
    if (!authorized(r, scheme)) {
      ++stats_.refused;
      return problem(401, "You did not pass a valid authentication token");
    }
    if (faults_.submit_500 > 0) {
      --faults_.submit_500;
      ++stats_.refused;
      return problem(500, "Internal server error");
    }
    if (faults_.submit_429 > 0) {
      --faults_.submit_429;
      ++stats_.refused;
      auto response = problem(429, "Request was throttled. Expected available in 1 second.");
      response.headers.set("retry-after", "1");
      return response;
    }
    return std::nullopt;
  }

  // Stores `p` under a new id and starts it; call with mutex_ held (released here).
  std::string start(Prediction p, std::unique_lock<std::mutex>& lock) {
    p.id = p.fal ? fmt::format("{:08x}-fake-4000-8000-{:012x}", next_id_ + 1,
                               (next_id_ + 1) * 0x9e3779b97f4aull & 0xffffffffffffull)
                 : fmt::format("fake{:016x}", (next_id_ + 1) * 0x9e3779b97f4a7c15ull);
    ++next_id_;
    p.video = p.version.find("video") != std::string::npos;
    ++stats_.submitted;
    const std::string id = p.id;
    predictions_.emplace(id, std::move(p));
    lock.unlock();
    asio::co_spawn(ioc_, run(shared_from_this(), id), asio::detached);
    return id;
  }

  // The prediction as the API shows it; call with mutex_ held.
  json::object view(const Prediction& p) const {
    json::value output = nullptr;
    if (!p.outputs.empty()) {
      json::array list;
      for (const auto& o : p.outputs) list.emplace_back(o);
      output = p.video ? json::value(p.outputs.front()) : json::value(std::move(list));
    }
    return {{"id", p.id},
            {"version", p.version},
            {"input", p.input},
            {"logs", p.logs},
            {"output", std::move(output)},
            {"error", p.error.empty() ? json::value(nullptr) : json::value(p.error)},
            {"status", p.status},
            {"urls", json::object{{"get", url + "/v1/predictions/" + p.id},
                                  {"cancel", url + "/v1/predictions/" + p.id + "/cancel"}}}};
  }

  asio::awaitable<net::Response> create(net::Request r, std::string model) {
    std::unique_lock lock(mutex_);
    if (auto refused = refuse_submit(r, "Bearer ")) co_return std::move(*refused);
    boost::system::error_code ec;
    json::value body = json::parse(r.body, ec);
    const json::object* o = !ec && body.is_object() ? &body.as_object() : nullptr;
    const json::value* input = o != nullptr ? o->if_contains("input") : nullptr;
    const json::value* prompt =
        input != nullptr && input->is_object() ? input->as_object().if_contains("prompt") : nullptr;
    const json::value* version = o != nullptr ? o->if_contains("version") : nullptr;
    if (prompt == nullptr || !prompt->is_string() ||
        (model.empty() && (version == nullptr || !version->is_string()))) {
      ++stats_.refused;
      co_return problem(422, "input.prompt and version are required");
    }
    Prediction p;
    p.version = model.empty() ? std::string(version->as_string()) : model;
    p.input = input->as_object();
    p.prompt = std::string(prompt->as_string());
    if (const auto* n = p.input.if_contains("num_outputs"); n != nullptr && n->is_int64()) {
      p.count = std::clamp<int>(static_cast<int>(n->get_int64()), 1, 4);
    }
    if (const auto* hook = o->if_contains("webhook"); hook != nullptr && hook->is_string()) {
      p.webhook = std::string(hook->as_string());
    }
    if (const auto* filter = o->if_contains("webhook_events_filter");
        filter != nullptr && filter->is_array()) {
      for (const auto& e : filter->as_array()) {
        if (e.is_string()) p.events.emplace(e.as_string());
      }
    }
    if (auto after = r.headers.get("cancel-after")) {
      auto parsed = parse_cancel_after(*after);
      if (!parsed) co_return problem(400, "Cancel-After must be a duration such as 30s or 5m");
      p.cancel_at = std::chrono::steady_clock::now() + *parsed;
    }
    const std::string id = start(std::move(p), lock);
    lock.lock();
    co_return net::Response::json(201, json::serialize(view(predictions_.at(id))));
  }

  // "/v1/predictions/{id}" or ".../cancel": the id and whether it is the cancel route.
  static std::pair<std::string, bool> prediction_path(std::string_view path) {
    path.remove_prefix(std::string_view("/v1/predictions/").size());
    const bool cancel = path.ends_with("/cancel");
    if (cancel) path.remove_suffix(7);
    return {std::string(path), cancel};
  }

  asio::awaitable<net::Response> get(net::Request r) {
    std::lock_guard lock(mutex_);
    if (!authorized(r)) co_return problem(401, "You did not pass a valid authentication token");
    auto [id, cancel] = prediction_path(r.path());
    auto it = predictions_.find(id);
    if (cancel || it == predictions_.end()) co_return problem(404, "Not found.");
    ++stats_.polls;
    co_return net::Response::json(200, json::serialize(view(it->second)));
  }

  asio::awaitable<net::Response> cancel(net::Request r) {
    std::unique_lock lock(mutex_);
    if (!authorized(r)) co_return problem(401, "You did not pass a valid authentication token");
    auto [id, is_cancel] = prediction_path(r.path());
    auto it = predictions_.find(id);
    if (!is_cancel || it == predictions_.end()) co_return problem(404, "Not found.");
    Prediction& p = it->second;
    if (!terminal(p.status) && !faults_.ignore_cancel) {
      p.status = "canceled";
      ++stats_.canceled;
      queue_event(p, "completed");
    }
    co_return net::Response::json(200, json::serialize(view(p)));
  }

  asio::awaitable<net::Response> file(net::Request r) {
    std::lock_guard lock(mutex_);
    // /files/{id}/{n}.{ext}
    std::string_view rest = r.path().substr(std::string_view("/files/").size());
    const auto slash = rest.find('/');
    const auto it = slash == std::string_view::npos
                        ? files_.end()
                        : files_.find(std::string(rest.substr(0, slash)));
    unsigned n = 0;
    const auto name = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
    if (it == files_.end() || ec != std::errc() || n >= it->second.data.size() ||
        (faults_.output_ttl.count() > 0 &&
         std::chrono::steady_clock::now() - it->second.made > faults_.output_ttl)) {
      co_return net::Response::text(404, "not found\n");
    }
    if (auto p = predictions_.find(it->first); p != predictions_.end()) {
      auto& t = p->second.timeline;
      t.last_file_ms = now_ms();
      if (t.first_file_ms == 0) t.first_file_ms = t.last_file_ms;
    }
    net::Response response;
    response.headers.set("content-type", it->second.content_type);
    response.body = it->second.data[n];
    co_return response;
  }

  // --- the fal-style queue API (imagine/fal.hpp) ---

  json::object fal_output(const Prediction& p) const {
    json::array files;
    for (const auto& o : p.outputs) {
      files.push_back(json::object{{"url", o},
                                   {"content_type", p.video ? "video/mp4" : "image/png"},
                                   {"width", options_.image_size},
                                   {"height", options_.image_size}});
    }
    if (p.video) return {{"video", files.empty() ? json::value(nullptr) : files.front()}};
    return {{"images", std::move(files)}, {"seed", fnv1a(p.prompt) % 4294967296ull}};
  }

  json::object fal_webhook_body(const Prediction& p) const {
    json::object body{{"request_id", p.id}, {"gateway_request_id", p.id}};
    if (p.status == "succeeded") {
      body["status"] = "OK";
      body["payload"] = fal_output(p);
    } else {
      body["status"] = "ERROR";
      body["error"] = p.status == "canceled" ? "Request was cancelled" : p.error;
      body["payload"] = nullptr;
    }
    return body;
  }

  asio::awaitable<net::Response> fal_create(net::Request r) {
    std::unique_lock lock(mutex_);
    if (auto refused = refuse_submit(r, "Key ")) co_return std::move(*refused);
    const std::string model(r.path().substr(std::string_view("/fal/").size()));
    boost::system::error_code ec;
    json::value body = json::parse(r.body, ec);
    const json::value* prompt =
        !ec && body.is_object() ? body.as_object().if_contains("prompt") : nullptr;
    if (prompt == nullptr || !prompt->is_string() || !imagine::fal::app_id(model)) {
      ++stats_.refused;
      co_return problem(422, "prompt is required");
    }
    Prediction p;
    p.fal = true;
    p.version = model;
    p.input = body.as_object();
    p.prompt = std::string(prompt->as_string());
    if (const auto* n = p.input.if_contains("num_images"); n != nullptr && n->is_int64()) {
      p.count = std::clamp<int>(static_cast<int>(n->get_int64()), 1, 4);
    }
    p.webhook = r.query_param("fal_webhook").value_or("");
    const std::string id = start(std::move(p), lock);
    const std::string base =
        fmt::format("{}/fal/{}/requests/{}", url, *imagine::fal::app_id(model), id);
    co_return net::Response::json(200,
                                  json::serialize(json::object{{"request_id", id},
                                                               {"gateway_request_id", id},
                                                               {"response_url", base},
                                                               {"status_url", base + "/status"},
                                                               {"cancel_url", base + "/cancel"},
                                                               {"queue_position", 0}}));
  }

  // The prediction `/fal/{app}/requests/{id}[suffix]` names, with mutex_ held; nullptr if none.
  Prediction* fal_request(std::string_view path, std::string_view suffix) {
    if (!path.ends_with(suffix)) return nullptr;
    path.remove_suffix(suffix.size());
    const auto at = path.rfind("/requests/");
    if (at == std::string_view::npos) return nullptr;
    auto it = predictions_.find(path.substr(at + 10));
    return it == predictions_.end() || !it->second.fal ? nullptr : &it->second;
  }

  asio::awaitable<net::Response> fal_get(net::Request r) {
    std::lock_guard lock(mutex_);
    if (r.path() == "/fal/.well-known/jwks.json") {
      const auto pair = *discord::key_pair_from_secret_hex(options_.fal_key_seed_hex);
      const json::object key = imagine::ed25519_jwk(pair.public_key_hex, "fake");
      co_return net::Response::json(200, json::serialize(json::object{{"keys", json::array{key}}}));
    }
    if (!authorized(r, "Key ")) co_return problem(401, "Invalid credentials");
    ++stats_.polls;
    if (Prediction* p = fal_request(r.path(), "/status")) {
      json::object status{{"request_id", p->id}};
      status["status"] = p->status == "starting"     ? "IN_QUEUE"
                         : p->status == "processing" ? "IN_PROGRESS"
                                                     : "COMPLETED";
      if (p->status == "starting") status["queue_position"] = 0;
      json::array logs;
      for (std::string_view rest = p->logs; !rest.empty();) {
        const auto cut = rest.find('\r');
        logs.push_back(json::object{{"message", rest.substr(0, cut)}, {"level", "INFO"}});
        rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
      }
      status["logs"] = std::move(logs);
      co_return net::Response::json(200, json::serialize(status));
    }
    Prediction* p = fal_request(r.path(), "");
    if (p == nullptr) co_return problem(404, "Request not found");
    if (!terminal(p->status)) co_return problem(400, "Request is still in progress");
    if (p->status != "succeeded") {
      co_return problem(422, p->status == "canceled" ? "Request was cancelled" : p->error);
    }
    co_return net::Response::json(200, json::serialize(fal_output(*p)));
  }

  asio::awaitable<net::Response> fal_cancel(net::Request r) {
    std::lock_guard lock(mutex_);
    if (!authorized(r, "Key ")) co_return problem(401, "Invalid credentials");
    Prediction* p = fal_request(r.path(), "/cancel");
    if (p == nullptr) co_return problem(404, "Request not found");
    if (terminal(p->status)) {
      co_return net::Response::json(400, R"({"status":"ALREADY_COMPLETED"})");
    }
    if (!faults_.ignore_cancel) {
      p->status = "canceled";
      ++stats_.canceled;
      queue_event(*p, "completed");
    }
    co_return net::Response::json(202, R"({"status":"CANCELLATION_REQUESTED"})");
  }

  // --- the OpenAI-compatible images API: synchronous ---

  asio::awaitable<net::Response> openai_generate(net::Request r) {
    std::string prompt;
    int count = 1;
    bool urls = false;
    {
      std::lock_guard lock(mutex_);
      if (auto refused = refuse_submit(r, "Bearer ")) co_return std::move(*refused);
      boost::system::error_code ec;
      json::value body = json::parse(r.body, ec);
      const json::object* o = !ec && body.is_object() ? &body.as_object() : nullptr;
      const json::value* text = o != nullptr ? o->if_contains("prompt") : nullptr;
      if (text == nullptr || !text->is_string()) {
        ++stats_.refused;
        co_return net::Response::json(
            400, R"({"error":{"message":"prompt is required","type":"invalid_request_error"}})");
      }
      prompt = std::string(text->as_string());
      if (const auto* n = o->if_contains("n"); n != nullptr && n->is_int64()) {
        count = std::clamp<int>(static_cast<int>(n->get_int64()), 1, 4);
      }
      const auto* format = o->if_contains("response_format");
      urls = format != nullptr && format->is_string() && format->as_string() == "url";
      ++stats_.submitted;
    }
    if (!co_await wait(std::chrono::milliseconds(generation_ms_.load()))) {
      co_return problem(503, "shutting down");
    }
    Files files = draw(prompt, count, false);
    json::array data;
    const std::string id = fmt::format("openai{:08x}", fnv1a(prompt) & 0xffffffffu);
    for (std::size_t i = 0; i < files.data.size(); ++i) {
      data.push_back(urls ? json::object{{"url", fmt::format("{}/files/{}/{}.png", url, id, i)}}
                          : json::object{{"b64_json", core::to_base64(files.data[i],
                                                                      core::Base64::kStandard)}});
    }
    {
      std::lock_guard lock(mutex_);
      files_[id] = std::move(files);
    }
    co_return net::Response::json(200, json::serialize(json::object{{"created", std::time(nullptr)},
                                                                    {"data", std::move(data)}}));
  }

  // Sends (or holds) the webhook for `event` of `p`; call with mutex_ held.
  void queue_event(Prediction& p, std::string_view event) {
    if (terminal(p.status) && p.timeline.completed_ms == 0) p.timeline.completed_ms = now_ms();
    if (p.webhook.empty() || (!p.events.empty() && !p.events.contains(event))) return;
    if (p.fal && event != "completed") return;  // fal sends the completion only
    if (faults_.drop_webhooks) return;
    std::string body = json::serialize(p.fal ? fal_webhook_body(p) : view(p));
    if (faults_.shuffle_webhooks) {
      p.held.push_back(std::move(body));
      if (!terminal(p.status)) return;
      std::shuffle(p.held.begin(), p.held.end(), random_);
      for (auto& held : p.held) send(p, std::move(held));
      p.held.clear();
      return;
    }
    send(p, std::move(body));
  }

  void send(const Prediction& p, std::string body) {
    const int copies = faults_.duplicate_webhooks ? 2 : 1;
    const std::string id =
        p.fal ? p.id : fmt::format("msg_{:016x}", ++next_message_ * 0xbf58476d1ce4e5b9ull);
    for (int i = 0; i < copies; ++i) {
      asio::co_spawn(ioc_, deliver(shared_from_this(), p.fal, p.webhook, id, body), asio::detached);
    }
  }

  // The signature headers of one delivery attempt, at `now` (seconds).
  net::Headers signed_headers(bool fal, const std::string& id, std::int64_t now,
                              const std::string& body) const {
    net::Headers headers;
    headers.set("content-type", "application/json");
    if (!fal) {
      headers.set("webhook-id", id);
      headers.set("webhook-timestamp", std::to_string(now));
      headers.set("webhook-signature", hooks_.sign(id, now, body));
      return headers;
    }
    const std::string timestamp = std::to_string(now);
    headers.set("x-fal-webhook-request-id", id);
    headers.set("x-fal-webhook-user-id", kFalUser);
    headers.set("x-fal-webhook-timestamp", timestamp);
    headers.set("x-fal-webhook-signature",
                discord::sign_hex(options_.fal_key_seed_hex,
                                  imagine::fal::signed_message(id, kFalUser, timestamp, body))
                    .value_or(""));
    return headers;
  }

  static asio::awaitable<void> deliver(std::shared_ptr<Impl> self, bool fal, std::string webhook,
                                       std::string id, std::string body) {
    for (int attempt = 0; attempt < kWebhookAttempts && !self->stopped_; ++attempt) {
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch());
      net::ClientRequest request;
      request.method = "POST";
      request.url = webhook;
      request.headers = self->signed_headers(fal, id, now.count(), body);
      request.body = body;
      request.timeout = 10s;
      auto response = co_await self->client_.send(std::move(request));
      if (response && response->status >= 200 && response->status <= 299) {
        std::lock_guard lock(self->mutex_);
        ++self->stats_.webhooks_sent;
        co_return;
      }
      if (!co_await self->wait(std::chrono::milliseconds(200 << attempt))) break;
    }
    std::lock_guard lock(self->mutex_);
    ++self->stats_.webhooks_failed;
  }

  // Sets `p` to `status` unless it ended meanwhile (canceled); false when it had.
  bool advance(const std::string& id, std::string_view status, std::string_view event,
               const std::function<void(Prediction&)>& change = {}) {
    std::lock_guard lock(mutex_);
    Prediction& p = predictions_.at(id);
    if (terminal(p.status)) return false;
    if (std::chrono::steady_clock::now() >= p.cancel_at) {
      p.status = "canceled";
      queue_event(p, "completed");
      return false;
    }
    p.status = std::string(status);
    if (change) change(p);
    queue_event(p, event);
    return true;
  }

  static asio::awaitable<void> run(std::shared_ptr<Impl> self, std::string id) {
    if (!self->advance(id, "starting", "start")) co_return;
    const int steps = std::max(1, self->options_.progress_steps);
    std::chrono::milliseconds generation(self->generation_ms_.load());
    {
      std::lock_guard lock(self->mutex_);
      const std::string& prompt = self->predictions_.at(id).prompt;
      if (prompt.find("[slow]") != std::string::npos) generation = kSlow;
      if (prompt.find("[late]") != std::string::npos) generation = kLate;
    }
    for (int step = 1; step <= steps; ++step) {
      if (!co_await self->wait(generation / steps)) co_return;
      const int percent = step * 100 / steps;
      const bool more = self->advance(id, "processing", "logs", [&](Prediction& p) {
        p.logs += fmt::format("{:3d}%|{:<10}| {}/{} [00:0{}<00:00]\r", percent,
                              std::string(static_cast<std::size_t>(percent / 10), '#'), step, steps,
                              step);
      });
      if (!more) co_return;
    }
    std::string prompt;
    int count = 1;
    bool video = false;
    {
      std::lock_guard lock(self->mutex_);
      const Prediction& p = self->predictions_.at(id);
      prompt = p.prompt;
      count = p.count;
      video = p.video;
    }
    if (prompt.find("[fail]") != std::string::npos || prompt.find("[nsfw]") != std::string::npos) {
      const bool nsfw = prompt.find("[nsfw]") != std::string::npos;
      self->advance(id, "failed", "completed", [&](Prediction& p) {
        p.error = nsfw ? std::string(kSafetyMessage) : "the fake provider was asked to fail";
      });
      co_return;
    }
    Files files = self->draw(prompt, video ? 1 : count, video);
    self->advance(id, "succeeded", "completed", [&](Prediction& p) {
      const std::string_view ext = video ? "mp4" : "png";
      for (std::size_t i = 0; i < files.data.size(); ++i) {
        p.outputs.push_back(fmt::format("{}/files/{}/{}.{}", self->url, id, i, ext));
      }
      self->files_[id] = std::move(files);
    });
  }

  Files draw(const std::string& prompt, int count, bool video) const {
    Files files;
    files.content_type = video ? "video/mp4" : "image/png";
    files.made = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) {
      render::MandalaSpec spec;
      spec.seed = fnv1a(prompt) + static_cast<std::uint64_t>(i);
      spec.size = options_.image_size;
      if (video) {
        spec.format = render::Format::kWebp;
        spec.frames = 8;
      }
      auto drawn = render::render_file(spec);
      std::string bytes = drawn ? std::string(drawn->begin(), drawn->end()) : std::string();
      files.data.push_back(video ? stand_in_mp4(bytes) : std::move(bytes));
    }
    return files;
  }

  asio::io_context& ioc_;
  const FakeProviderOptions options_;
  mutable std::mutex mutex_;
  Faults faults_;
  FakeStats stats_;
  std::map<std::string, Prediction, std::less<>> predictions_;
  std::map<std::string, Files, std::less<>> files_;
  std::uint64_t next_id_ = 0;
  std::uint64_t next_message_ = 0;
  std::mt19937_64 random_{42};
  std::atomic<bool> stopped_{false};
  std::set<asio::steady_timer*> timers_;  // the waits in progress, ended by stop()
  std::atomic<std::int64_t> generation_ms_;
  imagine::StandardWebhooks hooks_;
  net::HttpClient client_;
};

FakeProvider::FakeProvider(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

FakeProvider::~FakeProvider() {
  impl_->stop();
  server_.reset();  // its routes hold the Impl
}

Result<std::unique_ptr<FakeProvider>> FakeProvider::start(asio::io_context& ioc,
                                                          std::string_view host_port,
                                                          FakeProviderOptions options) {
  if (auto hooks = imagine::StandardWebhooks::create({options.webhook_secret}); !hooks) {
    return tl::unexpected(hooks.error());
  }
  std::unique_ptr<FakeProvider> self(
      new FakeProvider(std::make_shared<Impl>(ioc, std::move(options))));
  net::Router router;
  self->impl_->install(router);
  self->server_ = std::make_unique<net::HttpServer>(ioc, std::move(router), net::ServerOptions{},
                                                    net::metrics_owned_by(ioc));
  auto bound = self->server_->listen(host_port);
  if (!bound) return tl::unexpected(bound.error());
  self->impl_->url = bound->url();
  self->server_->start();
  return self;
}

const std::string& FakeProvider::url() const { return impl_->url; }
void FakeProvider::set_faults(Faults faults) { impl_->set_faults(faults); }
void FakeProvider::set_generation(std::chrono::milliseconds generation) {
  impl_->set_generation(generation);
}
FakeStats FakeProvider::stats() const { return impl_->stats(); }
std::vector<FakeTimeline> FakeProvider::timelines() const { return impl_->timelines(); }

asio::awaitable<void> FakeProvider::shutdown(std::chrono::milliseconds deadline) {
  impl_->stop();
  co_await server_->shutdown(deadline);
}

}  // namespace mando::provider_emulator
