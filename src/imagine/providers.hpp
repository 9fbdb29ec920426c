#pragma once
// The configured models' providers, built once at start: one Provider per [imagine.models.NAME]
// (replicate_provider.hpp, fal_provider.hpp, openai_provider.hpp) and, per provider kind, what
// verifies its webhooks (Standard Webhooks for replicate, the JWKS for fal; openai has none).
// Building checks what the configuration cannot check alone (the input template's placeholders, the
// version's shape, the webhook secrets), so a mistake stops mando at start with the model's name,
// not at the first job.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "imagine/provider.hpp"
#include "imagine/webhook_verifier.hpp"
#include "net/fetcher.hpp"
#include "net/http_client.hpp"

namespace mando::imagine {

class Providers {
 public:
  // kInvalidArgument "config: imagine.models.NAME.FIELD: why" for a model that cannot run.
  // The client and the fetcher (fal's JWKS, fetched as untrusted) must outlive the providers.
  static Result<std::unique_ptr<Providers>> create(net::HttpClient& client, net::Fetcher& fetcher,
                                                   const std::vector<core::ImagineModel>& models);

  // The provider of model `name`, or nullptr.
  Provider* find(std::string_view name) const;
  // The model's input template (its `input`, else the provider's default).
  std::string_view input_template(std::string_view name) const;
  // The model's provider kind ("replicate", "fal", "openai"); empty for an unknown model.
  std::string_view kind(std::string_view name) const;
  // Any model's provider of kind `kind`: they all read the same webhook bodies.
  Provider* any_of_kind(std::string_view kind) const;
  // What verifies webhooks of kind `kind`; nullptr when that kind takes none here (openai, or
  // replicate models without a webhook_secret). Replicate's checks every secret of its models
  // (an account's secret is shared by its models; several accounts, several secrets).
  WebhookVerifier* verifier(std::string_view kind) const;

 private:
  struct Entry {
    std::string kind;
    std::string input;
    std::unique_ptr<Provider> provider;
  };
  std::map<std::string, Entry, std::less<>> models_;
  std::map<std::string, std::unique_ptr<WebhookVerifier>, std::less<>> verifiers_;
};

}  // namespace mando::imagine
