#include "imagine/providers.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "imagine/input_template.hpp"
#include "imagine/replicate.hpp"
#include "imagine/replicate_provider.hpp"

namespace mando::imagine {

namespace {

tl::unexpected<Error> model_error(const core::ImagineModel& m, std::string_view field,
                                  std::string_view why) {
  return fail(ErrorKind::kInvalidArgument,
              fmt::format("config: imagine.models.{}.{}: {}", m.name, field, why));
}

}  // namespace

Result<std::unique_ptr<Providers>> Providers::create(
    net::HttpClient& client, const std::vector<core::ImagineModel>& models) {
  auto out = std::unique_ptr<Providers>(new Providers());
  std::map<std::string, std::vector<std::string>, std::less<>> secrets;
  for (const auto& m : models) {
    Entry entry{m.provider,
                m.input.empty() ? std::string(default_input_template(m.provider)) : m.input,
                nullptr};
    if (auto ok = check_input_template(entry.input); !ok) {
      return model_error(m, "input", ok.error().message);
    }
    if (m.provider != "replicate") {
      return model_error(m, "provider",
                         fmt::format("\"{}\" is not available in this version of mando yet; "
                                     "use \"replicate\" (docs/IMAGINE.md)",
                                     m.provider));
    }
    if (auto call = replicate::create_call(m.version, {}, ""); !call) {
      return model_error(m, "version", call.error().message);
    }
    if (m.api_token.empty()) {
      return model_error(
          m, "api_token",
          fmt::format("not set (api_token_file, or MANDO_IMAGINE_MODELS_{}_API_TOKEN)", m.name));
    }
    if (!m.webhook_secret.empty()) {
      auto& list = secrets[m.provider];
      if (std::ranges::find(list, m.webhook_secret) == list.end()) list.push_back(m.webhook_secret);
    }
    entry.provider = std::make_unique<ReplicateProvider>(client, m);
    out->models_.emplace(m.name, std::move(entry));
  }
  for (auto& [kind, list] : secrets) {
    auto hooks = StandardWebhooks::create(list);
    if (!hooks) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("config: imagine.models (provider {}): webhook_secret: {}", kind,
                              hooks.error().message));
    }
    out->verifiers_.emplace(kind, std::move(*hooks));
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

Provider* Providers::any_of_kind(std::string_view kind) const {
  for (const auto& [name, entry] : models_) {
    if (entry.kind == kind) return entry.provider.get();
  }
  return nullptr;
}

const StandardWebhooks* Providers::verifier(std::string_view kind) const {
  auto it = verifiers_.find(kind);
  return it == verifiers_.end() ? nullptr : &it->second;
}

}  // namespace mando::imagine
