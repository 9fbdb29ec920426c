#include "imagine/providers.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "imagine/fal.hpp"
#include "imagine/fal_provider.hpp"
#include "imagine/fal_webhooks.hpp"
#include "imagine/input_template.hpp"
#include "imagine/openai_provider.hpp"
#include "imagine/replicate.hpp"
#include "imagine/replicate_provider.hpp"

namespace mando::imagine {

namespace {

constexpr std::string_view kFalJwks = "https://rest.fal.ai/.well-known/jwks.json";

tl::unexpected<Error> model_error(const core::ImagineModel& m, std::string_view field,
                                  std::string_view why) {
  return fail(ErrorKind::kInvalidArgument,
              fmt::format("config: imagine.models.{}.{}: {}", m.name, field, why));
}

// What the model's provider kind requires of `version`.
Result<void> check_version(const core::ImagineModel& m) {
  if (m.provider == "replicate") {
    if (auto call = replicate::create_call(m.version, {}, ""); !call) {
      return tl::unexpected(call.error());
    }
  } else if (m.provider == "fal") {
    if (auto app = fal::app_id(m.version); !app) return tl::unexpected(app.error());
  }
  return {};
}

std::unique_ptr<Provider> make_provider(net::HttpClient& client, const core::ImagineModel& m) {
  if (m.provider == "fal") return std::make_unique<FalProvider>(client, m);
  if (m.provider == "openai") return std::make_unique<OpenAiProvider>(client, m);
  return std::make_unique<ReplicateProvider>(client, m);
}

}  // namespace

Result<std::unique_ptr<Providers>> Providers::create(
    net::HttpClient& client, net::Fetcher& fetcher, const std::vector<core::ImagineModel>& models) {
  auto out = std::unique_ptr<Providers>(new Providers());
  std::vector<std::string> secrets;
  std::string jwks_url;
  for (const auto& m : models) {
    Entry entry{m.provider,
                m.input.empty() ? std::string(default_input_template(m.provider)) : m.input,
                make_provider(client, m)};
    if (auto ok = check_input_template(entry.input); !ok) {
      return model_error(m, "input", ok.error().message);
    }
    if (auto ok = check_version(m); !ok) return model_error(m, "version", ok.error().message);
    if (m.api_token.empty()) {
      return model_error(
          m, "api_token",
          fmt::format("not set (api_token_file, or MANDO_IMAGINE_MODELS_{}_API_TOKEN)", m.name));
    }
    if (m.provider == "replicate" && !m.webhook_secret.empty() &&
        std::ranges::find(secrets, m.webhook_secret) == secrets.end()) {
      secrets.push_back(m.webhook_secret);
    }
    if (m.provider == "fal") {
      const std::string url = m.jwks_url.empty() ? std::string(kFalJwks) : m.jwks_url;
      if (!jwks_url.empty() && url != jwks_url) {
        return model_error(m, "jwks_url", "every fal model must use the same JWKS");
      }
      jwks_url = url;
    }
    out->models_.emplace(m.name, std::move(entry));
  }
  if (!secrets.empty()) {
    auto hooks = StandardWebhooks::create(secrets);
    if (!hooks) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("config: imagine.models (replicate): webhook_secret: {}",
                              hooks.error().message));
    }
    out->verifiers_.emplace("replicate",
                            std::make_unique<StandardWebhookVerifier>(std::move(*hooks)));
  }
  if (!jwks_url.empty()) {
    auto fetch = [&fetcher, jwks_url]() -> boost::asio::awaitable<Result<std::string>> {
      auto fetched = co_await fetcher.fetch(jwks_url);
      if (!fetched) co_return tl::unexpected(fetched.error());
      co_return std::move(fetched->body);
    };
    out->verifiers_.emplace("fal", std::make_unique<FalWebhookVerifier>(std::move(fetch)));
  }
  return out;
}

Provider* Providers::find(std::string_view name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : it->second.provider.get();
}

std::string_view Providers::input_template(std::string_view name) const {
  auto it = models_.find(name);
  return it == models_.end() ? std::string_view() : std::string_view(it->second.input);
}

std::string_view Providers::kind(std::string_view name) const {
  auto it = models_.find(name);
  return it == models_.end() ? std::string_view() : std::string_view(it->second.kind);
}

Provider* Providers::any_of_kind(std::string_view kind) const {
  for (const auto& [name, entry] : models_) {
    if (entry.kind == kind) return entry.provider.get();
  }
  return nullptr;
}

WebhookVerifier* Providers::verifier(std::string_view kind) const {
  auto it = verifiers_.find(kind);
  return it == verifiers_.end() ? nullptr : it->second.get();
}

}  // namespace mando::imagine
