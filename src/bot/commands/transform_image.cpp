#include "bot/commands/transform_image.hpp"

#include <fmt/format.h>

namespace mando::bot::commands {

boost::asio::awaitable<tl::expected<std::string, ImageRefusal>> transform_image(
    net::Fetcher& fetcher, transform::WorkerPool& decoders, core::TransformConfig limits,
    std::string url, transform::TransformSpec spec, std::atomic<std::uint64_t>& job_bytes,
    std::atomic<int>& downloaded) {
  using Refused = tl::unexpected<ImageRefusal>;
  net::FetchLimits fetch;
  fetch.max_bytes = limits.max_input_bytes;
  fetch.timeout = limits.download_timeout;
  auto fetched = co_await fetcher.fetch(std::move(url), fetch);
  if (!fetched) co_return Refused(ImageRefusal{"download", std::move(fetched.error())});
  ++downloaded;
  if (const std::uint64_t total = job_bytes += fetched->body.size(); total > limits.max_job_bytes) {
    co_return Refused(
        ImageRefusal{"job_limit", Error{ErrorKind::kResourceExhausted,
                                        fmt::format("over the {} of one transform in all",
                                                    net::describe_size(limits.max_job_bytes))}});
  }
  transform::DecodeLimits decode;
  decode.max_pixels = limits.max_pixels;
  decode.max_input_bytes = limits.max_input_bytes;
  auto result = co_await decoders.thumbnail(std::move(fetched->body), spec, decode);
  if (!result) co_return Refused(ImageRefusal{"decode", std::move(result.error())});
  co_return std::move(*result);
}

}  // namespace mando::bot::commands
