#pragma once
// The bearer token of the queue API (/v2/ on the internal listener), for the three kinds of
// process that need it:
//   - the dispatcher (`mando serve` with the queue) serves the API: [queue] api_token when set,
//     else the token in {data_dir}/api_token, generated there (mode 0600) at first start;
//   - the roles that enqueue through [queue] url and the CLI (`mando queues ...`) send it:
//     [queue] api_token when set, else that file when it is on this machine.
// There is no way to run the API without a token: loopback is not a credential.

#include <filesystem>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"

namespace mando::app {

// {data_dir}/api_token.
std::filesystem::path api_token_path(const core::Config& config);

// The token the API serves with (creating the file when there is no configured token).
Result<std::string> serving_api_token(const core::Config& config);

// The token a client sends. The error says where a token comes from.
Result<std::string> client_api_token(const core::Config& config);

}  // namespace mando::app
