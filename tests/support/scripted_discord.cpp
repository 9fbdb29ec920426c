#include "support/scripted_discord.hpp"

namespace mando::testing {

net::Router ScriptedDiscord::routes(ScriptedDiscord* self) {
  net::Router router;
  for (const char* method : {"PATCH", "POST"}) {
    router.add(method, "/api/v10/webhooks/*",
               [self](net::Request request) { return serve(self, std::move(request)); });
  }
  // Channel messages: what a bot posts with its token (a late result).
  router.add("POST", "/api/v10/channels/*",
             [self](net::Request request) { return serve(self, std::move(request)); });
  return router;
}

boost::asio::awaitable<net::Response> ScriptedDiscord::serve(ScriptedDiscord* self,
                                                             net::Request request) {
  Answer answer;
  {
    std::lock_guard lock(self->mutex_);
    self->requests_.push_back(std::move(request));
    if (self->always_) {
      answer = *self->always_;
    } else if (!self->script_.empty()) {
      answer = std::move(self->script_.front());
      self->script_.erase(self->script_.begin());
    }
  }
  co_return net::Response::json(answer.status, answer.body);
}

ScriptedDiscord::ScriptedDiscord() : server_(routes(this)) {}

void ScriptedDiscord::script(std::vector<Answer> answers) {
  std::lock_guard lock(mutex_);
  script_ = std::move(answers);
}

void ScriptedDiscord::always(std::optional<Answer> answer) {
  std::lock_guard lock(mutex_);
  always_ = std::move(answer);
}

std::vector<net::Request> ScriptedDiscord::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

}  // namespace mando::testing
