#include "app/api_token.hpp"

#include <fmt/format.h>

#include "core/secret_file.hpp"

namespace mando::app {

std::filesystem::path api_token_path(const core::Config& config) {
  return std::filesystem::path(config.data_dir) / "api_token";
}

Result<std::string> serving_api_token(const core::Config& config) {
  if (!config.queue.api_token.empty()) return config.queue.api_token;
  auto token = core::read_or_create_secret_file(api_token_path(config));
  if (!token) {
    return fail(
        token.error().kind,
        fmt::format("the queue API token: {} (or set [queue] api_token)", token.error().message));
  }
  return token;
}

Result<std::string> client_api_token(const core::Config& config) {
  if (!config.queue.api_token.empty()) return config.queue.api_token;
  auto token = core::read_secret_file(api_token_path(config));
  if (!token) {
    return fail(token.error().kind,
                fmt::format("no queue API token: {}. Set [queue] api_token "
                            "(MANDO_QUEUE_API_TOKEN, or --token), or run where the dispatcher's "
                            "data_dir is (it writes {{data_dir}}/api_token at first start)",
                            token.error().message));
  }
  return token;
}

}  // namespace mando::app
