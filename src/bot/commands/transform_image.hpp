#pragma once
// One input of a transform job, from its address to its encoded square: what the worker route
// `transform-images` (transform.hpp) and `mando transform` (src/app/transform_command.cpp) both
// run for every address, so that the command line meets exactly the bot's limits.
//
//   1. Fetch it through the policy (net/fetcher.hpp) within [transform] max_input_bytes and
//      download_timeout; `downloaded` counts it once it has arrived.
//   2. Add its size to the job's `job_bytes`; past [transform] max_job_bytes it is refused.
//   3. Decode, crop and encode it in a decoder process (transform/pool.hpp) within
//      [transform] max_pixels and max_input_bytes.
// A refusal names its stage, the label the bot counts it under.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "core/config.hpp"
#include "core/error.hpp"
#include "net/fetcher.hpp"
#include "transform/pool.hpp"
#include "transform/spec.hpp"

namespace mando::bot::commands {

struct ImageRefusal {
  std::string_view stage;  // "download", "job_limit" or "decode"
  Error error;             // as the fetcher, the job's budget or the decoder gave it
};

// The fetcher, the decoders and the counters must outlive the call; the counters may be shared
// by every input of the job at once.
boost::asio::awaitable<tl::expected<std::string, ImageRefusal>> transform_image(
    net::Fetcher& fetcher, transform::WorkerPool& decoders, core::TransformConfig limits,
    std::string url, transform::TransformSpec spec, std::atomic<std::uint64_t>& job_bytes,
    std::atomic<int>& downloaded);

}  // namespace mando::bot::commands
